/**
 * `npm run bench:settlement`: settling a big day, measured against the plain SQL aggregation that
 * a settlement amounts to, in one run on this machine.
 *
 *   1. A fresh center database (DATABASE_URL=mysql://… → a new schema, dropped at the end), the
 *      demo seed (3 issuers) and 97 more issuers, each with a bank account, a fee rule, a catalogue
 *      node and a product.
 *   2. BENCH_SALES (default 1,000,000) sales spread over the 100 issuers inside one settlement
 *      period (the last closed one), generated set-based: INSERT … SELECT over MariaDB's
 *      `seq_<a>_to_<b>` sequence tables, in chunks with progress, issuances → cards → sales so
 *      every foreign key holds.
 *   3. (sql) the plain aggregation over the same rows: per issuer count, Σ price, Σ operator fee,
 *      Σ issuer net of the period's sales (a full scan); run once to warm, then three timed runs
 *      whose median is the baseline.
 *   4. BENCH_SETTLE_ROUNDS rounds (default 3; the median is kept, as for the SQL), each on fresh
 *      Temporal dev servers and worker processes, the claims undone between rounds:
 *      (floor) Temporal's own floor (workflows/settlement-floor.ts): the same 100 workflows, the
 *      settlement's shape and start options, with a no-op step, on a worker process with the center
 *      worker's settings (bench/floor-worker.ts); what the settlement costs above it is ours.
 *      (warm-up) the day before settled for all 100 issuers (no sales: each closes at 0), so the
 *      center worker is a warm process at the closing time, as a center running since yesterday
 *      is; its time is printed apart (BENCH_WARMUP=0 skips it, here and for the floor).
 *      (settle) the 100 `settlement` workflows started through the Temporal client exactly as the
 *      finance API starts them (lib/settlement-schedule.ts startSettlement), payloads encrypted,
 *      one center worker in its own process (workers/center.js, bench/center-process.ts); timed from the first start until every
 *      settlement has claimed its sales, stored its totals and written its payout instruction
 *      (status awaiting_approval). Then, timed apart, (statements) the 100 statements rendered on
 *      demand as the finance and issuer APIs render them (they are not a workflow step).
 *   5. Where the time went (per activity, from the histories; per phase, from the database; and a
 *      rolled-back replay of one issuer's steps), correctness checks, and as the last line:
 *      {"sales":…,"seconds":…,"sqlSeconds":…,"ratio":…,"statementSeconds":…,"settleRounds":[…],
 *       "floorSeconds":…,"floorRatio":…,"warmUpSeconds":…}     aim: ratio ≤ 3
 *
 * Environment: DATABASE_URL (MariaDB; required: the sequence engine generates the rows),
 * TEMPORAL_ADDRESS (else a dev server), BENCH_CENTER_WORKERS (center worker processes, default 1), BENCH_WARMUP=0 (no warm-up day), BENCH_SETTLE_ROUNDS, BENCH_DEV_SERVER_ARGS (extra dev server flags), BENCH_SALES, BENCH_CHUNK (rows per generation chunk,
 * default 50,000), BENCH_TIMEOUT_S (default 1800), BENCH_KEEP_DB=1 keeps the schema.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { settlementItems, settlementStatement } from '../activities/center/settlement';
import { renderStatementCsv, renderStatementJson, statementTotals } from '../domain/settlement-statement';
import { addDays, DEFAULT_PERIOD_CONFIG, lastClosedPeriod, periodForDate, settlementIdFor, type Period } from '../domain/settlement-period';
import { createDb, type Db } from '../lib/db';
import { encryptedDataConverter, FAILURE_CONVERTER_PATH } from '../lib/payload-codec';
import { newKeySpec, parseKeySpec } from '../lib/payload-keys';
import { startSettlement } from '../lib/settlement-schedule';
import { migrateLatest } from '../migrations';
import { DEMO_ISSUERS, seedDemo } from '../migrations/seeds/demo';
import { startCenterProcess, type CenterProcess } from './center-process';
import { settlementStateQuery, type settlement } from '../workflows/settlement';
import { settlementFloor } from '../workflows/settlement-floor';
import { IssuerIdKey } from '../domain/search-attributes';
import { benchDb, benchTemporal, mean, otherProcessesCpu, percentile, pool, profileHistory, round, runStops, say, table, tempDir, type BenchTemporal, type HistoryProfile, type Stops } from './support';

const SALES = Number(process.env.BENCH_SALES ?? 1_000_000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 50_000);
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 1800);
const ISSUERS = 100;
const CENTER_WORKERS = Number(process.env.BENCH_CENTER_WORKERS ?? 1);
const WARMUP = process.env.BENCH_WARMUP !== '0';
const SETTLE_ROUNDS = Number(process.env.BENCH_SETTLE_ROUNDS ?? 3);
const AIM = 3;

const n = (v: unknown) => Number(v ?? 0);
let sdkWarnings = 0;

/** Server-wide InnoDB counters (the whole server, so other load on it shows up too). */
async function innodbCounters(db: Db): Promise<Record<string, number>> {
  const [rows] = await db.raw(`SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_row_lock_time', 'Innodb_deadlocks', 'Innodb_os_log_written', 'Innodb_buffer_pool_reads', 'Handler_update', 'Innodb_data_fsyncs')`);
  return Object.fromEntries((rows as Array<{ Variable_name: string; Value: string }>).map((r) => [r.Variable_name, Number(r.Value)]));
}
const secs = (ms: number) => round(ms / 1000, 2);
const pad = (i: number, w = 3) => String(i).padStart(w, '0');

