/** ISO 9564 format 0 PIN blocks and their TDES encryption under the development ZPK. */
import { PinBlockError, pinBlockFormat0 } from '../../domain/pin-block';
import { DEVELOPMENT_TEST_ZPK, decryptPinBlock, encryptPinBlock, encryptPinForHost } from '../../lib/pin-encryption';

test('the ISO 9564 format 0 vectors: 1234 / 43219876543210987 and 92389 / 4000001234562', () => {
  expect(pinBlockFormat0('1234', '43219876543210987').toString('hex').toUpperCase()).toBe('0412AC89ABCDEF67');
  expect(pinBlockFormat0('92389', '4000001234562').toString('hex').toUpperCase()).toBe('0592789FFFEDCBA9');
  expect(pinBlockFormat0('123456789012', '4000001234562')).toHaveLength(8);
});

test('PIN and PAN are validated, and errors never contain them', () => {
  for (const pin of ['123', '1234567890123', '12a4', '']) {
    expect(() => pinBlockFormat0(pin, '43219876543210987')).toThrow(new PinBlockError('PIN must be 4 to 12 digits'));
  }
  for (const pan of ['432198765432', '43219876543210987654', '4321-9876543210987']) {
    expect(() => pinBlockFormat0('1234', pan)).toThrow(new PinBlockError('PAN must be 13 to 19 digits'));
  }
});

test('TDES under the test ZPK: known ciphertext (checked with openssl des-ede3), and decrypt inverts it', () => {
  const clear = pinBlockFormat0('1234', '43219876543210987');
  const encrypted = encryptPinBlock(clear, DEVELOPMENT_TEST_ZPK);
  expect(encrypted.toString('hex').toUpperCase()).toBe('C967C8198151A458');
  expect(decryptPinBlock(encrypted, DEVELOPMENT_TEST_ZPK)).toEqual(clear);
  expect(encryptPinBlock(clear, DEVELOPMENT_TEST_ZPK + '0123456789ABCDEF').toString('hex').toUpperCase()).toBe('C967C8198151A458');
  expect(encryptPinForHost('1234', '43219876543210987', DEVELOPMENT_TEST_ZPK)).toBe('C967C8198151A458');
});

test('bad keys and blocks are refused without echoing them', () => {
  const clear = pinBlockFormat0('1234', '43219876543210987');
  expect(() => encryptPinBlock(clear, 'ABCD')).toThrow('zone PIN key must be 32 or 48 hex digits (double- or triple-length TDES)');
  expect(() => encryptPinBlock(clear, '0123456789ABCDEF0123456789ABCDEF')).toThrow(/single DES/);
  expect(() => encryptPinBlock(Buffer.alloc(7), DEVELOPMENT_TEST_ZPK)).toThrow('a PIN block is 8 bytes');
});
