/**
 * Reissue of a revoked card (a lost or stolen one): the issuer asks for it and gets a pickup code
 * for the holder; at a kiosk the holder enters the code as the item of an issuance, pays the
 * reissue fee if there is one, and gets an identical card — the same seat, pass or prepaid value
 * and validity — with a new card id. The revoked card stays revoked. Pure rules and types.
 */
import type { Selection } from './issuance';

export const REISSUE_STATUSES = ['pending', 'claimed', 'completed'] as const;
export type ReissueStatus = (typeof REISSUE_STATUSES)[number];

/**
 * Pickup codes: 12 characters of Crockford's base32 (60 random bits), shown as XXXX-XXXX-XXXX.
 * Typed codes are read case-insensitively, without hyphens or spaces, with O→0 and I/L→1.
 */
export const PICKUP_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const PICKUP_CODE_LENGTH = 12;
/** What the kiosk sends the workflow instead of the code: its SHA-256 in hex. */
export const PICKUP_CODE_HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The canonical form of a typed code, or null when it cannot be one. */
export function normalizePickupCode(typed: string): string | null {
  if (typeof typed !== 'string' || typed.length > 40) return null;
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== PICKUP_CODE_LENGTH) return null;
  for (const ch of s) if (!PICKUP_CODE_ALPHABET.includes(ch)) return null;
  return s;
}

export function formatPickupCode(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

/** The reissue issuance's item as stored on its issuances row: the card it replaces (never the code). */
export interface StoredReissueSelection {
  kind: 'reissue';
  originalCardId: string;
}

/** An issuances row's selection: the kiosk's items as selected, a reissue as the card it replaces. */
export type StoredSelection = Exclude<Selection, { kind: 'reissue' }> | StoredReissueSelection;

export function reissuedEventId(issuanceId: string): string {
  return `evt-card.reissued-${issuanceId}`;
}
