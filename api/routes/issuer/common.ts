/**
 * Pieces every issuer API module uses: schemas of ids, text and money; ownership lookups that
 * answer 404 for anything that is not the caller's; the change log; row locks on MySQL.
 */
import { z } from 'zod';
import type { Knex } from 'knex';
import { isMysql } from '../../../lib/db';
import { ApiError } from '../../errors';
import type { IssuerContext } from '../../issuer-auth';

/** A positive integer id in a path (a string in the URL, a number to the handler). */
export const idString = z.string().regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer id').transform(Number);
export const idParams = <K extends string>(...names: K[]) => z.object(Object.fromEntries(names.map((n) => [n, idString])) as { [P in K]: typeof idString }).strict();

export const positiveId = z.number().int().min(1).max(4_294_967_295);

/** One line of text: no control characters, no leading or trailing spaces. */
export const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$/, 'must be one line of text without leading or trailing spaces');

/** An amount in the currency's minor unit (yen have none: ¥12,000 is 12000). */
export const money = z.number().int().min(0).max(100_000_000);
export const positiveMoney = z.number().int().min(1).max(100_000_000);

export const pageLimit = z
  .string()
  .regex(/^(?:[1-9][0-9]{0,2}|1000)$/, 'must be 1-1000')
  .transform(Number);

export const isoTime = (ms: number | string | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

export const notFound = (what: string, id: string | number) => new ApiError(404, 'not_found', `There is no ${what} ${id} of yours.`);

/** One of the issuer's own cards (through its issuance), or undefined: another issuer's card looks like no card. */
export function issuerCard(db: Knex, cardId: string, issuerId: string): Promise<{ id: string; status: string; issuance_id: string; product_type: string } | undefined> {
  return db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', cardId).where('i.issuer_id', issuerId).first('c.id', 'c.status', 'c.issuance_id', 'i.product_type');
}

/** FOR UPDATE on MySQL (SQLite has one writer at a time anyway). */
export function locked<T extends Knex.QueryBuilder>(trx: Knex, q: T): T {
  return isMysql(trx) ? (q.forUpdate() as T) : q;
}

export async function ownProduct(trx: Knex, issuer: IssuerContext, productId: number, opts: { lock?: boolean; type?: string } = {}) {
  let q = trx('products').where({ id: productId, issuer_id: issuer.issuerId });
  if (opts.lock) q = locked(trx, q);
  const p = await q.first();
  if (!p) throw notFound('product', productId);
  if (opts.type && p.type !== opts.type) throw new ApiError(409, 'wrong_product_type', `Product ${productId} is a ${p.type} product; this needs a ${opts.type} product.`);
  return p;
}

/** Records one change made through the API, in the change's own transaction. */
export async function logChange(trx: Knex, issuer: IssuerContext, operation: string, entity: string, entityId: string | number, detail?: unknown): Promise<void> {
  const json = detail === undefined ? null : JSON.stringify(detail);
  await trx('issuer_api_changes').insert({
    issuer_id: issuer.issuerId,
    key_id: issuer.keyId,
    operation,
    entity,
    entity_id: String(entityId),
    detail: json && json.length > 4000 ? json.slice(0, 4000) : json,
    at_ms: Date.now(),
  });
}

/** Inserts a row and returns its id on both engines. */
export async function insertId(trx: Knex, table: string, row: Record<string, unknown>): Promise<number> {
  const [id] = await trx(table).insert(row);
  return Number(id);
}

export const n = (v: unknown) => Number(v ?? 0);
