/**
 * Entry point of a terminal worker process (one per kiosk).
 *
 * Real kiosk: the card printer, the ccTalk cash unit and the ESC/POS receipt printer on serial ports,
 * the IC reader through pcscd (docs/configuration.md):
 *   TERMINAL_ID=T-001 TEMPORAL_ADDRESS=center:7233 TEMPORAL_TLS_CERT=… TEMPORAL_TLS_KEY=… \
 *   CARD_PRINTER_PORT=/dev/ttyUSB0 CARD_READER='…' CASH_UNIT_PORT=/dev/ttyUSB1 RECEIPT_PRINTER_PORT=/dev/ttyUSB2 \
 *   node dist/terminal-worker/main.js
 *
 * `--simulate` (or TERMINAL_SIMULATE=1): the same drivers against the emulated kiosk (card printer,
 * cash unit and receipt printer emulators on socat pty pairs, virtual card on vpcd inside the real
 * pcscd), started here and stopped with this process. Without pcscd+vpcd or socat (or with TERMINAL_SIMULATOR=state-file)
 * it falls back to the in-process state-file simulators and says so.
 *
 * SIGTERM: stop taking work; a step in progress finishes (a print, a chip write) within
 * TERMINAL_SHUTDOWN_GRACE_MS, and a card waiting in the bezel is handed back (the next worker
 * resumes it); then the devices are closed.
 */
import path from 'node:path';
import { loadConfig, temporalAddress } from '../lib/config';
import { logger } from '../lib/logger';
import { connectWorker, installWorkerRuntime } from '../lib/temporal';
import { TERMINAL_ID_PATTERN } from '../domain/issuance';
import { encryptedDataConverter } from '../lib/payload-codec';
import { payloadKeyProvider } from '../lib/payload-keys';
import { killAfterActivity, killBeforeActivity } from '../workers/fault-injection';
import { assembleTerminalDevices, type AssembledDevices } from './assemble-devices';
import { customerReaderChoice, deviceJournalDir, emulatorDir, loadTerminalConfig, readerChoice, temporalTls, type TerminalConfig } from './config';
import { withKillDuring } from './fault-injection';
import { emulatorsUnavailable } from './simulators/emulated-kiosk/availability';
import { launchEmulatedKiosk, type KioskProcess } from './simulators/emulated-kiosk/launch';
import { createSimulatedDevices } from './simulators/simulated-devices';
import { SimCustomerCardSlot } from './simulators/simulated-customer-slot';
import { MachineStateFile } from './simulators/machine-state';
import { DEMO_TIMINGS, timingsFromEnv, type SimTimings } from './simulators/timings';
import { createTerminalWorker } from './worker';
import { simulatedPaymentCardDeviceFor } from './devices/payment-devices';
import { httpPackageSource } from './devices/application-loader';

/** The emulated kiosk's motion timings from the simulator timings (SIM_*_MS), so one set of knobs drives both. */
function kioskTimings(t: SimTimings, tc: TerminalConfig) {
  const take = tc.EMULATOR_AUTO_TAKE_MS;
  return {
    feedMs: t.feedMs,
    bandMs: Math.round(t.printMs / 8),
    ejectMs: Math.min(300, t.presentMs),
    autoTakeMs: take === 'off' ? null : take !== undefined ? Number(take) : t.presentMs,
    pageWriteMs: Math.round((t.chipWritePerKbMs * 32) / 1024),
  };
}

