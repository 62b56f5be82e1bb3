/** The center's record of one card, for verification: one primary-key lookup on three tables. */
import type { CardStatus } from '../domain/card-verdict';
import type { Db } from './db';

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function lookupCardStatus(db: Db, cardId: string): Promise<CardStatus | null> {
  const row = await db('cards as c')
    .join('issuances as i', 'i.id', 'c.issuance_id')
    .leftJoin('card_revocations as r', 'r.card_id', 'c.id')
    .where('c.id', cardId)
    .first('c.id', 'c.issuance_id', 'c.status', 'c.valid_from_ms', 'c.valid_until_ms', 'i.issuer_id', 'i.product_type', 'r.reason', 'r.revoked_at_ms');
  if (!row) return null;
  return {
    cardId: row.id,
    issuanceId: row.issuance_id,
    issuerId: row.issuer_id,
    productType: row.product_type,
    status: row.status,
    validFromMs: num(row.valid_from_ms),
    validUntilMs: num(row.valid_until_ms),
    revocation: row.reason ? { reason: row.reason, revokedAtMs: Number(row.revoked_at_ms) } : null,
  };
}
