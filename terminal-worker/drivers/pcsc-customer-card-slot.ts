/**
 * `CustomerCardSlot` on a PC/SC reader (pcsclite → pcscd): the contact reader in the kiosk's
 * front where customers insert their own card (reloads, adding an application). It is a second
 * reader, apart from the card printer's contact station, but driven by the same code:
 *
 *   presence — pcscd's card events; `inserted()` answers at once whether a card is there (the
 *              terminal activity polls it until its own timeout) and reads its UID (FF CA);
 *   read     — the ICR1 record, as PcscChipEncoder reads it (SELECT AID, SELECT EF, READ BINARY);
 *   writeAt  — UPDATE BINARY of one value slot in page-aligned chunks, then read back and compare
 *              (the anti-tearing scheme of domain/value-slots.ts makes a pulled card safe: the
 *              slot being written is never the current one);
 *   applications — the GlobalPlatform installer (StationApplicationLoader) on this reader;
 *   eject    — a manual reader cannot push a card out: the card is the customer's to pull out
 *              (the kiosk page says so), so eject ends at once.
 *
 * Errors are ChipErrors (DeviceErrors): a card pulled out mid-write is NO_CARD, a card of another
 * kind WRONG_CARD, a reader or pcscd that is gone UNAVAILABLE (retried).
 */
import type { ApplicationLoader } from '../devices/application-loader';
import type { CustomerCardSlot } from '../devices/customer-card-slot';
import type { OnProgress } from '../devices/types';
import { StationApplicationLoader } from './station-application-loader';
import { StationChipEncoder } from './station-chip-encoder';
import { ChipError } from './status-words';

export interface PcscCustomerSlotOptions {
  /** The slot's reader: exact PC/SC name, or index in pcscd's list. */
  reader: string | number;
  maxCommandData?: number;
  pageSize?: number;
  /** How long a read or write waits for the card to be (back) in the slot (ms). */
  cardWaitMs?: number;
}

export class PcscCustomerCardSlot implements CustomerCardSlot {
  private readonly chip: StationChipEncoder;
  readonly applications: ApplicationLoader;

  constructor(o: PcscCustomerSlotOptions) {
    this.chip = new StationChipEncoder({ reader: o.reader, maxCommandData: o.maxCommandData, pageSize: o.pageSize, writeAttempts: 1, cardWaitMs: o.cardWaitMs ?? 2000 });
    this.applications = new StationApplicationLoader(this.chip, { maxCommandData: o.maxCommandData });
  }

  /** Opens the reader (throws NO_READER when it is not there). */
  async open(): Promise<void> {
    await this.chip.encoder();
  }

  get readerName(): string | null {
    return this.chip.readerName;
  }

  async inserted(): Promise<{ uid: string } | null> {
    const enc = await this.chip.encoder();
    if (!enc.session.cardPresent) return null;
    try {
      return { uid: await this.chip.uidAtStation(null) };
    } catch (err) {
      // Pulled out again while we looked: the slot is empty.
      if (err instanceof ChipError && (err.reason === 'NO_CARD' || err.reason === 'CARD_REMOVED')) return null;
      throw err;
    }
  }

  async read(uid: string): Promise<Uint8Array> {
    return this.chip.read(uid);
  }

  async writeAt(uid: string, offset: number, bytes: Uint8Array, onProgress: OnProgress): Promise<void> {
    await this.chip.writeAt(uid, offset, bytes, onProgress);
  }

  /** A manual reader: the customer pulls the card out; nothing to do here. */
  async eject(_uid: string): Promise<void> {}

  async close(): Promise<void> {
    await this.chip.close();
  }
}
