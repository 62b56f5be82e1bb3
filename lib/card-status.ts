/** The center's record of one card, for verification: one primary-key lookup on three tables. */
import type { CardStatus } from '../domain/card-verdict';
import { isMysql, type Db } from './db';

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * One fixed statement (no query building per call: this runs for every gate at every entry). All
 * three joins are on primary keys, so no index beyond them is needed.
 */
const SQL = `SELECT c.id, c.issuance_id, c.status, c.valid_from_ms, c.valid_until_ms, i.issuer_id, i.product_type, r.reason, r.revoked_at_ms
  FROM cards c JOIN issuances i ON i.id = c.issuance_id LEFT JOIN card_revocations r ON r.card_id = c.id
  WHERE c.id = ? LIMIT 1`;

export async function lookupCardStatus(db: Db, cardId: string): Promise<CardStatus | null> {
  const result = await db.raw(SQL, [cardId]);
  // mysql2 answers [rows, fields]; SQLite answers the rows.
  const rows = (isMysql(db) ? result[0] : result) as Array<Record<string, unknown>>;
  const row = rows[0] as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
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
