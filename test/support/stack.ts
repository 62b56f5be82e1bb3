/**
 * The real system for a test suite: a fresh database (a new MariaDB schema, or SQLite), migrated
 * and seeded; the API on a free port; a demo issuer server receiving signed notifications; a
 * center worker and terminal workers with simulated devices, either in this process or as child
 * processes a test can kill. Every suite gets its own task queues and terminal ids, so suites
 * sharing the one Temporal dev server never see each other's work.
 */
import { cardSigningKeys } from '../../lib/card-signing';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { startDemoIssuerServer, type DemoIssuerServer } from '../../demo/issuer-server';
import { createDb, type Db } from '../../lib/db';
import { migrateLatest } from '../../migrations';
import { seedDemo } from '../../migrations/seeds/demo';
import { DEMO_STORE_ID, seedDemoStore, seedPaymentHosts, type DemoHostKind } from '../../migrations/seeds/payment-hosts';
import { startDemoPaymentHosts, type DemoPaymentHosts } from '../../demo/payment-hosts';
import type { PaymentHostSimulator } from '../../demo/payment-host-simulator';
import { hashPosToken } from '../../api/routes/pos';
import { createTerminalWorker } from '../../terminal-worker/worker';
import { httpPackageSource } from '../../terminal-worker/devices/application-loader';
import { createSimulatedDevices } from '../../terminal-worker/simulators/simulated-devices';
import { presentSimulatedCard, simulatedCardSlotFile, simulatedPaymentCardDeviceFor } from '../../terminal-worker/devices/payment-devices';
import { MachineStateFile, type MachineState } from '../../terminal-worker/simulators/machine-state';
import { ZERO_TIMINGS, type SimTimings } from '../../terminal-worker/simulators/timings';
import { createCenterWorker } from '../../workers/center-worker';
import { assembleTerminalDevices } from '../../terminal-worker/assemble-devices';
import { launchEmulatedKiosk, type KioskLaunchOptions, type KioskProcess } from '../../terminal-worker/simulators/emulated-kiosk/launch';
import { VPCD_BASE_PORT } from '../../terminal-worker/simulators/emulated-kiosk/kiosk';
import type { ModelState } from '../../terminal-worker/simulators/printer-emulator/physical-model';
import type { IssuanceInput } from '../../workflows/issuance-messages';
import { encryptedDataConverter } from '../../lib/payload-codec';
import { payloadKeyProvider } from '../../lib/payload-keys';
import { TEST_MYSQL_URL, temporalTestAddress, workflowBundlePath } from './env';
import { startNodeProcess, type ManagedProcess } from './processes';

export interface StackOptions {
  database?: 'mysql' | 'sqlite';
  terminals?: number;
  holdTtlMs?: number;
  timings?: Partial<SimTimings>;
  /** 'in-process' workers are fastest; 'processes' lets a test SIGKILL them. */
  workers?: 'in-process' | 'processes';
  issuanceDefaults?: Partial<IssuanceInput>;
  initialStock?: number;
  /** The payment hosts' answer deadline as configured in the DB (default 1.5 s). */
  paymentHostTimeoutMs?: number;
  /**
   * 'state-file': the in-process simulators. 'emulated': the real drivers (serial card printer,
   * PC/SC reader) against an emulated kiosk per terminal (printer emulator on a socat pty pair,
   * virtual card on vpcd reader 35963 + i: at most two terminals); cash and receipt stay simulated.
   */
  devices?: 'state-file' | 'emulated';
  /**
   * Emulated devices: also drive the kiosk's cash unit (ccTalk) and receipt printer (ESC/POS)
   * emulators with the real drivers, instead of the state-file simulators.
   */
  emulatedCash?: boolean;
  /** Emulated devices: the vpcd port of the first terminal's reader (default 35963, reader 0). */
  vpcdBasePort?: number;
  /**
   * Emulated devices, one terminal: the kiosk's customer card slot on vpcd's next reader (the
   * terminal's + 1), driven by the PC/SC customer slot driver (reloads, adding applications).
   */
  customerSlot?: boolean;
  /** Emulated kiosk settings (timings, auto-take) for every terminal. */
  kiosk?: Omit<KioskLaunchOptions, 'stateDir' | 'vpcdPort'>;
  /** Extra environment for terminal worker processes (e.g. CARD_TAKE_TIMEOUT_MS). */
  terminalEnv?: NodeJS.ProcessEnv;
}

