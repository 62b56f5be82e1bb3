import { generateKeyPairSync } from 'node:crypto';
import { crc32 } from '../../domain/crc32';
import { CardRecordError, decodeCardRecord, encodeCardRecord, parseCardRecord, type CardRecord } from '../../domain/card-record';
import { initialValueArea, planSlotWrite, applySlotWrite, FLAG_USED } from '../../domain/value-slots';
import { CardSigningKeys, checkCardSignature, keyIdOf, signCardRecord } from '../../lib/card-signing';

const record: CardRecord = {
  issuanceId: 'iss-T-001-abcdef12',
  cardId: 'C0123456789AB',
  issuerId: 'sunrise-promotions',
  productType: 'concert',
  product: { productId: 1, title: 'Tide Tour', kind: 'seat', seatId: 5, venue: 'Budokan', row: 'B', seat: 12 },
  userId: null,
  issuedAt: '2026-11-21T00:00:00.000Z',
  validFrom: '2026-11-21T00:00:00.000Z',
  validUntil: '2027-04-05T15:00:00.000Z',
};

function keys(): CardSigningKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return new CardSigningKeys(privateKey, keyIdOf(publicKey));
}

test('a signed v2 record survives encode → decode with its key id, signature and value area', () => {
  const k = keys();
  const bytes = signCardRecord(k, record, initialValueArea(5000));
  expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('ICR1');
  expect(bytes[4]).toBe(2);
  // The driver finds the total from the header alone: 9 + length + 4.
  expect(9 + Buffer.from(bytes).readUInt32BE(5) + 4).toBe(bytes.length);
  const parsed = parseCardRecord(bytes);
  expect(parsed.version).toBe(2);
  expect(parsed.record).toEqual(record);
  expect(decodeCardRecord(bytes)).toEqual(record);
  expect(parsed.keyId).toBe(k.currentKeyId);
  expect(parsed.signature).toHaveLength(64);
  expect(parsed.value).toEqual({ slot: 0, state: { seq: 1, balanceMinor: 5000, flags: 0 } });
  expect(checkCardSignature(parsed, k.verifyKeys)).toEqual({ ok: true });
});

test('any change to the signed part is caught by the signature, even with a recomputed CRC', () => {
  const k = keys();
  const bytes = signCardRecord(k, record, initialValueArea(0));
  const parsed = parseCardRecord(bytes);
  const text = Buffer.from(bytes).toString('latin1');
  // Move the seat: same length, so every length field still agrees.
  const forged = Buffer.from(text.replace('"seat":12', '"seat":13'), 'latin1');
  expect(forged.equals(Buffer.from(bytes))).toBe(false);
  // A forger can recompute the CRC (it is no secret) but not the signature.
  const crcEnd = parsed.valueAreaOffset!; // the CRC covers everything before the value area
  forged.writeUInt32BE(crc32(forged.subarray(0, crcEnd)), forged.length - 4);
  const reparsed = parseCardRecord(forged);
  expect(reparsed.record.product.seat).toBe(13);
  expect(checkCardSignature(reparsed, k.verifyKeys)).toEqual({ ok: false, reason: 'bad_signature' });
  // Without recomputing the CRC the record does not even decode.
  const torn = Uint8Array.from(bytes);
  torn[30] ^= 0x01;
  expect(() => parseCardRecord(torn)).toThrow(/checksum/);
});

test('a record signed by a key the verifier does not know, or an unsigned v1 record, is refused', () => {
  const bytes = signCardRecord(keys(), record, initialValueArea(0));
  expect(checkCardSignature(parseCardRecord(bytes), keys().verifyKeys)).toEqual({ ok: false, reason: 'unknown_key' });
  const v1 = parseCardRecord(encodeCardRecord(record));
  expect(v1.version).toBe(1);
  expect(v1.record.cardId).toBe(record.cardId);
  expect(checkCardSignature(v1, keys().verifyKeys)).toEqual({ ok: false, reason: 'unsigned_record' });
});

test('rewriting the value area keeps the record and its signature valid', () => {
  const k = keys();
  const bytes = signCardRecord(k, record, initialValueArea(5000));
  const parsed = parseCardRecord(bytes);
  const plan = planSlotWrite(parsed.valueArea!, { balanceMinor: 4200, flags: FLAG_USED });
  const after = Uint8Array.from(bytes);
  after.set(plan.bytes, parsed.valueAreaOffset! + plan.offset);
  const reparsed = parseCardRecord(after);
  expect(reparsed.value).toEqual({ slot: 1, state: { seq: 2, balanceMinor: 4200, flags: FLAG_USED } });
  expect(checkCardSignature(reparsed, k.verifyKeys)).toEqual({ ok: true });
  expect(applySlotWrite(parsed.valueArea!, plan)).toEqual(reparsed.valueArea);
});

test('malformed v2 bodies are refused with a clear error', () => {
  const bytes = signCardRecord(keys(), record, initialValueArea(0));
  expect(() => parseCardRecord(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
  const badVersion = Uint8Array.from(bytes);
  badVersion[4] = 3;
  expect(() => parseCardRecord(badVersion)).toThrow(/version 3/);
  const badKeyLen = Uint8Array.from(bytes);
  badKeyLen[9] = 0;
  expect(() => parseCardRecord(badKeyLen)).toThrow(CardRecordError);
});
