/**
 * User PINs, hashed with scrypt (node:crypto), a memory-hard function: each guess costs
 * 128 · N · r bytes of memory and matching time, so a stolen table cannot be brute-forced cheaply
 * on GPUs even though a PIN has few digits (the lockout after five wrong PINs is the online defence).
 *
 * Parameters: N = 2^15 (cost), r = 8 (block size), p = 1 (parallelism) → 32 MiB and about 50-100 ms
 * per hash on one core; a 16-byte random salt per PIN; a 32-byte key. The stored string names the
 * algorithm and its parameters (`scrypt$N=32768,r=8,p=1$<salt b64>$<hash b64>`), so they can be
 * raised later without breaking existing hashes. Comparison is constant-time (timingSafeEqual).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const PIN_SCRYPT_PARAMS: ScryptParams = { N: 1 << 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(pin: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(pin.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPin(pin: string, params: ScryptParams = PIN_SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(pin, salt, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function parsePinHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } {
  const m = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) throw new Error('not a scrypt PIN hash');
  return { params: { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }, salt: Buffer.from(m[4], 'base64'), key: Buffer.from(m[5], 'base64') };
}

/** True when the PIN matches the stored hash (constant-time comparison of the derived keys). */
export async function verifyPin(pin: string, stored: string): Promise<boolean> {
  const { params, salt, key } = parsePinHash(stored);
  const got = await derive(pin, salt, params);
  return got.length === key.length && timingSafeEqual(got, key);
}

/** A hash to verify against when the user does not exist, so the answer takes the same time. */
let dummy: Promise<string> | null = null;
export function dummyPinHash(): Promise<string> {
  dummy ??= hashPin(randomBytes(8).toString('hex'));
  return dummy;
}
