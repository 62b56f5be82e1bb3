/**
 * Plumbing for the benchmarks: Temporal (an existing one or a fresh in-memory dev server), a fresh
 * center database (a new MariaDB/MySQL schema or a temporary SQLite file), statistics, tables and
 * a profile of where a workflow's time went, read from its history.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import knex from 'knex';
import type { WorkflowHandle } from '@temporalio/client';
import { createDb, type Db } from '../lib/db';
import { findTemporalCli, startDevServer } from '../lib/temporal-dev-server';
import { waitForTemporal } from '../lib/temporal';
import { freePort } from '../lib/free-port';

export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export interface BenchTemporal {
  address: string;
  description: string;
  /** The dev server's process, when the bench started one (its CPU is reported). */
  pid?: number;
  stop(): Promise<void>;
}


/** TEMPORAL_ADDRESS if set; otherwise a headless in-memory dev server on a free port. */
export async function benchTemporal(dir: string): Promise<BenchTemporal> {
  if (process.env.TEMPORAL_ADDRESS) {
    const address = process.env.TEMPORAL_ADDRESS;
    await waitForTemporal(address);
    return { address, description: `existing server at ${address}`, stop: async () => undefined };
  }
  const cli = findTemporalCli();
  const port = await freePort();
  const logFile = path.join(dir, 'temporal.log');
  const stock = !!process.env.BENCH_DEV_SERVER_STOCK;
  // BENCH_DEV_SERVER_ARGS: extra flags for the dev server (e.g. more --dynamic-config-value), for experiments.
  const extraArgs = (process.env.BENCH_DEV_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const server: ChildProcess = startDevServer({ cli, port, logFile, stockLimits: stock, extraArgs });
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address);
  } catch (err) {
    server.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    pid: server.pid,
    description: `dev server (in memory) at ${address}, ${stock ? 'stock settings' : 'history queue poll limits lifted (20 → 1000/s)'}`,
    async stop() {
      if (server.exitCode !== null || server.signalCode !== null) return;
      server.kill('SIGTERM');
      const t = setTimeout(() => server.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface BenchDb {
  db: Db;
  url: string;
  description: string;
  /** 'mysql' or 'sqlite' */
  kind: string;
  drop(): Promise<void>;
}

/**
 * DATABASE_URL (mysql://…) if set: a fresh schema on that server, dropped at the end (set
 * BENCH_KEEP_DB=1 to keep it). Otherwise an embedded SQLite file in the run's temp directory.
 */
export async function benchDb(dir: string, runId: string): Promise<BenchDb> {
  const given = process.env.DATABASE_URL;
  if (given && /^mysql2?:\/\//.test(given)) {
    const u = new URL(given.replace(/^mysql2:/, 'mysql:'));
    const schema = `icc_bench_${runId}`;
    u.pathname = '/';
    const serverUrl = u.toString().replace(/\/$/, '');
    const admin = knex({ client: 'mysql2', connection: serverUrl });
    await admin.raw(`CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await admin.destroy();
    u.pathname = `/${schema}`;
    const url = u.toString();
    const db = createDb(url, dir);
    return {
      db,
      url,
      kind: 'mysql',
      description: `MySQL/MariaDB schema ${schema} at ${u.host}`,
      async drop() {
        await db.destroy();
        if (process.env.BENCH_KEEP_DB) return;
        const a = knex({ client: 'mysql2', connection: serverUrl });
        await a.raw(`DROP DATABASE IF EXISTS \`${schema}\``).finally(() => a.destroy());
      },
    };
  }
  if (given && !given.startsWith('sqlite:')) throw new Error(`DATABASE_URL must be mysql://… or sqlite:…; got ${given}`);
  const url = given ?? `sqlite:${path.join(dir, 'center.sqlite')}`;
  const db = createDb(url, dir);
  return { db, url, kind: 'sqlite', description: `SQLite ${url.slice('sqlite:'.length)} (one connection)`, drop: () => db.destroy() };
}

export function tempDir(prefix: string): { dir: string; runId: string; remove(): void } {
  const runId = randomBytes(4).toString('hex');
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', `${prefix}-${runId}-`));
  return { dir, runId, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Statistics and tables

/** Nearest-rank percentile (p in 0..100) of a sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isFinite(c) ? String(round(c)) : '–') : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Runs fn on every item with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Where the time went, from a workflow's history (server timestamps)

function tsMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return NaN;
  const s = ts.seconds as number | { toNumber(): number } | null | undefined;
  const sec = s == null ? 0 : typeof s === 'number' ? s : s.toNumber();
  return sec * 1000 + (ts.nanos ?? 0) / 1e6;
}

const num = (v: unknown) => (v == null ? NaN : typeof v === 'number' ? v : Number((v as { toString(): string }).toString()));

export interface ActivityTiming {
  /** The activity type, or for the floor's no-ops the step they stand for. */
  name: string;
  queue: string;
  /** Scheduled → started: waiting in the task queue for a poller. */
  waitMs: number;
  /** Started → completed: the activity itself, as the server saw it. */
  runMs: number;
  /** Completed → next activity scheduled: the workflow task in between. */
  gapMs: number;
}

export interface HistoryProfile {
  totalMs: number;
  events: number;
  updates: number;
  activities: ActivityTiming[];
  workflowTasks: number;
  /** Sum over workflow tasks of scheduled → started. */
  wftWaitMs: number;
  /** Sum over workflow tasks of started → completed. */
  wftRunMs: number;
}

/** Decodes a JSON payload's first argument as a string (the floor's step name). */
function firstStringArg(payloads: Array<{ data?: Uint8Array | null }> | null | undefined): string | undefined {
  const data = payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    const v = JSON.parse(Buffer.from(data).toString('utf8'));
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function profileHistory(handle: WorkflowHandle, stepNameFromInput = false): Promise<HistoryProfile> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const byId = new Map<number, (typeof events)[number]>();
  for (const e of events) byId.set(num(e.eventId), e);
  const activities: ActivityTiming[] = [];
  const scheduledAt = new Map<number, { t: number; name: string; queue: string }>();
  const started = new Map<number, number>();
  let updates = 0;
  let workflowTasks = 0;
  let wftWaitMs = 0;
  let wftRunMs = 0;
  let lastCompleted: ActivityTiming | null = null;
  let lastCompletedAt = NaN;
  for (const e of events) {
    const t = tsMs(e.eventTime);
    if (e.workflowExecutionUpdateAcceptedEventAttributes) updates++;
    if (e.workflowTaskCompletedEventAttributes) {
      workflowTasks++;
      const a = e.workflowTaskCompletedEventAttributes;
      const st = byId.get(num(a.startedEventId));
      const sc = byId.get(num(a.scheduledEventId));
      if (st && sc) {
        wftWaitMs += tsMs(st.eventTime) - tsMs(sc.eventTime);
        wftRunMs += t - tsMs(st.eventTime);
      }
    }
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const name = (stepNameFromInput ? firstStringArg(s.input?.payloads as never) : undefined) ?? s.activityType?.name ?? '?';
      scheduledAt.set(num(e.eventId), { t, name, queue: s.taskQueue?.name ?? '?' });
      if (lastCompleted) {
        lastCompleted.gapMs = t - lastCompletedAt;
        lastCompleted = null;
      }
    }
    const a = e.activityTaskStartedEventAttributes;
    if (a) started.set(num(a.scheduledEventId), t);
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const sc = scheduledAt.get(num(c.scheduledEventId));
      const st = started.get(num(c.scheduledEventId));
      if (sc && st !== undefined) {
        const timing: ActivityTiming = { name: sc.name, queue: sc.queue, waitMs: st - sc.t, runMs: t - st, gapMs: NaN };
        activities.push(timing);
        lastCompleted = timing;
        lastCompletedAt = t;
      }
    }
  }
  const totalMs = events.length ? tsMs(events[events.length - 1].eventTime) - tsMs(events[0].eventTime) : NaN;
  return { totalMs, events: events.length, updates, activities, workflowTasks, wftWaitMs, wftRunMs };
}

