/**
 * THE wiring point of a terminal's hardware: which implementation drives each device behind the
 * `TerminalDevices` interfaces. The same function serves a real kiosk and the emulated one (whose
 * serial paths are socat ptys and whose reader is vpcd's); only the paths differ.
 *
 *   card path  — KioskCardPath: SerialCardPrinter (serialport) + the reader at its contact station
 *   chip       — StationChipEncoder: PcscChipEncoder (pcsclite → pcscd)
 *   applications — StationApplicationLoader: the GlobalPlatform installer on the same reader
 *   customerCard — PcscCustomerCardSlot on its own reader when `customerSlot` is given (reloads and
 *                adding applications read, write and install there); absent: none here
 *   cash       — CcTalkCashUnit (ccTalk on a serial port: payouts, coin/note acceptance, counters)
 *                when `cash` is given, else the state-file simulator
 *   receipt    — EscPosReceiptPrinter (ESC/POS on a serial port) when `receipt` is given, else the
 *                state-file simulator
 */
import type { TerminalDevices } from './devices/types';
import { createCcTalkCashUnit, type CcTalkCashUnit, type OperatorAlert } from './drivers/cctalk-cash-unit';
import { createEscPosReceiptPrinter, type EscPosReceiptPrinter, type ReceiptAlert } from './drivers/escpos-receipt-printer';
import { KioskCardPath } from './drivers/kiosk-card-path';
import { SerialCardPrinter } from './drivers/serial-card-printer';
import { StationChipEncoder } from './drivers/station-chip-encoder';
import { StationApplicationLoader } from './drivers/station-application-loader';
import { PcscCustomerCardSlot } from './drivers/pcsc-customer-card-slot';
import { createSimulatedDevices } from './simulators/simulated-devices';
import type { SimTimings } from './simulators/timings';

export interface KioskDeviceSettings {
  printer: { path: string; baudRate: number; commandTimeoutMs: number; takeTimeoutMs: number };
  reader: { reader: string | number; maxCommandData: number; pageSize: number; writeAttempts: number; cardWaitMs: number };
  /** The customer card slot's PC/SC reader (name or index); absent: no PC/SC slot. */
  customerSlot?: { reader: string | number; cardWaitMs: number };
  /** The ccTalk cash unit's serial port and the driver's durable journal; absent: simulated. */
  cash?: { path: string; baudRate: number; journalFile: string };
  /** The ESC/POS receipt printer's serial port and the driver's durable journal; absent: simulated. */
  receipt?: { path: string; baudRate: number; journalFile: string };
  /** What simulates the devices not given (state file and timings). */
  simulated: { stateFile: string; timings: SimTimings };
}

export interface AssembledDevices {
  devices: TerminalDevices;
  /** One line per device: what drives it (logged at start). */
  describe: Record<string, string>;
  close(): Promise<void>;
}

export async function assembleTerminalDevices(s: KioskDeviceSettings, log: (msg: string) => void = () => {}): Promise<AssembledDevices> {
  const chip = new StationChipEncoder({ reader: s.reader.reader, maxCommandData: s.reader.maxCommandData, pageSize: s.reader.pageSize, writeAttempts: s.reader.writeAttempts, cardWaitMs: s.reader.cardWaitMs });
  // Open the reader now to report a misconfiguration early; a reader that is gone only makes the
  // chip steps fail (and retry) until it is back.
  await chip.encoder().catch((err: Error) => log(`IC reader ${JSON.stringify(s.reader.reader)} not available yet: ${err.message}`));
  const printer = await SerialCardPrinter.open({ path: s.printer.path, baudRate: s.printer.baudRate, commandTimeoutMs: s.printer.commandTimeoutMs, bezelDelayMs: s.printer.takeTimeoutMs });
  const cardPath = new KioskCardPath(printer, chip);
  const sim = createSimulatedDevices(s.simulated.stateFile, s.simulated.timings);
  const customerCard = s.customerSlot ? new PcscCustomerCardSlot({ reader: s.customerSlot.reader, maxCommandData: s.reader.maxCommandData, pageSize: s.reader.pageSize, cardWaitMs: s.customerSlot.cardWaitMs }) : null;
  await customerCard?.open().catch((err: Error) => log(`customer card reader ${JSON.stringify(s.customerSlot!.reader)} not available yet: ${err.message}`));

  // Operator alerts (money owed to a customer, a jam, paper out) go to the log; the workflow records what it must.
  const alert = (device: string) => (a: OperatorAlert | ReceiptAlert) => log(`${device} ALERT [${a.level}] ${a.code}: ${a.message}`);
  let cashUnit: CcTalkCashUnit | null = null;
  let receiptPrinter: EscPosReceiptPrinter | null = null;
  try {
    if (s.cash) {
      // Acceptance is on only while an acceptCash runs: a previous worker may have died with it on.
      // (Coins taken meanwhile are read by open() and stay pending for their owner.)
      cashUnit = await createCcTalkCashUnit({ path: s.cash.path, baudRate: s.cash.baudRate, journalFile: s.cash.journalFile, acceptanceOnOpen: 'off', onAlert: alert('cash unit'), log: () => {} });
    }
    if (s.receipt) receiptPrinter = await createEscPosReceiptPrinter({ path: s.receipt.path, baudRate: s.receipt.baudRate, journalFile: s.receipt.journalFile, onAlert: alert('receipt printer'), log: () => {} });
  } catch (err) {
    await cashUnit?.close().catch(() => {});
    await printer.close().catch(() => {});
    await chip.close().catch(() => {});
    await customerCard?.close().catch(() => {});
    throw err;
  }

  return {
    devices: { cardPath, chip, cash: cashUnit ?? sim.cash, receipt: receiptPrinter ?? sim.receipt, ...(cashUnit ? { cashAcceptor: cashUnit } : {}), ...(customerCard ? { customerCard } : {}), applications: new StationApplicationLoader(chip, { maxCommandData: s.reader.maxCommandData }) },
    describe: {
      cardPrinter: `serial ${s.printer.path} @ ${s.printer.baudRate}`,
      icReader: `PC/SC ${chip.readerName ?? JSON.stringify(s.reader.reader)}`,
      cash: s.cash ? `ccTalk ${s.cash.path} @ ${s.cash.baudRate}` : `simulated (${s.simulated.stateFile})`,
      customerCard: customerCard ? `PC/SC ${customerCard.readerName ?? JSON.stringify(s.customerSlot!.reader)}` : 'none (state-file slot)',
      receipt: s.receipt ? `ESC/POS ${s.receipt.path} @ ${s.receipt.baudRate}` : `simulated (${s.simulated.stateFile})`,
    },
    async close() {
      await cashUnit?.close().catch(() => {});
      await receiptPrinter?.close().catch(() => {});
      await printer.close().catch(() => {});
      await chip.close().catch(() => {});
      await customerCard?.close().catch(() => {});
    },
  };
}
