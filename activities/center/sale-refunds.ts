/**
 * Refunding a sold card after the fact (a cancelled event, a revoked card with a refund). In one
 * transaction: the refund row (one per sale: `sale_refunds.sale_id` is unique, so a retry finds
 * the first), and the ledger reversal of the sale (kind 'refund', ref `sale:<issuance>`). The
 * refund is not settled yet (`settlement_id` null): the issuer's next settlement claims it as a
 * negative item, whether or not the sale itself was already settled.
 */
import type { Knex } from 'knex';
import { saleRefunded } from '../../domain/ledger';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { postTransaction } from './ledger';

export type SaleRefundReason = 'refund' | 'revoked';

export interface SaleRefundRequest {
  /** The sale to refund, by its issuance id. */
  issuanceId: string;
  reason: SaleRefundReason;
  note?: string;
}

export interface SaleRefundRecord {
  refundId: number;
  saleId: number;
  issuerId: string;
  priceMinor: number;
  operatorFeeMinor: number;
  issuerNetMinor: number;
  currency: string;
  refundedAtMs: number;
  /** False when the sale had already been refunded (a retry): the first refund is returned. */
  created: boolean;
}

function toRecord(r: Record<string, unknown>, created: boolean): SaleRefundRecord {
  return {
    refundId: Number(r.id),
    saleId: Number(r.sale_id),
    issuerId: String(r.issuer_id),
    priceMinor: Number(r.price_minor),
    operatorFeeMinor: Number(r.operator_fee_minor),
    issuerNetMinor: Number(r.issuer_net_minor),
    currency: String(r.currency),
    refundedAtMs: Number(r.refunded_at_ms),
    created,
  };
}

/** Refunds a sold card once; a second call for the same sale returns the first refund. */
export async function refundSale(db: Knex, req: SaleRefundRequest, atMs: number): Promise<SaleRefundRecord> {
  return db.transaction(async (trx) => {
    const sale = await trx('sales').where({ issuance_id: req.issuanceId }).first();
    if (!sale) throw refuse('UnknownItem', `no sale for issuance ${req.issuanceId}`);
    const existing = await trx('sale_refunds').where({ sale_id: sale.id }).first();
    if (existing) return toRecord(existing, false);
    const row = {
      sale_id: Number(sale.id),
      issuer_id: sale.issuer_id,
      issuance_id: sale.issuance_id,
      card_id: sale.card_id,
      price_minor: Number(sale.price_minor),
      operator_fee_minor: Number(sale.operator_fee_minor),
      issuer_net_minor: Number(sale.issuer_net_minor),
      currency: sale.currency,
      reason: req.reason,
      note: req.note?.slice(0, 300) ?? null,
      refunded_at_ms: atMs,
      settlement_id: null,
    };
    const [id] = await trx('sale_refunds').insert(row);
    await postTransaction(trx, {
      kind: 'refund',
      ref: `sale:${sale.issuance_id}`,
      currency: sale.currency,
      description: `Refund of sale ${sale.id} (card ${sale.card_id}, ${req.reason})`,
      postings: saleRefunded({ issuerId: sale.issuer_id, priceMinor: row.price_minor, operatorFeeMinor: row.operator_fee_minor }),
      atMs,
    });
    return toRecord({ ...row, id }, true);
  });
}

export function createSaleRefundActivities({ db, now = Date.now }: CenterDeps) {
  return {
    /** Center activity: refund a sold card (idempotent per sale). */
    async refundSoldCard(req: SaleRefundRequest): Promise<SaleRefundRecord> {
      return refundSale(db, req, now());
    },
  };
}
