/**
 * After a run of every payment path (approvals, declines, a wrong PIN, a timeout and its reversal,
 * a production failure and its void, pay at the register), a scan finds no card number, no PIN and
 * no clear PIN block anywhere they could leak:
 * - the logs of every process (center worker, terminal worker and the API as child processes at
 *   LOG_LEVEL=debug, and the Temporal dev server's log);
 * - every row of every table of the center's database (only tokens and last four digits);
 * - every workflow history, read back through the Temporal API and decoded with the payload key
 *   (so the scan sees what an operator sees), and the raw encrypted form too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Payload } from '@temporalio/common';
import { hostOutcomes } from '../../demo/payment-host-simulator';
import { pinBlockFormat0 } from '../../domain/pin-block';
import { freePort } from '../../lib/free-port';
import { EncryptionCodec } from '../../lib/payload-codec';
import { payloadKeyProvider } from '../../lib/payload-keys';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';
import { Kiosk } from '../support/kiosk-client';
import { startNodeProcess, type ManagedProcess } from '../support/processes';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

let stack: Stack;
let api: ManagedProcess;
let apiUrl: string;

const CARDS = {
  credit: '4532917364820193',
  creditDeclined: '4532917364821175',
  creditSilent: '4532917364822009',
  creditVoided: '4532917364823411',
  debit: '4902715530862274',
  prepaid: '6370481922650318',
};
const PINS = { debit: '739164', wrong: '582037' };

beforeAll(async () => {
  stack = await startStack({ workers: 'processes' });
  // Restart the workers at debug level, and run the API as a process of its own, so every log line is captured.
  await Promise.all(stack.processes.map((p) => p.kill('SIGKILL')));
  stack.startCenter({ LOG_LEVEL: 'debug', TEMPORAL_LOG_LEVEL: 'DEBUG' });
  for (const tid of stack.terminalIds) stack.startTerminal(tid, { LOG_LEVEL: 'debug', TEMPORAL_LOG_LEVEL: 'DEBUG' });
  const port = await freePort();
  api = startNodeProcess('api', 'api/main.js', [], { ...stack.env, API_PORT: String(port), HOLD_TTL_MS: '60000', LOG_LEVEL: 'debug' });
  stack.processes.push(api);
  apiUrl = `http://127.0.0.1:${port}`;
  await until('the API process', async () => (await fetch(`${apiUrl}/api/health`).then((r) => r.ok, () => false)) || null, 30_000);
});
afterAll(async () => {
  await stack?.stop();
});

const prepaidValue = async () => Number((await stack.db('prepaid_values').orderBy('value_minor').first('id')).id);

test('no card number or PIN in logs, the database or workflow histories after every payment path', async () => {
  const tid = stack.terminalIds[0];
  const { card, bank, prepaid } = stack.paymentHosts;
  card.setOutcome(CARDS.creditDeclined, hostOutcomes.decline('05'));
  card.setOutcome(CARDS.creditSilent, hostOutcomes.silent());
  bank.setAccount(CARDS.debit, { pin: PINS.debit, balance: 100_000 });
  prepaid.setAccount(CARDS.prepaid, { balance: 100_000 });
  const value = { kind: 'prepaid' as const, valueId: await prepaidValue() };

  // Credit approved; credit declined then debit with a wrong PIN then the right one; prepaid.
  const a = new Kiosk(apiUrl, tid);
  await a.buyWithCard(value, 'credit', CARDS.credit);
  await a.waitForStage('completed');
  const b = new Kiosk(apiUrl, tid);
  await b.buyWithCard(value, 'credit', CARDS.creditDeclined);
  await b.waitForPaymentResult();
  await b.retryWithCard('debit', CARDS.debit, PINS.wrong);
  await b.waitForPaymentResult();
  await b.retryWithCard('debit', CARDS.debit, PINS.debit);
  await b.waitForStage('completed');
  const c = new Kiosk(apiUrl, tid);
  await c.buyWithCard(value, 'prepaid', CARDS.prepaid);
  await c.waitForStage('completed');
  // No answer → reversal.
  const d = new Kiosk(apiUrl, tid);
  await d.buyWithCard(value, 'credit', CARDS.creditSilent);
  await d.waitForPaymentResult();
  await d.cancel();
  await d.waitForStage('cancelled');
  // Approved, then no card can be made → void.
  const stock = stack.machine(tid).stockerCount;
  new MachineStateFile(stack.machineFile(tid)).update((s) => void (s.stockerCount = 0));
  const e = new Kiosk(apiUrl, tid);
  await e.buyWithCard(value, 'credit', CARDS.creditVoided);
  await e.waitForStage('refunded');
  new MachineStateFile(stack.machineFile(tid)).update((s) => void (s.stockerCount = stock));
  // A bad request with a card number in it (wrong stage) is refused without echoing it.
  const refused = await fetch(`${apiUrl}/api/issuances/${a.issuanceId}/card`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestId: 'scan-refused-1', pan: CARDS.credit, pin: PINS.debit }) });
  expect(refused.status).toBe(409);
  expect(await refused.text()).not.toContain(CARDS.credit);
  // Let every reversal finish.
  await until('all reversals acknowledged', async () => (await stack.db('payment_reversals').whereNot({ status: 'acknowledged' })).length === 0 || null, 30_000);

  const secrets = secretPatterns();
  // The scanner itself: it would see each kind of leak.
  expect(findSecrets(`{"pan":"${CARDS.debit}","pin":"${PINS.debit}"} ${pinBlockFormat0(PINS.wrong, CARDS.debit).toString('hex')}`, secrets)).toEqual(['card number debit', 'card number debit (first 12 digits)', 'PIN debit', 'clear PIN block wrong']);
  expect(findSecrets(`created_at_ms 17${PINS.debit}00123`, secrets)).toEqual([]);

  // 1. Logs of every process, and the Temporal dev server's.
  const logs = stack.processes.map((p) => `== ${p.role}\n${p.output()}`).join('\n');
  expect(api.output()).toMatch(/API listening/);
  const serverLog = path.join(path.dirname(process.env.WORKFLOW_BUNDLE_PATH!), 'temporal.log');
  const allLogs = logs + (fs.existsSync(serverLog) ? fs.readFileSync(serverLog, 'utf8') : '');
  expect(findSecrets(allLogs, secrets)).toEqual([]);

  // 2. Every row of every table.
  const tables = ((await stack.db.raw('SHOW TABLES'))[0] as Record<string, string>[]).map((r) => Object.values(r)[0]);
  expect(tables).toEqual(expect.arrayContaining(['payments', 'card_tokens', 'payment_reversals', 'payment_transitions']));
  let dump = '';
  for (const t of tables) {
    for (const row of await stack.db(t).select('*')) {
      dump += JSON.stringify(row, (_k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('latin1') : v)) + '\n';
    }
  }
  expect(dump).toContain('tok_'); // tokens and last four digits are there…
  expect(findSecrets(dump, secrets)).toEqual([]); // …numbers and PINs are not

  // 3. Every workflow history through the Temporal API, decoded as an operator would read it.
  const ids = [
    ...(await stack.db('issuances').pluck('id')),
    ...(await stack.db('payment_reversals').pluck('payment_id')).map((id: number) => `payment-reversal-${id}`),
  ];
  expect(ids.filter((id) => id.startsWith('payment-reversal-')).length).toBeGreaterThanOrEqual(2);
  const codec = new EncryptionCodec(payloadKeyProvider(process.env, stack.env.DATA_DIR!));
  let decoded = '';
  let raw = '';
  for (const id of ids) {
    const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
    raw += textOf(history);
    decoded += await decodedText(history, codec);
  }
  expect(decoded).toContain('tok_'); // the decoding worked: card tokens are in the activity inputs
  expect(decoded).toContain(CARDS.credit.slice(-4));
  expect(findSecrets(decoded, secrets)).toEqual([]);
  expect(findSecrets(raw, secrets)).toEqual([]);
});

interface Secret {
  label: string;
  pattern: RegExp;
}

/** Card numbers (whole, or their first 12 digits), PINs as whole numbers, clear PIN blocks in hex. */
function secretPatterns(): Secret[] {
  const out: Secret[] = [];
  for (const [name, pan] of Object.entries(CARDS)) {
    out.push({ label: `card number ${name}`, pattern: new RegExp(pan) });
    out.push({ label: `card number ${name} (first 12 digits)`, pattern: new RegExp(pan.slice(0, 12)) });
  }
  for (const [name, pin] of Object.entries(PINS)) {
    out.push({ label: `PIN ${name}`, pattern: new RegExp(`(?<![0-9])${pin}(?![0-9])`) });
    out.push({ label: `clear PIN block ${name}`, pattern: new RegExp(pinBlockFormat0(pin, CARDS.debit).toString('hex'), 'i') });
  }
  return out;
}

function findSecrets(text: string, secrets: Secret[]): string[] {
  return secrets.filter((s) => s.pattern.test(text)).map((s) => s.label);
}

function isPayload(v: unknown): v is Payload {
  return typeof v === 'object' && v !== null && 'data' in v && 'metadata' in v;
}

function textOf(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (v == null) return;
    if (typeof v === 'string') out.push(v);
    else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('latin1'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object') Object.values(v as object).forEach(walk);
  };
  walk(value);
  return out.join('\n');
}

/** Every payload in the history decoded with the key, plus every other string. */
async function decodedText(value: unknown, codec: EncryptionCodec): Promise<string> {
  const out: string[] = [];
  const walk = async (v: unknown): Promise<void> => {
    if (v == null) return;
    if (isPayload(v)) {
      const [plain] = await codec.decode([v]);
      out.push(Buffer.from(plain.data ?? new Uint8Array()).toString('utf8'));
      return;
    }
    if (typeof v === 'string') out.push(v);
    else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('latin1'));
    else if (Array.isArray(v)) for (const x of v) await walk(x);
    else if (typeof v === 'object') for (const x of Object.values(v as object)) await walk(x);
  };
  await walk(value);
  return out.join('\n');
}
