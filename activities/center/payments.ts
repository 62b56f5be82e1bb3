/**
 * Payment records. Keyed by (issuance, attempt) so a retried activity finds its own row instead of
 * writing a second one; status moves only forward with conditional updates.
 */
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { isUniqueViolation } from '../../lib/db';

export interface CashPayment {
  amountMinor: number;
  tenderedMinor: number;
  changeMinor: number;
  currency: string;
}

export function createPaymentActivities({ db, now = Date.now }: CenterDeps) {
  return {
    async recordCashPayment(issuanceId: string, p: CashPayment): Promise<{ paymentId: number }> {
      if (p.tenderedMinor - p.changeMinor !== p.amountMinor) throw refuse('InvariantBroken', `cash does not add up for ${issuanceId}`);
      const existing = await db('payments').where({ issuance_id: issuanceId, attempt: 1 }).first('id');
      if (existing) return { paymentId: Number(existing.id) };
      try {
        const [id] = await db('payments').insert({
          issuance_id: issuanceId,
          attempt: 1,
          method: 'cash',
          amount_minor: p.amountMinor,
          tendered_minor: p.tenderedMinor,
          change_minor: p.changeMinor,
          currency: p.currency,
          status: 'collected',
          created_at_ms: now(),
          updated_at_ms: now(),
        });
        return { paymentId: Number(id) };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const row = await db('payments').where({ issuance_id: issuanceId, attempt: 1 }).first('id');
        return { paymentId: Number(row.id) };
      }
    },

    /**
     * After a failed production: `refunded` when the terminal paid the money back, otherwise
     * `refund_due`, which an operator settles by hand (the terminal was offline or out of change).
     */
    async markPaymentRefunded(issuanceId: string, paidBack: boolean): Promise<{ status: string }> {
      const status = paidBack ? 'refunded' : 'refund_due';
      await db('payments').where({ issuance_id: issuanceId, status: 'collected' }).update({ status, updated_at_ms: now() });
      return { status };
    },
  };
}
