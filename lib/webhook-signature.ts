/**
 * Outgoing webhook signatures: header `t=<unix>,v1=<hex HMAC-SHA256 of "t.rawBody">`.
 * The receiver recomputes the HMAC over the exact raw body and rejects timestamps more than
 * `toleranceSec` away from its clock (replay protection). Node's crypto does the HMAC; the
 * header format is ours, so it is written here.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-icc-signature';
export const EVENT_ID_HEADER = 'x-icc-event-id';
export const DEFAULT_TOLERANCE_SEC = 300;

export function signPayload(secret: string, rawBody: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${rawBody}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: string };

export function verifySignature(
  secret: string,
  rawBody: string,
  header: string | undefined,
  nowUnixSeconds: number,
  toleranceSec = DEFAULT_TOLERANCE_SEC,
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing signature header' };
  const parts = new Map<string, string[]>();
  for (const piece of header.split(',')) {
    const eq = piece.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed signature header' };
    const k = piece.slice(0, eq).trim();
    parts.set(k, [...(parts.get(k) ?? []), piece.slice(eq + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t)) return { ok: false, reason: 'signature timestamp missing' };
  if (Math.abs(nowUnixSeconds - t) > toleranceSec) return { ok: false, reason: 'signature timestamp outside tolerance' };
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${rawBody}`).digest('hex'), 'utf8');
  for (const candidate of parts.get('v1') ?? []) {
    const got = Buffer.from(candidate, 'utf8');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true, timestamp: t };
  }
  return { ok: false, reason: 'signature mismatch' };
}
