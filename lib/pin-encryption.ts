/**
 * Encrypts and decrypts ISO 9564 format 0 PIN blocks under a zone PIN key (ZPK) with TDES-ECB
 * (node:crypto). Keys are hex: 32 digits (double length, K1‖K2, used as K1‖K2‖K1) or 48 digits
 * (triple length). Keys with K1 = K2 (single DES in disguise) are refused.
 *
 * DEVELOPMENT_TEST_ZPK is a published, well-known test key (see docs/payment-host-protocol.md);
 * the simulator and tests use it. Real ZPKs come from the host's key exchange / the DB and are
 * never logged. Clear blocks are zeroed after use; nothing here logs or throws key or PIN bytes.
 */
import crypto from 'node:crypto';
import { pinBlockFormat0 } from '../domain/pin-block';

export const DEVELOPMENT_TEST_ZPK = '0123456789ABCDEFFEDCBA9876543210';

function tdesKey(zpkHex: string): { algorithm: string; key: Buffer } {
  if (typeof zpkHex !== 'string' || !/^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{48})$/.test(zpkHex)) {
    throw new Error('zone PIN key must be 32 or 48 hex digits (double- or triple-length TDES)');
  }
  const key = Buffer.from(zpkHex, 'hex');
  if (key.subarray(0, 8).equals(key.subarray(8, 16))) throw new Error('zone PIN key halves are equal (single DES); refused');
  return { algorithm: key.length === 16 ? 'des-ede-ecb' : 'des-ede3-ecb', key };
}

function run(decrypt: boolean, block: Buffer, zpkHex: string): Buffer {
  if (!Buffer.isBuffer(block) || block.length !== 8) throw new Error('a PIN block is 8 bytes');
  const { algorithm, key } = tdesKey(zpkHex);
  const cipher = decrypt ? crypto.createDecipheriv(algorithm, key, null) : crypto.createCipheriv(algorithm, key, null);
  cipher.setAutoPadding(false);
  const out = Buffer.concat([cipher.update(block), cipher.final()]);
  key.fill(0);
  return out;
}

export function encryptPinBlock(block: Buffer, zpkHex: string): Buffer {
  return run(false, block, zpkHex);
}

export function decryptPinBlock(encrypted: Buffer, zpkHex: string): Buffer {
  return run(true, encrypted, zpkHex);
}

/**
 * The PIN pad's one call: clear PIN in, encrypted block (hex, for field 52) out. The clear block
 * exists only inside this function and is wiped before it returns.
 */
export function encryptPinForHost(pin: string, pan: string, zpkHex: string): string {
  const clear = pinBlockFormat0(pin, pan);
  try {
    return encryptPinBlock(clear, zpkHex).toString('hex').toUpperCase();
  } finally {
    clear.fill(0);
  }
}
