/**
 * Temporal's own floor for the issuance benchmark (`npm run bench:issuance`): a workflow with the
 * issuance's exact shape — the same Updates in the same order (the first one runs an activity
 * inside its handler, as selectItem runs holdItem), the progress Query, and the same sequence of
 * activities on the same two kinds of task queue (the center's queue, then the terminal's own
 * queue) with the same activity options — but every activity is a no-op and no search attributes
 * or memo are written. What the issuance costs above this is our orchestration overhead.
 *
 * Deterministic code only; it imports nothing but @temporalio/workflow, so task queue names come
 * in the input. Keep FLOOR_AFTER_PAYMENT in step with workflows/issuance.ts; the benchmark checks
 * the counts against a real issuance's history at run time and refuses to compare if they differ.
 */
import { condition, defineQuery, defineUpdate, proxyActivities, setHandler, allHandlersFinished } from '@temporalio/workflow';

/** The no-op activities the benchmark registers (on its own center and terminal queues). */
export interface FloorActivities {
  floorCenter(step: string): Promise<string>;
  floorTerminal(step: string): Promise<string>;
}

export interface FloorInput {
  id: string;
  /** The terminal's own queue for the device steps (the center queue is the workflow's own). */
  terminalTaskQueue: string;
  /** How many insertCash Updates complete the payment. */
  cashInserts: number;
  /** Same knobs as IssuanceInput.terminal. */
  scheduleToStartMs?: number;
  heartbeatMs?: number;
}

export interface FloorProgress {
  id: string;
  stage: string;
  inserted: number;
  steps: number;
}

export const floorSelectUpdate = defineUpdate<string, [unknown]>('floorSelect');
export const floorConfirmUpdate = defineUpdate<FloorProgress, []>('floorConfirm');
export const floorPaymentUpdate = defineUpdate<FloorProgress, [unknown]>('floorPayment');
export const floorCashUpdate = defineUpdate<FloorProgress, [unknown]>('floorCash');
export const floorProgressQuery = defineQuery<FloorProgress>('floorProgress');

/**
 * The issuance's happy path after payment (cash with change), activity by activity, in order:
 * C = center queue, T = the terminal's queue.
 */
export const FLOOR_AFTER_PAYMENT: ReadonlyArray<readonly ['C' | 'T', string]> = [
  ['C', 'recordCashPayment'],
  ['T', 'payoutCash'],
  ['T', 'feedBlankCard'],
  ['C', 'bindCard'],
  ['C', 'prepareCardRecord'],
  ['T', 'writeChip'],
  ['T', 'verifyChip'],
  ['C', 'setCardStatus'],
  ['T', 'printFace'],
  ['T', 'presentCard'],
  ['C', 'setCardStatus'],
  ['T', 'printReceipt'],
  ['C', 'recordSale'],
  ['C', 'notifyIssuer'],
];

// Same options as the issuance's proxies, so timers and retry bookkeeping cost the same.
const center = proxyActivities<FloorActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

export async function floor(input: FloorInput): Promise<FloorProgress> {
  const terminal = proxyActivities<FloorActivities>({
    taskQueue: input.terminalTaskQueue,
    scheduleToStartTimeout: input.scheduleToStartMs ?? 60_000,
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: input.heartbeatMs ?? 10_000,
    retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 10 },
  });
  const p: FloorProgress = { id: input.id, stage: 'selecting', inserted: 0, steps: 0 };
  const stageIs = (s: string) => {
    if (p.stage !== s) throw new Error(`wrong stage ${p.stage}`);
  };

  setHandler(floorProgressQuery, () => p);
  setHandler(
    floorSelectUpdate,
    async (_selection) => {
      const r = await center.floorCenter('holdItem');
      p.steps++;
      p.stage = 'selected';
      return r;
    },
    { validator: (_selection) => stageIs('selecting') },
  );
  setHandler(
    floorConfirmUpdate,
    () => {
      p.stage = 'confirmed';
      return p;
    },
    { validator: () => stageIs('selected') },
  );
  setHandler(
    floorPaymentUpdate,
    (_choice) => {
      p.stage = 'paying';
      return p;
    },
    { validator: (_choice) => stageIs('confirmed') },
  );
  setHandler(
    floorCashUpdate,
    (_cash) => {
      p.inserted++;
      return { ...p };
    },
    { validator: (_cash) => stageIs('paying') },
  );

  await condition(() => p.inserted >= input.cashInserts);
  p.stage = 'producing';
  for (const [queue, name] of FLOOR_AFTER_PAYMENT) {
    await (queue === 'C' ? center.floorCenter(name) : terminal.floorTerminal(name));
    p.steps++;
  }
  p.stage = 'completed';
  await condition(allHandlersFinished);
  return p;
}
