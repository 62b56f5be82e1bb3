/**
 * The emulated kiosk program (see kiosk.ts): a card printer emulator on a socat pty pair and its
 * contact station on vpcd, the cash unit and the receipt printer emulators on their own pty pairs,
 * in one process that outlives the terminal worker driving it (and takes its socats with it).
 *
 *   node dist/terminal-worker/simulators/emulated-kiosk/main.js --state-dir DIR
 *        [--vpcd-port 35963] [--customer-vpcd-port 35964] [--control-port 0] [--feed-ms 300] [--band-ms 100] [--eject-ms 200]
 *        [--auto-take-ms 1500|off] [--chip-memory 2048] [--page-write-ms 2] [--contact-recover-ms 400]
 *        [--pay-item-ms 60] [--escrow-timeout-ms 10000] [--line-ms 15] [--cut-ms 100] [--exit-with-parent]
 *
 * `--customer-vpcd-port` adds the customer card slot on that vpcd reader (customer-slot.ts).
 * When up it writes `<DIR>/kiosk.json` ({pid, hostPty, cashPty, receiptPty, readerName, customerReaderName, controlPort}) and prints
 * `READY <that json>`. Control: TCP on 127.0.0.1:<controlPort>, one action per line (see
 * EmulatedKiosk.control), one answer line each. SIGTERM/SIGINT stop it (the card is pulled out of
 * vpcd, socat is stopped). `--exit-with-parent` stops it when the process that started it is gone.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { EmulatedKiosk } from './kiosk';

export interface KioskInfo {
  pid: number;
  hostPty: string;
  /** The cash unit's (ccTalk) and the receipt printer's (ESC/POS) serial lines, driver side. */
  cashPty: string;
  receiptPty: string;
  readerName: string;
  vpcdPort: number;
  /** The customer card slot's PC/SC reader; null: the kiosk has none. */
  customerReaderName: string | null;
  controlPort: number;
}

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), 'true');
    else out.set(a.slice(2), argv[++i]!);
  }
  return out;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const stateDir = a.get('state-dir');
  if (!stateDir) throw new Error('--state-dir is required');
  const num = (k: string, d: number) => {
    if (!a.has(k)) return d;
    const n = Number(a.get(k));
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k} must be a non-negative number, got "${a.get(k)}"`);
    return n;
  };
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const autoTake = a.get('auto-take-ms');
  const kiosk = await EmulatedKiosk.start({
    stateDir: path.resolve(stateDir),
    vpcdPort: num('vpcd-port', 35963),
    ...(a.has('customer-vpcd-port') ? { customerVpcdPort: num('customer-vpcd-port', 35964) } : {}),
    printer: { feedMs: num('feed-ms', 300), bandMs: num('band-ms', 100), ejectMs: num('eject-ms', 200) },
    chip: { memorySize: num('chip-memory', 2048), pageWriteMs: num('page-write-ms', 2) },
    autoTakeMs: autoTake === 'off' ? null : num('auto-take-ms', 1500),
    contactRecoverMs: num('contact-recover-ms', 400),
    cash: { payItemMs: num('pay-item-ms', 60), escrowTimeoutMs: num('escrow-timeout-ms', 10_000) },
    receipt: { lineMs: num('line-ms', 15), cutMs: num('cut-ms', 100) },
    log,
  });

  const server = net.createServer((socket) => {
    readline.createInterface({ input: socket }).on('line', (line) => {
      if (!line.trim()) return;
      let answer: string;
      try {
        answer = kiosk.control(line);
      } catch (err) {
        answer = `error ${(err as Error).message}`;
      }
      // Status reads (the API polls `cash status` while a note waits for acceptance) are not logged.
      if (!/^((cash|receipt) )?status$/.test(line.trim())) log(`control ${line.trim()}: ${answer.length > 200 ? answer.slice(0, 200) + '…' : answer}`);
      socket.write(`${answer}\n`);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(num('control-port', 0), '127.0.0.1', () => resolve());
  });

  const info: KioskInfo = { pid: process.pid, hostPty: kiosk.hostPty, cashPty: kiosk.cashPty, receiptPty: kiosk.receiptPty, readerName: kiosk.readerName, vpcdPort: kiosk.vpcdPort, customerReaderName: kiosk.customerReaderName, controlPort: (server.address() as net.AddressInfo).port };
  const infoFile = path.join(stateDir, 'kiosk.json');
  fs.writeFileSync(infoFile, JSON.stringify(info));

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close();
    void kiosk.stop().finally(() => {
      try {
        if ((JSON.parse(fs.readFileSync(infoFile, 'utf8')) as KioskInfo).pid === process.pid) fs.rmSync(infoFile);
      } catch {
        // already gone
      }
      process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (a.has('exit-with-parent')) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 500).unref();
  }
  process.stdout.write(`READY ${JSON.stringify(info)}\n`);
}

main().catch((err) => {
  process.stderr.write(`emulated kiosk: ${(err as Error).message}\n`);
  process.exit(1);
});