/** The pid of a local process by its command name (e.g. mariadbd), to report its CPU; undefined if none is found. */
export function localPid(names: string[]): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (names.includes(fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim())) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) process `pid` has used so far, from /proc (Linux); NaN if unknown. */
export function procCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may contain spaces): utime and stime are 14th and 15th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * The CPU the other local processes of a round use meanwhile (its dev server, MariaDB): call it
 * before, and the function it returns after, for [name, seconds] of each one found.
 */
export function otherProcessesCpu(temporalPid: number | undefined): () => Array<readonly [string, number]> {
  const procs: Array<[string, number | undefined]> = [['Temporal dev server', temporalPid], ['MariaDB', localPid(['mariadbd', 'mysqld'])]];
  const at0 = procs.map(([, pid]) => (pid ? procCpuSeconds(pid) : NaN));
  return () => procs.map(([name, pid], k) => [name, (pid ? procCpuSeconds(pid) : NaN) - at0[k]] as const).filter(([, sec]) => !Number.isNaN(sec));
}

/** Cleanup steps, run last-added first; a failing one is reported and the rest still run. */
export type Stops = Array<() => Promise<unknown> | unknown>;

export async function runStops(stops: Stops): Promise<void> {
  for (const f of stops.reverse()) await Promise.resolve().then(f).catch((err) => say(`cleanup: ${(err as Error).message}`));
  stops.length = 0;
}
