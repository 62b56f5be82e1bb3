/**
 * The center's Ed25519 key for card records (node:crypto), and signing/verifying v2 records.
 *
 * Configuration (docs/configuration.md):
 *   CARD_SIGNING_KEY     the private key: PKCS#8 PEM, or base64 of its DER
 *   CARD_SIGNING_KEY_ID  optional; default derived from the public key (see keyIdOf)
 *   CARD_VERIFY_KEYS     optional retired public keys still accepted: "id:base64(raw 32 bytes),…"
 * Unset, the embedded default generates one key into $DATA_DIR/card-signing-key.json on first use
 * (mode 0600), like lib/payload-keys.ts, so the center and its API agree across restarts.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildCardRecordV2, sealCardRecordV2, type CardRecord, type ParsedCardRecord } from '../domain/card-record';

export interface PublishedKey {
  keyId: string;
  /** The raw 32-byte public key, base64. */
  publicKey: string;
  /** The same key as a JWK (RFC 8037). */
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; alg: 'EdDSA'; use: 'sig' };
  current: boolean;
}

/** A public key by id: what a gate needs to verify offline. */
export type VerifyKeys = Map<string, KeyObject>;

export class CardSigningKeys {
  readonly verifyKeys: VerifyKeys = new Map();

  constructor(private readonly privateKey: KeyObject, readonly currentKeyId: string, retired: { keyId: string; publicKey: KeyObject }[] = []) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the card signing key must be an Ed25519 private key');
    this.verifyKeys.set(currentKeyId, createPublicKey(privateKey));
    for (const r of retired) if (!this.verifyKeys.has(r.keyId)) this.verifyKeys.set(r.keyId, r.publicKey);
  }

  sign(data: Uint8Array): Uint8Array {
    return sign(null, data, this.privateKey);
  }

  published(): PublishedKey[] {
    return [...this.verifyKeys].map(([keyId, key]) => publishKey(keyId, key, keyId === this.currentKeyId));
  }
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' }) as { x: string };
  return Buffer.from(jwk.x, 'base64url');
}

/** "cs-" + the first 12 hex digits of SHA-256 of the raw public key: stable and collision-safe enough. */
export function keyIdOf(publicKey: KeyObject): string {
  return `cs-${createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 12)}`;
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

function publishKey(keyId: string, key: KeyObject, current: boolean): PublishedKey {
  const raw = rawPublicKey(key);
  return { keyId, publicKey: raw.toString('base64'), jwk: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url'), kid: keyId, alg: 'EdDSA', use: 'sig' }, current };
}

export function parsePrivateKey(spec: string): KeyObject {
  const text = spec.trim();
  try {
    return text.startsWith('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new Error(`CARD_SIGNING_KEY is not a PKCS#8 private key (PEM or base64 DER): ${(err as Error).message}`);
  }
}

export function parseRetiredKeys(spec: string | undefined): { keyId: string; publicKey: KeyObject }[] {
  const out: { keyId: string; publicKey: KeyObject }[] = [];
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new Error('CARD_VERIFY_KEYS must look like "id:base64publickey,id2:base64publickey"');
    out.push({ keyId: part.slice(0, colon), publicKey: publicKeyFromRaw(Buffer.from(part.slice(colon + 1), 'base64')) });
  }
  return out;
}

export function newSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

const cache = new Map<string, CardSigningKeys>();

/** The center's card keys from configuration, or the data directory's key file (made on first use). */
export function cardSigningKeys(env: NodeJS.ProcessEnv, dataDir: string): CardSigningKeys {
  const cacheKey = `${env.CARD_SIGNING_KEY ?? ''}|${env.CARD_SIGNING_KEY_ID ?? ''}|${env.CARD_VERIFY_KEYS ?? ''}|${path.resolve(dataDir)}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const retired = parseRetiredKeys(env.CARD_VERIFY_KEYS);
  let keys: CardSigningKeys;
  if (env.CARD_SIGNING_KEY) {
    const privateKey = parsePrivateKey(env.CARD_SIGNING_KEY);
    keys = new CardSigningKeys(privateKey, env.CARD_SIGNING_KEY_ID || keyIdOf(createPublicKey(privateKey)), retired);
  } else {
    const file = path.join(dataDir, 'card-signing-key.json');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(dataDir, { recursive: true });
      const pem = newSigningKeyPem();
      const keyId = keyIdOf(createPublicKey(pem));
      try {
        fs.writeFileSync(file, JSON.stringify({ keyId, privateKeyPem: pem }), { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
      }
    }
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { keyId: string; privateKeyPem: string };
    keys = new CardSigningKeys(createPrivateKey(saved.privateKeyPem), saved.keyId, retired);
  }
  cache.set(cacheKey, keys);
  return keys;
}

/** A complete signed v2 record. */
export function signCardRecord(keys: CardSigningKeys, record: CardRecord, valueArea: Uint8Array): Uint8Array {
  const unsigned = buildCardRecordV2(record, { keyId: keys.currentKeyId, valueArea });
  return sealCardRecordV2(unsigned, keys.sign(unsigned.toSign));
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'unsigned_record' | 'unknown_key' | 'bad_signature' };

/** Checks a parsed record's signature against the keys a verifier trusts. */
export function checkCardSignature(parsed: ParsedCardRecord, keys: VerifyKeys): SignatureCheck {
  if (parsed.version < 2 || !parsed.keyId || !parsed.signedBytes || !parsed.signature) return { ok: false, reason: 'unsigned_record' };
  const key = keys.get(parsed.keyId);
  if (!key) return { ok: false, reason: 'unknown_key' };
  return verify(null, parsed.signedBytes, key, parsed.signature) ? { ok: true } : { ok: false, reason: 'bad_signature' };
}
