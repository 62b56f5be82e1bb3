/**
 * Cash a terminal could not pay out, the terminal cash unit's own counters, and device faults.
 *
 * A shortfall is never lost: the row (keyed by the payout's tag, so a retry finds it) holds what
 * was asked, paid and is still owed, with a voucher number the customer shows the store staff.
 * Its ledger transaction keeps the terminal's cash account equal to the cash physically in the
 * unit:
 *   change / return — the money that should have left stays in the unit and is owed:
 *                     cash:terminal +owed, refunds_due −owed;
 *   refund          — markPaymentRefunded(…, false) already moved the whole payment to refunds_due
 *                     and left the cash in the unit; the part that was paid back leaves both:
 *                     refunds_due +paid, cash:terminal −paid.
 */
import { logger } from '../../lib/logger';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { postTransaction } from './ledger';
import { Accounts, balanced, type Posting } from '../../domain/ledger';

export type ShortfallKind = 'change' | 'refund' | 'return';
export type ShortfallReason = 'CASH_SHORT' | 'TERMINAL_OFFLINE' | 'PAYOUT_FAILED';

export interface CashShortfall {
  tag: string;
  kind: ShortfallKind;
  amountMinor: number;
  paidMinor: number;
  currency: string;
  reason: ShortfallReason;
  detail?: string;
}

export function shortfallPostings(terminalId: string, s: { kind: ShortfallKind; paidMinor: number; owedMinor: number }): Posting[] {
  if (s.kind === 'refund') return balanced([{ account: Accounts.refundsDue, amountMinor: s.paidMinor }, { account: Accounts.terminalCash(terminalId), amountMinor: -s.paidMinor }]);
  return balanced([{ account: Accounts.terminalCash(terminalId), amountMinor: s.owedMinor }, { account: Accounts.refundsDue, amountMinor: -s.owedMinor }]);
}

const KINDS: ShortfallKind[] = ['change', 'refund', 'return'];
const REASONS: ShortfallReason[] = ['CASH_SHORT', 'TERMINAL_OFFLINE', 'PAYOUT_FAILED'];
const minor = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function createCashShortfallActivities({ db, now = Date.now }: CenterDeps) {
  return {
    /** Records what a payout left owed to the customer (idempotent by tag); returns the voucher number. */
    async recordCashShortfall(issuanceId: string, s: CashShortfall): Promise<{ voucherNumber: string; owedMinor: number }> {
      if (!KINDS.includes(s.kind) || !REASONS.includes(s.reason) || !minor(s.amountMinor) || !minor(s.paidMinor) || s.paidMinor >= s.amountMinor || !/^[A-Z]{3}$/.test(s.currency) || !s.tag) {
        throw refuse('InvariantBroken', `bad cash shortfall for ${issuanceId}: ${JSON.stringify({ ...s, detail: undefined })}`);
      }
      const owedMinor = s.amountMinor - s.paidMinor;
      return db.transaction(async (trx) => {
        const existing = await trx('cash_shortfalls').where({ tag: s.tag }).first('voucher_number', 'owed_minor');
        if (existing) return { voucherNumber: existing.voucher_number as string, owedMinor: Number(existing.owed_minor) };
        const iss = await trx('issuances').where({ id: issuanceId }).first('terminal_id');
        if (!iss) throw refuse('InvariantBroken', `no issuance ${issuanceId}`);
        const atMs = now();
        // The voucher number comes from the row id (short, for the customer to read out), in the same transaction.
        const [id] = await trx('cash_shortfalls').insert({
          tag: s.tag,
          issuance_id: issuanceId,
          terminal_id: iss.terminal_id,
          kind: s.kind,
          amount_minor: s.amountMinor,
          paid_minor: s.paidMinor,
          owed_minor: owedMinor,
          currency: s.currency,
          reason: s.reason,
          detail: s.detail?.slice(0, 300) ?? null,
          created_at_ms: atMs,
        });
        const voucherNumber = `CV-${String(id).padStart(6, '0')}`;
        await trx('cash_shortfalls').where({ id }).update({ voucher_number: voucherNumber });
        await postTransaction(trx, {
          kind: 'cash_shortfall',
          ref: s.tag,
          currency: s.currency,
          description: `${s.kind} of ${s.amountMinor} for ${issuanceId}: ${s.paidMinor} paid, ${owedMinor} owed (${s.reason}, voucher ${voucherNumber})`,
          postings: shortfallPostings(iss.terminal_id, { kind: s.kind, paidMinor: s.paidMinor, owedMinor }),
          atMs,
        });
        // The operator alert: the voucher waits in GET /api/operator/alerts until it is settled.
        logger.warn({ terminalId: iss.terminal_id, issuanceId, voucherNumber, owedMinor, currency: s.currency, reason: s.reason, kind: s.kind }, 'operator alert: cash owed to a customer');
        return { voucherNumber, owedMinor };
      });
    },

    /** The terminal cash unit's own totals (its latest report replaces the previous one). */
    async recordCashCounters(terminalId: string, c: { moneyInMinor: number; moneyOutMinor: number; at: number }): Promise<void> {
      if (!minor(c.moneyInMinor) || !minor(c.moneyOutMinor) || !minor(c.at)) throw refuse('InvariantBroken', `bad cash counters from ${terminalId}`);
      const row = { money_in_minor: c.moneyInMinor, money_out_minor: c.moneyOutMinor, reported_at_ms: c.at };
      await db.transaction(async (trx) => {
        const prev = await trx('terminal_cash_counts').where({ terminal_id: terminalId }).first('reported_at_ms');
        if (!prev) await trx('terminal_cash_counts').insert({ terminal_id: terminalId, ...row });
        // An older reading (a retried activity) never overwrites a newer one.
        else if (Number(prev.reported_at_ms) <= c.at) await trx('terminal_cash_counts').where({ terminal_id: terminalId }).update(row);
      });
    },

    /** A device fault for the operator (e.g. the receipt printer out of paper); the terminal stays in service. */
    async recordTerminalFault(terminalId: string, f: { device: 'receipt' | 'cash'; code: string; message: string; issuanceId?: string }): Promise<void> {
      // A retried activity finds its row (one fault per terminal, code and issuance).
      if (f.issuanceId && (await db('terminal_faults').where({ terminal_id: terminalId, code: f.code.slice(0, 30), issuance_id: f.issuanceId }).first('id'))) return;
      await db('terminal_faults').insert({ terminal_id: terminalId, device: f.device, code: f.code.slice(0, 30), message: f.message.slice(0, 300), issuance_id: f.issuanceId ?? null, created_at_ms: now() });
      logger.warn({ terminalId, device: f.device, code: f.code, issuanceId: f.issuanceId }, 'operator alert: device fault');
    },
  };
}
