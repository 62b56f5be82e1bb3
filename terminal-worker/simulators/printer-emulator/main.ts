/**
 * Runs the card printer emulator on one end of a pseudo-terminal pair:
 *
 *   node dist/terminal-worker/simulators/printer-emulator/main.js --pty /path --state /path --out-dir /path
 *        [--feed-ms 300] [--band-ms 100] [--eject-ms 200] [--auto-take-ms N]
 *
 * Make the pair with `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, give A to the
 * emulator and B to the driver. Operator and customer actions are read from stdin, one per line
 * (`take`, `jam`, `jam-next`, `clear-jam`, `cover open|closed`, `ribbon N`, `stocker N`,
 * `bin-capacity N`, `empty-bin`); answers and a log of every command go to stdout. Prints
 * `READY` once the port is open. `--auto-take-ms` makes the customer take each card after N ms.
 */
import { PhysicalModel } from './physical-model';
import { PrinterEmulator } from './emulator';
import { parseEmulatorArgs, serveEmulator } from '../emulator-main';

async function main(): Promise<void> {
  const a = parseEmulatorArgs(process.argv.slice(2), 'main.js --pty PATH --state FILE --out-dir DIR [--feed-ms N] [--band-ms N] [--eject-ms N] [--auto-take-ms N]');
  const { need, num } = a;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const emulator = new PrinterEmulator(new PhysicalModel(need('state')), need('out-dir'), { feedMs: num('feed-ms', 300), bandMs: num('band-ms', 100), ejectMs: num('eject-ms', 200) }, log);
  await emulator.open(need('pty'));
  const autoTake = a.has('auto-take-ms') ? num('auto-take-ms', 0) : null;
  if (autoTake !== null) setInterval(() => {
    const c = emulator.model.s.card;
    if (c?.pos === 'BEZEL' && c.presentedAt !== null && Date.now() - c.presentedAt >= autoTake) log(`customer: ${emulator.control('take')}`);
  }, 100);
  serveEmulator(emulator, log);
}

main().catch((err) => {
  process.stderr.write(`printer emulator: ${(err as Error).message}\n`);
  process.exit(1);
});
