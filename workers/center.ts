/** Entry point of the center worker process. Configuration: docs/configuration.md. */
import { loadConfig, temporalAddress } from '../lib/config';
import { createDb } from '../lib/db';
import { logger } from '../lib/logger';
import { connectWorker, installWorkerRuntime } from '../lib/temporal';
import { encryptedDataConverter } from '../lib/payload-codec';
import { payloadKeyProvider } from '../lib/payload-keys';
import { cardSigningKeys } from '../lib/card-signing';
import { createCenterWorker } from './center-worker';

async function main() {
  const config = loadConfig();
  installWorkerRuntime();
  const db = createDb(config.DATABASE_URL, config.DATA_DIR);
  const connection = await connectWorker(temporalAddress(config));
  const worker = await createCenterWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.CENTER_TASK_QUEUE,
    deps: { db, faultKillAfterPaymentSend: process.env.FAULT_KILL_AFTER_PAYMENT_SEND, cardKeys: cardSigningKeys(process.env, config.DATA_DIR) },
    workflowBundle: process.env.WORKFLOW_BUNDLE_PATH ? { codePath: process.env.WORKFLOW_BUNDLE_PATH } : undefined,
    faultKillBeforeActivity: process.env.FAULT_KILL_BEFORE_ACTIVITY,
    faultKillAfterActivity: process.env.FAULT_KILL_AFTER_ACTIVITY,
    workflowThreads: config.CENTER_WORKFLOW_THREADS,
    dataConverter: encryptedDataConverter(payloadKeyProvider(process.env, config.DATA_DIR)),
  });
  logger.info({ taskQueue: config.CENTER_TASK_QUEUE }, 'center worker polling');
  await worker.run();
  await db.destroy();
}

main().catch((err) => {
  logger.error({ err }, 'center worker failed');
  process.exit(1);
});
