/**
 * `npm run bench:payments`: what an authorization costs in our code, next to what the payment
 * host itself spends on it, measured in the same run.
 *
 *   ours  — one credit authorization through the center's activity (`authorizeCardPayment`), as
 *           the worker runs it: create the attempt row with its host identity (STAN, field 41,
 *           field 7, RRN) and its `pending` transition, detokenise the card from the vault
 *           (AES-256-GCM), pack the 0100 with the host's field table, frame and send it over the
 *           kept TCP connection, wait for the 0110, unpack it, and record the answer (conditional
 *           state change + transition row) in one DB transaction. Sequential, so each figure is
 *           one customer's wait.
 *   wire  — the same 0100 through the ISO 8583 client alone (pack, TCP round trip, unpack): the
 *           floor our DB work sits on.
 *   host  — the simulator's own processing time per message (frame in → answer written), as the
 *           simulator measures it, approving at once.
 *
 * The last line is JSON: {"p50Ms":…,"p99Ms":…,"hostMs":…,"ratio":…} with ratio = our p50 / the
 * host's p50. The aim (p99 under 50 ms) is 40× inside the 2 s an issuer gets from the card network.
 *
 * Environment: DATABASE_URL (mysql://… → a fresh schema, dropped afterwards; else SQLite in a temp
 * dir), BENCH_N (default 1000 authorizations, after 50 warm-up ones).
 */
import { performance } from 'node:perf_hooks';
import { createCardPaymentActivities } from '../activities/center/card-payments';
import { createHoldActivities } from '../activities/center/holds';
import { startPaymentHostSimulator } from '../demo/payment-host-simulator';
import { defaultFieldTable } from '../domain/iso8583';
import { createCardVault } from '../lib/card-vault';
import { Iso8583Client } from '../lib/iso8583-framing';
import { newKeySpec, parseKeySpec } from '../lib/payload-keys';
import { PaymentHostClients, timeFields } from '../lib/payment-hosts';
import { migrateLatest } from '../migrations';
import { seedDemo } from '../migrations/seeds/demo';
import { seedPaymentHosts } from '../migrations/seeds/payment-hosts';
import { benchDb, percentile, round, say, table, tempDir } from './support';

const N = Number(process.env.BENCH_N ?? 1000);
const WARMUP = 50;

async function main(): Promise<void> {
  const tmp = tempDir('bench-payments');
  const bdb = await benchDb(tmp.dir, tmp.runId);
  const { db } = bdb;
  const sim = await startPaymentHostSimulator({ table: defaultFieldTable });
  const hosts = new PaymentHostClients(db);
  const wire = new Iso8583Client({ host: sim.host, port: sim.port, table: defaultFieldTable, requestTimeoutMs: 5_000 });
  try {
    say(`bench:payments — ${N} sequential credit authorizations (0100) after ${WARMUP} warm-up`);
    say(`database: ${bdb.description}`);
    say(`payment host: simulator on ${sim.host}:${sim.port}, approving at once`);
    await migrateLatest(db);
    await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/unused', terminalIds: ['T-001'] });
    const address = { host: sim.host, port: sim.port };
    await seedPaymentHosts(db, { card: address, prepaid: address, bank: address }, 5_000);

    const vault = createCardVault(db, parseKeySpec(newKeySpec('bench')));
    const activities = createCardPaymentActivities({ db, cardVault: vault, paymentHosts: hosts });
    const issuanceId = `iss-T-001-bench${tmp.runId}`;
    await createHoldActivities({ db }).holdItem(issuanceId, 'T-001', { kind: 'prepaid', valueId: 1 }, 600_000);
    const pan = '4111111111111111';
    const { token, last4 } = await vault.tokenise({ pan }, 'chip');

    // ours: the activity, end to end.
    const ours: number[] = [];
    for (let i = 1; i <= WARMUP + N; i++) {
      if (i === WARMUP + 1) sim.resetTimings();
      const t0 = performance.now();
      const r = await activities.authorizeCardPayment({ issuanceId, attempt: i, method: 'credit', cardToken: token, last4, entryMode: 'chip' });
      const ms = performance.now() - t0;
      if (r.outcome !== 'approved') throw new Error(`authorization ${i} was not approved: ${r.outcome} ${r.responseCode}`);
      if (i > WARMUP) ours.push(ms);
    }
    const host = sim.processingTimesMs();

    // wire: the client alone, same message shape.
    const wireTimes: number[] = [];
    const now = Date.now();
    for (let i = 1; i <= WARMUP + N; i++) {
      const fields = { 2: pan, 3: '000000', 4: '000000001000', ...timeFields(now + i * 1000), 11: String(i).padStart(6, '0'), 22: '051', 41: 'BENCHWIR', 42: 'ICKIOSK00000001', 49: '392' };
      const t0 = performance.now();
      await wire.request('0100', fields);
      if (i > WARMUP) wireTimes.push(performance.now() - t0);
    }

    const approved = await db('payments').where({ issuance_id: issuanceId, status: 'authorized' }).count({ c: '*' }).first();
    if (Number(approved?.c) !== WARMUP + N) throw new Error(`expected ${WARMUP + N} authorized payments, found ${approved?.c}`);

    const row = (name: string, v: number[]) => [name, v.length, percentile(v, 50), percentile(v, 90), percentile(v, 99), Math.max(...v)];
    say('');
    say(table(['measure (ms)', 'n', 'p50', 'p90', 'p99', 'max'], [row('ours: authorizeCardPayment', ours), row('wire: Iso8583Client.request', wireTimes), row('host: simulator processing', host)]));
    const p50 = percentile(ours, 50);
    const p99 = percentile(ours, 99);
    const hostMs = percentile(host, 50);
    say('');
    say(`p99 ${round(p99, 2)} ms: ${p99 < 50 ? 'within' : 'misses'} the 50 ms aim; our p50 is ${round(p50 / hostMs, 0)}× the host's own processing and ${round(p50 - percentile(wireTimes, 50), 2)} ms over the bare wire round trip.`);
    say(JSON.stringify({ p50Ms: round(p50, 3), p99Ms: round(p99, 3), hostMs: round(hostMs, 4), ratio: round(p50 / hostMs, 1) }));
  } finally {
    await wire.close();
    await hosts.close();
    await sim.close();
    await bdb.drop();
    tmp.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
