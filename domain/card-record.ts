/**
 * The record written to a card's chip, version 1.
 *
 *   offset 0  4 bytes  magic "ICR1"
 *   offset 4  1 byte   format version (1)
 *   offset 5  4 bytes  payload length, big-endian
 *   offset 9  n bytes  payload: UTF-8 JSON of CardRecord (keys in a fixed order)
 *   offset 9+n 4 bytes CRC-32 of bytes 0..9+n
 *
 * The CRC lets a reader tell a torn (half-written) chip from a good one. Issue 3 adds the
 * center's Ed25519 signature and the value/flags area. Uses only Uint8Array so that it is safe
 * anywhere (workflow bundle, gates, browsers).
 */
import * as CRC32 from 'crc-32';

export interface CardRecord {
  issuanceId: string;
  cardId: string;
  issuerId: string;
  productType: string;
  product: Record<string, string | number>;
  userId: string | null;
  issuedAt: string;
}

const MAGIC = [0x49, 0x43, 0x52, 0x31];
export const CARD_RECORD_VERSION = 1;
const HEADER = 9;

export function encodeCardRecord(r: CardRecord): Uint8Array {
  const ordered = {
    issuanceId: r.issuanceId,
    cardId: r.cardId,
    issuerId: r.issuerId,
    productType: r.productType,
    product: r.product,
    userId: r.userId,
    issuedAt: r.issuedAt,
  };
  const payload = new TextEncoder().encode(JSON.stringify(ordered));
  const out = new Uint8Array(HEADER + payload.length + 4);
  out.set(MAGIC, 0);
  out[4] = CARD_RECORD_VERSION;
  writeU32(out, 5, payload.length);
  out.set(payload, HEADER);
  writeU32(out, HEADER + payload.length, crc32(out.subarray(0, HEADER + payload.length)));
  return out;
}

export class CardRecordError extends Error {}

export function decodeCardRecord(bytes: Uint8Array): CardRecord {
  if (bytes.length < HEADER + 4) throw new CardRecordError('card record too short');
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) throw new CardRecordError('not a card record (bad magic)');
  if (bytes[4] !== CARD_RECORD_VERSION) throw new CardRecordError(`unsupported card record version ${bytes[4]}`);
  const len = readU32(bytes, 5);
  if (bytes.length < HEADER + len + 4) throw new CardRecordError('card record truncated');
  const crc = readU32(bytes, HEADER + len);
  if (crc !== crc32(bytes.subarray(0, HEADER + len))) throw new CardRecordError('card record checksum mismatch (torn write?)');
  return JSON.parse(new TextDecoder().decode(bytes.subarray(HEADER, HEADER + len))) as CardRecord;
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

/** CRC-32 (IEEE) as an unsigned 32-bit number. */
export function crc32(data: Uint8Array): number {
  return CRC32.buf(data) >>> 0;
}
