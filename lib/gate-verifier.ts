/**
 * A small library a gate, venue reader or phone embeds to check a presented card.
 *
 *   const gate = await GateVerifier.fromCenter('https://center.example');  // fetches the public keys
 *   const offline = gate.verifyOffline(chipBytes);    // signature + signed validity, no network
 *   const verdict = await gate.verify(chipBytes);     // offline, then the center's online status
 *
 * Offline proves the record was issued by the center and is within its dates; only the online
 * check knows about revocation, spoiled cards and cards never sold. When the center cannot be
 * reached, `verify` returns the offline verdict with `online: false` and the gate's policy decides.
 * Depends only on node:crypto and the pure domain code.
 */
import type { KeyObject } from 'node:crypto';
import { CardRecordError, parseCardRecord, type ParsedCardRecord } from '../domain/card-record';
import { offlineVerdict, type Verdict } from '../domain/card-verdict';
import { checkCardSignature, publicKeyFromRaw, type VerifyKeys } from './card-signing';

export interface GateKey {
  keyId: string;
  /** Raw 32-byte Ed25519 public key, base64 (as GET /api/verify/keys publishes it). */
  publicKey: string;
}

export interface OfflineResult {
  verdict: Verdict;
  /** The decoded record when it decoded (even if refused). */
  parsed: ParsedCardRecord | null;
}

/** Decode, check the signature against trusted keys, then the signed validity window. */
export function verifyRecordOffline(bytes: Uint8Array, keys: VerifyKeys, nowMs: number): OfflineResult {
  let parsed: ParsedCardRecord;
  try {
    parsed = parseCardRecord(bytes);
  } catch (err) {
    if (err instanceof CardRecordError) return { verdict: { valid: false, reason: 'malformed_record', card: null }, parsed: null };
    throw err;
  }
  const sig = checkCardSignature(parsed, keys);
  if (!sig.ok) return { verdict: { valid: false, reason: sig.reason, card: null }, parsed };
  return { verdict: offlineVerdict(parsed.record, nowMs), parsed };
}

export interface GateVerifierOptions {
  keys: GateKey[];
  /** The center's base URL, for the online check (omit for offline only). */
  centerUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
}

export type GateVerdict = Verdict & { online: boolean };

export class GateVerifier {
  private readonly keys: VerifyKeys;
  private readonly httpFetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly opts: GateVerifierOptions) {
    this.keys = new Map<string, KeyObject>(opts.keys.map((k) => [k.keyId, publicKeyFromRaw(Buffer.from(k.publicKey, 'base64'))]));
    this.httpFetch = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  /** Fetches the center's published keys once; keep the result and refresh it now and then. */
  static async fromCenter(centerUrl: string, opts: Omit<GateVerifierOptions, 'keys' | 'centerUrl'> = {}): Promise<GateVerifier> {
    const res = await (opts.fetch ?? fetch)(`${centerUrl}/api/verify/keys`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 5000) });
    if (!res.ok) throw new Error(`the center answered HTTP ${res.status} for its public keys`);
    const body = (await res.json()) as { keys: GateKey[] };
    return new GateVerifier({ ...opts, keys: body.keys, centerUrl });
  }

  verifyOffline(bytes: Uint8Array): Verdict {
    return verifyRecordOffline(bytes, this.keys, this.now()).verdict;
  }

  /** Offline first (a refused card never leaves the gate), then the center's verdict. */
  async verify(bytes: Uint8Array): Promise<GateVerdict> {
    const offline = this.verifyOffline(bytes);
    if (!offline.valid || !this.opts.centerUrl) return { ...offline, online: false };
    try {
      const res = await this.httpFetch(`${this.opts.centerUrl}/api/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ record: Buffer.from(bytes).toString('base64') }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000),
      });
      if (!res.ok) return { ...offline, online: false };
      return { ...((await res.json()) as Verdict), online: true };
    } catch {
      return { ...offline, online: false };
    }
  }
}