export interface Stack {
  suiteId: string;
  db: Db;
  databaseUrl: string;
  temporal: Client;
  apiUrl: string;
  issuer: DemoIssuerServer;
  terminalIds: string[];
  centerTaskQueue: string;
  /** The payment companies' host simulators (card company, prepaid company, bank), in this process. */
  paymentHosts: Record<DemoHostKind, PaymentHostSimulator>;
  /** The demo store's POS token (Authorization: Bearer … on /api/pos) and id. */
  posToken: string;
  storeId: string;
  /** The environment worker processes get (database, Temporal, data directory, task queue). */
  env: NodeJS.ProcessEnv;
  /** Process mode: every worker process started so far (dead ones included). */
  processes: ManagedProcess[];
  machine(terminalId: string): MachineState;
  /** A customer puts a (test) card into the terminal's simulated card reader and will type this PIN. */
  presentCard(terminalId: string, card: { pan: string; pin?: string; expiry?: string; entryMode?: 'chip' | 'magstripe' | 'contactless' }): void;
  machineFile(terminalId: string): string;
  /** Process mode: start (again) the center worker, optionally with extra env (fault injection). */
  startCenter(env?: NodeJS.ProcessEnv): ManagedProcess;
  startTerminal(terminalId: string, env?: NodeJS.ProcessEnv): ManagedProcess;
  /** Emulated devices: the terminal's kiosk (started with the stack, outliving worker crashes). */
  kiosk(terminalId: string): KioskProcess;
  /** Emulated devices: the card printer's physical model as the emulator keeps it. */
  printerModel(terminalId: string): ModelState;
  /** Emulated devices: the kiosk's state directory (chips/, faces/). */
  kioskDir(terminalId: string): string;
  stop(): Promise<void>;
}

function timingEnv(t: SimTimings): NodeJS.ProcessEnv {
  return {
    SIM_FEED_MS: String(t.feedMs),
    SIM_CHIP_WRITE_PER_KB_MS: String(t.chipWritePerKbMs),
    SIM_PRINT_MS: String(t.printMs),
    SIM_PRESENT_MS: String(t.presentMs),
    SIM_PAYOUT_MS: String(t.payoutMs),
    SIM_RECEIPT_MS: String(t.receiptMs),
  };
}

