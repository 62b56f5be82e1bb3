/**
 * The center's record of cards, for verification: one fixed statement joining cards, issuances,
 * card_revocations and stock_cards on their primary keys (no index beyond them is needed).
 *
 * `CardStatusLoader` batches the lookups that arrive in the same turn of the event loop into one
 * `WHERE c.id IN (…)` round trip (gates at a busy entrance present cards at the same moment). It
 * never caches: every verification reads the database after its request arrived, so a revocation
 * is refused from the moment it commits.
 */
import type { CardStatus } from '../domain/card-verdict';
import { rawRows, type Db } from './db';

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * A sold stock card (activities/center/stock-cards.ts) names its stock batch as the issuance on
 * its chip, so that is the issuance the check compares with; a stock card not (yet) sold has no
 * cards row and answers with status 'stock' (refused as not issued: stolen stock is worthless).
 */
const sqlFor = (n: number) => {
  const ids = new Array(n).fill('?').join(',');
  return `SELECT c.id, COALESCE(s.batch_id, c.issuance_id) AS issuance_id, c.status, c.valid_from_ms, c.valid_until_ms, i.issuer_id, i.product_type, r.reason, r.revoked_at_ms
  FROM cards c JOIN issuances i ON i.id = c.issuance_id LEFT JOIN card_revocations r ON r.card_id = c.id LEFT JOIN stock_cards s ON s.id = c.id
  WHERE c.id IN (${ids})
  UNION ALL
  SELECT s.id, s.batch_id, 'stock', s.manufactured_at_ms, NULL, s.issuer_id, 'prepaid', NULL, NULL
  FROM stock_cards s WHERE s.id IN (${ids}) AND NOT EXISTS (SELECT 1 FROM cards c2 WHERE c2.id = s.id)`;
};

/** The statuses of these cards by id (absent ids: no such card). */
export async function lookupCardStatuses(db: Db, cardIds: string[]): Promise<Map<string, CardStatus>> {
  const result = await db.raw(sqlFor(cardIds.length), [...cardIds, ...cardIds]);
  const rows = rawRows(db, result);
  const out = new Map<string, CardStatus>();
  for (const row of rows) {
    out.set(row.id, {
      cardId: row.id,
      issuanceId: row.issuance_id,
      issuerId: row.issuer_id,
      productType: row.product_type,
      status: row.status,
      validFromMs: num(row.valid_from_ms),
      validUntilMs: num(row.valid_until_ms),
      revocation: row.reason ? { reason: row.reason, revokedAtMs: Number(row.revoked_at_ms) } : null,
    });
  }
  return out;
}

export async function lookupCardStatus(db: Db, cardId: string): Promise<CardStatus | null> {
  return (await lookupCardStatuses(db, [cardId])).get(cardId) ?? null;
}

type Waiter = { resolve(s: CardStatus | null): void; reject(err: unknown): void };

export class CardStatusLoader {
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;

  constructor(private readonly db: Db, private readonly maxBatch = 100) {}

  load(cardId: string): Promise<CardStatus | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(cardId);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(cardId, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += this.maxBatch) {
      const chunk = ids.slice(i, i + this.maxBatch);
      lookupCardStatuses(this.db, chunk).then(
        (found) => chunk.forEach((id) => batch.get(id)!.forEach((w) => w.resolve(found.get(id) ?? null))),
        (err) => chunk.forEach((id) => batch.get(id)!.forEach((w) => w.reject(err))),
      );
    }
  }
}
