/**
 * Cash from the terminal's own acceptor (the ccTalk cash unit), reported to its issuance, and the
 * cash unit's counters for the center's books.
 *
 * acceptCash(issuanceId, dueMinor) runs on the terminal while an issuance waits for cash: the
 * workflow starts it when cash is chosen and cancels it when payment completes or is abandoned
 * (it also ends by itself once the workflow says nothing remains to pay). It turns acceptance on
 * for this issuance and, for every credit the driver records, sends the workflow's `insertCash`
 * Update with updateId = the credit's id, acknowledging the credit to the driver only after the
 * Update succeeded. A worker killed in between offers the same credit (same id) again after its
 * restart, and the workflow applies it once. A credit its issuance refuses (already paid,
 * cancelled, over) is paid back to the customer at once. Acceptance is off again when it ends,
 * however it ends.
 *
 * Each credit carries the issuance that had acceptance on when it came (the driver journals it),
 * so a credit left pending by a crash goes to that customer's issuance, never to the next one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TerminalDevices } from '../../terminal-worker/devices/types';
import type { CashCredit } from '../../terminal-worker/drivers/cctalk-cash-unit';
import { insertCashUpdate } from '../../workflows/issuance-messages';

/** How often the pending credits are looked at (the driver itself polls the acceptors). */
const LOOK_EVERY_MS = 150;

export interface CashCounters {
  moneyInMinor: number;
  moneyOutMinor: number;
  at: number;
}

/** The workflow will not take this credit (over, already paid, not paying in cash): give it back. */
function refused(err: unknown): boolean {
  return err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError || (err instanceof Error && /already completed/i.test(err.message));
}

export function createCashAcceptanceActivities(devices: TerminalDevices, device: <T>(fn: () => Promise<T>) => Promise<T>) {
  const { cash, cashAcceptor: acceptor } = devices;

  /** Reports one credit to its issuance; returns what remains to pay there, or null when refused (paid back). */
  async function deliver(credit: CashCredit, fallbackOwner: string): Promise<{ owner: string; remainingMinor: number } | null> {
    const owner = credit.owner ?? fallbackOwner;
    try {
      const state = await Context.current().client.workflow.getHandle(owner).executeUpdate(insertCashUpdate, { args: [{ amountMinor: credit.valueMinor }], updateId: credit.id });
      acceptor!.ackCredit(credit.id);
      return { owner, remainingMinor: state.remainingMinor };
    } catch (err) {
      if (!refused(err)) throw err; // the center is unreachable: the credit stays pending and is sent again
      Context.current().log.warn('credit refused by its issuance; paying it back', { creditId: credit.id, owner, valueMinor: credit.valueMinor, reason: (err as Error).message });
      await cash.payout(`unclaimed:${credit.id}`, credit.valueMinor).catch((e: Error) => {
        // The driver has raised an operator alert; the coin stays in the cash box (the ledger check shows it).
        Context.current().log.error('an unclaimed credit could not be paid back', { creditId: credit.id, error: e.message });
      });
      acceptor!.ackCredit(credit.id);
      return null;
    }
  }

  /** Delivers every pending credit; returns what remains to pay on `issuanceId` after them (or null: no news). */
  async function deliverPending(issuanceId: string): Promise<number | null> {
    let remaining: number | null = null;
    for (const credit of acceptor!.pendingCredits()) {
      const r = await deliver(credit, issuanceId);
      if (r && r.owner === issuanceId) remaining = r.remainingMinor;
    }
    return remaining;
  }

  return {
    /** Takes coins and notes for `issuanceId` until it is paid or this activity is cancelled. */
    async acceptCash(issuanceId: string, opts: { dueMinor: number }): Promise<{ acceptor: boolean; paid: boolean }> {
      if (!acceptor) return { acceptor: false, paid: false };
      const ctx = Context.current();
      return device(async () => {
        // A crashed run's credits go to their own issuance before anyone else's money comes in.
        await deliverPending(issuanceId);
        let remaining = opts.dueMinor;
        await acceptor.enableAcceptance(issuanceId);
        try {
          while (remaining > 0 && !ctx.cancellationSignal.aborted) {
            remaining = (await deliverPending(issuanceId)) ?? remaining;
            ctx.heartbeat({ remainingMinor: remaining });
            await sleep(LOOK_EVERY_MS, undefined, { signal: ctx.cancellationSignal }).catch(() => undefined);
          }
        } finally {
          await acceptor.disableAcceptance();
          // A coin on its way as acceptance went off is still this customer's (refused and paid back if
          // not needed). Delivered even when cancelled: the worker's client calls would be aborted with
          // the activity, so these run under their own signal.
          await acceptor.poll().catch(() => []);
          const own = await ctx.client.withAbortSignal(new AbortController().signal, () => deliverPending(issuanceId)).catch(() => null);
          remaining = own ?? remaining;
        }
        return { acceptor: true, paid: remaining === 0 };
      });
    },

    /** The cash unit's own money-in/money-out totals, or null for units that do not count (state-file simulator). */
    async readCashCounters(): Promise<CashCounters | null> {
      if (!cash.counters) return null;
      return device(async () => {
        const c = await cash.counters!();
        return { moneyInMinor: c.moneyInMinor, moneyOutMinor: c.moneyOutMinor, at: Date.now() };
      });
    },
  };
}
