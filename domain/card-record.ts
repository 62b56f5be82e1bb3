/**
 * The record written to a card's chip. Layout and reasoning: docs/card-record.md.
 *
 * Both versions share a 9-byte header and a trailing CRC-32, so a reader (the PC/SC driver) finds
 * the record's total length from the header alone: total = 9 + length + 4.
 *
 *   offset 0   4 bytes  magic "ICR1"
 *   offset 4   1 byte   format version (1 or 2)
 *   offset 5   4 bytes  body length L, big-endian
 *   offset 9   L bytes  body
 *   offset 9+L 4 bytes  CRC-32
 *
 * v1 body: UTF-8 JSON of CardRecord; the CRC covers bytes 0..9+L. Unsigned; still decoded.
 *
 * v2 body:
 *   1 byte   k, key id length (1..32)
 *   k bytes  key id (ASCII): which center key signed the record
 *   4 bytes  n, payload length, big-endian
 *   n bytes  payload: UTF-8 JSON of CardRecord (keys in a fixed order)
 *   64 bytes Ed25519 signature by the center over every byte before it (header included)
 *   32 bytes value-and-flags area, two anti-tearing slots (domain/value-slots.ts)
 * The CRC covers every byte before it except the value area, so the slots can be rewritten after
 * issue without touching the signed part or the CRC (each slot carries its own CRC).
 *
 * Uses only Uint8Array and no crypto, so it is safe anywhere (workflow bundle, gates, browsers);
 * signing and verifying live in lib/card-signing.ts.
 */
import { crc32 } from './crc32';
import { selectCurrentSlot, VALUE_AREA_SIZE, type CurrentSlot } from './value-slots';

export { crc32 } from './crc32';

export interface CardRecord {
  issuanceId: string;
  cardId: string;
  issuerId: string;
  productType: string;
  product: Record<string, string | number>;
  userId: string | null;
  issuedAt: string;
  /** v2: the first and last instant the card is valid (ISO 8601), null when unbounded. */
  validFrom?: string | null;
  validUntil?: string | null;
}

const MAGIC = [0x49, 0x43, 0x52, 0x31];
export const CARD_RECORD_VERSION = 2;
const HEADER = 9;
const TRAILER = 4;
export const SIGNATURE_SIZE = 64;
const MAX_KEY_ID = 32;

export class CardRecordError extends Error {}

export interface ParsedCardRecord {
  version: 1 | 2;
  record: CardRecord;
  /** v2 only (null on v1): the signing key's id, the bytes it signed, and the signature. */
  keyId: string | null;
  signedBytes: Uint8Array | null;
  signature: Uint8Array | null;
  /** v2 only: where the value area starts within the record, its bytes, and its current slot. */
  valueAreaOffset: number | null;
  valueArea: Uint8Array | null;
  value: CurrentSlot | null;
}

function orderedJson(r: CardRecord, version: 1 | 2): Uint8Array {
  const ordered: Record<string, unknown> = {
    issuanceId: r.issuanceId,
    cardId: r.cardId,
    issuerId: r.issuerId,
    productType: r.productType,
    product: r.product,
    userId: r.userId,
    issuedAt: r.issuedAt,
  };
  if (version === 2) {
    ordered.validFrom = r.validFrom ?? null;
    ordered.validUntil = r.validUntil ?? null;
  }
  return new TextEncoder().encode(JSON.stringify(ordered));
}

/** A v1 record (unsigned). Kept for reading old cards and for driver tests that need any record. */
export function encodeCardRecord(r: CardRecord): Uint8Array {
  const payload = orderedJson(r, 1);
  const out = new Uint8Array(HEADER + payload.length + TRAILER);
  out.set(MAGIC, 0);
  out[4] = 1;
  writeU32(out, 5, payload.length);
  out.set(payload, HEADER);
  writeU32(out, HEADER + payload.length, crc32(out.subarray(0, HEADER + payload.length)));
  return out;
}

export interface UnsignedCardRecord {
  /** The whole record with a zero signature and no CRC yet. */
  bytes: Uint8Array;
  /** What the center signs (a view into bytes). */
  toSign: Uint8Array;
}

