/**
 * A receipt printer driver process the hardware test can SIGKILL: argv port, journal file, tag,
 * number of lines, and optionally bytes per second (a slow line, to be killed mid-transmission).
 * Prints `ready`, then `printed <alreadyPrinted>` when done.
 */
import { createEscPosReceiptPrinter } from '../../terminal-worker/drivers/escpos-receipt-printer';

export function receiptLines(n: number): string[] {
  return ['RECEIPT / 領収書', ...Array.from({ length: n - 1 }, (_, i) => `Line ${String(i + 1).padStart(2, '0')} 明細 ¥${(i + 1) * 110}`)];
}

async function main(): Promise<void> {
  const [port, journalFile, tag, n, bps] = process.argv.slice(2) as [string, string, string, string, string?];
  const printer = await createEscPosReceiptPrinter({ path: port, journalFile, paceBytesPerSecond: bps ? Number(bps) : 0, log: (l) => process.stdout.write(`log ${l}\n`) });
  process.stdout.write('ready\n');
  const r = await printer.print(tag, receiptLines(Number(n)));
  process.stdout.write(`printed ${r.alreadyPrinted}\n`);
  await printer.close();
}

if (require.main === module)
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
