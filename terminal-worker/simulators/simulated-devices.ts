/**
 * Simulated kiosk hardware behind the device interfaces: a card printer with stocker, transport,
 * print head, output slot and reject bin; the IC encoder at its contact station; the change
 * dispenser; the receipt printer. Physical state lives in a MachineStateFile so it survives a
 * crash of the worker; each step takes the configured time and reports progress.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceError, type CardFace, type CardPath, type CardPathStatus, type ChipEncoder, type CashUnit, type OnProgress, type ReceiptPrinter, type TerminalDevices } from '../devices/types';
import { MachineStateFile } from './machine-state';
import { SimCustomerCardSlot } from './simulated-customer-slot';
import { SimApplicationLoader } from './simulated-applications';
import type { SimTimings } from './timings';

const CHIP_CAPACITY = 8 * 1024;
const STEPS = 8;

/**
 * Spends `totalMs` in STEPS slices, reporting progress after each. A zero-time step (benchmarks)
 * is done in one slice: nothing can happen between slices that take no time.
 */
async function takeTime(totalMs: number, onProgress?: OnProgress, each?: (i: number, steps: number) => void): Promise<void> {
  const steps = totalMs > 0 ? STEPS : 1;
  for (let i = 1; i <= steps; i++) {
    if (totalMs > 0) await sleep(totalMs / steps);
    each?.(i, steps);
    onProgress?.(i / steps);
  }
}

class SimCardPath implements CardPath {
  constructor(private readonly m: MachineStateFile, private readonly t: SimTimings) {}

  async status(): Promise<CardPathStatus> {
    const s = this.m.read();
    return { transport: s.transport && { uid: s.transport.uid, printState: s.transport.printState }, stockerCount: s.stockerCount, rejectBinCount: s.rejectBin.length };
  }

  async feed(): Promise<string> {
    const s = this.m.read();
    if (s.transport) throw new DeviceError('JAM', `a card (${s.transport.uid}) is already in the transport`);
    if (s.stockerCount <= 0) throw new DeviceError('STOCKER_EMPTY', 'the card stocker is empty');
    await takeTime(this.t.feedMs);
    return this.m.update((st) => {
      const uid = `04${st.nextSerial.toString(16).padStart(4, '0')}${randomBytes(4).toString('hex')}`.toUpperCase();
      st.nextSerial += 1;
      st.stockerCount -= 1;
      st.transport = { uid, chipBase64: '', printState: 'blank', face: null };
      return uid;
    });
  }

  /** A pre-loaded card from the stock stocker (its chip already written). */
  async feedStock(): Promise<string> {
    const s = this.m.read();
    if (s.transport) throw new DeviceError('JAM', `a card (${s.transport.uid}) is already in the transport`);
    if (!s.stockCards?.length) throw new DeviceError('STOCKER_EMPTY', 'the stocker of prepaid stock cards is empty');
    await takeTime(this.t.feedMs);
    return this.m.update((st) => {
      const card = st.stockCards!.shift()!;
      st.transport = { uid: card.uid, chipBase64: card.chipBase64, printState: 'blank', face: null };
      return card.uid;
    });
  }

  async print(face: CardFace, onProgress: OnProgress): Promise<void> {
    this.m.update((st) => {
      if (!st.transport) throw new DeviceError('NO_CARD', 'no card at the print head');
      st.transport.printState = 'printing';
    });
    await takeTime(this.t.printMs, onProgress);
    this.m.update((st) => {
      if (!st.transport) throw new DeviceError('NO_CARD', 'the card left the print head while printing');
      st.transport.printState = 'printed';
      st.transport.face = { title: face.title, lines: face.lines, cardId: face.cardId, ...(face.holderPhotoPng ? { holderPhotoSha256: createHash('sha256').update(Buffer.from(face.holderPhotoPng, 'base64')).digest('hex') } : {}) };
    });
  }

  async present(onProgress: OnProgress): Promise<void> {
    if (!this.m.read().transport) throw new DeviceError('NO_CARD', 'no card to present');
    await takeTime(this.t.presentMs, onProgress);
    this.m.update((st) => {
      if (!st.transport) throw new DeviceError('NO_CARD', 'no card to present');
      st.dispensed.push(st.transport);
      st.transport = null;
    });
  }

  async reject(reason: string): Promise<void> {
    this.m.update((st) => {
      if (!st.transport) return;
      st.rejectBin.push({ ...st.transport, reason });
      st.transport = null;
    });
  }

  async dispensedUids(): Promise<string[]> {
    return this.m.read().dispensed.map((c) => c.uid);
  }
}

class SimChipEncoder implements ChipEncoder {
  constructor(private readonly m: MachineStateFile, private readonly t: SimTimings) {}

  private cardAtStation(uid: string) {
    const card = this.m.read().transport;
    if (!card) throw new DeviceError('NO_CARD', 'no card at the contact station');
    if (card.uid !== uid) throw new DeviceError('WRONG_CARD', `expected card ${uid} at the contact station, found ${card.uid}`);
    return card;
  }

  async read(uid: string): Promise<Uint8Array> {
    return Buffer.from(this.cardAtStation(uid).chipBase64, 'base64');
  }

  async write(uid: string, data: Uint8Array, onProgress: OnProgress): Promise<void> {
    this.cardAtStation(uid);
    if (data.length > CHIP_CAPACITY) throw new DeviceError('WRITE_FAILED', `record of ${data.length} bytes exceeds the chip's ${CHIP_CAPACITY}`);
    const totalMs = (this.t.chipWritePerKbMs * data.length) / 1024;
    // Each step persists what has been written so far: a crash mid-write leaves a torn chip.
    await takeTime(totalMs, onProgress, (i, steps) => {
      const upto = Math.ceil((data.length * i) / steps);
      this.m.update((st) => {
        if (!st.transport || st.transport.uid !== uid) throw new DeviceError('NO_CARD', 'the card left the contact station mid-write');
        st.transport.chipBase64 = Buffer.from(data.subarray(0, upto)).toString('base64');
      });
    });
  }
}

class SimCashUnit implements CashUnit {
  constructor(private readonly m: MachineStateFile, private readonly t: SimTimings) {}

  async payout(tag: string, amountMinor: number) {
    const already = this.m.read().payouts[tag];
    if (already !== undefined) return { paidMinor: already, alreadyPaid: true };
    await takeTime(this.t.payoutMs);
    this.m.update((st) => {
      st.payouts[tag] = amountMinor;
    });
    return { paidMinor: amountMinor, alreadyPaid: false };
  }
}

class SimReceiptPrinter implements ReceiptPrinter {
  constructor(private readonly m: MachineStateFile, private readonly t: SimTimings) {}

  async print(tag: string, lines: string[]) {
    if (this.m.read().receipts[tag]) return { alreadyPrinted: true };
    await takeTime(this.t.receiptMs);
    this.m.update((st) => {
      st.receipts[tag] = lines;
    });
    return { alreadyPrinted: false };
  }
}

export function createSimulatedDevices(stateFile: string, timings: SimTimings, initialStock = 500): TerminalDevices & { machine: MachineStateFile } {
  const machine = new MachineStateFile(stateFile, initialStock);
  return {
    machine,
    cardPath: new SimCardPath(machine, timings),
    chip: new SimChipEncoder(machine, timings),
    cash: new SimCashUnit(machine, timings),
    receipt: new SimReceiptPrinter(machine, timings),
    customerCard: new SimCustomerCardSlot(machine),
    applications: new SimApplicationLoader(machine, timings),
  };
}
