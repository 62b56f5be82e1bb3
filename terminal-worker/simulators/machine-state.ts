/**
 * The simulated kiosk's physical state, kept in a JSON file so that it outlives the terminal
 * worker process, as a real printer's card positions outlive a crash of the PC driving it.
 * Writes are atomic (write a temporary file, then rename).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PrintState } from '../devices/types';

export interface SimCard {
  uid: string;
  chipBase64: string;
  printState: PrintState;
  /** What was printed; the holder's photo by its SHA-256 (the state file keeps no personal image). */
  face: { title: string; lines: string[]; cardId: string; holderPhotoSha256?: string } | null;
  /** Applications installed on the chip (simulated-applications.ts); absent: none. */
  applications?: SimApplication[];
}

export interface SimApplication {
  aid: string;
  packageId: number;
  sha256: string;
  bytes: number;
}

export interface MachineState {
  nextSerial: number;
  stockerCount: number;
  transport: SimCard | null;
  dispensed: SimCard[];
  rejectBin: Array<SimCard & { reason: string }>;
  payouts: Record<string, number>;
  receipts: Record<string, string[]>;
  /** The stocker of pre-loaded prepaid cards (simulated-customer-slot.ts), first out first. */
  stockCards?: Array<{ uid: string; chipBase64: string }>;
  /** The customer's own card in the reload slot, and the cards handed back from it. */
  customerSlot?: SimCard | null;
  returnedCards?: SimCard[];
  /** Tests: the next write in the customer slot stops after this many bytes, as if the card were pulled. */
  tearCustomerWriteAfterBytes?: number | null;
}

export function initialMachineState(stockerCount = 500): MachineState {
  return { nextSerial: 1, stockerCount, transport: null, dispensed: [], rejectBin: [], payouts: {}, receipts: {} };
}

export class MachineStateFile {
  constructor(readonly file: string, private readonly initialStock = 500) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  read(): MachineState {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as MachineState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return initialMachineState(this.initialStock);
      throw err;
    }
  }

  update<T>(fn: (s: MachineState) => T): T {
    const state = this.read();
    const result = fn(state);
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state));
    fs.renameSync(tmp, this.file);
    return result;
  }
}
