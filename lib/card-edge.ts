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
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CardEntry, CardMethod } from '../domain/payments';
import { CARD_METHOD_RULES } from '../domain/payments';
import { checkCardData, type CardData, type CardVault, type EntryMode } from './card-vault';
import type { Db } from './db';
import type { KeyProvider } from './payload-codec';
import { hostForMethod } from './payment-hosts';
import type { PaymentKeyProvider } from './payment-keys';
import { decryptPinBlock, encryptPinBlock, encryptPinForHost } from './pin-encryption';

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

// ---- a terminal's card reader: encrypted reads (P2PE) and PIN translation ----------------------

/**
 * The card reader's side: card data encrypted under the card reader key (AES-256-GCM, the key id
 * bound in), so it crosses the terminal, Temporal and the center as ciphertext only.
 */
export async function encryptCardRead(card: CardData, keys: KeyProvider): Promise<{ encryptedCard: string; keyId: string }> {
  checkCardData(card);
  const keyId = keys.currentKeyId();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', await keys.key(keyId), iv);
  cipher.setAAD(Buffer.from(`card-read|${keyId}`));
  const plain = Buffer.from(JSON.stringify({ pan: card.pan, expiry: card.expiry ?? null }));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  plain.fill(0);
  return { encryptedCard: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64'), keyId };
}

export async function decryptCardRead(encryptedCard: string, keyId: string, keys: KeyProvider): Promise<CardData> {
  const data = Buffer.from(encryptedCard, 'base64');
  if (data.length < 29) throw new CardEdgeError('invalid_pin', 'the card read is malformed');
  const decipher = createDecipheriv('aes-256-gcm', await keys.key(keyId), data.subarray(0, 12));
  decipher.setAAD(Buffer.from(`card-read|${keyId}`));
  decipher.setAuthTag(data.subarray(data.length - 16));
  const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
  const parsed = JSON.parse(plain.toString('utf8')) as { pan: string; expiry: string | null };
  plain.fill(0);
  const card = { pan: parsed.pan, ...(parsed.expiry ? { expiry: parsed.expiry } : {}) };
  checkCardData(card);
  return card;
}

/**
 * PIN translation, as an acquirer's HSM does it: the PIN pad's block under the terminal PIN key
 * becomes the same block under the host's zone PIN key. The clear block exists only between the
 * two calls and is wiped.
 */
export function translatePinBlock(pinBlockHex: string, fromKeyHex: string, toKeyHex: string): string {
  const clear = decryptPinBlock(Buffer.from(pinBlockHex, 'hex'), fromKeyHex);
  try {
    return encryptPinBlock(clear, toKeyHex).toString('hex').toUpperCase();
  } finally {
    clear.fill(0);
  }
}

/** The center's side of a terminal read: decrypt, tokenise, translate the PIN block to the host's key. */
export async function acceptEncryptedCardRead(
  deps: { db: Db; vault: CardVault; keys: PaymentKeyProvider; readerKeys: KeyProvider },
  method: CardMethod,
  read: { encryptedCard: string; readerKeyId: string; entryMode: EntryMode; pinBlock?: string; tpkRef?: string },
): Promise<CardEntry> {
  const card = await decryptCardRead(read.encryptedCard, read.readerKeyId, deps.readerKeys);
  let pinBlock: string | undefined;
  if (CARD_METHOD_RULES[method].needsPin) {
    if (!read.pinBlock || !read.tpkRef || !/^[0-9A-F]{16}$/.test(read.pinBlock)) throw new CardEdgeError('pin_required', 'A debit card needs its PIN.');
    const host = await hostForMethod(deps.db, method);
    if (!host?.zpkRef) throw new CardEdgeError('method_unavailable', 'Debit card payments are not available right now.');
    pinBlock = translatePinBlock(read.pinBlock, deps.keys.resolve(read.tpkRef), deps.keys.resolve(host.zpkRef));
  }
  const { token, last4 } = await deps.vault.tokenise(card, read.entryMode);
  return { cardToken: token, last4, entryMode: read.entryMode, ...(pinBlock ? { pinBlock } : {}) };
}
