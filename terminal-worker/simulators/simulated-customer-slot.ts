/**
 * The simulated kiosk's reload slot (devices/customer-card-slot.ts) and the loading of its stock
 * stocker with pre-loaded prepaid cards. State lives in the machine state file like the rest of
 * the simulated kiosk, so a test (or the kiosk page's simulator) inserts a card by writing it there.
 */
import type { CustomerCardSlot } from '../devices/customer-card-slot';
import { DeviceError, type OnProgress } from '../devices/types';
import { MachineStateFile } from './machine-state';

export class SimCustomerCardSlot implements CustomerCardSlot {
  constructor(private readonly m: MachineStateFile) {}

  private card(uid: string) {
    const card = this.m.read().customerSlot;
    if (!card) throw new DeviceError('NO_CARD', 'no card in the reload slot');
    if (card.uid !== uid) throw new DeviceError('WRONG_CARD', `expected card ${uid} in the reload slot, found ${card.uid}`);
    return card;
  }

  async inserted(): Promise<{ uid: string } | null> {
    const card = this.m.read().customerSlot;
    return card ? { uid: card.uid } : null;
  }

  async read(uid: string): Promise<Uint8Array> {
    return Buffer.from(this.card(uid).chipBase64, 'base64');
  }

  /** Byte by byte, each persisted: a tear (tearCustomerWriteAfterBytes) leaves a written prefix. */
  async writeAt(uid: string, offset: number, bytes: Uint8Array, onProgress: OnProgress): Promise<void> {
    const chip = Buffer.from(this.card(uid).chipBase64, 'base64');
    if (offset < 0 || offset + bytes.length > chip.length) throw new DeviceError('WRITE_FAILED', `write of ${bytes.length} bytes at ${offset} is outside the chip's ${chip.length} bytes`);
    for (let i = 0; i < bytes.length; i++) {
      const torn = this.m.update((st) => {
        if (st.tearCustomerWriteAfterBytes !== undefined && st.tearCustomerWriteAfterBytes !== null && i >= st.tearCustomerWriteAfterBytes) {
          st.tearCustomerWriteAfterBytes = null;
          const card = st.customerSlot!;
          st.customerSlot = null;
          st.returnedCards = [...(st.returnedCards ?? []), card];
          return true;
        }
        chip[offset + i] = bytes[i];
        st.customerSlot!.chipBase64 = chip.toString('base64');
        return false;
      });
      if (torn) throw new DeviceError('NO_CARD', `card ${uid} was pulled out of the reload slot mid-write`);
      onProgress((i + 1) / bytes.length);
    }
  }

  async eject(uid: string): Promise<void> {
    this.m.update((st) => {
      if (st.customerSlot?.uid !== uid) return;
      st.returnedCards = [...(st.returnedCards ?? []), st.customerSlot];
      st.customerSlot = null;
    });
  }
}

/** Puts pre-loaded prepaid cards (activities/center/stock-cards.ts manufactureStockCards) into the stock stocker. */
export function loadStockCards(stateFile: string, cards: Array<{ uid: string; recordBase64: string }>): void {
  new MachineStateFile(stateFile).update((st) => {
    st.stockCards = [...(st.stockCards ?? []), ...cards.map((c) => ({ uid: c.uid, chipBase64: c.recordBase64 }))];
  });
}

/** A customer inserts their card (its UID and chip bytes) into the reload slot. */
export function insertCustomerCard(stateFile: string, card: { uid: string; chipBase64: string }): void {
  new MachineStateFile(stateFile).update((st) => {
    if (st.customerSlot) throw new Error(`the reload slot already holds card ${st.customerSlot.uid}`);
    st.customerSlot = { uid: card.uid, chipBase64: card.chipBase64, printState: 'printed', face: null };
  });
}
