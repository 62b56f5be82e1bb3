/**
 * The worker process for the settlement benchmark's floor (workflows/settlement-floor.ts): the
 * center worker's settings (workflow threads, encrypted payloads, its own process) with a no-op
 * step in place of the center's activities. Each step writes a line `floor step` to stdout, which
 * is how the benchmark sees it done (the settlement's step is seen in the database).
 *
 * Environment: TEMPORAL_ADDRESS, CENTER_TASK_QUEUE, PAYLOAD_KEYS, WORKFLOW_BUNDLE_PATH.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { encryptedDataConverter } from '../lib/payload-codec';
import { parseKeySpec } from '../lib/payload-keys';
import { installWorkerRuntime } from '../lib/temporal';
import { DEFAULT_WORKFLOW_THREADS } from '../workers/center-worker';
import type { SettlementFloorActivities } from '../workflows/settlement-floor';

const activities: SettlementFloorActivities = {
  async settlementFloorStep(input) {
    const detail: Record<string, string | number | null> = { settlementId: `settlement-${input.issuerId}-${input.periodLabel}`, issuerId: input.issuerId, currency: 'JPY', periodLabel: input.periodLabel, status: 'awaiting_approval', transferDate: input.periodLabel, format: 'zengin', fileSha256: '0'.repeat(64) };
    for (const k of ['periodStartMs', 'periodEndMs', 'saleCount', 'refundCount', 'lateCount', 'grossMinor', 'feesMinor', 'refundsMinor', 'carriedInMinor', 'carriedOutMinor', 'createdAtMs', 'amountMinor']) detail[k] = 0;
    for (const k of ['carriedToSettlementId', 'statementSha256', 'approvedBy', 'approvedAtMs', 'sentAtMs', 'bankReference', 'confirmedBy', 'paidAtMs']) detail[k] = null;
    process.stdout.write('floor step\n');
    return { netMinor: 1, payoutMinor: 1, detail };
  },
};

async function main() {
  const need = (k: string) => process.env[k] ?? (() => { throw new Error(`${k} is required`); })();
  installWorkerRuntime();
  const connection = await NativeConnection.connect({ address: need('TEMPORAL_ADDRESS') });
  const worker = await Worker.create({
    connection,
    taskQueue: need('CENTER_TASK_QUEUE'),
    workflowBundle: { codePath: need('WORKFLOW_BUNDLE_PATH') },
    activities,
    dataConverter: encryptedDataConverter(parseKeySpec(need('PAYLOAD_KEYS'))),
    workflowThreadPoolSize: DEFAULT_WORKFLOW_THREADS,
  });
  // The line startCenterProcess (bench/center-process.ts) waits for, as from the center worker.
  process.stdout.write('center worker polling (settlement floor)\n');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`floor worker failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
