/**
 * Reloading a used prepaid card at a kiosk: read the card in the reload slot → the center checks
 * it and compares the chip's balance with its own (authoritative; a mismatch is flagged and the
 * reload continues from the center's balance) → the customer pays cash → the terminal writes the
 * new balance into the chip's other value slot and reads it back (anti-tearing) → the center
 * credits the balance once and records the sale against the issuer → the card comes back with a
 * receipt → the issuer is notified.
 *
 * Money and value: the center credits only after the chip reads back the new value; a failed
 * write pays the cash back. Every center step is idempotent by the reload id, so a crash anywhere
 * resumes without crediting twice. The center allows one open reload per card.
 */
import { ApplicationFailure, CancellationScope, condition, log, proxyActivities, setHandler } from '@temporalio/workflow';
import type { CenterActivities } from '../activities/center';
import type { TerminalActivities } from '../activities/terminal';
import { isAcceptedDenomination } from '../domain/cash';
import { formatMoney } from '../domain/money';
import { FINAL_RELOAD_STAGES, type ReloadProgress, type ReloadStage } from '../domain/reload';
import { reloadCancelUpdate, reloadInsertCashUpdate, reloadProgressQuery, type ReloadInput } from './reload-messages';

import { CENTER_STEP, errorMessage, ISSUER_CALL, terminalStep } from './activity-options';

export * from './reload-messages';

const center = proxyActivities<CenterActivities>(CENTER_STEP);
const issuerCalls = proxyActivities<Pick<CenterActivities, 'notifyIssuer'>>(ISSUER_CALL);

