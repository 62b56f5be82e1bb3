/**
 * The activity options the workflows share, so a center step, an issuer call or a terminal step
 * is retried the same way whichever workflow runs it; and the two helpers that read an activity's
 * failure (its ApplicationFailure type and the message a customer may be shown).
 */
import { ActivityFailure, ApplicationFailure, type ActivityOptions } from '@temporalio/workflow';
import { terminalTaskQueue } from '../domain/issuance';

/** A center step (database work): retried with backoff until it succeeds or refuses. */
export const CENTER_STEP: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/** A signed HTTP call to an issuer: the call itself times out after 10 s; 15 s bounds an attempt lost with a crashed worker. */
export const ISSUER_CALL: ActivityOptions = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

export interface TerminalTimeouts {
  /** How long a step may wait for the terminal to pick it up before the kiosk counts as offline. */
  scheduleToStartMs?: number;
  heartbeatMs?: number;
}

/** A device step on the kiosk's own task queue (its terminal worker runs one at a time). */
export function terminalStep(terminalId: string, t: TerminalTimeouts = {}, startToCloseTimeout: ActivityOptions['startToCloseTimeout'] = '2 minutes'): ActivityOptions {
  return {
    taskQueue: terminalTaskQueue(terminalId),
    scheduleToStartTimeout: t.scheduleToStartMs ?? 60_000,
    startToCloseTimeout,
    heartbeatTimeout: t.heartbeatMs ?? 10_000,
    retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 10 },
  };
}

/** The ApplicationFailure type an activity (or the workflow itself) failed with, if any. */
export function errorType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? undefined;
  if (err instanceof ApplicationFailure) return err.type ?? undefined;
  return undefined;
}

/** The failure's own message (an activity's cause rather than "Activity task failed"). */
export function errorMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
