/** Entry point of the API process. Configuration: docs/configuration.md. */
import { loadConfig, temporalAddress } from '../lib/config';
import { createDb } from '../lib/db';
import { logger } from '../lib/logger';
import { connectClient } from '../lib/temporal';
import { EncryptionCodec, encryptedDataConverter } from '../lib/payload-codec';
import { payloadKeyProvider } from '../lib/payload-keys';
import { createApp } from './app';

async function main() {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, config.DATA_DIR);
  const keys = payloadKeyProvider(process.env, config.DATA_DIR);
  const temporal = await connectClient(temporalAddress(config), config.TEMPORAL_NAMESPACE, encryptedDataConverter(keys));
  const publicUrl = config.API_PUBLIC_URL ?? `http://localhost:${config.API_PORT}`;
  const app = createApp({
    db,
    temporal,
    centerTaskQueue: config.CENTER_TASK_QUEUE,
    holdTtlMs: config.HOLD_TTL_MS,
    defaultTerminalId: config.TERMINAL_ID,
    codec: { codec: new EncryptionCodec(keys), allowedOrigins: config.TEMPORAL_UI_ORIGINS, publicUrl },
  });
  app.listen(config.API_PORT, () => logger.info({ port: config.API_PORT }, 'API listening'));
}

main().catch((err) => {
  logger.error({ err }, 'API failed to start');
  process.exit(1);
});