interface BenchIssuer {
  idx: number;
  id: string;
  productId: number;
}

/** 97 issuers beside the demo's 3, each with a bank account, a fee rule and one product. */
async function seedIssuers(db: Db): Promise<BenchIssuer[]> {
  const now = Date.now();
  const extra = Array.from({ length: ISSUERS - 3 }, (_, k) => k + 4);
  await db('issuers').insert(
    extra.map((i) => ({
      id: `bench-issuer-${pad(i)}`,
      name: `Bench Issuer ${pad(i)}`,
      currency: 'JPY',
      notify_url: null,
      webhook_secret: `bench-secret-${i}`,
      created_at_ms: now,
      bank_code: '0005',
      bank_name: 'ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ',
      branch_code: pad(i % 1000),
      branch_name: 'ﾎﾝﾃﾝ',
      account_type: '1',
      account_number: `76${pad(i, 5)}`,
      account_holder_kana: `ﾍﾞﾝﾁﾊﾂｺｳｼﾔ${pad(i)}`,
    })),
  );
  // Fee rules from 2 % to ~9 %, some with a fixed part, in force from the start.
  await db('fee_rules').insert(extra.map((i) => ({ issuer_id: `bench-issuer-${pad(i)}`, product_type: null, bps: 200 + ((i * 37) % 700), fixed_minor: (i % 3) * 10, reissue_fee_minor: 0, effective_from_ms: 0, created_at_ms: now })));
  const root = Number((await db('catalogue_nodes').insert({ parent_id: null, issuer_id: null, kind: 'card_type', name: 'Bench cards', sort: 9 }))[0]);
  const out: BenchIssuer[] = [];
  // The demo's issuers sell through a bench product too (same shape for all 100).
  const ids = [DEMO_ISSUERS.promoter, DEMO_ISSUERS.railway, DEMO_ISSUERS.telco, ...extra.map((i) => `bench-issuer-${pad(i)}`)];
  for (const [idx, id] of ids.entries()) {
    const nodeId = Number((await db('catalogue_nodes').insert({ parent_id: root, issuer_id: id, kind: 'brand', name: `${id} cards`, sort: idx }))[0]);
    const productId = Number((await db('products').insert({ issuer_id: id, node_id: nodeId, type: 'prepaid', name: `${id} prepaid card`, currency: 'JPY', issuance_fee_minor: 0, face_image_id: null, active: true }))[0]);
    out.push({ idx, id, productId });
  }
  return out;
}

/**
 * Issuances, cards and sales, set-based. A helper table maps seq % 100 to the issuer, its product
 * and its fee rule; sale k (1-based) is sold at start + (k−1)·period/N, at 1,000…9,900 yen, with
 * the operator fee as domain/money.ts computes it (⌊(price·bps + 5000)/10000⌋ + fixed).
 */
async function generateSales(db: Db, issuers: BenchIssuer[], period: { startMs: number; endMs: number; label: string }): Promise<void> {
  await db.raw('CREATE TABLE bench_issuer_map (idx INT PRIMARY KEY, issuer_id VARCHAR(40) NOT NULL, product_id INT UNSIGNED NOT NULL, bps INT NOT NULL, fixed_minor INT NOT NULL, batch_id INT UNSIGNED NOT NULL) ENGINE=InnoDB');
  const rules = await db('fee_rules').select('issuer_id', 'bps', 'fixed_minor');
  const rule = new Map(rules.map((r: { issuer_id: string; bps: number; fixed_minor: number }) => [r.issuer_id, r]));
  // Each issuer's open settlement batch for the period, as recordSale would create it.
  const batchOf = new Map<string, number>();
  for (const i of issuers) {
    const [id] = await db('settlement_batches').insert({ issuer_id: i.id, period_start_ms: period.startMs, period_end_ms: period.endMs, period_label: period.label, settlement_id: null, created_at_ms: Date.now() });
    batchOf.set(i.id, Number(id));
  }
  await db('bench_issuer_map').insert(issuers.map((i) => ({ idx: i.idx, issuer_id: i.id, product_id: i.productId, bps: rule.get(i.id)!.bps, fixed_minor: rule.get(i.id)!.fixed_minor, batch_id: batchOf.get(i.id)! })));
  const span = period.endMs - period.startMs;
  const at = `(${period.startMs} + FLOOR((s.seq - 1) * ${span} / ${SALES}))`;
  const price = `(1000 + ((s.seq * 7919) % 90) * 100)`;
  const fee = `(FLOOR((${price} * m.bps + 5000) / 10000) + m.fixed_minor)`;
  const t0 = performance.now();
  for (let a = 1; a <= SALES; a += CHUNK) {
    const b = Math.min(SALES, a + CHUNK - 1);
    const from = `seq_${a}_to_${b} s STRAIGHT_JOIN bench_issuer_map m ON m.idx = s.seq % ${ISSUERS}`;
    const c0 = performance.now();
    await db.raw(
      `INSERT INTO issuances (id, terminal_id, issuer_id, product_id, product_type, selection, title, price_minor, customer_fee_minor, total_minor, currency, status, created_at_ms, updated_at_ms)
       SELECT CONCAT('iss-bench-', LPAD(s.seq, 8, '0')), 'T-001', m.issuer_id, m.product_id, 'prepaid', CONCAT('{"kind":"prepaid","valueMinor":', ${price}, '}'),
              CONCAT('Prepaid card ¥', ${price}), ${price}, 0, ${price}, 'JPY', 'completed', ${at}, ${at}
       FROM ${from} ORDER BY s.seq`,
    );
    await db.raw(
      `INSERT INTO cards (id, issuance_id, uid, status, created_at_ms, updated_at_ms)
       SELECT CONCAT('card-bench-', LPAD(s.seq, 8, '0')), CONCAT('iss-bench-', LPAD(s.seq, 8, '0')), CONCAT('04', LPAD(HEX(s.seq), 12, '0')), 'issued', ${at}, ${at}
       FROM seq_${a}_to_${b} s ORDER BY s.seq`,
    );
    await db.raw(
      `INSERT INTO sales (issuance_id, issuer_id, product_id, card_id, price_minor, customer_fee_minor, operator_fee_minor, issuer_net_minor, fee_bps, fee_fixed_minor, currency, sold_at_ms, batch_id, title)
       SELECT CONCAT('iss-bench-', LPAD(s.seq, 8, '0')), m.issuer_id, m.product_id, CONCAT('card-bench-', LPAD(s.seq, 8, '0')), ${price}, 0, ${fee}, ${price} - ${fee}, m.bps, m.fixed_minor, 'JPY', ${at}, m.batch_id, CONCAT('Prepaid card ¥', ${price})
       FROM ${from} ORDER BY s.seq`,
    );
    const el = (performance.now() - t0) / 1000;
    say(`  generated ${String(b).padStart(String(SALES).length)}/${SALES} sales (+ issuances, cards): chunk ${secs(performance.now() - c0)} s, ${round(el, 1)} s so far, ${Math.round(b / el)} sales/s`);
  }
  await db.raw('ANALYZE TABLE sales, issuances, cards');
}

