/**
 * A terminal's worker: polls the terminal's own task queue and runs device activities one at a
 * time (one card path), against real drivers or simulators behind the same interfaces.
 */
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createTerminalActivities } from '../activities/terminal';
import { terminalTaskQueue } from '../domain/issuance';
import type { TerminalDevices } from './devices/types';

export interface TerminalWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  terminalId: string;
  devices: TerminalDevices;
  dataConverter?: DataConverter;
}

export async function createTerminalWorker(opts: TerminalWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: terminalTaskQueue(opts.terminalId),
    activities: createTerminalActivities(opts.devices),
    dataConverter: opts.dataConverter,
    maxConcurrentActivityTaskExecutions: 1,
    // A crashed worker's heartbeating activity is retried elsewhere only after its heartbeat
    // timeout; shut down quickly so a restart is not held up.
    shutdownGraceTime: '5 seconds',
  });
}
