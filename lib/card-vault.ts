/**
 * The card vault: card numbers in, tokens out. Everything past the edge (the kiosk endpoint that
 * stands for the terminal's card reader, or the center activity that receives a terminal's
 * encrypted read) handles the token only; the number is decrypted again only inside the center
 * activity that talks to the payment host, for the length of one request.
 *
 * Storage: `card_tokens` (token, key id, AES-256-GCM ciphertext, last four digits). The token is
 * random (`tok_` + 24 base62 characters), so it says nothing about the number; the ciphertext
 * binds the token as additional data, so a row's ciphertext cannot be moved under another token.
 * Keys come from configuration behind the same KeyProvider seam as the payload codec:
 *   CARD_VAULT_KEYS="v2:<base64 32 bytes>,v1:<…>"  CARD_VAULT_KEY_ID=v2
 * or, unset (the embedded default), a key generated into $DATA_DIR/card-vault-keys.json.
 *
 * Nothing here logs, and errors never carry the number.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './db';
import type { KeyProvider } from './payload-codec';
import { StaticKeyProvider, parseKeySpec } from './payload-keys';

import { CARD_TOKEN_PATTERN as TOKEN_PATTERN } from '../domain/payments';

export { TOKEN_PATTERN };
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export type EntryMode = 'manual' | 'chip' | 'magstripe' | 'contactless';

export interface CardData {
  pan: string;
  /** YYMM, when the reader gave one. */
  expiry?: string;
}

export interface CardToken {
  token: string;
  last4: string;
}

export class CardDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CardDataError';
  }
}

export function checkCardData(card: CardData): void {
  if (typeof card?.pan !== 'string' || !/^[0-9]{12,19}$/.test(card.pan)) throw new CardDataError('a card number is 12 to 19 digits');
  if (card.expiry !== undefined && !/^[0-9]{2}(0[1-9]|1[0-2])$/.test(card.expiry)) throw new CardDataError('an expiry date is YYMM');
}

function newToken(): string {
  let s = 'tok_';
  for (let i = 0; i < 24; i++) s += BASE62[randomInt(62)];
  return s;
}

export interface CardVault {
  tokenise(card: CardData, entryMode: EntryMode): Promise<CardToken>;
  detokenise(token: string): Promise<CardData & { last4: string }>;
}

export function createCardVault(db: Db, keys: KeyProvider, now: () => number = Date.now): CardVault {
  return {
    async tokenise(card, entryMode) {
      checkCardData(card);
      const token = newToken();
      const keyId = keys.currentKeyId();
      const key = await keys.key(keyId);
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(`${keyId}|${token}`));
      const plain = Buffer.from(JSON.stringify({ pan: card.pan, expiry: card.expiry ?? null }));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      plain.fill(0);
      const last4 = card.pan.slice(-4);
      await db('card_tokens').insert({
        token,
        key_id: keyId,
        ciphertext: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64'),
        last4,
        entry_mode: entryMode,
        created_at_ms: now(),
      });
      return { token, last4 };
    },

    async detokenise(token) {
      if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw new CardDataError('not a card token');
      const row = await db('card_tokens').where({ token }).first('key_id', 'ciphertext', 'last4');
      if (!row) throw new CardDataError(`unknown card token ${token}`);
      const key = await keys.key(row.key_id);
      const data = Buffer.from(row.ciphertext, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${row.key_id}|${token}`));
      decipher.setAuthTag(data.subarray(data.length - 16));
      const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
      const parsed = JSON.parse(plain.toString('utf8')) as { pan: string; expiry: string | null };
      plain.fill(0);
      return { pan: parsed.pan, ...(parsed.expiry ? { expiry: parsed.expiry } : {}), last4: row.last4 };
    },
  };
}

/** Vault keys from CARD_VAULT_KEYS, or the data directory's key file (made on first use). */
export function cardVaultKeyProvider(env: NodeJS.ProcessEnv, dataDir: string): StaticKeyProvider {
  return keysFromEnvOrFile(env.CARD_VAULT_KEYS, env.CARD_VAULT_KEY_ID, path.join(dataDir, 'card-vault-keys.json'));
}

/**
 * The card reader key that terminals encrypt card reads under and the center decrypts them with:
 * CARD_READER_KEYS / CARD_READER_KEY_ID, or $DATA_DIR/card-reader-keys.json (the embedded default,
 * shared by the processes of one machine).
 */
export function cardReaderKeyProvider(env: NodeJS.ProcessEnv, dataDir: string): StaticKeyProvider {
  return keysFromEnvOrFile(env.CARD_READER_KEYS, env.CARD_READER_KEY_ID, path.join(dataDir, 'card-reader-keys.json'));
}

function keysFromEnvOrFile(spec: string | undefined, currentId: string | undefined, file: string): StaticKeyProvider {
  if (spec) return parseKeySpec(spec, currentId || undefined);
  const dataDir = path.dirname(file);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, JSON.stringify({ current: 'v1', keys: { v1: randomBytes(32).toString('base64') } }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
    }
  }
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: Record<string, string> };
  return new StaticKeyProvider(new Map(Object.entries(saved.keys).map(([id, b64]) => [id, Buffer.from(b64, 'base64')])), saved.current);
}
