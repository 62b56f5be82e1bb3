/**
 * The operator's fee rule in force for an issuer's product type at a moment: the newest rule
 * effective at or before it, a product-type rule winning over the issuer-wide one of the same date.
 */
import type { Knex } from 'knex';
import type { FeeRule } from '../../domain/money';

export interface DatedFeeRule extends FeeRule {
  id: number;
  reissueFeeMinor: number;
  effectiveFromMs: number;
}

export async function feeRuleAt(db: Knex, issuerId: string, productType: string, atMs: number): Promise<DatedFeeRule | null> {
  const row = await db('fee_rules')
    .where({ issuer_id: issuerId })
    .andWhere((w) => w.whereNull('product_type').orWhere('product_type', productType))
    .andWhere('effective_from_ms', '<=', atMs)
    .orderBy([{ column: 'effective_from_ms', order: 'desc' }, { column: 'product_type', order: 'desc', nulls: 'last' }, { column: 'id', order: 'desc' }])
    .first();
  if (!row) return null;
  return { id: Number(row.id), bps: Number(row.bps), fixedMinor: Number(row.fixed_minor), reissueFeeMinor: Number(row.reissue_fee_minor), effectiveFromMs: Number(row.effective_from_ms) };
}
