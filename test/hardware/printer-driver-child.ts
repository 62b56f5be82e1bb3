/**
 * A driver process the hardware test can SIGKILL mid-print: opens the serial card printer on
 * argv[2], prints a face on the card in the transport and reports progress on stdout
 * (`progress <fraction>`, then `done`).
 */
import { SerialCardPrinter } from '../../terminal-worker/drivers/serial-card-printer';

async function main(): Promise<void> {
  const printer = await SerialCardPrinter.open({ path: process.argv[2]! });
  process.stdout.write('open\n');
  await printer.print({ title: 'Interrupted print', lines: ['this card must never be handed out'], imageUrl: null, cardId: 'CARD-KILLED' }, (f) => process.stdout.write(`progress ${f}\n`));
  process.stdout.write('done\n');
  await printer.close();
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