async function main() {
  const config = loadConfig();
  const tc = loadTerminalConfig();
  installWorkerRuntime();
  const terminalId = config.TERMINAL_ID;
  if (!TERMINAL_ID_PATTERN.test(terminalId)) throw new Error(`TERMINAL_ID "${terminalId}" must be 1-40 letters, digits, '-' or '_'`);
  const simulate = process.argv.includes('--simulate') || process.env.TERMINAL_SIMULATE === '1';
  const timings = timingsFromEnv(process.env, DEMO_TIMINGS);
  const stateFile = process.env.TERMINAL_STATE_FILE ?? path.join(config.DATA_DIR, 'terminals', terminalId, 'machine.json');

  let kiosk: KioskProcess | null = null;
  let assembled: AssembledDevices;
  let printerPort = tc.CARD_PRINTER_PORT;
  let cashPort = tc.CASH_UNIT_PORT;
  let receiptPort = tc.RECEIPT_PRINTER_PORT;
  let reader = readerChoice(tc);
  let customerReader = customerReaderChoice(tc);
  let useStateFile = false;
  if (simulate) {
    const why = tc.TERMINAL_SIMULATOR === 'state-file' ? 'TERMINAL_SIMULATOR=state-file' : emulatorsUnavailable(tc.EMULATOR_VPCD_PORT);
    if (why && tc.TERMINAL_SIMULATOR === 'emulators') throw new Error(`TERMINAL_SIMULATOR=emulators, but the emulators cannot run: ${why}`);
    if (why) {
      logger.warn({ terminalId, reason: why }, `Falling back to the state-file simulators (no real drivers): ${why}`);
      useStateFile = true;
    } else {
      const dir = emulatorDir(tc, config.DATA_DIR, terminalId);
      // The customer card slot on vpcd's second reader, unless it is off or that reader is not there.
      const customerPort = tc.EMULATOR_CUSTOMER_SLOT === 'on' && tc.EMULATOR_CUSTOMER_VPCD_PORT !== tc.EMULATOR_VPCD_PORT ? tc.EMULATOR_CUSTOMER_VPCD_PORT : null;
      const noCustomerSlot = customerPort === null ? null : emulatorsUnavailable(customerPort);
      if (noCustomerSlot) logger.warn({ terminalId, reason: noCustomerSlot }, 'emulated kiosk without a customer card slot (customers\' cards use the state-file slot)');
      const withCustomerSlot = customerPort !== null && !noCustomerSlot;
      kiosk = await launchEmulatedKiosk({ stateDir: dir, vpcdPort: tc.EMULATOR_VPCD_PORT, ...(withCustomerSlot ? { customerVpcdPort: customerPort } : {}), exitWithParent: true, ...kioskTimings(timings, tc) });
      printerPort = kiosk.hostPty;
      cashPort = kiosk.cashPty;
      receiptPort = kiosk.receiptPty;
      reader = kiosk.readerName;
      if (kiosk.customerReaderName) customerReader = kiosk.customerReaderName;
      logger.info({ terminalId, dir, printerPort, cashPort, receiptPort, reader }, 'emulated kiosk started (card printer, cash unit and receipt printer emulators on socat pty pairs, contact station on vpcd)');
    }
  }
  if (useStateFile) {
    const sim = createSimulatedDevices(stateFile, timings);
    assembled = { devices: sim, describe: { all: `state-file simulators (${stateFile})` }, close: async () => {} };
  } else {
    if (!printerPort) throw new Error('CARD_PRINTER_PORT is not set: name the card printer\'s serial device (or start with --simulate)');
    const journals = deviceJournalDir(tc, config.DATA_DIR, terminalId);
    assembled = await assembleTerminalDevices(
      {
        printer: { path: printerPort, baudRate: tc.CARD_PRINTER_BAUD_RATE, commandTimeoutMs: tc.CARD_PRINTER_TIMEOUT_MS, takeTimeoutMs: tc.CARD_TAKE_TIMEOUT_MS },
        reader: { reader, maxCommandData: tc.CARD_READER_MAX_APDU_DATA, pageSize: tc.CHIP_PAGE_SIZE, writeAttempts: tc.CHIP_WRITE_ATTEMPTS, cardWaitMs: tc.CARD_AT_STATION_WAIT_MS },
        ...(customerReader !== null ? { customerSlot: { reader: customerReader, cardWaitMs: tc.CUSTOMER_CARD_WAIT_MS } } : {}),
        ...(cashPort ? { cash: { path: cashPort, baudRate: tc.CASH_UNIT_BAUD_RATE, journalFile: path.join(journals, 'cash-unit.json') } } : {}),
        ...(receiptPort ? { receipt: { path: receiptPort, baudRate: tc.RECEIPT_PRINTER_BAUD_RATE, journalFile: path.join(journals, 'receipt-printer.json') } } : {}),
        simulated: { stateFile, timings },
      },
      (msg) => logger.warn({ terminalId }, msg),
    );
  }
  // The payment card reader and PIN pad are simulated in every mode (terminal-worker/devices/payment-devices.ts).
  // The customer card slot: the PC/SC one when configured (CUSTOMER_READER, or the emulated kiosk's
  // second reader), else simulated on the state file (simulated-customer-slot.ts).
  const devices = { ...withKillDuring(assembled.devices, process.env.FAULT_KILL_DURING), payment: simulatedPaymentCardDeviceFor(stateFile, config.DATA_DIR), customerCard: assembled.devices.customerCard ?? new SimCustomerCardSlot(new MachineStateFile(stateFile)) };

  const connection = await connectWorker(temporalAddress(config), temporalTls(tc));
  let stopping = false;
  const worker = await createTerminalWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    terminalId,
    devices,
    dataConverter: encryptedDataConverter(payloadKeyProvider(process.env, config.DATA_DIR)),
    stopping: () => stopping,
    shutdownGraceMs: tc.TERMINAL_SHUTDOWN_GRACE_MS,
    packages: httpPackageSource(tc.CENTER_API_URL, terminalId),
    activityInterceptors: [...killBeforeActivity(process.env.FAULT_KILL_BEFORE_ACTIVITY), ...killAfterActivity(process.env.FAULT_KILL_AFTER_ACTIVITY)],
  });
  // The SDK's runtime also shuts the worker down on these signals; this only marks it for the activities.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (!stopping) logger.info({ terminalId, signal: sig }, 'terminal worker stopping: finishing the step in progress, handing back a card waiting in the bezel');
      stopping = true;
      if (worker.getState() === 'RUNNING') worker.shutdown();
    });
  }
  logger.info({ terminalId, devices: assembled.describe }, 'terminal worker polling');
  await worker.run();
  await assembled.close();
  await connection.close().catch(() => {});
  await kiosk?.stop();
  logger.info({ terminalId }, 'terminal worker stopped');
  process.exit(0);
}

main().catch((err) => {
  logger.error({ err }, 'terminal worker failed');
  process.exit(1);
});
