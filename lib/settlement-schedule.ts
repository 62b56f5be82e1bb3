/**
 * Starting settlements: by hand (finance API) and by one Temporal Schedule per issuer that fires
 * at the local closing time and runs `settlementTrigger`, which settles the period that just
 * closed. Finance can pause, unpause, trigger and backfill a schedule; a backfill over a date
 * range settles each of its periods (the trigger reads the Schedule's nominal time, so old periods
 * get their own settlement ids). Every path ends in the same idempotent workflow id
 * `settlement-<issuer>-<period start date>`, so overlapping starts never settle a period twice.
 */
import { Client, ScheduleAlreadyRunning, ScheduleNotFoundError, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { IssuerIdKey } from '../domain/search-attributes';
import { periodForDate, settlementIdFor, type Period, type PeriodConfig } from '../domain/settlement-period';
import { parseCloseTime } from '../domain/settlement-period';
import { settlement, settlementTrigger, type SettlementTriggerInput } from '../workflows/settlement';

export interface SettlementScheduling {
  client: Client;
  taskQueue: string;
  period: PeriodConfig;
}

export const scheduleIdFor = (issuerId: string) => `settlement-schedule-${issuerId}`;

/** Starts (or finds) the settlement workflow of one issuer and period. */
export async function startSettlement(s: SettlementScheduling, issuerId: string, period: Period): Promise<{ handle: WorkflowHandle<typeof settlement>; started: boolean }> {
  const workflowId = settlementIdFor(issuerId, period);
  try {
    const handle = await s.client.workflow.start(settlement, {
      taskQueue: s.taskQueue,
      workflowId,
      args: [{ issuerId, periodStartMs: period.startMs, periodEndMs: period.endMs, periodLabel: period.label }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: IssuerIdKey, value: issuerId }],
      memo: { issuerId, period: period.label },
    });
    return { handle, started: true };
  } catch (err) {
    // It ran and finished before: it is never started again.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { handle: s.client.workflow.getHandle<typeof settlement>(workflowId), started: false };
    throw err;
  }
}

export async function startSettlementForDate(s: SettlementScheduling, issuerId: string, date: string) {
  return startSettlement(s, issuerId, periodForDate(date, s.period));
}

function scheduleOptions(s: SettlementScheduling, issuerId: string) {
  const { hour, minute } = parseCloseTime(s.period.closeTime);
  const input: SettlementTriggerInput = { issuerId, period: s.period };
  return {
    scheduleId: scheduleIdFor(issuerId),
    spec: { calendars: [{ hour, minute }], timezone: s.period.timeZone },
    action: { type: 'startWorkflow' as const, workflowType: settlementTrigger, args: [input] as [SettlementTriggerInput], taskQueue: s.taskQueue, workflowId: `settlement-trigger-${issuerId}` },
    policies: { overlap: 'BUFFER_ALL' as const, catchupWindow: '1 day' },
    memo: { issuerId },
    typedSearchAttributes: [{ key: IssuerIdKey, value: issuerId }],
  };
}

/**
 * Makes sure every listed issuer has its schedule with the configured closing time and zone
 * (created if missing, updated if the configuration changed; a paused schedule stays paused).
 */
export async function ensureSettlementSchedules(s: SettlementScheduling, issuerIds: string[]): Promise<{ created: string[]; updated: string[] }> {
  const created: string[] = [];
  const updated: string[] = [];
  for (const issuerId of issuerIds) {
    const opts = scheduleOptions(s, issuerId);
    try {
      await s.client.schedule.create(opts);
      created.push(issuerId);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      const handle = s.client.schedule.getHandle(opts.scheduleId);
      const d = await handle.describe();
      const cal = d.spec.calendars?.[0];
      const same =
        d.spec.timezone === s.period.timeZone &&
        cal?.hour?.[0]?.start === opts.spec.calendars[0].hour &&
        cal?.minute?.[0]?.start === opts.spec.calendars[0].minute &&
        d.action.type === 'startWorkflow' &&
        d.action.taskQueue === s.taskQueue;
      if (!same) {
        await handle.update((prev) => ({ ...prev, spec: opts.spec, action: opts.action, policies: { ...prev.policies, overlap: 'BUFFER_ALL', catchupWindow: '1 day' } }));
        updated.push(issuerId);
      }
    }
  }
  return { created, updated };
}

export class UnknownScheduleError extends Error {}

async function withSchedule<T>(s: SettlementScheduling, issuerId: string, fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>): Promise<T> {
  try {
    return await fn(s.client.schedule.getHandle(scheduleIdFor(issuerId)));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new UnknownScheduleError(`No settlement schedule for issuer ${issuerId}.`);
    throw err;
  }
}

export interface ScheduleView {
  issuerId: string;
  scheduleId: string;
  paused: boolean;
  note: string | null;
  closeTime: string;
  timeZone: string;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; workflowId: string }[];
}

export async function describeSettlementSchedule(s: SettlementScheduling, issuerId: string): Promise<ScheduleView> {
  return withSchedule(s, issuerId, async (h) => {
    const d = await h.describe();
    const cal = d.spec.calendars?.[0];
    const hh = String(cal?.hour?.[0]?.start ?? 0).padStart(2, '0');
    const mm = String(cal?.minute?.[0]?.start ?? 0).padStart(2, '0');
    return {
      issuerId,
      scheduleId: d.scheduleId,
      paused: d.state.paused,
      note: d.state.note ?? null,
      closeTime: `${hh}:${mm}`,
      timeZone: d.spec.timezone ?? 'UTC',
      nextActionTimes: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
      recentActions: d.info.recentActions.map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
    };
  });
}

export async function pauseSettlementSchedule(s: SettlementScheduling, issuerId: string, note: string): Promise<void> {
  await withSchedule(s, issuerId, (h) => h.pause(note));
}

export async function unpauseSettlementSchedule(s: SettlementScheduling, issuerId: string, note: string): Promise<void> {
  await withSchedule(s, issuerId, (h) => h.unpause(note));
}

/** Runs the schedule's action now: settles the period that closed most recently. */
export async function triggerSettlementSchedule(s: SettlementScheduling, issuerId: string): Promise<void> {
  await withSchedule(s, issuerId, (h) => h.trigger('BUFFER_ALL'));
}

/**
 * Settles every period from `fromDate` to `toDate` (local dates, inclusive) through the schedule:
 * one action per period, at that period's close. Periods already settled are found, not redone.
 */
export async function backfillSettlementSchedule(s: SettlementScheduling, issuerId: string, fromDate: string, toDate: string): Promise<{ periods: string[] }> {
  const first = periodForDate(fromDate, s.period);
  const last = periodForDate(toDate, s.period);
  if (last.startMs < first.startMs) throw new RangeError('toDate is before fromDate');
  const periods: string[] = [];
  for (let p = first; p.startMs <= last.startMs; p = periodForDate(nextDate(p.label), s.period)) periods.push(p.label);
  if (periods.length > 400) throw new RangeError('a backfill covers at most 400 periods');
  // The actions fire at each period's close: [first close − 1 s, last close + 1 s].
  await withSchedule(s, issuerId, (h) => h.backfill({ start: new Date(first.endMs - 1000), end: new Date(last.endMs + 1000), overlap: 'BUFFER_ALL' }));
  return { periods };
}

function nextDate(label: string): string {
  const d = new Date(Date.parse(`${label}T00:00:00Z`) + 86_400_000);
  return d.toISOString().slice(0, 10);
}
