/** ISO 8583 packer: round trips of every message type in two dialects, bitmaps, variable-length limits, BCD, malformed input. */
import fc from 'fast-check';
import {
  Iso8583Error, bcdFieldTable, defaultFieldTable, describeResponseCode, pack, responseMtiFor, unpack,
  type FieldTable, type Iso8583Fields,
} from '../../domain/iso8583';

const base: Iso8583Fields = { 7: '1121093015', 11: '000123', 12: '093015', 13: '1121', 41: 'T-001   ', 42: 'KIOSK-MERCHANT1', 49: '392' };
const card: Iso8583Fields = { 2: '43219876543210987', 3: '000000', 4: '000000001500', 14: '2812', 22: '051' };
const original = `0200000123112109301500000000001${'0'.repeat(11)}`;

const messages: Array<[string, Iso8583Fields]> = [
  ['0100', { ...base, ...card, 35: '43219876543210987=28121010000' }],
  ['0110', { ...base, ...card, 37: '000000000001', 38: 'A00001', 39: '00' }],
  ['0200', { ...base, ...card, 52: '0412AC89ABCDEF67' }],
  ['0210', { ...base, ...card, 37: '000000000002', 39: '51' }],
  ['0400', { ...base, ...card, 90: original }],
  ['0410', { ...base, ...card, 39: '00', 90: original }],
  ['0420', { ...base, ...card, 90: original }],
  ['0421', { ...base, ...card, 90: original }],
  ['0430', { ...base, ...card, 39: '00', 90: original }],
  ['0800', { 7: '1121093015', 11: '000001', 70: '001' }],
  ['0810', { 7: '1121093015', 11: '000001', 39: '00', 70: '301' }],
];

describe.each([defaultFieldTable, bcdFieldTable, { ...defaultFieldTable, name: 'hex-bitmap', bitmapEncoding: 'hex' } as FieldTable])('field table $name', (table) => {
  test.each(messages)('%s round-trips', (mti, fields) => {
    const packed = pack(mti, fields, table);
    expect(unpack(packed, table)).toEqual({ mti, fields });
  });
});

test('request MTIs map to their response MTIs', () => {
  expect(['0100', '0200', '0400', '0420', '0421', '0800'].map(responseMtiFor)).toEqual(['0110', '0210', '0410', '0430', '0430', '0810']);
  expect(() => responseMtiFor('0110')).toThrow(/itself a response/);
});

describe('bitmaps', () => {
  test('fields 3 and 11 only: a primary bitmap 2020000000000000 and no secondary', () => {
    const packed = pack('0800', { 3: '990000', 11: '000001' }, defaultFieldTable);
    expect(packed.subarray(4, 12).toString('hex')).toBe('2020000000000000');
    expect(packed.length).toBe(4 + 8 + 6 + 6);
  });

  test('field 90 forces the secondary bitmap (bit 1 set, 16 bytes)', () => {
    const packed = pack('0400', { 11: '000124', 90: original }, defaultFieldTable);
    const bitmap = packed.subarray(4, 20);
    expect(bitmap[0] & 0x80).toBe(0x80);
    expect(bitmap.toString('hex')).toBe('80200000000000000000004000000000');
    expect(packed.length).toBe(4 + 16 + 6 + 42);
  });

  test('hex-text bitmaps are 16 or 32 characters', () => {
    const table: FieldTable = { ...defaultFieldTable, bitmapEncoding: 'hex' };
    expect(pack('0800', { 11: '000001', 70: '301' }, table).subarray(4, 36).toString()).toBe('80200000000000000400000000000000');
  });

  test('random field subsets round-trip (property)', () => {
    const sample: Iso8583Fields = { ...messages[2][1], 37: '000000000009', 38: 'ABC123', 39: '05', 70: '301', 90: original, 35: '4321=2812' };
    const numbers = Object.keys(sample).map(Number);
    fc.assert(fc.property(fc.subarray(numbers), fc.constantFrom(defaultFieldTable, bcdFieldTable), (chosen, table) => {
      const fields = Object.fromEntries(chosen.map((n) => [n, sample[n]])) as Iso8583Fields;
      expect(unpack(pack('0200', fields, table), table)).toEqual({ mti: '0200', fields });
    }));
  });
});

describe('variable lengths', () => {
  const lllTable: FieldTable = {
    ...defaultFieldTable,
    fields: { ...defaultFieldTable.fields, 48: { name: 'additional data', format: 'lllvar', encoding: 'ascii', length: 999, content: 'ans' } },
  };

  test('LLVAR: a 19-digit PAN fits, 20 digits is refused; the empty value is allowed', () => {
    expect(unpack(pack('0100', { 2: '1'.repeat(19) }, defaultFieldTable), defaultFieldTable).fields[2]).toBe('1'.repeat(19));
    expect(() => pack('0100', { 2: '1'.repeat(20) }, defaultFieldTable)).toThrow('field 2 (primary account number) is LLVAR up to 19 characters, got 20');
    expect(pack('0100', { 2: '' }, defaultFieldTable).subarray(12).toString()).toBe('00');
  });

  test('LLLVAR: 999 characters fit with prefix 999, 1000 are refused', () => {
    const packed = pack('0100', { 48: 'x'.repeat(999) }, lllTable);
    expect(packed.subarray(12, 15).toString()).toBe('999');
    expect(unpack(packed, lllTable).fields[48]).toHaveLength(999);
    expect(() => pack('0100', { 48: 'x'.repeat(1000) }, lllTable)).toThrow(/LLLVAR up to 999/);
  });

  test('a prefix claiming more than the maximum is refused on unpack', () => {
    const packed = pack('0100', { 2: '4321' }, defaultFieldTable);
    packed.write('20', 12, 'ascii');
    expect(() => unpack(Buffer.concat([packed, Buffer.from('1'.repeat(16))]), defaultFieldTable)).toThrow('declares length 20, more than its maximum 19');
  });
});

