/**
 * Payment records. Keyed by (issuance, attempt) so a retried activity finds its own row instead of
 * writing a second one; status moves only forward with conditional updates. Each change posts its
 * ledger transaction in the same DB transaction.
 */
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { cashCollected, cashRefunded } from '../../domain/ledger';
import { postTransaction } from './ledger';

export interface CashPayment {
  amountMinor: number;
  tenderedMinor: number;
  changeMinor: number;
  currency: string;
  /** Which payment attempt of the issuance this is (1 unless an earlier method was declined). */
  attempt?: number;
}

export function createPaymentActivities({ db, now = Date.now }: CenterDeps) {
  return {
    async recordCashPayment(issuanceId: string, p: CashPayment): Promise<{ paymentId: number }> {
      if (p.tenderedMinor - p.changeMinor !== p.amountMinor) throw refuse('InvariantBroken', `cash does not add up for ${issuanceId}`);
      return db.transaction(async (trx) => {
        const attempt = p.attempt ?? 1;
        const existing = await trx('payments').where({ issuance_id: issuanceId, attempt }).first('id');
        if (existing) return { paymentId: Number(existing.id) };
        const iss = await trx('issuances').where({ id: issuanceId }).first('terminal_id');
        if (!iss) throw refuse('InvariantBroken', `no issuance ${issuanceId}`);
        const [id] = await trx('payments').insert({
          issuance_id: issuanceId,
          attempt,
          method: 'cash',
          amount_minor: p.amountMinor,
          tendered_minor: p.tenderedMinor,
          change_minor: p.changeMinor,
          currency: p.currency,
          status: 'collected',
          created_at_ms: now(),
          updated_at_ms: now(),
        });
        await postTransaction(trx, {
          kind: 'cash_collected',
          ref: issuanceId,
          currency: p.currency,
          description: `Cash for ${issuanceId} at ${iss.terminal_id}`,
          postings: cashCollected(iss.terminal_id, p.amountMinor),
          atMs: now(),
        });
        return { paymentId: Number(id) };
      });
    },

    /**
     * After a failed production: `refunded` when the terminal paid the money back, otherwise
     * `refund_due`, which an operator settles by hand (the terminal was offline or out of change).
     */
    async markPaymentRefunded(issuanceId: string, paidBack: boolean): Promise<{ status: string }> {
      const status = paidBack ? 'refunded' : 'refund_due';
      return db.transaction(async (trx) => {
        const payment = await trx('payments as p').join('issuances as i', 'i.id', 'p.issuance_id').where({ 'p.issuance_id': issuanceId, 'p.status': 'collected' }).first('p.id', 'p.amount_minor', 'p.currency', 'i.terminal_id');
        if (!payment) return { status: (await trx('payments').where({ issuance_id: issuanceId }).first('status'))?.status ?? 'none' };
        await trx('payments').where({ id: payment.id, status: 'collected' }).update({ status, updated_at_ms: now() });
        await postTransaction(trx, {
          kind: 'refund',
          ref: issuanceId,
          currency: payment.currency,
          description: paidBack ? `Cash returned for ${issuanceId}` : `Refund owed for ${issuanceId} (terminal could not pay)`,
          postings: cashRefunded(payment.terminal_id, Number(payment.amount_minor), paidBack),
          atMs: now(),
        });
        return { status };
      });
    },
  };
}