let runtimeInstalled = false;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  if (!runtimeInstalled) {
    // Keep the SDK's own worker logs to errors (expected refusals are logged as warnings) so test output stays readable.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const suiteId = randomBytes(4).toString('hex');
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), `stack-${suiteId}-`));
  const timings = { ...ZERO_TIMINGS, ...opts.timings };
  const terminalIds = Array.from({ length: opts.terminals ?? 1 }, (_, i) => `T${suiteId}-${i + 1}`);
  const centerTaskQueue = `center-${suiteId}`;

  let databaseUrl: string;
  if ((opts.database ?? 'mysql') === 'mysql') {
    const schema = `icc_test_${suiteId}`;
    const admin = knex({ client: 'mysql2', connection: TEST_MYSQL_URL });
    await admin.raw(`CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await admin.destroy();
    databaseUrl = `${TEST_MYSQL_URL.replace(/\/$/, '')}/${schema}`;
  } else {
    databaseUrl = `sqlite:${path.join(dir, 'center.sqlite')}`;
  }
  const db = createDb(databaseUrl, dir);
  await migrateLatest(db);

  const secret = randomBytes(16).toString('hex');
  const issuer = await startDemoIssuerServer(secret);
  await seedDemo(db, { notifyUrl: issuer.url, webhookSecret: secret, terminalIds });
  const hosts: DemoPaymentHosts = await startDemoPaymentHosts({ basePort: 0, withControl: false });
  const address$ = (sim: PaymentHostSimulator) => ({ host: sim.host, port: sim.port });
  await seedPaymentHosts(db, { card: address$(hosts.sims.card), prepaid: address$(hosts.sims.prepaid), bank: address$(hosts.sims.bank) }, opts.paymentHostTimeoutMs ?? 1_500);
  const posToken = randomBytes(16).toString('hex');
  await seedDemoStore(db, hashPosToken(posToken), terminalIds);

  const address = temporalTestAddress();
  const connection = await Connection.connect({ address });
  const dataConverter = encryptedDataConverter(payloadKeyProvider(process.env, dir));
  const temporal = new Client({ connection, dataConverter });

  const holdTtlMs = opts.holdTtlMs ?? 60_000;
  // The API verifies with the keys the center signs with: the stack's data directory, which the
  // worker processes get as DATA_DIR too.
  const cardKeys = cardSigningKeys(process.env, dir);
  const app = createApp({
    db,
    temporal,
    cardKeys,
    centerTaskQueue,
    holdTtlMs,
    defaultTerminalId: terminalIds[0],
    dataDir: dir,
    issuanceDefaults: { terminal: { heartbeatMs: 2_000, scheduleToStartMs: 60_000 }, payment: { authorizeTimeoutMs: 6_000, reversalMaxIntervalMs: 2_000 }, ...opts.issuanceDefaults },
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const machineFile = (tid: string) => path.join(dir, 'terminals', tid, 'machine.json');
  const baseEnv: NodeJS.ProcessEnv = { TEMPORAL_ADDRESS: address, DATABASE_URL: databaseUrl, DATA_DIR: dir, CENTER_TASK_QUEUE: centerTaskQueue, WORKFLOW_BUNDLE_PATH: workflowBundlePath(), CENTER_API_URL: apiUrl };
  const processes: ManagedProcess[] = [];
  const kiosks = new Map<string, KioskProcess>();
  const kioskDir = (tid: string) => path.join(dir, 'terminals', tid, 'kiosk');
  const emulated = opts.devices === 'emulated';
  if (emulated) {
    if (terminalIds.length > 2) throw new Error('emulated devices: at most two terminals (vpcd has readers on 35963 and 35964)');
    if (opts.customerSlot && terminalIds.length > 1) throw new Error('emulated devices with a customer slot: one terminal (its slot takes vpcd\'s second reader)');
    for (const [i, tid] of terminalIds.entries()) {
      const vpcdPort = (opts.vpcdBasePort ?? VPCD_BASE_PORT) + i;
      kiosks.set(tid, await launchEmulatedKiosk({ feedMs: 100, bandMs: 40, ejectMs: 50, autoTakeMs: 200, pageWriteMs: 1, exitWithParent: true, ...opts.kiosk, stateDir: kioskDir(tid), vpcdPort, ...(opts.customerSlot ? { customerVpcdPort: vpcdPort + 1 } : {}) }));
    }
  }
  const kioskEnv = (tid: string): NodeJS.ProcessEnv => {
    const k = kiosks.get(tid)!;
    const cash = opts.emulatedCash ? { CASH_UNIT_PORT: k.cashPty, RECEIPT_PRINTER_PORT: k.receiptPty } : {};
    return { CARD_PRINTER_PORT: k.hostPty, CARD_READER: k.readerName, ...(k.customerReaderName ? { CUSTOMER_READER: k.customerReaderName } : {}), ...cash, ...opts.terminalEnv };
  };
  const workers: Worker[] = [];
  const closers: Array<() => Promise<void>> = [];
  const running: Promise<void>[] = [];
  let nativeConnection: NativeConnection | undefined;

  const startCenter = (env: NodeJS.ProcessEnv = {}) => {
    const p = startNodeProcess('center', 'workers/center.js', [], { ...baseEnv, ...env });
    processes.push(p);
    return p;
  };
  const startTerminal = (tid: string, env: NodeJS.ProcessEnv = {}) => {
    const p = emulated
      ? startNodeProcess(`terminal:${tid}`, 'terminal-worker/main.js', [], { ...baseEnv, ...timingEnv(timings), TERMINAL_ID: tid, TERMINAL_STATE_FILE: machineFile(tid), ...kioskEnv(tid), ...env })
      : startNodeProcess(`terminal:${tid}`, 'terminal-worker/main.js', ['--simulate'], { ...baseEnv, ...timingEnv(timings), TERMINAL_ID: tid, TERMINAL_STATE_FILE: machineFile(tid), TERMINAL_SIMULATOR: 'state-file', ...env });
    processes.push(p);
    return p;
  };

  if ((opts.workers ?? 'in-process') === 'in-process') {
    nativeConnection = await NativeConnection.connect({ address });
    workers.push(await createCenterWorker({ connection: nativeConnection, namespace: 'default', taskQueue: centerTaskQueue, deps: { db, cardKeys }, workflowBundle: { codePath: workflowBundlePath() }, dataConverter }));
    for (const tid of terminalIds) {
      let devices;
      if (emulated) {
        const k = kiosks.get(tid)!;
        const a = await assembleTerminalDevices({
          printer: { path: k.hostPty, baudRate: 115200, commandTimeoutMs: 10_000, takeTimeoutMs: Number(opts.terminalEnv?.CARD_TAKE_TIMEOUT_MS ?? 30_000) },
          reader: { reader: k.readerName, maxCommandData: 255, pageSize: 32, writeAttempts: 3, cardWaitMs: 5000 },
          ...(k.customerReaderName ? { customerSlot: { reader: k.customerReaderName, cardWaitMs: 2000 } } : {}),
          ...(opts.emulatedCash
            ? {
                cash: { path: k.cashPty, baudRate: 9600, journalFile: path.join(dir, 'terminals', tid, 'journals', 'cash-unit.json') },
                receipt: { path: k.receiptPty, baudRate: 38400, journalFile: path.join(dir, 'terminals', tid, 'journals', 'receipt-printer.json') },
              }
            : {}),
          simulated: { stateFile: machineFile(tid), timings },
        });
        closers.push(a.close);
        devices = { ...a.devices, payment: simulatedPaymentCardDeviceFor(machineFile(tid), dir) };
      } else {
        devices = { ...createSimulatedDevices(machineFile(tid), timings, opts.initialStock), payment: simulatedPaymentCardDeviceFor(machineFile(tid), dir) };
      }
      workers.push(await createTerminalWorker({ connection: nativeConnection, namespace: 'default', terminalId: tid, devices, dataConverter, packages: httpPackageSource(apiUrl, tid) }));
    }
    for (const w of workers) running.push(w.run());
  } else {
    startCenter();
    for (const tid of terminalIds) startTerminal(tid);
  }

  return {
    suiteId,
    db,
    databaseUrl,
    temporal,
    apiUrl,
    issuer,
    terminalIds,
    centerTaskQueue,
    paymentHosts: hosts.sims,
    posToken,
    storeId: DEMO_STORE_ID,
    env: baseEnv,
    processes,
    machine: (tid) => new MachineStateFile(machineFile(tid), opts.initialStock).read(),
    presentCard: (tid, card) => presentSimulatedCard(simulatedCardSlotFile(machineFile(tid)), card),
    machineFile,
    startCenter,
    startTerminal,
    kiosk: (tid) => {
      const k = kiosks.get(tid);
      if (!k) throw new Error(`terminal ${tid} has no emulated kiosk (start the stack with devices: 'emulated')`);
      return k;
    },
    printerModel: (tid) => JSON.parse(fs.readFileSync(path.join(kioskDir(tid), 'printer-state.json'), 'utf8')) as ModelState,
    kioskDir,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await Promise.all(processes.map((p) => p.kill('SIGKILL')));
      for (const close of closers) await close();
      await Promise.all([...kiosks.values()].map((k) => k.stop()));
      await nativeConnection?.close();
      await new Promise((r) => server.close(r));
      await issuer.close();
      await hosts.close();
      await connection.close();
      await db.destroy();
    },
  };
}
