/**
 * Test-only fault injection: with FAULT_KILL_BEFORE_ACTIVITY=<activityType>, the worker process
 * kills itself (SIGKILL, no cleanup) the first time it is about to run that activity. The crash
 * tests use it to die at an exact step boundary, e.g. after the sale is recorded and before the
 * issuer is notified. Unset in normal operation.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export function killBeforeActivity(activityType: string | undefined): ActivityInterceptorsFactory[] {
  if (!activityType) return [];
  return [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          if (ctx.info.activityType === activityType) process.kill(process.pid, 'SIGKILL');
          return next(input);
        },
      },
    }),
  ];
}

/** FAULT_KILL_AFTER_ACTIVITY=<activityType>: SIGKILL once that activity's work is done, before its result reaches Temporal. */
export function killAfterActivity(activityType: string | undefined): ActivityInterceptorsFactory[] {
  if (!activityType) return [];
  return [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const result = await next(input);
          if (ctx.info.activityType === activityType) process.kill(process.pid, 'SIGKILL');
          return result;
        },
      },
    }),
  ];
}
