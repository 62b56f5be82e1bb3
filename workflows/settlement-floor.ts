/**
 * Temporal's own floor for the settlement benchmark (`npm run bench:settlement`): a workflow with
 * the settlement's shape as far as the benchmark times it — started with the same options (search
 * attribute, memo, ID policies), one local activity with the same options returning a
 * summary-sized result, the memo upsert, then waiting for an approval — but the step does nothing
 * (no database). What a settlement costs above this is ours (the compute's queries, the payout
 * file, the code around them); the floor itself is Temporal's (server and SDK) on this machine.
 *
 * Deterministic code only; it imports nothing but @temporalio/workflow.
 */
import { condition, proxyLocalActivities, upsertMemo } from '@temporalio/workflow';

export interface SettlementFloorInput {
  issuerId: string;
  periodLabel: string;
}

export interface SettlementFloorResult {
  netMinor: number;
  payoutMinor: number;
  /** Filler of the size of a settlement summary and payout instruction (the local activity's result travels in history). */
  detail: Record<string, string | number | null>;
}

/** The no-op step the floor's worker registers (bench/floor-worker.ts). */
export interface SettlementFloorActivities {
  settlementFloorStep(input: SettlementFloorInput): Promise<SettlementFloorResult>;
}

// The same options as the settlement's local activities (workflows/settlement.ts).
const local = proxyLocalActivities<SettlementFloorActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

export async function settlementFloor(input: SettlementFloorInput): Promise<void> {
  const r = await local.settlementFloorStep(input);
  await upsertMemo({ issuerId: input.issuerId, period: input.periodLabel, netMinor: r.netMinor, payoutMinor: r.payoutMinor });
  await condition(() => false); // waits for an approval that never comes: the benchmark terminates it
}
