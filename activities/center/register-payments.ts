/**
 * Pay at the register: the kiosk prints a slip with a number, the seat stays held while the
 * customer pays at the store's POS register, and the POS reports the payment through the API.
 *
 * A slip is one row of register_slips (unique number, unique per issuance) that moves
 * open → paid | expired | cancelled by conditional updates, so a late POS report and the lapse
 * cannot both win. The payment is a `payments` row (method `register`, status `collected`) and a
 * ledger transaction (the store's till owes the operator), written in the same DB transaction as
 * the slip becoming paid. Refunds after a failed production are owed to the customer
 * (`refund_due`, via markPaymentRefunded): the kiosk's cash unit never held this money.
 */
import { randomInt } from 'node:crypto';
import { registerCollected } from '../../domain/ledger';
import { luhnCheckDigit, type RegisterPaymentReport, type RegisterSlip } from '../../domain/payments';
import { isUniqueViolation } from '../../lib/db';
import { ApplicationFailure } from '@temporalio/common';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { postTransaction } from './ledger';

function newSlipNumber(): string {
  let digits = '';
  for (let i = 0; i < 12; i++) digits += String(randomInt(10));
  return digits + luhnCheckDigit(digits);
}

export function createRegisterPaymentActivities({ db, now = Date.now }: CenterDeps) {
  return {
    /** The issuance's slip (made once; a retry finds it), and the seat's hold extended to its deadline. */
    async issueRegisterSlip(issuanceId: string, holdMs: number): Promise<RegisterSlip & { amountMinor: number; currency: string }> {
      const existing = await db('register_slips').where({ issuance_id: issuanceId }).first();
      if (existing) return { slipNumber: existing.slip_number, expiresAt: Number(existing.expires_at_ms), storeId: existing.store_id, amountMinor: Number(existing.amount_minor), currency: existing.currency };
      const iss = await db('issuances as i').join('terminals as t', 't.id', 'i.terminal_id').where('i.id', issuanceId).first('i.total_minor', 'i.currency', 'i.terminal_id', 't.store_id');
      if (!iss) throw refuse('InvariantBroken', `no issuance ${issuanceId}`);
      if (!iss.store_id) throw ApplicationFailure.nonRetryable('This kiosk is not in a store with a register; please choose another way to pay.', 'PaymentMethodUnavailable');
      const expiresAt = now() + holdMs;
      for (let tries = 0; ; tries++) {
        const slipNumber = newSlipNumber();
        try {
          await db.transaction(async (trx) => {
            await trx('register_slips').insert({
              slip_number: slipNumber,
              issuance_id: issuanceId,
              store_id: iss.store_id,
              terminal_id: iss.terminal_id,
              amount_minor: Number(iss.total_minor),
              currency: iss.currency,
              status: 'open',
              expires_at_ms: expiresAt,
              created_at_ms: now(),
            });
            await trx('seats').where({ hold_issuance_id: issuanceId, status: 'held' }).update({ held_until_ms: expiresAt });
          });
          return { slipNumber, expiresAt, storeId: iss.store_id, amountMinor: Number(iss.total_minor), currency: iss.currency };
        } catch (err) {
          if (!isUniqueViolation(err) || tries >= 10) throw err;
          const raced = await db('register_slips').where({ issuance_id: issuanceId }).first();
          if (raced) return { slipNumber: raced.slip_number, expiresAt: Number(raced.expires_at_ms), storeId: raced.store_id, amountMinor: Number(raced.amount_minor), currency: raced.currency };
        }
      }
    },

    /** The POS register took the money: slip open → paid, the payment and its ledger entry, once. */
    async recordRegisterPayment(issuanceId: string, attempt: number, report: RegisterPaymentReport): Promise<{ paymentId: number }> {
      return db.transaction(async (trx) => {
        const slip = await trx('register_slips').where({ slip_number: report.slipNumber, issuance_id: issuanceId }).first();
        if (!slip) throw refuse('InvariantBroken', `slip ${report.slipNumber} does not belong to ${issuanceId}`);
        if (slip.status === 'paid') {
          if (slip.pos_transaction_id !== report.posTransactionId) throw refuse('InvariantBroken', `slip ${report.slipNumber} was already paid by another POS transaction`);
          const paid = await trx('payments').where({ issuance_id: issuanceId, attempt }).first('id');
          return { paymentId: Number(paid.id) };
        }
        const claimed = await trx('register_slips')
          .where({ slip_number: report.slipNumber, status: 'open' })
          .update({ status: 'paid', pos_transaction_id: report.posTransactionId, register_id: report.registerId, paid_at_ms: now() });
        if (claimed !== 1) throw refuse('InvariantBroken', `slip ${report.slipNumber} is ${slip.status}, not open`);
        if (Number(slip.amount_minor) !== report.amountMinor) throw refuse('InvariantBroken', `slip ${report.slipNumber} is for ${slip.amount_minor}, the POS reported ${report.amountMinor}`);
        const [id] = await trx('payments').insert({
          issuance_id: issuanceId,
          attempt,
          method: 'register',
          amount_minor: report.amountMinor,
          tendered_minor: report.amountMinor,
          change_minor: 0,
          currency: slip.currency,
          status: 'collected',
          created_at_ms: now(),
          updated_at_ms: now(),
        });
        await postTransaction(trx, {
          kind: 'register_collected',
          ref: issuanceId,
          currency: slip.currency,
          description: `Slip ${report.slipNumber} paid at ${slip.store_id} register ${report.registerId}`,
          postings: registerCollected(slip.store_id, report.amountMinor),
          atMs: now(),
        });
        return { paymentId: Number(id) };
      });
    },

    /** The slip lapsed or the customer cancelled: open → expired | cancelled (a paid slip stays paid). */
    async closeRegisterSlip(issuanceId: string, status: 'expired' | 'cancelled'): Promise<{ status: string }> {
      await db('register_slips').where({ issuance_id: issuanceId, status: 'open' }).update({ status });
      return { status: (await db('register_slips').where({ issuance_id: issuanceId }).first('status'))?.status ?? 'none' };
    },
  };
}
