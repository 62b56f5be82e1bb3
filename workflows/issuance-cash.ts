/**
 * The issuance's money at the terminal (workflow side): paying cash out so that nothing owed is
 * ever lost, the cash unit's counters for the books, and device faults for the operator.
 *
 * A payout that cannot be made in full — the cash unit is short or jammed (CashShort, final), or
 * the terminal is offline (its activities wait in vain on scheduleToStartTimeout) — is recorded as
 * a cash shortfall with a voucher number: the customer is told what is owed and shows the voucher
 * (printed when the terminal can still print) to the store staff. Once the terminal is known to be
 * offline no further payout is attempted: each would only wait for the same timeout.
 */
import { ActivityFailure, ApplicationFailure, log, TimeoutFailure } from '@temporalio/workflow';
import type { CenterActivities } from '../activities/center';
import type { TerminalActivities } from '../activities/terminal';
import type { ShortfallKind, ShortfallReason } from '../activities/center/cash-shortfalls';
import { formatMoney } from '../domain/money';

type Center = Pick<CenterActivities, 'recordCashShortfall' | 'recordCashCounters' | 'recordTerminalFault'>;
type Terminal = Pick<TerminalActivities, 'payoutCash' | 'printReceipt' | 'readCashCounters'>;

export interface PayoutOutcome {
  paidMinor: number;
  owedMinor: number;
  voucherNumber: string | null;
}

function cause(err: unknown): unknown {
  return err instanceof ActivityFailure ? err.cause : err;
}

/** The terminal's worker never picked the step up: the terminal is offline. */
export function terminalOffline(err: unknown): boolean {
  const c = cause(err);
  return c instanceof TimeoutFailure && c.timeoutType === 'SCHEDULE_TO_START';
}

const WHAT: Record<ShortfallKind, string> = { change: 'change', refund: 'refund', return: 'cash' };

export function createCashDesk(o: { issuanceId: string; terminalId: string; terminal: Terminal; center: Center }) {
  const { issuanceId, terminalId, terminal, center } = o;
  let offline = false;

  /** Prints on the receipt printer; a printer out of paper is flagged for the operator. Never throws. */
  async function printOrFlag(id: string, lines: string[]): Promise<void> {
    if (offline) return;
    try {
      await terminal.printReceipt(id, lines);
    } catch (err) {
      const c = cause(err);
      log.warn('not printed', { issuanceId, id, error: c instanceof Error ? c.message : String(c) });
      if (terminalOffline(err)) offline = true;
      else if (c instanceof ApplicationFailure && c.type === 'PaperOut') {
        await center.recordTerminalFault(terminalId, { device: 'receipt', code: 'PAPER_OUT', message: c.message, issuanceId });
      }
    }
  }

  return {
    get offline(): boolean {
      return offline;
    },
    /** Marks the terminal offline if `err` says so (a step that was never picked up). */
    noteFailure(err: unknown): void {
      if (terminalOffline(err)) offline = true;
    },
    printOrFlag,

    /** Pays `amountMinor` back to the customer under `tag`; whatever cannot be paid is recorded as owed. */
    async payOut(kind: ShortfallKind, tag: string, amountMinor: number, currency: string): Promise<PayoutOutcome> {
      if (amountMinor <= 0) return { paidMinor: 0, owedMinor: 0, voucherNumber: null };
      let paidMinor = 0;
      let reason: ShortfallReason = 'TERMINAL_OFFLINE';
      let detail = 'the terminal was offline';
      if (!offline) {
        try {
          await terminal.payoutCash(tag, amountMinor);
          return { paidMinor: amountMinor, owedMinor: 0, voucherNumber: null };
        } catch (err) {
          const c = cause(err);
          detail = c instanceof Error ? c.message : String(c);
          if (terminalOffline(err)) offline = true;
          else if (c instanceof ApplicationFailure && c.type === 'CashShort') {
            reason = 'CASH_SHORT';
            const d = (c.details?.[0] ?? {}) as { paidMinor?: number };
            paidMinor = Math.min(amountMinor - 1, Math.max(0, d.paidMinor ?? 0));
          } else reason = 'PAYOUT_FAILED'; // retries exhausted, outcome unknown: staff check the unit before paying
        }
      }
      const { voucherNumber, owedMinor } = await center.recordCashShortfall(issuanceId, { tag, kind, amountMinor, paidMinor, currency, reason, detail });
      log.error('cash not paid out in full; recorded as owed', { issuanceId, tag, paidMinor, owedMinor, reason, voucherNumber });
      await printOrFlag(`voucher-${tag.replace(/[^A-Za-z0-9_-]/g, '-')}`, voucherLines(voucherNumber, kind, owedMinor, currency, issuanceId));
      return { paidMinor, owedMinor, voucherNumber };
    },

    /** The cash unit's own counters to the center (units that count; skipped when offline). Never throws. */
    async reportCounters(): Promise<void> {
      if (offline) return;
      try {
        const c = await terminal.readCashCounters();
        if (c) await center.recordCashCounters(terminalId, c);
      } catch (err) {
        if (terminalOffline(err)) offline = true;
        log.warn('cash counters not reported', { issuanceId, error: String(cause(err)) });
      }
    },
  };
}

export type CashDesk = ReturnType<typeof createCashDesk>;

/** What the customer is told about money the terminal could not pay. */
export function owedMessage(r: PayoutOutcome, kind: ShortfallKind, currency: string): string {
  const paid = r.paidMinor > 0 ? ` (${formatMoney(r.paidMinor, currency)} was paid)` : '';
  return `The machine could not pay your ${WHAT[kind]}: ${formatMoney(r.owedMinor, currency)} is owed to you${paid}. Please show voucher ${r.voucherNumber} to the store staff, who will pay it.`;
}

function voucherLines(voucherNumber: string, kind: ShortfallKind, owedMinor: number, currency: string, issuanceId: string): string[] {
  return ['CASH VOUCHER', `Voucher ${voucherNumber}`, `Owed to you: ${formatMoney(owedMinor, currency)} (${WHAT[kind]})`, 'The machine could not pay this amount.', 'Please show this voucher to the store staff.', `Ref ${issuanceId}`];
}
