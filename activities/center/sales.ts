/**
 * Recording the sale: in one transaction the seat becomes sold, the sale is written against the
 * issuer with the operator's fee from the fee rule in force, the ledger moves the prepayment to
 * the issuer's payable and the operator's revenue, and the issuance is marked sold.
 * The unique key on sales.issuance_id makes a retry find the first sale instead of a second.
 * The sale goes into its issuer's open settlement batch (activities/center/settlement-batches.ts).
 */
import { saleRecognised } from '../../domain/ledger';
import { operatorFee } from '../../domain/money';
import { loadConfig } from '../../lib/config';
import type { PeriodConfig } from '../../domain/settlement-period';
import { feeRuleAt } from './fee-rules';
import { openBatchFor } from './settlement-batches';
import { postTransaction } from './ledger';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { completeReissue } from './reissues';

export interface SaleRecord {
  saleId: number;
  priceMinor: number;
  operatorFeeMinor: number;
  issuerNetMinor: number;
  currency: string;
}

export function createSaleActivities({ db, now = Date.now, periodConfig }: CenterDeps) {
  let periods = periodConfig;
  const periodsOf = (): PeriodConfig => {
    if (!periods) {
      const c = loadConfig();
      periods = { closeTime: c.SETTLEMENT_CLOSE_TIME, timeZone: c.SETTLEMENT_TIME_ZONE };
    }
    return periods;
  };
  return {
    async recordSale(issuanceId: string, cardId: string): Promise<SaleRecord> {
      return db.transaction(async (trx) => {
        const done = await trx('sales').where({ issuance_id: issuanceId }).first();
        if (done) return toRecord(done);
        const iss = await trx('issuances').where({ id: issuanceId }).first();
        if (!iss) throw refuse('InvariantBroken', `no issuance ${issuanceId}`);
        const soldAt = now();
        const rule = await feeRuleAt(trx, iss.issuer_id, iss.product_type, soldAt);
        if (!rule) throw refuse('InvariantBroken', `issuer ${iss.issuer_id} has no fee rule in force; refusing to record the sale`);
        const selection = JSON.parse(iss.selection);
        if (selection.kind === 'seat') {
          const sold = await trx('seats')
            .where({ id: selection.seatId, status: 'held', hold_issuance_id: issuanceId })
            .update({ status: 'sold', sold_issuance_id: issuanceId, hold_issuance_id: null, held_until_ms: null });
          if (sold !== 1) throw refuse('InvariantBroken', `seat ${selection.seatId} is not held by ${issuanceId}; refusing to sell it`);
        }
        // A replacement card: the reissue is completed with its new card in the same transaction.
        if (selection.kind === 'reissue') await completeReissue(trx, issuanceId, selection.originalCardId, cardId, soldAt);
        const price = Number(iss.price_minor);
        const fee = operatorFee(price, rule);
        const row = {
          issuance_id: issuanceId,
          issuer_id: iss.issuer_id,
          product_id: iss.product_id,
          card_id: cardId,
          price_minor: price,
          customer_fee_minor: Number(iss.customer_fee_minor),
          operator_fee_minor: fee,
          issuer_net_minor: price - fee,
          fee_bps: rule.bps,
          fee_fixed_minor: rule.fixedMinor,
          currency: iss.currency,
          sold_at_ms: soldAt,
          title: String(iss.title).slice(0, 300),
          batch_id: await openBatchFor(trx, iss.issuer_id, soldAt, periodsOf(), soldAt),
        };
        const [id] = await trx('sales').insert(row);
        await postTransaction(trx, {
          kind: 'sale',
          ref: issuanceId,
          currency: iss.currency,
          description: `Sale of ${iss.title} (card ${cardId})`,
          postings: saleRecognised({ issuerId: iss.issuer_id, priceMinor: price, operatorFeeMinor: fee, customerFeeMinor: Number(iss.customer_fee_minor) }),
          atMs: soldAt,
        });
        await trx('issuances').where({ id: issuanceId }).update({ status: 'sold', updated_at_ms: now() });
        return toRecord({ ...row, id });
      });
    },
  };
}

function toRecord(r: Record<string, unknown>): SaleRecord {
  return {
    saleId: Number(r.id),
    priceMinor: Number(r.price_minor),
    operatorFeeMinor: Number(r.operator_fee_minor),
    issuerNetMinor: Number(r.issuer_net_minor),
    currency: String(r.currency),
  };
}
