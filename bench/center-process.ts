/**
 * The center worker as the benchmarks run it: its own process (`workers/center.js`, the production
 * entry point), as in the field, where the API, the finance client and the center worker are
 * separate processes. Node runs each process's JavaScript on one thread, so a center worker inside
 * the bench's own process would share that thread with the load generator (client calls, the API,
 * terminal workers) and measure their contention rather than the orchestration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { procCpuSeconds } from './support';

export interface CenterProcess {
  pid: number;
  /** CPU seconds (user + system) the process has used so far, from /proc (Linux). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export interface CenterProcessOptions {
  temporalAddress: string;
  databaseUrl: string;
  dataDir: string;
  taskQueue: string;
  /** PAYLOAD_KEYS spec shared with the bench's client (lib/payload-keys.ts). */
  payloadKeys: string;
  /** The prebuilt workflow bundle, written to a file the worker loads (no second bundling). */
  workflowCode: string;
  env?: NodeJS.ProcessEnv;
  /** The entry point, relative to dist/ (default the production one, workers/center.js). */
  entry?: string;
  /** Every chunk the process writes to stdout. */
  onStdout?: (chunk: string) => void;
}

/** Starts `workers/center.js` and resolves once it polls its task queue. */
export async function startCenterProcess(o: CenterProcessOptions): Promise<CenterProcess> {
  const bundlePath = path.join(o.dataDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, o.workflowCode);
  // BENCH_CENTER_NODE_ARGS: extra node flags for the worker, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = (process.env.BENCH_CENTER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(__dirname, '..', o.entry ?? 'workers/center.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: o.temporalAddress,
      DATABASE_URL: o.databaseUrl,
      DATA_DIR: o.dataDir,
      CENTER_TASK_QUEUE: o.taskQueue,
      PAYLOAD_KEYS: o.payloadKeys,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      o.onStdout?.(chunk.toString());
      output += chunk.toString();
      if (output.includes('center worker polling')) resolve();
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    exited.then((code) => reject(new Error(`center worker exited (${code}) before polling:\n${output.slice(-2000)}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return {
    pid: child.pid!,
    cpuSeconds: () => procCpuSeconds(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(force);
    },
  };
}
