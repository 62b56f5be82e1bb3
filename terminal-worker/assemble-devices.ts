/**
 * THE wiring point of a terminal's hardware: which implementation drives each device behind the
 * `TerminalDevices` interfaces. The same function serves a real kiosk and the emulated one (whose
 * serial path is a socat pty and whose reader is vpcd's); only the paths differ.
 *
 *   card path  — KioskCardPath: SerialCardPrinter (serialport) + the reader at its contact station
 *   chip       — StationChipEncoder: PcscChipEncoder (pcsclite → pcscd)
 *   applications — StationApplicationLoader: the GlobalPlatform installer on the same reader
 *   cash       — simulated (state file) until the ccTalk driver is plugged in here
 *   receipt    — simulated (state file) until the ESC/POS driver is plugged in here
 */
import type { TerminalDevices } from './devices/types';
import { KioskCardPath } from './drivers/kiosk-card-path';
import { SerialCardPrinter } from './drivers/serial-card-printer';
import { StationChipEncoder } from './drivers/station-chip-encoder';
import { StationApplicationLoader } from './drivers/station-application-loader';
import { createSimulatedDevices } from './simulators/simulated-devices';
import type { SimTimings } from './simulators/timings';

export interface KioskDeviceSettings {
  printer: { path: string; baudRate: number; commandTimeoutMs: number; takeTimeoutMs: number };
  reader: { reader: string | number; maxCommandData: number; pageSize: number; writeAttempts: number; cardWaitMs: number };
  /** Cash and receipt (simulated for now): their state file and timings. */
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

  // Cash unit and receipt printer: plug the ccTalk and ESC/POS drivers in here.
  const sim = createSimulatedDevices(s.simulated.stateFile, s.simulated.timings);

  return {
    devices: { cardPath, chip, cash: sim.cash, receipt: sim.receipt, applications: new StationApplicationLoader(chip, { maxCommandData: s.reader.maxCommandData }) },
    describe: {
      cardPrinter: `serial ${s.printer.path} @ ${s.printer.baudRate}`,
      icReader: `PC/SC ${chip.readerName ?? JSON.stringify(s.reader.reader)}`,
      cash: `simulated (${s.simulated.stateFile})`,
      receipt: `simulated (${s.simulated.stateFile})`,
    },
    async close() {
      await printer.close().catch(() => {});
      await chip.close().catch(() => {});
    },
  };
}
