/**
 * Payload encryption keys from configuration.
 *   PAYLOAD_KEYS="k2:<base64 32 bytes>,k1:<base64 32 bytes>"  PAYLOAD_KEY_ID=k2
 * The current key encrypts; every listed key decrypts (rotation). Unset, the embedded default
 * keeps one generated key in $DATA_DIR/payload-keys.json (created on first start, mode 0600),
 * so a restarted system still reads its own history.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KeyProvider } from './payload-codec';

export class StaticKeyProvider implements KeyProvider {
  constructor(private readonly keys: Map<string, Buffer>, private readonly current: string) {
    if (!keys.has(current)) throw new Error(`payload key "${current}" is not among the configured keys`);
    for (const [id, key] of keys) if (key.length !== 32) throw new Error(`payload key "${id}" must be 32 bytes (AES-256), got ${key.length}`);
  }
  currentKeyId(): string {
    return this.current;
  }
  async key(keyId: string): Promise<Buffer> {
    const k = this.keys.get(keyId);
    if (!k) throw new Error(`no payload key "${keyId}" is configured; cannot decrypt`);
    return k;
  }
}

export function parseKeySpec(spec: string, currentId?: string): StaticKeyProvider {
  const keys = new Map<string, Buffer>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    if (colon <= 0) throw new Error('PAYLOAD_KEYS must look like "id:base64key,id2:base64key"');
    keys.set(part.slice(0, colon), Buffer.from(part.slice(colon + 1), 'base64'));
  }
  if (keys.size === 0) throw new Error('PAYLOAD_KEYS lists no keys');
  return new StaticKeyProvider(keys, currentId ?? [...keys.keys()][0]);
}

export function newKeySpec(id = `k${Date.now()}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** Keys from PAYLOAD_KEYS, or the data directory's key file (made on first use). */
export function payloadKeyProvider(env: NodeJS.ProcessEnv, dataDir: string): StaticKeyProvider {
  if (env.PAYLOAD_KEYS) return parseKeySpec(env.PAYLOAD_KEYS, env.PAYLOAD_KEY_ID || undefined);
  const file = path.join(dataDir, 'payload-keys.json');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    const id = 'k1';
    try {
      fs.writeFileSync(file, JSON.stringify({ current: id, keys: { [id]: randomBytes(32).toString('base64') } }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
    }
  }
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { current: string; keys: Record<string, string> };
  return new StaticKeyProvider(new Map(Object.entries(saved.keys).map(([id, b64]) => [id, Buffer.from(b64, 'base64')])), saved.current);
}
