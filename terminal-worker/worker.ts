/**
 * A terminal's worker: polls the terminal's own task queue and runs device activities one at a
 * time (one card path), against real drivers or simulators behind the same interfaces.
 */
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { createTerminalActivities } from '../activities/terminal';
import { terminalTaskQueue } from '../domain/issuance';
import type { TerminalDevices } from './devices/types';
import type { PackageSource } from './devices/application-loader';

export interface TerminalWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  terminalId: string;
  devices: TerminalDevices;
  dataConverter?: DataConverter;
  /** True once shutdown began: a step waiting on the customer hands its card back at once. */
  stopping?: () => boolean;
  /** How long shutdown lets the step in progress finish (a print, a chip write) before cancelling it. */
  shutdownGraceMs?: number;
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** Where application packages are fetched from (the center's API). */
  packages?: PackageSource;
}

export async function createTerminalWorker(opts: TerminalWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: terminalTaskQueue(opts.terminalId),
    activities: createTerminalActivities(opts.devices, { stopping: opts.stopping, packages: opts.packages }),
    dataConverter: opts.dataConverter,
    maxConcurrentActivityTaskExecutions: 1,
    // Finish the step in progress (a crashed worker's step is retried elsewhere only after its
    // heartbeat timeout; a stopping one's finishes or is handed back).
    shutdownGraceTime: opts.shutdownGraceMs ?? 5000,
    interceptors: opts.activityInterceptors?.length ? { activity: opts.activityInterceptors } : undefined,
  });
}
