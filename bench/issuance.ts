/**
 * `npm run bench:issuance`: what our orchestration costs on top of Temporal itself, measured in
 * one run on this machine, against the real stack with zero-latency device simulators.
 *
 *   (a) 50 issuances one after another: p50 and p99 end-to-end latency;
 *   (b) 200 concurrent issuances: issuances per second;
 *   (c) the same two for the no-op `floor` workflow (workflows/floor.ts): the same Updates, Query
 *       and activities on the same queue topology, but every activity does nothing;
 *   and the ratio (b) / floor throughput. The last line printed is JSON:
 *   {"seqP50Ms":…,"seqP99Ms":…,"perSec":…,"floorPerSec":…,"ratio":…}
 *
 * What "end-to-end" means here. An issuance is driven exactly as a kiosk drives it, over the HTTP
 * API: POST start (the API checks the terminal in the DB, starts the workflow and queries its
 * progress), select a seat (an Update that holds it), confirm, choose cash, and insert notes until
 * paid (two notes and change, so payoutCash runs too); then the clock runs until the workflow's
 * result is in (the card is issued, the sale recorded, the issuer notified). The kiosk page polls
 * progress instead; waiting on the result (a long poll) measures the same moment without a polling
 * interval's error. The floor is driven with the same calls through the Temporal client directly
 * (start + query, the same Updates, then the result); the HTTP hop and the API's own DB lookup
 * are counted as our overhead.
 *
 * Queue topology. A terminal runs one card path (maxConcurrentActivityTaskExecutions 1) and its
 * activities are not safe to interleave between issuances (feedBlankCard adopts a blank card left
 * in the transport), so a real kiosk serves one customer at a time. 200 concurrent issuances
 * therefore means 200 terminals, each with its own worker, task queue and simulated devices, as in
 * the field. The floor uses the same shape: its own center queue (workflow + center no-ops) and
 * one queue per terminal with maxConcurrentActivityTaskExecutions 1. All workers run in this
 * process (as test/support/stack.ts does in-process), sharing one NativeConnection.
 *
 * Order. The floor runs first and the issuance second, each with a warm-up, and each phase's
 * workers are shut down before the next starts (no idle pollers compete). Running the floor
 * first is the conservative choice: the in-memory dev server only gets fuller as the run goes on.
 *
 * Environment: TEMPORAL_ADDRESS (else an in-memory dev server on a free port), DATABASE_URL
 * (mysql://… → a fresh schema, dropped afterwards; else SQLite in a temp dir). BENCH_SEQ and
 * BENCH_CONC change the 50 and 200 (for quick trials); BENCH_ONLY=floor measures the floor alone.
 */
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createApp } from '../api/app';
import { encryptedDataConverter, FAILURE_CONVERTER_PATH } from '../lib/payload-codec';
import { newKeySpec, parseKeySpec } from '../lib/payload-keys';
import { startDemoIssuerServer } from '../demo/issuer-server';
import { terminalTaskQueue } from '../domain/issuance';
import type { Progress } from '../domain/issuance';
import { migrateLatest } from '../migrations';
import { seedDemo } from '../migrations/seeds/demo';
import { createSimulatedDevices } from '../terminal-worker/simulators/simulated-devices';
import { ZERO_TIMINGS } from '../terminal-worker/simulators/timings';
import { createTerminalWorker } from '../terminal-worker/worker';
import { createCenterWorker, DEFAULT_WORKFLOW_THREADS } from '../workers/center-worker';
import { floor, floorCashUpdate, floorConfirmUpdate, floorPaymentUpdate, floorProgressQuery, floorSelectUpdate, type FloorInput } from '../workflows/floor';
import { benchDb, benchTemporal, mean, percentile, pool, profileHistory, round, runStops, say, table, tempDir, type HistoryProfile, type Stops } from './support';

const SEQ = Number(process.env.BENCH_SEQ ?? 50);
const CONC = Number(process.env.BENCH_CONC ?? 200);
const WARMUP_SEQ = 5;
const WARMUP_CONC = Math.min(CONC, 20);
/** The production hold time (lib/config.ts HOLD_TTL_MS default); irrelevant to a fast customer. */
const HOLD_TTL_MS = 180_000;
/** Notes a customer feeds in: ¥10,000 while more is due, then the smallest note that covers it. */
const NOTES = [1000, 2000, 5000, 10000];

const STEPS = ['start', 'select', 'confirm', 'payment', 'cash', 'produce'] as const;
type Step = (typeof STEPS)[number];

interface Run {
  id: string;
  ms: number;
  steps: Record<Step, number>;
}