interface SqlRow {
  issuer_id: string;
  c: number;
  gross: number;
  fees: number;
  net: number;
}

/**
 * The aggregation a settlement amounts to, over the same rows (the period's sales), as one scan
 * of the table. The hint matters: left alone, MariaDB walks (issuer_id, sold_at_ms) to skip the GROUP BY
 * sort and fetches every row through the primary key — with the default 128 MB buffer pool and a
 * 290 MB sales table that took 68 s for 1,000,000 sales instead of about a second.
 */
async function plainAggregation(db: Db, startMs: number, endMs: number): Promise<SqlRow[]> {
  const [rows] = await db.raw(
    `SELECT issuer_id, COUNT(*) AS c, SUM(price_minor) AS gross, SUM(operator_fee_minor) AS fees, SUM(issuer_net_minor) AS net
     FROM sales IGNORE INDEX (sales_issuer_id_sold_at_ms_index, sales_batch_items_index)
     WHERE sold_at_ms >= ? AND sold_at_ms < ? GROUP BY issuer_id`,
    [startMs, endMs],
  );
  return (rows as SqlRow[]).map((r) => ({ issuer_id: r.issuer_id, c: n(r.c), gross: n(r.gross), fees: n(r.fees), net: n(r.net) }));
}

/**
 * One issuer's steps replayed alone (uncontended) inside a transaction that is rolled back:
 * un-claim its batches, then the claim UPDATE and the sums as computeSettlement runs them; then the
 * statement as renderSettlementStatement builds it (items query, totals, CSV, JSON, SHA-256).
 */
async function replayOne(db: Db, settlementId: string, issuerId: string, period: { startMs: number; endMs: number }): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  const time = async <T>(label: string, f: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const r = await f();
    out.push([label, performance.now() - t]);
    return r;
  };
  const trx = await db.transaction();
  try {
    await trx('settlement_batches').where({ settlement_id: settlementId }).update({ settlement_id: null });
    await time('claim UPDATE of the batches (computeSettlement)', () => trx('settlement_batches').where({ issuer_id: issuerId }).whereNull('settlement_id').andWhere('period_end_ms', '<=', period.endMs).update({ settlement_id: settlementId }));
    await time('sums over the claimed batches (computeSettlement)', () =>
      trx('sales').whereIn('batch_id', trx('settlement_batches').select('id').where({ settlement_id: settlementId })).first(trx.raw('count(*) as c'), trx.raw('sum(price_minor) as g'), trx.raw('sum(operator_fee_minor) as f'), trx.raw('sum(issuer_net_minor) as n'), trx.raw('sum(case when sold_at_ms < ? then 1 else 0 end) as l', [period.startMs])),
    );
  } finally {
    await trx.rollback();
  }
  const items = await time('items query: the batches’ sales ORDER BY (render)', () => settlementItems(db, settlementId, period.startMs));
  const row = await db('settlements as s').join('issuers as i', 'i.id', 's.issuer_id').where('s.id', settlementId).first('s.*', 'i.name as issuer_name');
  const totals = await time('statementTotals (render)', () => statementTotals(items, n(row.carried_in_minor)));
  const statement = { settlementId, issuerId, issuerName: row.issuer_name, currency: row.currency, periodStartMs: n(row.period_start_ms), periodEndMs: n(row.period_end_ms), items, carriedInMinor: n(row.carried_in_minor), ...totals };
  const csv = await time('renderStatementCsv (render)', () => renderStatementCsv(statement));
  const json = await time('renderStatementJson (render)', () => renderStatementJson(statement));
  await time('SHA-256 of the CSV (render)', () => createHash('sha256').update(csv).digest('hex'));
  out.push([`(statement: ${items.length} items, CSV ${round(Buffer.byteLength(csv) / 1e6, 2)} MB, JSON ${round(Buffer.byteLength(json) / 1e6, 2)} MB)`, NaN]);
  return out;
}

