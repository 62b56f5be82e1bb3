/**
 * Entry point of a terminal worker process (one per kiosk).
 *   TERMINAL_ID=T-001 node dist/terminal-worker/main.js --simulate
 * With --simulate (the only mode until real drivers land) the devices are simulators whose
 * physical state lives in $DATA_DIR/terminals/<id>/machine.json.
 */
import path from 'node:path';
import { loadConfig, temporalAddress } from '../lib/config';
import { logger } from '../lib/logger';
import { connectWorker, installWorkerRuntime } from '../lib/temporal';
import { TERMINAL_ID_PATTERN } from '../domain/issuance';
import { createSimulatedDevices } from './simulators/simulated-devices';
import { DEMO_TIMINGS, timingsFromEnv } from './simulators/timings';
import { encryptedDataConverter } from '../lib/payload-codec';
import { payloadKeyProvider } from '../lib/payload-keys';
import { createTerminalWorker } from './worker';
import { simulatedPaymentCardDeviceFor } from './devices/payment-devices';

async function main() {
  const config = loadConfig();
  installWorkerRuntime();
  const terminalId = config.TERMINAL_ID;
  if (!TERMINAL_ID_PATTERN.test(terminalId)) throw new Error(`TERMINAL_ID "${terminalId}" must be 1-40 letters, digits, '-' or '_'`);
  if (!process.argv.includes('--simulate') && process.env.TERMINAL_SIMULATE !== '1') {
    throw new Error('Real device drivers are not available yet: start the terminal worker with --simulate.');
  }
  const stateFile = process.env.TERMINAL_STATE_FILE ?? path.join(config.DATA_DIR, 'terminals', terminalId, 'machine.json');
  const devices = { ...createSimulatedDevices(stateFile, timingsFromEnv(process.env, DEMO_TIMINGS)), payment: simulatedPaymentCardDeviceFor(stateFile, config.DATA_DIR) };
  const connection = await connectWorker(temporalAddress(config));
  const worker = await createTerminalWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    terminalId,
    devices,
    dataConverter: encryptedDataConverter(payloadKeyProvider(process.env, config.DATA_DIR)),
  });
  logger.info({ terminalId, stateFile }, 'terminal worker polling');
  await worker.run();
}

main().catch((err) => {
  logger.error({ err }, 'terminal worker failed');
  process.exit(1);
});
