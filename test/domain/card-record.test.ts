import { CardRecordError, decodeCardRecord, encodeCardRecord, type CardRecord } from '../../domain/card-record';

const record: CardRecord = {
  issuanceId: 'iss-T-001-abcdef12',
  cardId: 'C0123456789AB',
  issuerId: 'sunrise-promotions',
  productType: 'concert',
  product: { productId: 1, title: 'Tide Tour', kind: 'seat', seatId: 5 },
  userId: null,
  issuedAt: '2026-11-21T00:00:00.000Z',
};

test('a record survives encode → decode', () => {
  const bytes = encodeCardRecord(record);
  expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('ICR1');
  expect(decodeCardRecord(bytes)).toEqual(record);
});

test('a torn (truncated) or altered chip is refused', () => {
  const bytes = encodeCardRecord(record);
  expect(() => decodeCardRecord(bytes.subarray(0, bytes.length - 10))).toThrow(CardRecordError);
  const altered = Uint8Array.from(bytes);
  altered[20] ^= 0x01;
  expect(() => decodeCardRecord(altered)).toThrow(/checksum/);
  expect(() => decodeCardRecord(new Uint8Array(0))).toThrow(/too short/);
  const wrongMagic = Uint8Array.from(bytes);
  wrongMagic[0] = 0;
  expect(() => decodeCardRecord(wrongMagic)).toThrow(/magic/);
});
