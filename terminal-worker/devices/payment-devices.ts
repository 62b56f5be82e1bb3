/**
 * The terminal's card reader and PIN pad, as one secure payment device (as in a real EMV PIN entry
 * device, the card number read from the card never leaves it in clear, and the PIN pad builds the
 * PIN block from that number itself).
 *
 * What comes out of `read`:
 * - the card read encrypted end to end (P2PE) under the card reader key shared with the center
 *   (lib/card-edge.ts: AES-256-GCM, key id alongside), plus the last four digits for the screen;
 * - for a debit card, the ISO 9564 format 0 PIN block encrypted under the terminal's PIN key
 *   (`tpkRef` names it in the configuration; the center translates it to the bank host's zone PIN
 *   key, as an acquirer's HSM does).
 * The clear PIN exists only inside `read` of the PIN pad component and is never returned, logged
 * or stored.
 *
 * The simulator stands for the physical device: a "customer" presents a card (and types a PIN)
 * by writing the device's slot file (`presentSimulatedCard`), which `read` consumes. The slot file
 * is the simulated plastic card in the slot, nothing the system keeps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encryptCardRead } from '../../lib/card-edge';
import { cardReaderKeyProvider } from '../../lib/card-vault';
import type { KeyProvider } from '../../lib/payload-codec';
import { DEV_TEST_ZPK_REF, paymentKeyProvider, type PaymentKeyProvider } from '../../lib/payment-keys';
import { encryptPinForHost } from '../../lib/pin-encryption';

export type PaymentEntryMode = 'chip' | 'magstripe' | 'contactless';

export interface EncryptedCardRead {
  /** The card data under the card reader key (base64 IV ‖ ciphertext ‖ tag). */
  encryptedCard: string;
  readerKeyId: string;
  last4: string;
  entryMode: PaymentEntryMode;
  /** Debit: the PIN block under the terminal PIN key, 16 hex digits. */
  pinBlock?: string;
  /** Which configured key the PIN block is under (a name, not the key). */
  tpkRef?: string;
}

export interface PaymentCardDevice {
  /**
   * Waits up to `timeoutMs` for a card (and, with `withPin`, its PIN). Returns null when none was
   * presented in that time; the caller heartbeats and asks again.
   */
  read(opts: { withPin: boolean; timeoutMs: number }): Promise<EncryptedCardRead | null>;
}

export class PaymentDeviceError extends Error {
  constructor(readonly code: 'PIN_CANCELLED' | 'UNREADABLE', message: string) {
    super(message);
    this.name = 'PaymentDeviceError';
  }
}

// ---- simulator ----------------------------------------------------------------------------------

interface SimulatedSlot {
  pan: string;
  expiry?: string;
  /** What the customer will type on the PIN pad; absent = they cancel the PIN entry. */
  pin?: string;
  entryMode?: PaymentEntryMode;
}

/** Puts a (test) card into a simulated device's slot, as a customer inserting it would. */
export function presentSimulatedCard(slotFile: string, card: SimulatedSlot): void {
  fs.mkdirSync(path.dirname(slotFile), { recursive: true });
  const tmp = `${slotFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(card), { mode: 0o600 });
  fs.renameSync(tmp, slotFile);
}

export function createSimulatedPaymentCardDevice(opts: { slotFile: string; readerKeys: KeyProvider; pinKeys: PaymentKeyProvider; tpkRef: string; pollMs?: number }): PaymentCardDevice {
  const pollMs = opts.pollMs ?? 100;
  const take = (): SimulatedSlot | null => {
    try {
      const card = JSON.parse(fs.readFileSync(opts.slotFile, 'utf8')) as SimulatedSlot;
      fs.rmSync(opts.slotFile, { force: true }); // the card is read; the slot is empty again
      return card;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PaymentDeviceError('UNREADABLE', 'the card could not be read');
    }
  };
  return {
    async read({ withPin, timeoutMs }) {
      const deadline = Date.now() + timeoutMs;
      let card = take();
      while (!card && Date.now() < deadline) {
        await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
        card = take();
      }
      if (!card) return null;
      if (!/^[0-9]{13,19}$/.test(card.pan ?? '')) throw new PaymentDeviceError('UNREADABLE', 'the card could not be read');
      let pinBlock: string | undefined;
      if (withPin) {
        if (!card.pin) throw new PaymentDeviceError('PIN_CANCELLED', 'the PIN entry was cancelled');
        pinBlock = encryptPinForHost(card.pin, card.pan, opts.pinKeys.resolve(opts.tpkRef));
      }
      const { encryptedCard, keyId } = await encryptCardRead({ pan: card.pan, ...(card.expiry ? { expiry: card.expiry } : {}) }, opts.readerKeys);
      return { encryptedCard, readerKeyId: keyId, last4: card.pan.slice(-4), entryMode: card.entryMode ?? 'chip', ...(pinBlock ? { pinBlock, tpkRef: opts.tpkRef } : {}) };
    },
  };
}

/** The slot file of a simulated terminal: beside its machine state file. */
export function simulatedCardSlotFile(machineStateFile: string): string {
  return path.join(path.dirname(machineStateFile), 'card-slot.json');
}

/**
 * The simulated payment device of a terminal worker: card reader key from CARD_READER_KEYS (or
 * $DATA_DIR), terminal PIN key by reference TERMINAL_PIN_KEY_REF (default the development test key).
 */
export function simulatedPaymentCardDeviceFor(machineStateFile: string, dataDir: string, env: NodeJS.ProcessEnv = process.env): PaymentCardDevice {
  return createSimulatedPaymentCardDevice({
    slotFile: simulatedCardSlotFile(machineStateFile),
    readerKeys: cardReaderKeyProvider(env, dataDir),
    pinKeys: paymentKeyProvider(env),
    tpkRef: env.TERMINAL_PIN_KEY_REF || DEV_TEST_ZPK_REF,
  });
}
