/**
 * Settlement of one issuer for one period; workflow ID = settlement ID =
 * `settlement-<issuer>-<period start date>`, so a second start finds the first run.
 *
 *   computeSettlementWithPayout ─▶ payout > 0 ?
 *        no:  carried_forward (net < 0) or closed (net = 0) — done
 *        yes: the Zengin file, written by the same step; without a bank account,
 *             preparePayoutInstruction, retried until finance enters one
 *             ─▶ awaiting_approval ── approve Update (approver's identity) ─▶ approved
 *             ─▶ markPayoutSent ─▶ sent ── confirmPayout Update (bank's confirmation) ─▶ paid
 *                                                       (the payout is posted to the ledger)
 *
 * Every step is an idempotent activity, so a worker killed anywhere resumes to the same totals
 * and one payout instruction. The statement (CSV, JSON) is rendered on demand from the claimed
 * rows by the finance and issuer APIs (activities/center/settlement.ts settlementStatement). `settlementTrigger` is what the per-issuer Schedule runs: it works
 * out the period that closed at the scheduled time and starts (or finds) its settlement workflow.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  defineQuery,
  defineUpdate,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { CenterActivities } from '../activities/center';
import type { SettlementStatus, SettlementSummary } from '../activities/center/settlement';
import { IssuerIdKey } from '../domain/search-attributes';
import { lastClosedPeriod, settlementIdFor, type PeriodConfig } from '../domain/settlement-period';

export interface SettlementInput {
  issuerId: string;
  periodStartMs: number;
  periodEndMs: number;
  periodLabel: string;
}

export interface SettlementState {
  settlementId: string;
  issuerId: string;
  periodLabel: string;
  status: SettlementStatus;
  summary: SettlementSummary | null;
  payoutInstruction: { amountMinor: number; transferDate: string; fileSha256: string } | null;
}

export interface ApproveInput {
  /** Who approved (the operator's authenticated name, never from the request body). */
  approver: string;
}

export interface ConfirmPayoutInput {
  /** The bank's reference for the executed transfer. */
  bankReference: string;
  confirmedBy: string;
}

export const approveSettlementUpdate = defineUpdate<SettlementState, [ApproveInput]>('approveSettlement');
export const confirmPayoutUpdate = defineUpdate<SettlementState, [ConfirmPayoutInput]>('confirmPayout');
export const settlementStateQuery = defineQuery<SettlementState>('settlementState');

// Settlement steps heartbeat while they work; a killed worker's attempt is retried after the 10 s
// heartbeat timeout.
const center = proxyActivities<CenterActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

// Computing a settlement and writing its payout file are short transactions whatever the day's
// volume (a claim takes whole batches; the sums read one covering index), so they run as local
// activities in the workflow's own task: no round trip through the server for each. A worker
// killed during one replays the workflow task elsewhere and runs it again; both are idempotent.
const centerLocal = proxyLocalActivities<CenterActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

function reject(message: string, type = 'WrongStage'): never {
  throw ApplicationFailure.create({ message, type, nonRetryable: true });
}

/** Workflow patch: compute and write the payout file in one step (was two local activities). */
const COMPUTE_WITH_PAYOUT = 'settlement-compute-with-payout';

const NAME = /^[A-Za-z0-9._@-]{1,100}$/;

export async function settlement(input: SettlementInput): Promise<SettlementState> {
  const settlementId = settlementIdFor(input.issuerId, { label: input.periodLabel });
  if (workflowInfo().workflowId !== settlementId) reject(`workflow id must be ${settlementId}`, 'InvalidRequest');
  const state: SettlementState = { settlementId, issuerId: input.issuerId, periodLabel: input.periodLabel, status: 'computing', summary: null, payoutInstruction: null };
  const apply = (s: SettlementSummary) => {
    state.summary = s;
    state.status = s.status;
  };

  setHandler(settlementStateQuery, () => state);
  setHandler(
    approveSettlementUpdate,
    async ({ approver }) => {
      apply(await center.approveSettlement(settlementId, approver));
      return state;
    },
    {
      validator: (a) => {
        if (!a || typeof a.approver !== 'string' || !NAME.test(a.approver)) reject('An approver name is required.', 'InvalidRequest');
        if (state.status !== 'awaiting_approval') reject(`Settlement ${settlementId} is ${state.status}, not awaiting approval.`);
      },
    },
  );
  setHandler(
    confirmPayoutUpdate,
    async (c) => {
      apply(await center.confirmPayout(settlementId, c));
      return state;
    },
    {
      validator: (c) => {
        if (!c || typeof c.bankReference !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(c.bankReference)) reject('A bank reference (1-100 printable ASCII characters) is required.', 'InvalidRequest');
        if (typeof c.confirmedBy !== 'string' || !NAME.test(c.confirmedBy)) reject('confirmedBy is required.', 'InvalidRequest');
        if (state.status !== 'sent') reject(`Settlement ${settlementId} is ${state.status}; only a sent payout can be confirmed.`);
      },
    },
  );

  // Runs started before the combined step replay their two separate steps.
  const computed = patched(COMPUTE_WITH_PAYOUT)
    ? await centerLocal.computeSettlementWithPayout({ settlementId, ...input })
    : { summary: await centerLocal.computeSettlement({ settlementId, ...input }), payoutInstruction: null };
  apply(computed.summary);
  await upsertMemo({ issuerId: input.issuerId, period: input.periodLabel, netMinor: state.summary!.netMinor, payoutMinor: state.summary!.payoutMinor });

  if (state.summary!.payoutMinor > 0) {
    const instruction = computed.payoutInstruction ?? (await centerLocal.preparePayoutInstruction(settlementId));
    if (instruction) state.payoutInstruction = { amountMinor: instruction.amountMinor, transferDate: instruction.transferDate, fileSha256: instruction.fileSha256 };
    // A restarted run may find the settlement already further along (the DB is the record).
    if (state.status === 'computed' || state.status === 'needs_bank_account') state.status = 'awaiting_approval';
    await condition(() => state.status !== 'awaiting_approval');
    if (state.status === 'approved') apply(await center.markPayoutSent(settlementId));
    await condition(() => state.status === 'paid');
  }
  await condition(allHandlersFinished);
  return state;
}

/** What the per-issuer Schedule runs. */
export interface SettlementTriggerInput {
  issuerId: string;
  period: PeriodConfig;
}

const ScheduledStartTimeKey = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

export async function settlementTrigger(input: SettlementTriggerInput): Promise<{ settlementId: string; started: boolean }> {
  const info = workflowInfo();
  // The Schedule's nominal time (also for backfills); a hand start uses the start time.
  const scheduled = info.typedSearchAttributes.get(ScheduledStartTimeKey) ?? info.startTime;
  const period = lastClosedPeriod(scheduled.getTime(), input.period);
  const settlementId = settlementIdFor(input.issuerId, period);
  const args: SettlementInput = { issuerId: input.issuerId, periodStartMs: period.startMs, periodEndMs: period.endMs, periodLabel: period.label };
  // Compute here first (idempotent; the child finds it done): with the Schedule's BUFFER_ALL
  // policy, triggers run one at a time in order, so a backfill settles its periods oldest first
  // and each sale lands in its own period rather than in a later one that happened to run first.
  await centerLocal.computeSettlement({ settlementId, ...args });
  try {
    await startChild(settlement, {
      workflowId: settlementId,
      args: [args],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [{ key: IssuerIdKey, value: input.issuerId }],
      memo: { issuerId: input.issuerId, period: period.label },
    });
    return { settlementId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { settlementId, started: false };
    throw err;
  }
}
