/**
 * `npm start`: the whole system on embedded defaults, in one terminal.
 *   - a Temporal dev server with its Web UI (unless TEMPORAL_ADDRESS names a cluster), state in
 *     $DATA_DIR/temporal.db so workflows survive a restart;
 *   - the center database (SQLite in $DATA_DIR unless DATABASE_URL is set), migrated and seeded
 *     with the demo catalogue;
 *   - a demo issuer server that receives signed sales notifications;
 *   - the center worker, the API with the kiosk page, and terminal T-001 with simulated devices,
 *     each its own process.
 * Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startDemoIssuerServer } from '../demo/issuer-server';
import { loadConfig, temporalAddress } from '../lib/config';
import { createDb } from '../lib/db';
import { findTemporalCli, startDevServer } from '../lib/temporal-dev-server';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes, waitForTemporal } from '../lib/temporal';
import { migrateLatest } from '../migrations';
import { payloadKeyProvider } from '../lib/payload-keys';
import { encryptedDataConverter } from '../lib/payload-codec';
import { randomBytes } from 'node:crypto';
import { seedDemo } from '../migrations/seeds/demo';
import { Client } from '@temporalio/client';
import { ensureSettlementSchedules } from '../lib/settlement-schedule';
import { startDemoPaymentHosts } from '../demo/payment-hosts';
import { seedDemoStore, seedPaymentHosts } from '../migrations/seeds/payment-hosts';
import { hashPosToken } from '../api/routes/pos';
import { emulatorsUnavailable } from '../terminal-worker/simulators/emulated-kiosk/availability';

const children: ChildProcess[] = [];
let stopping = false;

function say(line: string) {
  process.stdout.write(`${line}\n`);
}

function run(name: string, script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [path.join(__dirname, '..', script), ...args], { env: { ...process.env, SERVICE_NAME: name, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((l) => say(`[${name}] ${l}`));
  child.stdout!.on('data', prefix);
  child.stderr!.on('data', prefix);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`[${name}] exited (${signal ?? code}); stopping everything.`);
      void shutdown(1);
    }
  });
  children.push(child);
  return child;
}

async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

let closeIssuer: (() => Promise<void>) | null = null;
let closePaymentHosts: (() => Promise<void>) | null = null;

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const c of [...children].reverse()) c.kill('SIGTERM');
  await closeIssuer?.();
  await closePaymentHosts?.();
  setTimeout(() => process.exit(code), 1500).unref();
}

async function main() {
  const config = loadConfig();
  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  // Made once here, before the processes that share it start (workers, API).
  const keys = payloadKeyProvider(process.env, config.DATA_DIR);
  // A demo operator token (finance API, Web UI codec sign-in) unless OPERATOR_TOKENS is set;
  // kept in a file readable only by this user, never printed.
  const operatorTokenFile = path.join(config.DATA_DIR, 'operator-token');
  if (config.OPERATOR_TOKENS.length === 0) {
    if (!fs.existsSync(operatorTokenFile)) fs.writeFileSync(operatorTokenFile, `operator:${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
    process.env.OPERATOR_TOKENS = fs.readFileSync(operatorTokenFile, 'utf8').trim();
  }
  const apiUrl = `http://localhost:${config.API_PORT}`;
  process.env.TEMPORAL_UI_ORIGINS ??= `http://localhost:${config.TEMPORAL_UI_PORT},http://127.0.0.1:${config.TEMPORAL_UI_PORT}`;
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  const address = temporalAddress(config);
  let uiUrl = 'your Temporal cluster\'s Web UI';
  if (!config.TEMPORAL_ADDRESS) {
    const cli = findTemporalCli(config.TEMPORAL_CLI);
    say(`Starting the Temporal dev server (${cli}) on ${address}…`);
    const server = startDevServer({ cli, port: config.TEMPORAL_PORT, uiPort: config.TEMPORAL_UI_PORT, dbFile: path.join(config.DATA_DIR, 'temporal.db'), logFile: path.join(config.DATA_DIR, 'temporal.log'), extraArgs: ['--ui-codec-endpoint', `${apiUrl}/api/codec`] });
    children.push(server);
    server.on('exit', (code) => {
      if (!stopping) {
        say(`Temporal dev server exited (${code}); see ${path.join(config.DATA_DIR, 'temporal.log')}`);
        void shutdown(1);
      }
    });
    uiUrl = `http://localhost:${config.TEMPORAL_UI_PORT}`;
  }
  await waitForTemporal(address);
  if (config.TEMPORAL_ADDRESS) {
    const connection = await Connection.connect({ address });
    const added = await ensureSearchAttributes(connection, config.TEMPORAL_NAMESPACE);
    if (added.length) say(`Registered search attributes on the cluster: ${added.join(', ')}.`);
    await connection.close();
  }
  say(`Temporal is up at ${address}.`);

  const db = createDb(config.DATABASE_URL, config.DATA_DIR);
  await migrateLatest(db);
  const notifyUrl = `http://127.0.0.1:${config.DEMO_ISSUER_PORT}/webhooks/sales`;
  const seeded = await seedDemo(db, { notifyUrl, terminalIds: [config.TERMINAL_ID] });
  // The payment companies' hosts (simulators in this process) and the demo store's POS token,
  // kept in a file readable only by this user, never printed.
  const paymentHosts = await startDemoPaymentHosts({ basePort: config.PAYMENT_SIM_PORT });
  closePaymentHosts = paymentHosts.close;
  const hostAddress = (k: keyof typeof paymentHosts.sims) => ({ host: paymentHosts.sims[k].host, port: paymentHosts.sims[k].port });
  await seedPaymentHosts(db, { card: hostAddress('card'), prepaid: hostAddress('prepaid'), bank: hostAddress('bank') });
  const posTokenFile = path.join(config.DATA_DIR, 'pos-token');
  if (!fs.existsSync(posTokenFile)) fs.writeFileSync(posTokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  await seedDemoStore(db, hashPosToken(fs.readFileSync(posTokenFile, 'utf8').trim()), [config.TERMINAL_ID]);
  // One settlement Schedule per issuer (closing time and zone from the configuration).
  const issuerIds: string[] = await db('issuers').pluck('id');
  await db.destroy();
  const scheduleConnection = await Connection.connect({ address });
  const schedules = await ensureSettlementSchedules({ client: new Client({ connection: scheduleConnection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: encryptedDataConverter(keys) }), taskQueue: config.CENTER_TASK_QUEUE, period: { closeTime: config.SETTLEMENT_CLOSE_TIME, timeZone: config.SETTLEMENT_TIME_ZONE } }, issuerIds);
  await scheduleConnection.close();
  if (schedules.created.length || schedules.updated.length) say(`Settlement schedules: ${schedules.created.length} created, ${schedules.updated.length} updated (daily at ${config.SETTLEMENT_CLOSE_TIME} ${config.SETTLEMENT_TIME_ZONE}).`);
  say(seeded.created ? 'Center database created and seeded with the demo catalogue.' : 'Center database is up to date.');

  const issuer = await startDemoIssuerServer(seeded.webhookSecret, config.DEMO_ISSUER_PORT);
  closeIssuer = issuer.close;

  const env = { TEMPORAL_ADDRESS: address };
  run('center-worker', 'workers/center.js', [], env);
  // The terminal runs its real drivers against the emulated kiosk when pcscd (vpcd) and socat are
  // there (the worker decides the same way), else the state-file simulators.
  const noEmulators = process.env.TERMINAL_SIMULATOR === 'state-file' ? 'TERMINAL_SIMULATOR=state-file' : emulatorsUnavailable(Number(process.env.EMULATOR_VPCD_PORT || 35963));
  say(noEmulators
    ? `Terminal ${config.TERMINAL_ID}: state-file simulators, not the real drivers (${noEmulators}).`
    : `Terminal ${config.TERMINAL_ID}: real drivers on the emulated kiosk (card printer, cash unit and receipt printer emulators on socat pty pairs, virtual card on pcscd's vpcd reader); printed faces in ${path.join(config.DATA_DIR, 'terminals', config.TERMINAL_ID, 'kiosk', 'faces')}, receipts in ${path.join(config.DATA_DIR, 'terminals', config.TERMINAL_ID, 'kiosk', 'receipts')}.`);
  run(`terminal ${config.TERMINAL_ID}`, 'terminal-worker/main.js', ['--simulate'], { ...env, CENTER_API_URL: `http://127.0.0.1:${config.API_PORT}` });
  run('api', 'api/main.js', [], env);
  await waitForHttp(`${apiUrl}/api/health`);

  say('');
  say('The IC card issuance system is running:');
  say(`  Kiosk page (terminal ${config.TERMINAL_ID}): ${apiUrl}/kiosk/${config.TERMINAL_ID}`);
  say(`  Temporal Web UI:                  ${uiUrl}`);
  say(`  Demo issuer's received events:    http://localhost:${config.DEMO_ISSUER_PORT}/events`);
  say(`  Payment hosts (simulators):       card ${paymentHosts.controlUrls.card}/state, prepaid ${paymentHosts.controlUrls.prepaid}/state, bank ${paymentHosts.controlUrls.bank}/state`);
  say(`  POS register API:                 POST ${apiUrl}/api/pos/payments (store token in ${posTokenFile})`);
  say(`  Operator sign-in (decrypt history): ${apiUrl}/operator/login${config.OPERATOR_TOKENS.length === 0 ? ` (token in ${operatorTokenFile})` : ''}`);
  say(`  Data directory:                   ${config.DATA_DIR}`);
  say('Press Ctrl-C to stop.');
  say('READY');
}

main().catch((err) => {
  say(`Start failed: ${(err as Error).message}`);
  void shutdown(1);
});