interface Driver {
  name: string;
  /** One issuance from the first touch to the result; `slot` picks the terminal and the seat. */
  issue(terminalIdx: number, seatId: number): Promise<Run>;
  handle(id: string): WorkflowHandle;
  /** Floor histories name their no-op steps in the activity input. */
  namesFromInput: boolean;
}

function cashPlan(totalMinor: number): number[] {
  const plan: number[] = [];
  let due = totalMinor;
  while (due > 0) {
    const note = due > 10000 ? 10000 : NOTES.find((n) => n >= due)!;
    plan.push(note);
    due -= note;
  }
  return plan;
}

/** Seats whose price needs exactly two notes and gives change (classes S and A of the tour). */
const INSERTS = 2;

function stepTimer() {
  let last = performance.now();
  const first = last;
  const steps = {} as Record<Step, number>;
  return {
    mark(step: Step) {
      const now = performance.now();
      steps[step] = (steps[step] ?? 0) + (now - last);
      last = now;
    },
    done: () => ({ ms: performance.now() - first, steps }),
  };
}

async function postJson<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${url}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const rid = () => randomBytes(8).toString('hex');

function kioskDriver(apiUrl: string, temporal: Client, terminalIds: string[]): Driver {
  return {
    name: 'issuance',
    namesFromInput: false,
    handle: (id) => temporal.workflow.getHandle(id),
    async issue(t, seatId) {
      const timer = stepTimer();
      const tid = terminalIds[t];
      const { issuanceId } = await postJson<{ issuanceId: string }>(`${apiUrl}/api/kiosk/${tid}/issuances`, { requestId: rid() });
      timer.mark('start');
      const base = `${apiUrl}/api/issuances/${issuanceId}`;
      const { item } = await postJson<{ item: { quote: { totalMinor: number } } }>(`${base}/select`, { requestId: rid(), selection: { kind: 'seat', seatId } });
      timer.mark('select');
      await postJson(`${base}/confirm`, { requestId: rid() });
      timer.mark('confirm');
      await postJson(`${base}/payment`, { requestId: rid(), method: 'cash' });
      timer.mark('payment');
      const plan = cashPlan(item.quote.totalMinor);
      if (plan.length !== INSERTS || plan.reduce((a, b) => a + b, 0) === item.quote.totalMinor) {
        throw new Error(`seat ${seatId} costs ${item.quote.totalMinor}: not ${INSERTS} notes with change; the floor would not match`);
      }
      for (const amountMinor of plan) await postJson(`${base}/cash`, { requestId: rid(), amountMinor });
      timer.mark('cash');
      const result = (await temporal.workflow.getHandle(issuanceId).result()) as Progress;
      timer.mark('produce');
      if (result.stage !== 'completed') throw new Error(`${issuanceId} ended ${result.stage}: ${result.message}`);
      return { id: issuanceId, ...timer.done() };
    },
  };
}