describe('BCD', () => {
  test('odd-length LLVAR PAN: BCD prefix 0x17, right pad nibble F', () => {
    const packed = pack('0100', { 2: '43219876543210987' }, bcdFieldTable);
    expect(packed.subarray(0, 2).toString('hex')).toBe('0100');
    expect(packed.subarray(10).toString('hex')).toBe('1743219876543210987f');
    expect(unpack(packed, bcdFieldTable).fields[2]).toBe('43219876543210987');
  });

  test('odd-length fixed field: left pad nibble 0 (POS entry mode 051 → 0x0051)', () => {
    const packed = pack('0100', { 22: '051' }, bcdFieldTable);
    expect(packed.subarray(10).toString('hex')).toBe('0051');
    expect(unpack(packed, bcdFieldTable).fields[22]).toBe('051');
  });

  test('track 2 separator travels as nibble D', () => {
    const packed = pack('0100', { 35: '4321=2812' }, bcdFieldTable);
    expect(packed.subarray(10).toString('hex')).toBe('094321d2812f');
    expect(unpack(packed, bcdFieldTable).fields[35]).toBe('4321=2812');
  });

  test('LLLVAR BCD prefix takes two bytes', () => {
    const table: FieldTable = { ...bcdFieldTable, fields: { ...bcdFieldTable.fields, 48: { name: 'n data', format: 'lllvar', encoding: 'bcd', length: 999, content: 'n' } } };
    const packed = pack('0100', { 48: '12345' }, table);
    expect(packed.subarray(10).toString('hex')).toBe('0005012345');
    expect(unpack(packed, table).fields[48]).toBe('12345');
  });

  test('non-digits in a BCD field are refused', () => {
    expect(() => pack('0100', { 4: '00000000150A' }, bcdFieldTable)).toThrow(/field 4 .* content class 'bcd'/);
  });
});

describe('malformed input gives a clear Iso8583Error', () => {
  const good = pack('0200', messages[2][1], defaultFieldTable);

  test.each([
    ['a truncated message', good.subarray(0, good.length - 3), /truncated message: field 52 \(PIN data \(encrypted PIN block\)\) needs 8 bytes at offset \d+, only 5 left/],
    ['no bitmap', good.subarray(0, 6), /truncated message: the primary bitmap needs 8 bytes/],
    ['trailing bytes', Buffer.concat([good, Buffer.from('zz')]), /2 unexpected bytes after the last field/],
    ['a non-digit MTI', Buffer.concat([Buffer.from('02X0'), good.subarray(4)]), /MTI is not 4 digits/],
    ['letters in a numeric field', Buffer.from(good.toString('latin1').replace('000000001500', '0000000015AB'), 'latin1'), /field 4 \(amount, transaction\) has characters outside its content class 'n'/],
    ['a bitmap bit for an undefined field', (() => { const b = Buffer.from(good); b[4 + 7] |= 0x01; return b; })(), /bitmap sets field 64, which field table 'default-ascii' does not define/],
    ['a non-numeric length prefix', Buffer.from(good.toString('latin1').replace('17432198', 'x7432198'), 'latin1'), /field 2 .* malformed length prefix/],
  ])('%s', (_name, buf, message) => {
    expect(() => unpack(buf as Buffer, defaultFieldTable)).toThrow(Iso8583Error);
    expect(() => unpack(buf as Buffer, defaultFieldTable)).toThrow(message as RegExp);
  });

  test('pack refuses bad MTIs, wrong fixed lengths, bad hex, undefined and out-of-range fields', () => {
    expect(() => pack('200', {}, defaultFieldTable)).toThrow("MTI must be 4 digits, got '200'");
    expect(() => pack('0200', { 4: '1500' }, defaultFieldTable)).toThrow('field 4 (amount, transaction) must be exactly 12 characters, got 4');
    expect(() => pack('0200', { 52: 'not hex!' }, defaultFieldTable)).toThrow(/field 52 .* binary and must be given as hex/);
    expect(() => pack('0200', { 52: '0412AC89' }, defaultFieldTable)).toThrow('field 52 (PIN data (encrypted PIN block)) must be exactly 8 bytes, got 4');
    expect(() => pack('0200', { 60: 'x' }, defaultFieldTable)).toThrow("field 60 is not defined in field table 'default-ascii'");
    expect(() => pack('0200', { 1: 'x' }, defaultFieldTable)).toThrow('field number 1 is out of range 2..128');
    expect(() => pack('0200', { 41: 'T-001\u00e9  ' }, defaultFieldTable)).toThrow(/field 41 .* content class 'ans'/);
  });
});

describe('response codes', () => {
  test.each([
    ['00', 'approved'], ['05', 'declined'], ['14', 'declined'], ['51', 'declined'], ['54', 'declined'], ['55', 'declined'],
    ['61', 'declined'], ['75', 'declined'], ['91', 'retry'], ['94', 'unknown'], ['96', 'retry'], ['Z9', 'unknown'],
  ])('%s → %s with a customer message', (code, outcome) => {
    const d = describeResponseCode(code);
    expect(d.outcome).toBe(outcome);
    expect(d.customerMessage.length).toBeGreaterThan(10);
  });

  test('a missing code is unknown', () => {
    expect(describeResponseCode(undefined)).toMatchObject({ outcome: 'unknown', meaning: 'no response code in the answer' });
  });
});