/** Settles a day without sales for every issuer (each closes at 0) and waits for all of them. */
async function settleEmptyDay(client: Client, taskQueue: string, watch: Db, issuers: BenchIssuer[], day: Period): Promise<number> {
  const t0 = performance.now();
  await Promise.all(issuers.map((i) => startSettlement({ client, taskQueue, period: DEFAULT_PERIOD_CONFIG }, i.id, day)));
  for (;;) {
    const [[p]] = await watch.raw(`SELECT COALESCE(SUM(status = 'closed' AND sale_count = 0), 0) AS c FROM settlements WHERE period_start_ms = ?`, [day.startMs]);
    if (n(p.c) >= issuers.length) break;
    if (performance.now() - t0 > TIMEOUT_S * 1000) throw new Error(`warm-up settlements of ${day.label} not closed after ${TIMEOUT_S} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

/** A client of a round's dev server with fresh payload keys (its worker gets the same); closed with the round. */
async function roundClient(address: string, stops: Stops): Promise<{ client: Client; keySpec: string }> {
  const connection = await Connection.connect({ address });
  stops.push(() => connection.close());
  const keySpec = newKeySpec('bench');
  return { client: new Client({ connection, dataConverter: encryptedDataConverter(parseKeySpec(keySpec)) }), keySpec };
}

/** Between rounds: the settlements of these periods, their payout files and their claims undone. */
async function undoSettlements(db: Db, periodStarts: number[]): Promise<void> {
  await db.transaction(async (trx) => {
    const ids = trx('settlements').select('id').whereIn('period_start_ms', periodStarts);
    await trx('payout_instructions').whereIn('settlement_id', ids).delete();
    await trx('settlement_batches').whereIn('settlement_id', ids).update({ settlement_id: null });
    await trx('settlements').whereIn('period_start_ms', periodStarts).delete();
  });
}

interface RoundResult {
  settleMs: number;
  startedMs: number;
  warmUpMs: number | null;
  phaseAt: Record<'claimed' | 'payout', number>;
  handles: Array<WorkflowHandle<typeof settlement>>;
  /** InnoDB counter change during the settle. */
  delta: (k: string) => number;
  settleWarnings: number;
  cpuLine: string;
  stop(): Promise<void>;
}

/**
 * One round: a center worker process (or BENCH_CENTER_WORKERS of them) on the given Temporal
 * server, the warm-up day, then the 100 settlements of the period, timed from the first start until
 * all of them await approval with their payout instruction.
 */
async function settleRound(o: { temporalEnv: BenchTemporal; code: string; dbUrl: string; dir: string; runId: string; watch: Db; issuers: BenchIssuer[]; period: Period; warmUpDay: Period | null }): Promise<RoundResult> {
  const stops: Stops = [() => o.temporalEnv.stop()];
  const stop = () => runStops(stops);
  try {
    const { client, keySpec } = await roundClient(o.temporalEnv.address, stops);
    const taskQueue = `center-bench-settlement-${o.runId}`;
    // The center worker in its own process (bench/center-process.ts), as in production; with
    // BENCH_CENTER_WORKERS > 1, several such processes on the one task queue (scaled out).
    const centers: CenterProcess[] = [];
    for (let k = 0; k < CENTER_WORKERS; k++) {
      const dataDir = path.join(o.dir, `center-${k + 1}`);
      fs.mkdirSync(dataDir, { recursive: true });
      const c = await startCenterProcess({ temporalAddress: o.temporalEnv.address, databaseUrl: o.dbUrl, dataDir, taskQueue, payloadKeys: keySpec, workflowCode: o.code });
      stops.push(() => c.stop());
      centers.push(c);
    }
    const centerCpuNow = () => centers.reduce((a, c) => a + c.cpuSeconds(), 0);
    // (warm-up) A center worker settles every day; at the closing time it is a warm process, not
    // one started a second ago whose JavaScript has not been compiled yet. So the day before is
    // settled first (no sales: every settlement closes with nothing to pay), timed apart.
    const warmUpMs = o.warmUpDay ? await settleEmptyDay(client, taskQueue, o.watch, o.issuers, o.warmUpDay) : null;

    const counters0 = await innodbCounters(o.watch);
    const warnings0 = sdkWarnings;
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const centerCpu0 = centerCpuNow();
    // The other processes on this machine that the settle keeps busy (when they are local).
    const othersCpuSince = otherProcessesCpu(o.temporalEnv.pid);
    const t0 = performance.now();
    const handles = await Promise.all(o.issuers.map(async (i) => (await startSettlement({ client, taskQueue, period: DEFAULT_PERIOD_CONFIG }, i.id, o.period)).handle));
    const startedMs = performance.now() - t0;
    // Phases from the database: claimed (the settlement row committed with its claims), payout
    // instruction written (status awaiting_approval, in the same transaction).
    const phaseAt: Record<'claimed' | 'payout', number> = { claimed: NaN, payout: NaN };
    let lastSay = 0;
    for (;;) {
      const [[p]] = await o.watch.raw(`SELECT COUNT(*) AS claimed, COALESCE(SUM(status = 'awaiting_approval'), 0) AS payout FROM settlements WHERE period_start_ms = ?`, [o.period.startMs]);
      const el = performance.now() - t0;
      for (const k of ['claimed', 'payout'] as const) if (Number.isNaN(phaseAt[k]) && n(p[k]) >= o.issuers.length) phaseAt[k] = el;
      if (n(p.payout) >= o.issuers.length) break;
      if (el - lastSay >= 2000) {
        lastSay = el;
        say(`(settle)   ${secs(el)} s: claimed ${n(p.claimed)}/${o.issuers.length}, payout instructions ${n(p.payout)}/${o.issuers.length}`);
      }
      if (el > TIMEOUT_S * 1000) throw new Error(`settlements not done after ${TIMEOUT_S} s: claimed ${n(p.claimed)}, payouts ${n(p.payout)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const settleMs = performance.now() - t0;
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu = process.cpuUsage(cpu0);
    const centerCpu = centerCpuNow() - centerCpu0;
    const othersCpu = othersCpuSince();
    const counters1 = await innodbCounters(o.watch);
    const cpuLine = `center worker process${CENTER_WORKERS > 1 ? 'es' : ''} ${round(centerCpu, 2)} s (${round((centerCpu * 1000) / settleMs, 2)} cores); this process (client, watcher) ${round((cpu.user + cpu.system) / 1e6, 2)} s, event loop ${Math.round(elu * 100)} % busy${othersCpu.map(([name, sec]) => `; ${name} ${round(sec, 2)} s`).join('')}`;
    const settleWarnings = sdkWarnings - warnings0;
    return {
      settleMs,
      startedMs,
      warmUpMs,
      phaseAt,
      handles,
      delta: (k: string) => n(counters1[k]) - n(counters0[k]),
      settleWarnings,
      cpuLine,
      async stop() {
        // Leave nothing running on a shared server: the settlements wait for an approval that never comes.
        await pool(handles, 20, (h) => h.terminate('benchmark round finished').catch(() => undefined));
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Temporal's floor for the same 100 settlements (workflows/settlement-floor.ts): the settlement's
 * shape with a no-op step, on its own worker process (bench/floor-worker.ts, the center worker's
 * settings) and a fresh dev server, warmed up the same way; timed from the first start until every
 * step has run (the settlement's step is its database commit, the floor's its line on stdout).
 */
async function floorRound(o: { temporalEnv: BenchTemporal; code: string; dir: string; runId: string; issuers: BenchIssuer[]; period: Period; warmUpDay: Period | null }): Promise<{ ms: number; warmUpMs: number | null; cpuLine: string }> {
  const stops: Stops = [() => o.temporalEnv.stop()];
  try {
    const { client, keySpec } = await roundClient(o.temporalEnv.address, stops);
    const taskQueue = `floor-bench-settlement-${o.runId}`;
    let steps = 0;
    let partial = '';
    fs.mkdirSync(o.dir, { recursive: true });
    const worker = await startCenterProcess({
      temporalAddress: o.temporalEnv.address,
      databaseUrl: '',
      dataDir: o.dir,
      taskQueue,
      payloadKeys: keySpec,
      workflowCode: o.code,
      entry: 'bench/floor-worker.js',
      onStdout: (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        steps += lines.filter((l) => l === 'floor step').length;
      },
    });
    stops.push(() => worker.stop());
    const handles: WorkflowHandle[] = [];
    stops.push(() => pool(handles, 20, (h) => h.terminate('benchmark floor finished').catch(() => undefined)));
    const startAll = async (day: Period) => {
      const started = await Promise.all(
        o.issuers.map((i) =>
          client.workflow.start(settlementFloor, {
            taskQueue,
            workflowId: `settlement-floor-${o.runId}-${i.id}-${day.label}`,
            args: [{ issuerId: i.id, periodLabel: day.label }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            typedSearchAttributes: [{ key: IssuerIdKey, value: i.id }],
            memo: { issuerId: i.id, period: day.label },
          }),
        ),
      );
      handles.push(...started);
    };
    const waitForSteps = async (count: number, t0: number) => {
      while (steps < count) {
        if (performance.now() - t0 > TIMEOUT_S * 1000) throw new Error(`floor: ${steps} of ${count} steps after ${TIMEOUT_S} s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    let warmUpMs: number | null = null;
    if (o.warmUpDay) {
      const w0 = performance.now();
      await startAll(o.warmUpDay);
      await waitForSteps(o.issuers.length, w0);
      warmUpMs = performance.now() - w0;
    }
    const base = steps;
    const othersCpuSince = otherProcessesCpu(o.temporalEnv.pid);
    const workerCpu0 = worker.cpuSeconds();
    const t0 = performance.now();
    await startAll(o.period);
    // Checked every 10 ms (the settlement's database watcher looks every 50 ms: a little in the floor's favour).
    await waitForSteps(base + o.issuers.length, t0);
    const ms = performance.now() - t0;
    const cpuLine = [`floor worker process ${round(worker.cpuSeconds() - workerCpu0, 2)} s`, ...othersCpuSince().map(([name, sec]) => `${name} ${round(sec, 2)} s`)].join('; ');
    return { ms, warmUpMs, cpuLine };
  } finally {
    await runStops(stops);
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      sdkWarnings++;
      process.stderr.write(`[temporal ${entry.level}] ${entry.message} ${JSON.stringify(entry.meta ?? {})}\n`);
    }),
  });
  const tmp = tempDir('icc-bench-settlement');
  const cleanups: Stops = [];
  const cleanup = () => runStops(cleanups);
  try {
    if (!Number.isInteger(SALES) || SALES < ISSUERS) throw new Error(`BENCH_SALES must be an integer ≥ ${ISSUERS}`);
    if (!/^mysql2?:\/\//.test(process.env.DATABASE_URL ?? '')) throw new Error('DATABASE_URL must point at MariaDB (mysql://…): the rows are generated with its sequence engine');
    say(`Settlement benchmark: ${SALES} sales across ${ISSUERS} issuers in one period, settled through the workflows vs a plain SQL aggregation.`);
    const bdb = await benchDb(tmp.dir, tmp.runId);
    cleanups.push(() => bdb.drop());
    say(`Database: ${bdb.description}`);
    const { db } = bdb;
    const [[ver]] = await db.raw('SELECT VERSION() AS v, @@innodb_buffer_pool_size AS bp, @@innodb_flush_log_at_trx_commit AS fl, @@max_allowed_packet AS mp, @@innodb_log_file_size AS lf');
    say(`         ${ver.v}, innodb_buffer_pool_size ${Math.round(n(ver.bp) / 1048576)} MB, innodb_log_file_size ${Math.round(n(ver.lf) / 1048576)} MB, innodb_flush_log_at_trx_commit ${ver.fl}, max_allowed_packet ${Math.round(n(ver.mp) / 1048576)} MB`);
    await migrateLatest(db);
    await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/unused', terminalIds: ['T-001'] });
    const issuers = await seedIssuers(db);
    const period = lastClosedPeriod(Date.now(), DEFAULT_PERIOD_CONFIG);
    say(`Seeded ${issuers.length} issuers (3 demo + ${issuers.length - 3}), each with a bank account, a fee rule and a product. Period ${period.label} (${new Date(period.startMs).toISOString()} – ${new Date(period.endMs).toISOString()}).`);

    say(`Generating ${SALES} sales (with their issuances and cards), ${CHUNK} per chunk…`);
    const g0 = performance.now();
    await generateSales(db, issuers, period);
    const genMs = performance.now() - g0;
    const [[sz]] = await db.raw(`SELECT ROUND(SUM(data_length + index_length) / 1048576) AS mb FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'sales'`);
    say(`Generated in ${secs(genMs)} s; the sales table is ${n(sz.mb)} MB with its indexes.`);

    // ---- (sql) the plain aggregation --------------------------------------------------------
    say('');
    say('(sql) plain aggregation per issuer over the unsettled sales of the period: warm-up run, then three timed');
    await plainAggregation(db, period.startMs, period.endMs);
    // Three timed runs, the median kept: one run alone swung between 0.6 and 1.0 s on this machine.
    const sqlRuns: number[] = [];
    let sqlRows: SqlRow[] = [];
    for (let k = 0; k < 3; k++) {
      const s0 = performance.now();
      sqlRows = await plainAggregation(db, period.startMs, period.endMs);
      sqlRuns.push(performance.now() - s0);
    }
    const sqlMs = percentile(sqlRuns, 50);
    const sqlNet = sqlRows.reduce((a, r) => a + r.net, 0);
    const sqlCount = sqlRows.reduce((a, r) => a + r.c, 0);
    say(`(sql) ${sqlRows.length} issuers, ${sqlCount} sales, Σ net ${sqlNet}: ${sqlRuns.map((x) => round(x, 1)).join(', ')} ms, median ${round(sqlMs, 1)} ms`);

    // ---- (settle) through the workflows, in rounds ------------------------------------------
    say('');
    say('Bundling the workflows…');
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
    const watch = createDb(bdb.url, tmp.dir);
    cleanups.push(() => watch.destroy());
    await watch.raw('SELECT 1');
    const warmUpDay = periodForDate(addDays(period.label, -1), DEFAULT_PERIOD_CONFIG);
    const ids = issuers.map((i) => settlementIdFor(i.id, period));
    // Several rounds, each on a fresh Temporal dev server and center worker, the claims undone in
    // between; the median is kept, as for the SQL (one round alone swung 2.5–3.2 s on this machine).
    // An existing server (TEMPORAL_ADDRESS) gets one round: the workflow IDs are the settlement IDs.
    const rounds = process.env.TEMPORAL_ADDRESS ? 1 : SETTLE_ROUNDS;
    const results: RoundResult[] = [];
    const floors: Array<{ ms: number; warmUpMs: number | null; cpuLine: string }> = [];
    // Each round: the floor first (its own dev server and worker, stopped after), then the settlement.
    for (let k = 1; k <= rounds; k++) {
      if (k > 1) {
        await results[k - 2].stop();
        await undoSettlements(watch, [period.startMs, warmUpDay.startMs]);
      }
      const floorEnv = await benchTemporal(tmp.dir);
      const f = await floorRound({ temporalEnv: floorEnv, code, dir: path.join(tmp.dir, `floor-${k}`), runId: tmp.runId, issuers, period, warmUpDay: WARMUP ? warmUpDay : null });
      floors.push(f);
      say(`(round ${k}/${rounds}) floor: ${f.warmUpMs !== null ? `warm-up ${secs(f.warmUpMs)} s; ` : ''}all ${ids.length} no-op steps after ${secs(f.ms)} s; CPU: ${f.cpuLine}`);
      const temporalEnv = await benchTemporal(tmp.dir);
      say(`(round ${k}/${rounds}) Temporal: ${temporalEnv.description}`);
      const r = await settleRound({ temporalEnv, code, dbUrl: bdb.url, dir: path.join(tmp.dir, `round-${k}`), runId: tmp.runId, watch, issuers, period, warmUpDay: WARMUP ? warmUpDay : null });
      cleanups.push(() => r.stop());
      results.push(r);
      say(`(round ${k}/${rounds}) ${r.warmUpMs !== null ? `warm-up (the day before, no sales, on the fresh worker) ${secs(r.warmUpMs)} s; ` : ''}all ${ids.length} awaiting approval with their payout instruction after ${secs(r.settleMs)} s (starts took ${round(r.startedMs)} ms); CPU: ${r.cpuLine}`);
    }
    const settleMs = percentile(results.map((r) => r.settleMs), 50);
    const last = results[results.length - 1];
    const { handles, startedMs, phaseAt, delta, settleWarnings, warmUpMs } = last;
    const floorMs = percentile(floors.map((f) => f.ms), 50);
    say(`(settle) ${results.map((r) => secs(r.settleMs)).join(', ')} s; median ${secs(settleMs)} s. (floor) ${floors.map((f) => secs(f.ms)).join(', ')} s; median ${secs(floorMs)} s`);

    // ---- (statements) rendered on demand, as the finance and issuer APIs do ------------------
    say(`(statements) rendering the ${ids.length} statements (CSV + JSON, stored once), two at a time as two API requests would…`);
    const r0 = performance.now();
    const statements = await pool(ids, 2, (id) => settlementStatement(watch, id, Date.now()));
    const statementMs = performance.now() - r0;
    const statementBytes = statements.reduce((a, st) => a + Buffer.byteLength(st.csv) + Buffer.byteLength(st.json), 0);
    say(`(statements) ${ids.length} statements, ${round(statementBytes / 1e6, 1)} MB of CSV + JSON, in ${secs(statementMs)} s`);

    // ---- where the time went ----------------------------------------------------------------
    say('Reading the workflows’ state and histories…');
    const states = await pool(handles, 10, (h) => h.query(settlementStateQuery));
    const profiles: HistoryProfile[] = await pool(handles, 10, (h) => profileHistory(h));
    const byActivity = new Map<string, { wait: number[]; run: number[] }>();
    for (const p of profiles) {
      for (const a of p.activities) {
        const e = byActivity.get(a.name) ?? { wait: [], run: [] };
        e.wait.push(a.waitMs);
        e.run.push(a.runMs);
        byActivity.set(a.name, e);
      }
    }
    const replay = await replayOne(watch, ids[0], issuers[0].id, period);

    // ---- correctness ------------------------------------------------------------------------
    const settled = await watch('settlements').where({ period_start_ms: period.startMs }).select('id', 'issuer_id', 'status', 'sale_count', 'gross_minor', 'fees_minor', 'net_minor', 'payout_minor');
    const sqlBy = new Map(sqlRows.map((r) => [r.issuer_id, r]));
    const mismatched = settled.filter((s: Record<string, unknown>) => {
      const q = sqlBy.get(String(s.issuer_id));
      return !q || q.c !== n(s.sale_count) || q.gross !== n(s.gross_minor) || q.fees !== n(s.fees_minor) || q.net !== n(s.net_minor);
    });
    const settledNet = settled.reduce((a: number, s: Record<string, unknown>) => a + n(s.net_minor), 0);
    const settledCount = settled.reduce((a: number, s: Record<string, unknown>) => a + n(s.sale_count), 0);
    const [[claims]] = await watch.raw(
      `SELECT COUNT(*) AS total, COALESCE(SUM(b.settlement_id IS NULL), 0) AS unclaimed, COALESCE(SUM(st.id IS NOT NULL AND st.issuer_id = s.issuer_id AND st.period_start_ms = ?), 0) AS own,
              COALESCE(SUM(CASE WHEN st.id IS NOT NULL THEN s.issuer_net_minor ELSE 0 END), 0) AS claimedNet
       FROM sales s LEFT JOIN settlement_batches b ON b.id = s.batch_id LEFT JOIN settlements st ON st.id = b.settlement_id`,
      [period.startMs],
    );
    const [[payouts]] = await watch.raw(`SELECT COUNT(*) AS c, COALESCE(SUM(p.amount_minor = st.payout_minor), 0) AS ok FROM payout_instructions p JOIN settlements st ON st.id = p.settlement_id WHERE st.period_start_ms = ?`, [period.startMs]);
    const checks: Array<[string, boolean, string]> = [
      ['settlements written', settled.length === ISSUERS, `${settled.length}/${ISSUERS}`],
      ['Σ settlement nets = SQL Σ net', settledNet === sqlNet, `${settledNet} vs ${sqlNet}`],
      ['per issuer count/gross/fees/net = SQL', mismatched.length === 0, `${mismatched.length} issuers differ`],
      ['every sale claimed exactly once (by its own issuer’s settlement)', n(claims.unclaimed) === 0 && n(claims.own) === SALES && n(claims.total) === SALES && settledCount === SALES, `${n(claims.own)} of ${n(claims.total)} claimed by their issuer, ${n(claims.unclaimed)} unclaimed, Σ sale_count ${settledCount}`],
      ['Σ issuer net over claimed rows = SQL Σ net', n(claims.claimedNet) === sqlNet, `${n(claims.claimedNet)}`],
      ['one payout instruction each, amount = payout', n(payouts.c) === ISSUERS && n(payouts.ok) === ISSUERS, `${n(payouts.c)} instructions, ${n(payouts.ok)} amounts match`],
      ['workflow state awaiting_approval (settlementState query)', states.every((s) => s.status === 'awaiting_approval' && !!s.payoutInstruction), `${states.filter((s) => s.status === 'awaiting_approval').length}/${ISSUERS}`],
      ['every statement’s totals = its settlement’s (checked while rendering); item count = sale_count', statements.every((st, i) => (JSON.parse(st.json) as { items: unknown[] }).items.length === n(settled.find((x: Record<string, unknown>) => x.id === ids[i])?.sale_count)), `${statements.length} statements`],
    ];
    if (warmUpMs !== null) {
      const [[w]] = await watch.raw(
        `SELECT COUNT(*) AS c, COALESCE(SUM(st.status = 'closed' AND st.sale_count = 0 AND st.net_minor = 0), 0) AS closed, (SELECT COUNT(*) FROM settlement_batches b JOIN settlements x ON x.id = b.settlement_id WHERE x.period_start_ms = ?) AS claimed
         FROM settlements st WHERE st.period_start_ms = ?`,
        [warmUpDay.startMs, warmUpDay.startMs],
      );
      checks.push(['the warm-up day’s settlements closed at 0 and claimed nothing', n(w.c) === ISSUERS && n(w.closed) === ISSUERS && n(w.claimed) === 0, `${n(w.closed)}/${n(w.c)} closed at 0, ${n(w.claimed)} batches claimed`]);
    }
    const ok = checks.every((c) => c[1]);

    // ---- report -----------------------------------------------------------------------------
    say('');
    say(`Where the settle time goes: per activity over the ${ids.length} workflows, from the histories (ms; wait = scheduled→started, run = started→completed)`);
    const actRows: Array<Array<string | number>> = [...byActivity.entries()].map(([name, e]) => [name, e.run.length, mean(e.wait), percentile(e.wait, 99), mean(e.run), percentile(e.run, 50), Math.max(...e.run), e.run.reduce((a, b) => a + b, 0) / 1000]);
    say(table(['activity', 'n', 'wait mean', 'wait p99', 'run mean', 'run p50', 'run max', 'Σ run s'], actRows));
    say(`  workflow tasks: ${round(mean(profiles.map((p) => p.workflowTasks)), 1)} per workflow, mean wait ${round(mean(profiles.map((p) => p.wftWaitMs)))} ms, run ${round(mean(profiles.map((p) => p.wftRunMs)))} ms`);
    say(
      `  InnoDB during settle (server-wide): ${delta('Innodb_row_lock_waits')} row lock waits (${delta('Innodb_row_lock_time')} ms waited in all), ${delta('Innodb_deadlocks')} deadlocks, ${delta('Handler_update')} rows updated, ${delta('Innodb_data_fsyncs')} fsyncs, ${delta('Innodb_buffer_pool_reads')} buffer pool misses, ${round(delta('Innodb_os_log_written') / 1048576, 1)} MB redo written; SDK warnings (mostly failed activity attempts) ${settleWarnings}`,
    );
    say(
      `  CPU during the last round's settle: ${last.cpuLine}`,
    );
    say('');
    say('Phases (wall clock from the first start, from the database)');
    say(
      table(
        ['all 100 …', 's'],
        [
          ['started (client calls returned)', startedMs / 1000],
          ['claimed (computeSettlement committed)', phaseAt.claimed / 1000],
          ['payout instruction written (Zengin; awaiting_approval)', phaseAt.payout / 1000],
        ].map(([a, b]) => [a as string, round(b as number, 2)]),
      ),
    );
    say('');
    say(`One issuer replayed alone (${issuers[0].id}, ${n(settled.find((s: Record<string, unknown>) => s.id === ids[0])?.sale_count)} sales; the claim in a rolled-back transaction)`);
    say(table(['step', 'ms'], replay.map(([a, b]) => [a, b])));
    say('');
    say('Checks');
    say(table(['check', 'result', ''], checks.map(([a, b, c]) => [a, b ? 'ok' : 'FAILED', c])));

    const out = { sales: SALES, seconds: round(settleMs / 1000, 3), sqlSeconds: round(sqlMs / 1000, 3), ratio: round(settleMs / sqlMs, 1), statementSeconds: round(statementMs / 1000, 3), settleRounds: results.map((r) => round(r.settleMs / 1000, 3)), floorSeconds: round(floorMs / 1000, 3), floorRatio: round(floorMs / sqlMs, 1), ...(warmUpMs !== null ? { warmUpSeconds: round(warmUpMs / 1000, 3) } : {}) };
    say('');
    say(`Results (MariaDB, ${Math.round((performance.now() - started) / 1000)} s in all; generation ${secs(genMs)} s)`);
    say(
      table(
        ['measure', 'value', 'aim'],
        [
          [`settle ${ISSUERS} issuers through the workflows (median of ${results.length} rounds), s`, out.seconds, ''],
          ['plain SQL aggregation (warm, median of 3), s', out.sqlSeconds, ''],
          [`render the ${ISSUERS} statements on demand afterwards, s`, out.statementSeconds, ''],
          ...(warmUpMs !== null ? [[`warm-up before (last round): ${ISSUERS} settlements of the day before (no sales) on the fresh worker, s`, round(warmUpMs / 1000, 3), '']] : []),
          [`Temporal's floor: the same ${ISSUERS} workflows with a no-op step (median of ${floors.length} rounds), s`, out.floorSeconds, ''],
          ['settle / SQL', out.ratio, `≤ ${AIM} ${out.ratio <= AIM ? 'met' : 'MISSED'}`],
          ['floor / SQL (what Temporal alone costs on this machine)', out.floorRatio, ''],
          ['settle / floor (what the settlement adds)', round(settleMs / floorMs, 2), ''],
          ['sales settled per second', SALES / (settleMs / 1000), ''],
          ['checks', ok ? 'all ok' : 'FAILED', ''],
        ],
      ),
    );
    if (!ok) process.exitCode = 1;
    await cleanup();
    tmp.remove();
    say(JSON.stringify(out));
  } catch (err) {
    say(`Benchmark failed: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
    await cleanup();
  }
}

void main();
