/** Revocation of an issued card: why, who asked, and the workflow's identity. */
export const REVOCATION_REASONS = ['lost', 'stolen', 'fraud', 'issuer_request'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** Who asked: an issuer's server, or the card's registered owner at a kiosk. */
export type RevocationRequester = IssuerRequester | OwnerRequester;

export interface IssuerRequester {
  kind: 'issuer';
  /** The issuer's id. */
  id: string;
  /** The issuer API key that made the request (its id, never the secret). */
  keyId: string;
}

/** The registered user who owns the card, logged in with user ID + PIN (no personal data here). */
export interface OwnerRequester {
  kind: 'owner';
  /** The user ID (domain/users.ts); the card's issuance must belong to it. */
  id: string;
  /** The kiosk where the owner reported the card. */
  terminalId: string;
}

/** Reasons an owner may give at a kiosk. */
export const OWNER_REVOCATION_REASONS = ['lost', 'stolen'] as const;

/** The memo line naming who asked (ids only). */
export function requesterLabel(r: RevocationRequester): string {
  return r.kind === 'issuer' ? `issuer ${r.id} (API key ${r.keyId})` : `registered owner ${r.id} at kiosk ${r.terminalId}`;
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
