/**
 * The kiosk's slot for the customer's own card (reloading a prepaid card): a contact reader the
 * customer inserts the card into, which can read the chip, write bytes at an offset (one value
 * slot, for the anti-tearing scheme of domain/value-slots.ts) and hand the card back.
 */
import type { OnProgress } from './types';

export interface CustomerCardSlot {
  /** The card in the slot (its chip UID), or null when the slot is empty. */
  inserted(): Promise<{ uid: string } | null>;
  read(uid: string): Promise<Uint8Array>;
  /** Writes `bytes` at `offset` of the chip; a card pulled mid-write leaves a prefix written. */
  writeAt(uid: string, offset: number, bytes: Uint8Array, onProgress: OnProgress): Promise<void>;
  /** Hands the card back to the customer (a card already handed back is fine). */
  eject(uid: string): Promise<void>;
}