/** Step 1 of a v2 record: everything but the signature and the CRC. */
export function buildCardRecordV2(r: CardRecord, opts: { keyId: string; valueArea: Uint8Array }): UnsignedCardRecord {
  const keyId = new TextEncoder().encode(opts.keyId);
  if (keyId.length < 1 || keyId.length > MAX_KEY_ID || !/^[\x21-\x7e]+$/.test(opts.keyId)) throw new CardRecordError(`key id must be 1-${MAX_KEY_ID} printable ASCII characters`);
  if (opts.valueArea.length !== VALUE_AREA_SIZE) throw new CardRecordError(`value area must be ${VALUE_AREA_SIZE} bytes`);
  const payload = orderedJson(r, 2);
  const bodyLength = 1 + keyId.length + 4 + payload.length + SIGNATURE_SIZE + VALUE_AREA_SIZE;
  const out = new Uint8Array(HEADER + bodyLength + TRAILER);
  out.set(MAGIC, 0);
  out[4] = 2;
  writeU32(out, 5, bodyLength);
  let at = HEADER;
  out[at++] = keyId.length;
  out.set(keyId, at);
  at += keyId.length;
  writeU32(out, at, payload.length);
  at += 4;
  out.set(payload, at);
  at += payload.length;
  const signatureAt = at;
  out.set(opts.valueArea, signatureAt + SIGNATURE_SIZE);
  return { bytes: out, toSign: out.subarray(0, signatureAt) };
}

/** Step 2: the center's signature over `toSign` goes in, and the CRC closes the record. */
export function sealCardRecordV2(unsigned: UnsignedCardRecord, signature: Uint8Array): Uint8Array {
  if (signature.length !== SIGNATURE_SIZE) throw new CardRecordError(`an Ed25519 signature is ${SIGNATURE_SIZE} bytes, got ${signature.length}`);
  const out = Uint8Array.from(unsigned.bytes);
  const signatureAt = unsigned.toSign.length;
  out.set(signature, signatureAt);
  writeU32(out, out.length - TRAILER, crcV2(out, signatureAt));
  return out;
}

/** CRC of a v2 record: header, key id, payload and signature (not the value area). */
function crcV2(bytes: Uint8Array, signatureAt: number): number {
  return crc32(bytes.subarray(0, signatureAt + SIGNATURE_SIZE));
}

/** The record's fields, from either version; checks structure and CRC (not the signature). */
export function decodeCardRecord(bytes: Uint8Array): CardRecord {
  return parseCardRecord(bytes).record;
}

export function parseCardRecord(bytes: Uint8Array): ParsedCardRecord {
  if (bytes.length < HEADER + TRAILER) throw new CardRecordError('card record too short');
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw new CardRecordError('not a card record (bad magic)');
  const version = bytes[4];
  if (version !== 1 && version !== 2) throw new CardRecordError(`unsupported card record version ${version}`);
  const len = readU32(bytes, 5);
  if (bytes.length < HEADER + len + TRAILER) throw new CardRecordError('card record truncated');
  const crc = readU32(bytes, HEADER + len);
  if (version === 1) {
    if (crc !== crc32(bytes.subarray(0, HEADER + len))) throw new CardRecordError('card record checksum mismatch (torn write?)');
    const record = parseJson(bytes.subarray(HEADER, HEADER + len));
    return { version: 1, record, keyId: null, signedBytes: null, signature: null, valueAreaOffset: null, valueArea: null, value: null };
  }
  const k = bytes[HEADER];
  const fixed = 1 + 4 + SIGNATURE_SIZE + VALUE_AREA_SIZE;
  if (k < 1 || k > MAX_KEY_ID || len < fixed + k) throw new CardRecordError('card record v2 body is malformed');
  const payloadLength = readU32(bytes, HEADER + 1 + k);
  if (len !== fixed + k + payloadLength) throw new CardRecordError('card record v2 lengths disagree');
  const payloadAt = HEADER + 1 + k + 4;
  const signatureAt = payloadAt + payloadLength;
  if (crc !== crcV2(bytes, signatureAt)) throw new CardRecordError('card record checksum mismatch (torn write?)');
  const keyId = new TextDecoder().decode(bytes.subarray(HEADER + 1, HEADER + 1 + k));
  const record = parseJson(bytes.subarray(payloadAt, signatureAt));
  const valueAreaOffset = signatureAt + SIGNATURE_SIZE;
  const valueArea = bytes.subarray(valueAreaOffset, valueAreaOffset + VALUE_AREA_SIZE);
  return {
    version: 2,
    record,
    keyId,
    signedBytes: bytes.subarray(0, signatureAt),
    signature: bytes.subarray(signatureAt, signatureAt + SIGNATURE_SIZE),
    valueAreaOffset,
    valueArea,
    value: selectCurrentSlot(valueArea),
  };
}

function parseJson(b: Uint8Array): CardRecord {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
  } catch {
    throw new CardRecordError('card record payload is not valid JSON');
  }
  const r = v as CardRecord;
  if (!r || typeof r !== 'object' || typeof r.cardId !== 'string' || typeof r.issuerId !== 'string' || typeof r.issuanceId !== 'string') {
    throw new CardRecordError('card record payload lacks its ids');
  }
  return r;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}
