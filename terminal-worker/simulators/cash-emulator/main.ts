/**
 * Runs the cash unit emulator (ccTalk coin acceptor, bill validator and changer) on one end of a
 * pseudo-terminal pair:
 *
 *   node dist/terminal-worker/simulators/cash-emulator/main.js --pty /path --state /path
 *        [--pay-item-ms 60] [--escrow-timeout-ms 10000] [--float 10=100,50=50,100=100,500=40,1000=30,5000=10]
 *
 * Make the pair with `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, give A to the
 * emulator and B to the driver (or use startCashEmulator() in start.ts, which does both).
 * Customer, operator and fault actions are read from stdin, one per line (see
 * CashEmulator.control: `insert 1000`, `refill 100 50`, `jam-hopper 100 after 2`, `jam-note`,
 * `clear-jams`, `lose-reply 125`, `lose-command 125`, `power-cycle`, `status`); each answer is
 * printed as `control <line>: <answer>`. Prints `READY` once the port is open.
 */
import { CashModel } from './physical-model';
import { CashEmulator } from './emulator';
import { parseEmulatorArgs, serveEmulator } from '../emulator-main';

async function main(): Promise<void> {
  const a = parseEmulatorArgs(process.argv.slice(2), 'main.js --pty PATH --state FILE [--pay-item-ms N] [--escrow-timeout-ms N] [--float V=N,…]');
  const { need, num } = a;
  const float: Record<number, number> = {};
  for (const pair of (a.get('float') ?? '').split(',').filter(Boolean)) {
    const [v, n] = pair.split('=').map(Number);
    float[v!] = n!;
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const emulator = new CashEmulator(new CashModel(need('state'), float), { payItemMs: num('pay-item-ms', 60), escrowTimeoutMs: num('escrow-timeout-ms', 10000) }, log);
  await emulator.open(need('pty'));
  serveEmulator(emulator, (line) => process.stdout.write(`${line}
`));
}

main().catch((err) => {
  process.stderr.write(`cash emulator: ${(err as Error).message}\n`);
  process.exit(1);
});
