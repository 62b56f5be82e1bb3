/**
 * Pickup codes for reissued cards (domain/reissue.ts): made from the OS's random source, stored and
 * compared only as SHA-256 (60 random bits per code: nothing to guess from a plain hash).
 */
import { createHash, randomInt } from 'node:crypto';
import { PICKUP_CODE_ALPHABET, PICKUP_CODE_LENGTH } from '../domain/reissue';

export function newPickupCode(): string {
  let code = '';
  for (let i = 0; i < PICKUP_CODE_LENGTH; i++) code += PICKUP_CODE_ALPHABET[randomInt(PICKUP_CODE_ALPHABET.length)];
  return code;
}

/** The hash of a canonical code (normalizePickupCode first). */
export function hashPickupCode(code: string): string {
  return createHash('sha256').update(`pickup:${code}`).digest('hex');
}
