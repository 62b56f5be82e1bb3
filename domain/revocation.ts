/** Revocation of an issued card: why, who asked, and the workflow's identity. */
export const REVOCATION_REASONS = ['lost', 'stolen', 'fraud', 'issuer_request'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface RevocationRequester {
  /** Who asked: an issuer's server (later also a registered owner at a kiosk). */
  kind: 'issuer';
  /** The issuer's id. */
  id: string;
  /** The issuer API key that made the request (its id, never the secret). */
  keyId: string;
}

export interface RevocationInput {
  cardId: string;
  reason: RevocationReason;
  requestedBy: RevocationRequester;
  /** The caller's own id for the request (dedupe and audit). */
  requestId: string;
}

export interface RevocationResult {
  cardId: string;
  revokedAtMs: number;
  /** True when the card had already been revoked (by this or an earlier request). */
  alreadyRevoked: boolean;
  eventId: string;
}

/** One revocation at a time per card, and a repeated request finds the same one. */
export function revocationWorkflowId(cardId: string): string {
  return `revocation-${cardId}`;
}

export function revocationEventId(cardId: string): string {
  return `evt-card.revoked-${cardId}`;
}
