/**
 * The edge where a card number and a PIN stop: what a terminal's card reader and PIN pad do, in
 * one function. The number is tokenised into the vault at once; the PIN is turned into an ISO 9564
 * format 0 block and encrypted under the zone PIN key of the host that will verify it (the bank's,
 * by reference from the DB to the configuration). What comes out — token, last four digits,
 * encrypted PIN block — is all the workflow ever sees.
 *
 * Used by the kiosk endpoint that stands for the terminal's card reader and PIN pad on the
 * simulated kiosk page (api/routes/kiosk.ts, POST /api/issuances/:id/card), and by the center when
 * a terminal's card reader hands over an encrypted read. Errors name what is wrong, never a value.
 */
import type { CardEntry, CardMethod } from '../domain/payments';
import { CARD_METHOD_RULES } from '../domain/payments';
import type { CardVault, EntryMode } from './card-vault';
import type { Db } from './db';
import { hostForMethod } from './payment-hosts';
import type { PaymentKeyProvider } from './payment-keys';
import { encryptPinForHost } from './pin-encryption';

export class CardEdgeError extends Error {
  constructor(readonly code: 'pin_required' | 'pin_not_expected' | 'method_unavailable' | 'invalid_pin', message: string) {
    super(message);
    this.name = 'CardEdgeError';
  }
}

export interface EdgeCardInput {
  method: CardMethod;
  pan: string;
  expiry?: string;
  pin?: string;
  entryMode: EntryMode;
}

export async function captureCardAtEdge(deps: { db: Db; vault: CardVault; keys: PaymentKeyProvider }, input: EdgeCardInput): Promise<CardEntry> {
  const needsPin = CARD_METHOD_RULES[input.method].needsPin;
  let pinBlock: string | undefined;
  if (needsPin) {
    if (input.pin === undefined) throw new CardEdgeError('pin_required', 'A debit card needs its PIN.');
    if (typeof input.pin !== 'string' || !/^[0-9]{4,12}$/.test(input.pin)) throw new CardEdgeError('invalid_pin', 'A PIN is 4 to 12 digits.');
    const host = await hostForMethod(deps.db, input.method);
    if (!host?.zpkRef) throw new CardEdgeError('method_unavailable', 'Debit card payments are not available right now.');
    pinBlock = encryptPinForHost(input.pin, input.pan, deps.keys.resolve(host.zpkRef));
  } else if (input.pin !== undefined) {
    throw new CardEdgeError('pin_not_expected', `A ${input.method} card payment takes no PIN.`);
  }
  const { token, last4 } = await deps.vault.tokenise({ pan: input.pan, ...(input.expiry ? { expiry: input.expiry } : {}) }, input.entryMode);
  return { cardToken: token, last4, entryMode: input.entryMode, ...(pinBlock ? { pinBlock } : {}) };
}
