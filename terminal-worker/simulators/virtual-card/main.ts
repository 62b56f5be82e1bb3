/**
 * The virtual card program: plays an ISO 7816-4 card into Debian's vpcd (inside pcscd), so the
 * driver talks to a real pcscd through real pcsclite.
 *
 *   node dist/terminal-worker/simulators/virtual-card/main.js --port 35963 --uid 04A1B2C3D4E5F6 \
 *     [--host 127.0.0.1] [--memory 2048] [--page-size 32] [--page-write-ms 2] [--atr t0|t1|wrong]
 *     [--not-blank] [--removed] [--control-port 36063] [--gp-memory 32768]
 *
 * Control channel: TCP on 127.0.0.1:<control-port> (default: vpcd port + 100), one command per
 * line, each answered with one line "ok [json]" or "error <message>":
 *   insert | remove | status | erase | not-blank | atr t0|t1|wrong | uid <hex>
 *   tear-after <bytes>        pull the card out after that many more bytes are written
 *   memory-failure <n>|always|off   the next n UPDATE BINARY answer 6581
 *   t0-61 on|off              answer response data with 61xx (fetch with GET RESPONSE)
 *   t0-6c on|off              answer a wrong Le with 6Cxx
 *   gp-tear-after <bytes>     pull the card out once that many more LOAD data bytes arrive
 *   gp                        GlobalPlatform state: load files, instances, used/capacity bytes
 *   clear-faults | dump <n>   (first n bytes of the EF, hex) | log (APDU headers seen)
 * Signals: SIGUSR1 inserts, SIGUSR2 removes. Prints "virtual-card ready control=<port>" when up.
 */
import net from 'node:net';
import readline from 'node:readline';
import { Iso7816Card, type AtrMode } from './iso7816-card';
import { VpcdLink } from './vpcd-link';

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out.set(a.slice(2), 'true');
    else out.set(a.slice(2), argv[++i]);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const port = Number(args.get('port') ?? 35963);
  const host = args.get('host') ?? '127.0.0.1';
  const controlPort = Number(args.get('control-port') ?? port + 100);
  const card = new Iso7816Card({
    uid: Buffer.from(args.get('uid') ?? '04A1B2C3D4E5F6', 'hex'),
    memorySize: Number(args.get('memory') ?? 2048),
    pageSize: Number(args.get('page-size') ?? 32),
    pageWriteMs: Number(args.get('page-write-ms') ?? 2),
    atr: (args.get('atr') ?? 't0') as AtrMode,
    gpMemory: Number(args.get('gp-memory') ?? 32768),
  });
  if (args.has('not-blank')) card.makeNotBlank();
  const log = (line: string) => process.stderr.write(`[virtual-card :${port}] ${line}\n`);
  const link = new VpcdLink(card, host, port, log);
  card.isPresent = () => link.connected;
  card.onTear = () => link.remove();

  const commands: Record<string, (arg: string) => Promise<unknown> | unknown> = {
    insert: () => link.insert(),
    remove: () => link.remove(),
    status: () => ({ inserted: link.connected, uid: card.uid.toString('hex').toUpperCase(), atr: card.atrMode, memory: card.memory.length, faults: card.faults }),
    erase: () => card.erase(),
    'not-blank': () => card.makeNotBlank(),
    atr: (a) => {
      if (!['t0', 't1', 'wrong'].includes(a)) throw new Error('atr takes t0, t1 or wrong');
      card.atrMode = a as AtrMode;
    },
    uid: (a) => {
      card.uid = Buffer.from(a, 'hex');
    },
    'tear-after': (a) => {
      card.faults.tearAfterBytes = Number(a);
    },
    'memory-failure': (a) => {
      card.faults.memoryFailures = a === 'always' ? Infinity : a === 'off' ? 0 : Number(a);
    },
    't0-61': (a) => {
      card.faults.t0GetResponse = a === 'on';
    },
    't0-6c': (a) => {
      card.faults.t0WrongLe = a === 'on';
    },
    'clear-faults': () => {
      card.faults = { tearAfterBytes: null, memoryFailures: 0, t0GetResponse: false, t0WrongLe: false };
      card.cardManager.tearAfterLoadBytes = null;
    },
    'gp-tear-after': (a) => {
      card.cardManager.tearAfterLoadBytes = Number(a);
    },
    gp: () => ({
      loadFiles: card.cardManager.loadFiles.map((f) => ({ aid: f.aid.toString('hex').toUpperCase(), size: f.size })),
      instances: card.cardManager.instances.map((i) => i.aid.toString('hex').toUpperCase()),
      used: card.cardManager.used,
      capacity: card.cardManager.capacity,
    }),
    dump: (a) => Buffer.from(card.memory.subarray(0, Number(a || 64))).toString('hex').toUpperCase(),
    log: () => card.commandLog.splice(0),
  };

  const control = net.createServer((socket) => {
    const rl = readline.createInterface({ input: socket });
    rl.on('line', async (line) => {
      const [name, ...rest] = line.trim().split(/\s+/);
      const fn = commands[name];
      try {
        if (!fn) throw new Error(`unknown command ${name}`);
        const result = await fn(rest.join(' '));
        socket.write(result === undefined ? 'ok\n' : `ok ${JSON.stringify(result, (_k, v) => (v === Infinity ? 'always' : v))}\n`);
      } catch (err) {
        socket.write(`error ${(err as Error).message}\n`);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.listen(controlPort, '127.0.0.1', () => resolve());
  });

  process.on('SIGUSR1', () => void link.insert().catch((e) => log((e as Error).message)));
  process.on('SIGUSR2', () => link.remove());
  const stop = () => {
    link.remove();
    control.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  if (!args.has('removed')) await link.insert();
  process.stdout.write(`virtual-card ready control=${controlPort}\n`);
}

main().catch((err) => {
  process.stderr.write(`virtual-card: ${(err as Error).message}\n`);
  process.exit(1);
});
