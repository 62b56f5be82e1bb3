/**
 * The center worker: runs the workflows and the center's activities (database, issuer calls) on
 * the center task queue.
 */
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createCenterActivities, type CenterDeps } from '../activities/center';
import { killAfterActivity, killBeforeActivity } from './fault-injection';

export interface CenterWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: CenterDeps;
  /** A prebuilt workflow bundle (tests build it once); otherwise bundled from workflows/. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Test-only: SIGKILL the process before / after the named activity (workers/fault-injection.ts). */
  faultKillBeforeActivity?: string;
  faultKillAfterActivity?: string;
  /** Threads for workflow code (default 2). */
  workflowThreads?: number;
  /** The encrypting converter (lib/payload-codec.ts); clients must use the same keys. */
  dataConverter?: DataConverter;
}

/** The center worker's workflow threads unless configured (the issuance benchmark's floor uses the same). */
export const DEFAULT_WORKFLOW_THREADS = 2;

export async function createCenterWorker(opts: CenterWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: createCenterActivities(opts.deps),
    dataConverter: opts.dataConverter,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    // Each entry into the workflow sandbox starts and joins a watchdog thread (the SDK's deadlock
    // timeout; nodejs/node#47739), which waits on the OS scheduler under load: a second thread
    // overlaps those waits (docs/configuration.md, CENTER_WORKFLOW_THREADS).
    workflowThreadPoolSize: opts.workflowThreads ?? DEFAULT_WORKFLOW_THREADS,
    interceptors: { activity: [...killBeforeActivity(opts.faultKillBeforeActivity), ...killAfterActivity(opts.faultKillAfterActivity)] },
  });
}
