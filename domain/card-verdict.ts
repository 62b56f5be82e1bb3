/**
 * Whether a presented card is valid, and if not, why. Pure rules shared by the center's
 * verification endpoint and the gate library (lib/gate-verifier.ts).
 *
 * Offline (the chip alone): the record decodes, is signed by a key the verifier trusts, and the
 * signed validity window covers now. Online (the center's record): the card exists, belongs to the
 * issuance the chip names, was issued (not spoiled, not still in production), is not revoked, and
 * its validity window covers now. The first failing check is the reason.
 */
import type { CardRecord } from './card-record';

export const REFUSAL_REASONS = [
  'malformed_record',
  'unsigned_record',
  'unknown_key',
  'bad_signature',
  'unknown_card',
  'record_mismatch',
  'not_issued',
  'spoiled',
  'revoked',
  'not_yet_valid',
  'expired',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The center's view of one card (a primary-key lookup; see lib/card-status.ts). */
export interface CardStatus {
  cardId: string;
  issuanceId: string;
  issuerId: string;
  productType: string;
  status: string;
  validFromMs: number | null;
  validUntilMs: number | null;
  revocation: { reason: string; revokedAtMs: number } | null;
}

/** What a verifier may show: nothing personal, only what the card itself carries. */
export interface VerifiedCard {
  cardId: string;
  issuerId: string;
  productType: string;
  validFrom: string | null;
  validUntil: string | null;
  revokedAt?: string;
  revocationReason?: string;
}

export interface Verdict {
  valid: boolean;
  reason: RefusalReason | null;
  card: VerifiedCard | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const ms = (s: string | null | undefined) => (s ? Date.parse(s) : null);

export function windowReason(validFromMs: number | null, validUntilMs: number | null, nowMs: number): RefusalReason | null {
  if (validFromMs !== null && nowMs < validFromMs) return 'not_yet_valid';
  if (validUntilMs !== null && nowMs >= validUntilMs) return 'expired';
  return null;
}

export function cardFromRecord(r: CardRecord): VerifiedCard {
  return { cardId: r.cardId, issuerId: r.issuerId, productType: r.productType, validFrom: r.validFrom ?? null, validUntil: r.validUntil ?? null };
}

/** The offline part, after the signature was checked good. */
export function offlineVerdict(r: CardRecord, nowMs: number): Verdict {
  const reason = windowReason(ms(r.validFrom), ms(r.validUntil), nowMs);
  return { valid: reason === null, reason, card: cardFromRecord(r) };
}

/** The online part: the center's record of the card (null: no such card). */
export function onlineVerdict(status: CardStatus | null, nowMs: number, presented?: CardRecord): Verdict {
  if (!status) return { valid: false, reason: 'unknown_card', card: null };
  const card: VerifiedCard = {
    cardId: status.cardId,
    issuerId: status.issuerId,
    productType: status.productType,
    validFrom: iso(status.validFromMs),
    validUntil: iso(status.validUntilMs),
    ...(status.revocation ? { revokedAt: iso(status.revocation.revokedAtMs)!, revocationReason: status.revocation.reason } : {}),
  };
  const refuse = (reason: RefusalReason): Verdict => ({ valid: false, reason, card });
  if (presented && (presented.issuanceId !== status.issuanceId || presented.issuerId !== status.issuerId)) return refuse('record_mismatch');
  if (status.revocation) return refuse('revoked');
  if (status.status === 'spoiled') return refuse('spoiled');
  if (status.status !== 'issued') return refuse('not_issued');
  const window = windowReason(status.validFromMs, status.validUntilMs, nowMs);
  if (window) return refuse(window);
  return { valid: true, reason: null, card };
}