function floorDriver(temporal: Client, taskQueue: string, terminalQueues: string[]): Driver {
  return {
    name: 'floor',
    namesFromInput: true,
    handle: (id) => temporal.workflow.getHandle(id),
    async issue(t, seatId) {
      const timer = stepTimer();
      const id = `floor-${rid()}`;
      const input: FloorInput = { id, terminalTaskQueue: terminalQueues[t], cashInserts: INSERTS };
      const handle = await temporal.workflow.start(floor, { taskQueue, workflowId: id, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' });
      await handle.query(floorProgressQuery);
      timer.mark('start');
      await handle.executeUpdate(floorSelectUpdate, { args: [{ kind: 'seat', seatId }], updateId: rid() });
      timer.mark('select');
      await handle.executeUpdate(floorConfirmUpdate, { args: [], updateId: rid() });
      timer.mark('confirm');
      await handle.executeUpdate(floorPaymentUpdate, { args: [{ method: 'cash' }], updateId: rid() });
      timer.mark('payment');
      for (let i = 0; i < INSERTS; i++) await handle.executeUpdate(floorCashUpdate, { args: [{ amountMinor: 10000 }], updateId: rid() });
      timer.mark('cash');
      const result = await handle.result();
      timer.mark('produce');
      if (result.stage !== 'completed') throw new Error(`${id} ended ${result.stage}`);
      return { id, ...timer.done() };
    },
  };
}

interface PhaseResult {
  seq: Run[];
  conc: Run[];
  concWallMs: number;
  perSec: number;
  seqProfiles: HistoryProfile[];
  concProfiles: HistoryProfile[];
}

async function runPhase(d: Driver, takeSeat: () => number): Promise<PhaseResult> {
  const label = d.name.padEnd(8);
  say(`[${label}] warm-up: ${WARMUP_SEQ} one after another, then ${WARMUP_CONC} at once`);
  for (let i = 0; i < WARMUP_SEQ; i++) await d.issue(0, takeSeat());
  await Promise.all(Array.from({ length: WARMUP_CONC }, (_, t) => d.issue(t, takeSeat())));

  say(`[${label}] (a) ${SEQ} issuances one after another on terminal 1`);
  const seq: Run[] = [];
  for (let i = 0; i < SEQ; i++) {
    seq.push(await d.issue(0, takeSeat()));
    if ((i + 1) % 10 === 0 || i + 1 === SEQ) {
      const ms = seq.map((r) => r.ms);
      say(`[${label}]     ${String(i + 1).padStart(3)}/${SEQ}  p50 ${round(percentile(ms, 50))} ms, max so far ${round(Math.max(...ms))} ms`);
    }
  }

  say(`[${label}] (b) ${CONC} issuances at once, one per terminal`);
  const seats = Array.from({ length: CONC }, () => takeSeat());
  let done = 0;
  const t0 = performance.now();
  const ticker = setInterval(() => say(`[${label}]     ${String(done).padStart(3)}/${CONC} done after ${round((performance.now() - t0) / 1000)} s`), 1000);
  let conc: Run[];
  try {
    conc = await Promise.all(seats.map((seat, t) => d.issue(t, seat).then((r) => (done++, r))));
  } finally {
    clearInterval(ticker);
  }
  const concWallMs = performance.now() - t0;
  const perSec = CONC / (concWallMs / 1000);
  say(`[${label}]     ${CONC}/${CONC} done in ${round(concWallMs / 1000, 2)} s: ${round(perSec)} issuances/s`);

  say(`[${label}] reading ${seq.length + conc.length} histories for the profile`);
  const seqProfiles = await pool(seq, 10, (r) => profileHistory(d.handle(r.id), d.namesFromInput));
  const concProfiles = await pool(conc, 10, (r) => profileHistory(d.handle(r.id), d.namesFromInput));
  return { seq, conc, concWallMs, perSec, seqProfiles, concProfiles };
}

async function stopWorkers(workers: Worker[], running: Promise<void>[]): Promise<void> {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await Promise.allSettled(running);
}

function shape(p: HistoryProfile, centerQueue: string) {
  const center = p.activities.filter((a) => a.queue === centerQueue).length;
  return { updates: p.updates, center, terminal: p.activities.length - center };
}

/** Mean per activity, in order of occurrence (both workflows run the same sequence). */
function activityRows(real: HistoryProfile[], fl: HistoryProfile[]): Array<Array<string | number>> {
  const n = Math.min(real[0]?.activities.length ?? 0, fl[0]?.activities.length ?? 0);
  const col = (ps: HistoryProfile[], i: number, k: 'waitMs' | 'runMs' | 'gapMs') => mean(ps.map((p) => p.activities[i]?.[k]).filter((v): v is number => Number.isFinite(v)));
  const rows: Array<Array<string | number>> = [];
  for (let i = 0; i < n; i++) {
    const a = real[0].activities[i];
    rows.push([`${a.name} (${a.queue.includes('terminal-') ? 'T' : 'C'})`, col(real, i, 'waitMs'), col(real, i, 'runMs'), col(real, i, 'gapMs'), col(fl, i, 'waitMs'), col(fl, i, 'runMs'), col(fl, i, 'gapMs')]);
  }
  const sum = (ps: HistoryProfile[], k: 'waitMs' | 'runMs' | 'gapMs') => mean(ps.map((p) => p.activities.reduce((s, a) => s + (Number.isFinite(a[k]) ? a[k] : 0), 0)));
  rows.push(['all activities', sum(real, 'waitMs'), sum(real, 'runMs'), sum(real, 'gapMs'), sum(fl, 'waitMs'), sum(fl, 'runMs'), sum(fl, 'gapMs')]);
  rows.push([`workflow tasks (${round(mean(real.map((p) => p.workflowTasks)), 0)} / ${round(mean(fl.map((p) => p.workflowTasks)), 0)})`, mean(real.map((p) => p.wftWaitMs)), mean(real.map((p) => p.wftRunMs)), '', mean(fl.map((p) => p.wftWaitMs)), mean(fl.map((p) => p.wftRunMs)), '']);
  rows.push(['history: first → last event', '', mean(real.map((p) => p.totalMs)), '', '', mean(fl.map((p) => p.totalMs)), '']);
  return rows;
}

async function main(): Promise<void> {
  const started = performance.now();
  // The SDK's warnings, minus one per activity-only worker ("No workflows registered") × 400.
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (!entry.message.startsWith('No workflows registered')) process.stderr.write(`[temporal ${entry.level}] ${entry.message} ${JSON.stringify(entry.meta ?? {})}\n`);
    }),
  });
  const tmp = tempDir('icc-bench');
  const cleanups: Stops = [];
  const cleanup = () => runStops(cleanups);
  try {
    say(`Issuance benchmark: ${SEQ} sequential and ${CONC} concurrent issuances, against the floor; zero-latency devices.`);
    const temporalEnv = await benchTemporal(tmp.dir);
    cleanups.push(() => temporalEnv.stop());
    say(`Temporal: ${temporalEnv.description}`);
    const bdb = await benchDb(tmp.dir, tmp.runId);
    cleanups.push(() => bdb.drop());
    say(`Database: ${bdb.description}`);
    const { db } = bdb;
    await migrateLatest(db);

    const terminalIds = Array.from({ length: CONC }, (_, i) => `B${tmp.runId}-${i + 1}`);
    const secret = randomBytes(16).toString('hex');
    const issuer = await startDemoIssuerServer(secret);
    cleanups.push(() => issuer.close());
    await seedDemo(db, { notifyUrl: issuer.url, webhookSecret: secret, terminalIds });
    const seatIds: number[] = (
      await db('seats as s').join('seat_classes as c', 'c.id', 's.class_id').whereIn('c.code', ['S', 'A']).where('s.status', 'available').orderBy('s.id').select('s.id')
    ).map((r: { id: number }) => Number(r.id));
    const needed = WARMUP_SEQ + WARMUP_CONC + SEQ + CONC;
    if (seatIds.length < needed) throw new Error(`only ${seatIds.length} seats of classes S and A for ${needed} issuances`);
    // The floor takes no real seat; it gets fake ids so its payloads look alike.
    let nextSeat = 0;
    const realSeat = () => seatIds[nextSeat++];
    let fakeSeat = 1_000_000;
    const floorSeat = () => fakeSeat++;
    say(`Seeded the demo catalogue and ${CONC} terminals; ${seatIds.length} seats of classes S and A to sell.`);

    say('Bundling the workflows…');
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });

    const connection = await Connection.connect({ address: temporalEnv.address });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection });
    // The issuance runs as in production, every payload encrypted (our cost); the floor does not.
    const dataConverter = encryptedDataConverter(parseKeySpec(newKeySpec('bench')));
    const sealedTemporal = new Client({ connection, dataConverter });
    const nativeConnection = await NativeConnection.connect({ address: temporalEnv.address });
    cleanups.push(() => nativeConnection.close());

    const centerTaskQueue = `center-bench-${tmp.runId}`;
    // As api/main.ts builds it: production options, no test shortcuts.
    const app = createApp({ db, temporal: sealedTemporal, centerTaskQueue, holdTtlMs: HOLD_TTL_MS, defaultTerminalId: terminalIds[0] });
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
    const apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

    // ---- the floor -------------------------------------------------------------------------
    const floorCenterQueue = `floor-center-${tmp.runId}`;
    const floorTerminalQueues = terminalIds.map((tid) => `floor-${terminalTaskQueue(tid)}`);
    say(`Starting the floor's workers: 1 center + ${CONC} terminal queues…`);
    let workers: Worker[] = [];
    let running: Promise<void>[] = [];
    workers.push(
      await Worker.create({ connection: nativeConnection, namespace: 'default', taskQueue: floorCenterQueue, workflowBundle: { code }, workflowThreadPoolSize: DEFAULT_WORKFLOW_THREADS, activities: { floorCenter: async (step: string) => step } }),
    );
    for (const q of floorTerminalQueues) {
      workers.push(
        await Worker.create({ connection: nativeConnection, namespace: 'default', taskQueue: q, activities: { floorTerminal: async (step: string) => step }, maxConcurrentActivityTaskExecutions: 1, shutdownGraceTime: '5 seconds' }),
      );
    }
    running = workers.map((w) => w.run());
    const fl = await runPhase(floorDriver(temporal, floorCenterQueue, floorTerminalQueues), floorSeat).finally(() => stopWorkers(workers, running));

    if (process.env.BENCH_ONLY === 'floor') {
      say(`floor only: seq p50 ${round(percentile(fl.seq.map((r) => r.ms), 50))} ms, p99 ${round(percentile(fl.seq.map((r) => r.ms), 99))} ms, ${round(fl.perSec, 2)}/s`);
      say(table(['activity', 'wait', 'run', 'gap', '', '', ''], activityRows(fl.seqProfiles, fl.seqProfiles).map((r) => r.slice(0, 4))));
      await cleanup();
      tmp.remove();
      return;
    }

    // ---- the issuance ----------------------------------------------------------------------
    say(`Starting the issuance's workers: the center worker + ${CONC} terminal workers with simulated devices…`);
    workers = [await createCenterWorker({ connection: nativeConnection, namespace: 'default', taskQueue: centerTaskQueue, deps: { db }, workflowBundle: { code }, dataConverter })];
    for (const tid of terminalIds) {
      const devices = createSimulatedDevices(path.join(tmp.dir, 'terminals', tid, 'machine.json'), ZERO_TIMINGS);
      workers.push(await createTerminalWorker({ connection: nativeConnection, namespace: 'default', terminalId: tid, devices, dataConverter }));
    }
    running = workers.map((w) => w.run());
    const real = await runPhase(kioskDriver(apiUrl, sealedTemporal, terminalIds), realSeat).finally(() => stopWorkers(workers, running));

    // ---- the report ------------------------------------------------------------------------
    const realShape = shape(real.seqProfiles[0], centerTaskQueue);
    const floorShape = shape(fl.seqProfiles[0], floorCenterQueue);
    const sameShape = JSON.stringify(realShape) === JSON.stringify(floorShape);

    const ms = (rs: Run[]) => rs.map((r) => r.ms);
    say('');
    say(`Per issuance: ${realShape.updates} Updates, ${realShape.center} center + ${realShape.terminal} terminal activities (issuance) vs ${floorShape.updates} Updates, ${floorShape.center} + ${floorShape.terminal} (floor): ${sameShape ? 'same shape' : 'SHAPES DIFFER — the comparison is not fair; update workflows/floor.ts'}`);
    say('');
    say(`Client-side time per call (mean ms; ${SEQ} sequential / ${CONC} concurrent)`);
    say(
      table(
        ['step', 'issuance seq', 'floor seq', 'issuance conc', 'floor conc'],
        STEPS.map((s) => [s, mean(real.seq.map((r) => r.steps[s])), mean(fl.seq.map((r) => r.steps[s])), mean(real.conc.map((r) => r.steps[s])), mean(fl.conc.map((r) => r.steps[s]))]),
      ),
    );
    for (const [title, r, f] of [
      [`sequential (${SEQ})`, real.seqProfiles, fl.seqProfiles],
      [`concurrent (${CONC})`, real.concProfiles, fl.concProfiles],
    ] as const) {
      say('');
      say(`Where the time goes, ${title}: mean ms per activity from the histories (wait = scheduled→started, run = started→completed, gap = completed→next scheduled)`);
      say(table(['activity (C center, T terminal)', 'iss wait', 'iss run', 'iss gap', 'floor wait', 'floor run', 'floor gap'], activityRows([...r], [...f])));
    }
    const out = {
      seqP50Ms: round(percentile(ms(real.seq), 50)),
      seqP99Ms: round(percentile(ms(real.seq), 99)),
      perSec: round(real.perSec, 2),
      floorPerSec: round(fl.perSec, 2),
      ratio: round(real.perSec / fl.perSec, 3),
    };
    say('');
    say(`Results (${bdb.kind}, ${Math.round((performance.now() - started) / 1000)} s in all)`);
    say(
      table(
        ['measure', 'issuance', 'floor', 'issuance / floor', 'aim'],
        [
          [`(a) sequential p50 ms (n=${SEQ})`, out.seqP50Ms, percentile(ms(fl.seq), 50), percentile(ms(real.seq), 50) / percentile(ms(fl.seq), 50), ''],
          [`(a) sequential p99 ms`, out.seqP99Ms, percentile(ms(fl.seq), 99), percentile(ms(real.seq), 99) / percentile(ms(fl.seq), 99), `< 250 ${out.seqP99Ms < 250 ? 'met' : 'MISSED'}`],
          [`(b) concurrent issuances/s (n=${CONC})`, out.perSec, out.floorPerSec, out.ratio, `≥ 0.8 ${out.ratio >= 0.8 ? 'met' : 'MISSED'}`],
          [`    concurrent wall time s`, real.concWallMs / 1000, fl.concWallMs / 1000, '', ''],
          [`    concurrent p50 / p99 ms`, `${round(percentile(ms(real.conc), 50))} / ${round(percentile(ms(real.conc), 99))}`, `${round(percentile(ms(fl.conc), 50))} / ${round(percentile(ms(fl.conc), 99))}`, '', ''],
        ],
      ),
    );
    if (!sameShape) process.exitCode = 1;
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
