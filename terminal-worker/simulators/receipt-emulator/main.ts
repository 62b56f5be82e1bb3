/**
 * Runs the ESC/POS receipt printer emulator on one end of a pseudo-terminal pair:
 *
 *   node dist/terminal-worker/simulators/receipt-emulator/main.js --pty /path --state /path --out-dir /path
 *        [--line-ms 15] [--cut-ms 100]
 *
 * Make the pair with `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, give A to the
 * emulator and B to the driver (or use startReceiptEmulator() in start.ts). Operator actions come
 * on stdin, one per line (`paper 200`, `paper endless`, `paper-out`, `near-end 30`,
 * `cover open|closed`, `status`); each answer is printed as `control <line>: <answer>`. Every
 * receipt cut off is written to the out dir (receipt-NNNN.bin/.txt/.json/.png). Prints `READY`
 * once the port is open.
 */
import { ReceiptEmulator } from './emulator';
import { parseEmulatorArgs, serveEmulator } from '../emulator-main';

async function main(): Promise<void> {
  const a = parseEmulatorArgs(process.argv.slice(2), 'main.js --pty PATH --state FILE --out-dir DIR [--line-ms N] [--cut-ms N]');
  const { need, num } = a;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const emulator = new ReceiptEmulator(need('state'), need('out-dir'), { lineMs: num('line-ms', 15), cutMs: num('cut-ms', 100) }, log);
  await emulator.open(need('pty'));
  serveEmulator(emulator, (line) => process.stdout.write(`${line}
`));
}

main().catch((err) => {
  process.stderr.write(`receipt emulator: ${(err as Error).message}\n`);
  process.exit(1);
});
