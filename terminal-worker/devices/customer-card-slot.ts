/**
 * The kiosk's slot for the customer's own card (reloading a prepaid card, adding an application):
 * a contact reader the customer inserts the card into, which can read the chip, write bytes at an
 * offset (one value slot, for the anti-tearing scheme of domain/value-slots.ts) and hand the card
 * back. Implementations: drivers/pcsc-customer-card-slot.ts (a PC/SC reader) and
 * simulators/simulated-customer-slot.ts (the state file).
 */
import type { ApplicationLoader } from './application-loader';
import type { OnProgress } from './types';

export interface CustomerCardSlot {
  /** The card in the slot (its chip UID), or null when the slot is empty. */
  inserted(): Promise<{ uid: string } | null>;
  read(uid: string): Promise<Uint8Array>;
  /** Writes `bytes` at `offset` of the chip; a card pulled mid-write leaves a prefix written. */
  writeAt(uid: string, offset: number, bytes: Uint8Array, onProgress: OnProgress): Promise<void>;
  /** Hands the card back to the customer (a card already handed back is fine). */
  eject(uid: string): Promise<void>;
  /**
   * Installs applications on the card in this slot (slots whose reader can: the PC/SC one). Absent:
   * an application is added with the card in the card printer's transport instead.
   */
  applications?: ApplicationLoader;
}