export async function reload(input: ReloadInput): Promise<ReloadProgress> {
  const { reloadId, terminalId, amountMinor } = input;
  const terminal = proxyActivities<TerminalActivities>(terminalStep(terminalId, input.terminal));

  const p: ReloadProgress = {
    reloadId,
    terminalId,
    stage: 'reading',
    amountMinor,
    currency: 'JPY',
    cardId: null,
    balanceBeforeMinor: null,
    chipMismatch: false,
    balanceAfterMinor: null,
    cash: null,
    message: 'Please insert your card.',
    customerDeadline: Date.now() + input.holdTtlMs,
  };
  let paid = false;
  let touched = false;
  let cancelRequested = false;
  const rejectUpdate = (message: string): never => {
    throw ApplicationFailure.create({ message, type: 'WrongStage', nonRetryable: true });
  };

  setHandler(reloadProgressQuery, () => p);
  setHandler(
    reloadInsertCashUpdate,
    ({ amountMinor: note }) => {
      const cash = p.cash!;
      cash.insertedMinor += note;
      cash.remainingMinor = Math.max(0, cash.dueMinor - cash.insertedMinor);
      cash.changeMinor = Math.max(0, cash.insertedMinor - cash.dueMinor);
      paid = cash.remainingMinor === 0;
      p.message = paid ? 'Thank you. Your card is being loaded.' : `Inserted ${formatMoney(cash.insertedMinor, p.currency)}. Please insert ${formatMoney(cash.remainingMinor, p.currency)} more.`;
      touched = true;
      return { ...cash };
    },
    {
      validator: (cash) => {
        if (p.stage !== 'paying') rejectUpdate(`Cannot insert cash now: the reload is ${p.stage}.`);
        if (paid) rejectUpdate('The reload is already paid.');
        if (!isAcceptedDenomination(cash?.amountMinor)) throw ApplicationFailure.create({ message: `The cash unit does not accept ${JSON.stringify(cash?.amountMinor)}.`, type: 'InvalidRequest', nonRetryable: true });
      },
    },
  );
  setHandler(
    reloadCancelUpdate,
    () => {
      cancelRequested = true;
      return p;
    },
    {
      validator: () => {
        if (p.stage !== 'reading' && p.stage !== 'paying') rejectUpdate(`Cannot cancel now: the reload is ${p.stage}.`);
        if (paid) rejectUpdate('The reload is paid; your card is being loaded.');
      },
    },
  );

  const setStage = (stage: ReloadStage, message: string | null) => {
    p.stage = stage;
    p.message = message;
  };

  // 1. The customer's card, and the center's check of it.
  let card: { uid: string; recordBase64: string };
  const reading = new CancellationScope();
  void condition(() => cancelRequested).then(() => reading.cancel());
  try {
    card = await reading.run(() => terminal.readCustomerCard(reloadId, input.holdTtlMs));
  } catch (err) {
    if (cancelRequested) setStage('cancelled', 'Cancelled. Nothing was charged.');
    else setStage('refused', `No card was read (${errorMessage(err)}).`);
    return done();
  }
  let start: Awaited<ReturnType<CenterActivities['beginReload']>>;
  try {
    start = await center.beginReload({ reloadId, terminalId, recordBase64: card.recordBase64, amountMinor });
  } catch (err) {
    await giveCardBack();
    setStage('refused', errorMessage(err));
    return done();
  }
  p.cardId = start.cardId;
  p.currency = start.currency;
  p.balanceBeforeMinor = start.balanceBeforeMinor;
  p.balanceAfterMinor = start.balanceAfterMinor;
  p.chipMismatch = start.chipMismatch;
  if (start.chipMismatch) log.warn('chip balance disagrees with the center; the center balance is used', { reloadId });

  // 2. Payment in cash, while the customer keeps acting.
  p.cash = { insertedMinor: 0, dueMinor: amountMinor, remainingMinor: amountMinor, changeMinor: 0 };
  setStage('paying', `Please insert ${formatMoney(amountMinor, p.currency)}.`);
  for (;;) {
    p.customerDeadline = Date.now() + input.holdTtlMs;
    const acted = await condition(() => touched || paid || cancelRequested, input.holdTtlMs);
    if (paid) break;
    if (cancelRequested) return endUnpaid('cancelled', 'Cancelled. Nothing was charged.');
    if (!acted) return endUnpaid('expired', 'The time to pay ran out.');
    touched = false;
  }
  p.customerDeadline = null;
  const cash = p.cash;
  await center.recordCashPayment(reloadId, { amountMinor, tenderedMinor: cash.insertedMinor, changeMinor: cash.changeMinor, currency: p.currency });
  if (cash.changeMinor > 0) await terminal.payoutCash(`change:${reloadId}`, cash.changeMinor);

  // 3. The new value on the chip (read back), or the money back.
  setStage('writing', 'Loading your card… please do not remove it.');
  try {
    await terminal.writeCardValue(card.uid, start.target);
  } catch (err) {
    log.error('value write failed; refunding', { reloadId, error: errorMessage(err) });
    await CancellationScope.nonCancellable(async () => {
      const back = await terminal.payoutCash(`refund:${reloadId}`, amountMinor).then(() => true, () => false);
      await center.markPaymentRefunded(reloadId, back);
      await center.closeReload(reloadId, 'refunded');
      await center.releaseHold(reloadId, 'refunded');
      await giveCardBack();
    });
    setStage('refunded', `Sorry, your card could not be loaded (${errorMessage(err)}). Your money has been returned; your balance is unchanged.`);
    return done();
  }

  // 4. The value is on the card: the center's balance, the sale and the notification retry until done.
  setStage('recording', 'Please take your card and receipt.');
  await CancellationScope.nonCancellable(async () => {
    await center.creditReload(reloadId);
    await center.recordSale(reloadId, start.cardId);
    await center.closeReload(reloadId, 'completed');
    await giveCardBack();
    await terminal
      .printReceipt(reloadId, receiptLines(p))
      .catch((err) => log.warn('reload receipt not printed', { reloadId, error: errorMessage(err) }));
    await issuerCalls.notifyIssuer(reloadId);
  });
  setStage('completed', `Your card now holds ${formatMoney(start.balanceAfterMinor, p.currency)}.`);
  return done();

  async function giveCardBack(): Promise<void> {
    await terminal.ejectCustomerCard(card.uid).catch((err) => log.warn('card not handed back', { reloadId, error: errorMessage(err) }));
  }

  async function endUnpaid(stage: 'cancelled' | 'expired', message: string): Promise<ReloadProgress> {
    await CancellationScope.nonCancellable(async () => {
      const inserted = p.cash?.insertedMinor ?? 0;
      if (inserted > 0) {
        await terminal.payoutCash(`return:${reloadId}`, inserted);
        message += ` Your ${formatMoney(inserted, p.currency)} has been returned.`;
      }
      await center.closeReload(reloadId, stage);
      await center.releaseHold(reloadId, stage);
      await giveCardBack();
    });
    setStage(stage, message);
    return done();
  }

  function done(): ReloadProgress {
    if (!FINAL_RELOAD_STAGES.includes(p.stage)) throw ApplicationFailure.nonRetryable(`reload finished in a non-final stage ${p.stage}`);
    p.customerDeadline = null;
    return p;
  }
}

function receiptLines(p: ReloadProgress): string[] {
  return [
    'RELOAD RECEIPT',
    `Card ${p.cardId}`,
    `Added ${formatMoney(p.amountMinor, p.currency)}`,
    `Balance ${formatMoney(p.balanceAfterMinor ?? 0, p.currency)}`,
    `Cash ${formatMoney(p.cash?.insertedMinor ?? 0, p.currency)}`,
    `Change ${formatMoney(p.cash?.changeMinor ?? 0, p.currency)}`,
    `Ref ${p.reloadId}`,
  ];
}
