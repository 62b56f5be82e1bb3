/**
 * One card issuance, from the customer's first touch to the issuer's acknowledgement:
 * select → hold → confirm → pay → produce on the terminal → record the sale → notify the issuer.
 *
 * The kiosk drives it with Updates and reads `progress`. Before payment, an idle customer lets
 * the hold lapse (inserted cash is returned, the seat is released). After payment, a failure to
 * produce a card refunds in a non-cancellable scope, newest step first. Once the card is in the
 * customer's hand, the sale and the notification are retried until they succeed.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  allHandlersFinished,
  log,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { CenterActivities } from '../activities/center';
import type { TerminalActivities } from '../activities/terminal';
import { isAcceptedDenomination } from '../domain/cash';
import {
  FINAL_STAGES,
  productionPercent,
  terminalTaskQueue,
  type ProductionStep,
  type Progress,
  type Selection,
  type Stage,
} from '../domain/issuance';
import { formatMoney } from '../domain/money';
import { IssuanceStageKey, IssuerIdKey, ProductTypeKey } from '../domain/search-attributes';
import {
  cancelUpdate,
  choosePaymentUpdate,
  confirmUpdate,
  insertCashUpdate,
  progressQuery,
  selectItemUpdate,
  type IssuanceInput,
} from './issuance-messages';

export * from './issuance-messages';

const center = proxyActivities<CenterActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

// The HTTP call itself times out after 10 s; 15 s bounds an attempt lost with a crashed worker.
const issuerCalls = proxyActivities<Pick<CenterActivities, 'notifyIssuer'>>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

function errorType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? undefined;
  if (err instanceof ApplicationFailure) return err.type ?? undefined;
  return undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

function reject(message: string, type = 'InvalidRequest'): never {
  throw ApplicationFailure.create({ message, type, nonRetryable: true });
}

function validateSelection(sel: Selection): void {
  const positive = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  if (!sel || typeof sel !== 'object') reject('A selection is required.');
  if (sel.kind === 'seat' && positive(sel.seatId)) return;
  if (sel.kind === 'fare' && positive(sel.fareId)) return;
  if (sel.kind === 'prepaid' && positive(sel.valueId)) return;
  reject('The selection must be a seat, a commuter fare or a prepaid value with a positive id.');
}

export async function issuance(input: IssuanceInput): Promise<Progress> {
  const { issuanceId, terminalId } = input;
  const terminal = proxyActivities<TerminalActivities>({
    taskQueue: terminalTaskQueue(terminalId),
    scheduleToStartTimeout: input.terminal?.scheduleToStartMs ?? 60_000,
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: input.terminal?.heartbeatMs ?? 10_000,
    retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 10 },
  });

  const p: Progress = {
    issuanceId,
    terminalId,
    stage: 'selecting',
    step: null,
    percent: 0,
    item: null,
    paymentMethod: null,
    cash: null,
    cardId: null,
    message: null,
    customerDeadline: Date.now() + input.holdTtlMs,
  };
  let touched = false;
  let inFlight = 0;
  let cancelRequested = false;
  let paid = false;

  /** Moves to a stage; the stage search attribute goes in the same upsert as any others given. */
  const setStage = (stage: Stage, message: string | null = p.message, more: SearchAttributeUpdatePair[] = []) => {
    p.stage = stage;
    p.message = message;
    upsertSearchAttributes([{ key: IssuanceStageKey, value: stage }, ...more]);
  };
  const touch = () => {
    touched = true;
    p.customerDeadline = Date.now() + input.holdTtlMs;
  };
  const requireStage = (allowed: Stage[], action: string) => {
    if (!allowed.includes(p.stage)) reject(`Cannot ${action} now: the issuance is ${p.stage}.`, 'WrongStage');
  };

  setHandler(progressQuery, () => p);

  setHandler(
    selectItemUpdate,
    async (selection) => {
      inFlight++;
      try {
        const item = await center.holdItem(issuanceId, terminalId, selection, input.holdTtlMs);
        p.item = item;
        setStage('selected', null, [
          { key: IssuerIdKey, value: item.issuerId },
          { key: ProductTypeKey, value: item.productType },
        ]);
        upsertMemo({ item: item.lines.join(' / '), total: formatMoney(item.quote.totalMinor, item.quote.currency) });
        return item;
      } catch (err) {
        p.message = errorMessage(err);
        throw ApplicationFailure.create({ message: errorMessage(err), type: errorType(err) ?? 'SelectFailed', nonRetryable: true });
      } finally {
        inFlight--;
        touch();
      }
    },
    {
      validator: (selection) => {
        requireStage(['selecting', 'selected'], 'select an item');
        validateSelection(selection);
      },
    },
  );

  setHandler(
    confirmUpdate,
    () => {
      setStage('confirmed', null);
      touch();
      return p;
    },
    { validator: () => requireStage(['selected'], 'confirm') },
  );

  setHandler(
    choosePaymentUpdate,
    ({ method }) => {
      p.paymentMethod = method;
      const due = p.item!.quote.totalMinor;
      p.cash = { insertedMinor: 0, dueMinor: due, remainingMinor: due, changeMinor: 0 };
      setStage('paying', `Please insert ${formatMoney(due, p.item!.quote.currency)}.`);
      touch();
      return p;
    },
    {
      validator: (choice) => {
        requireStage(['confirmed'], 'choose a payment method');
        if (choice?.method !== 'cash') reject(`Payment method "${choice?.method}" is not available at this terminal; choose cash.`);
      },
    },
  );

  setHandler(
    insertCashUpdate,
    ({ amountMinor }) => {
      const cash = p.cash!;
      cash.insertedMinor += amountMinor;
      cash.remainingMinor = Math.max(0, cash.dueMinor - cash.insertedMinor);
      cash.changeMinor = Math.max(0, cash.insertedMinor - cash.dueMinor);
      const currency = p.item!.quote.currency;
      if (cash.remainingMinor === 0) {
        paid = true;
        p.message = cash.changeMinor > 0 ? `Thank you. Your change is ${formatMoney(cash.changeMinor, currency)}.` : 'Thank you.';
      } else {
        p.message = `Inserted ${formatMoney(cash.insertedMinor, currency)}. Please insert ${formatMoney(cash.remainingMinor, currency)} more.`;
      }
      touch();
      return { ...cash };
    },
    {
      validator: (cash) => {
        requireStage(['paying'], 'insert cash');
        if (p.paymentMethod !== 'cash') reject('This issuance is not being paid in cash.');
        if (paid) reject('The price is already paid.', 'WrongStage');
        if (!isAcceptedDenomination(cash?.amountMinor)) reject(`The cash unit accepts only ¥10, ¥50, ¥100, ¥500, ¥1,000, ¥2,000, ¥5,000 and ¥10,000; got ${JSON.stringify(cash?.amountMinor)}.`);
      },
    },
  );

  setHandler(
    cancelUpdate,
    () => {
      cancelRequested = true;
      return p;
    },
    {
      validator: () => {
        requireStage(['selecting', 'selected', 'confirmed', 'paying'], 'cancel');
        if (paid) reject('The price is already paid; the card is being produced.', 'WrongStage');
      },
    },
  );

  // The starter sets TerminalId and IssuanceStage=selecting, so nothing to upsert yet.

  // Wait for payment, while the customer keeps acting within the hold time.
  for (;;) {
    const acted = await condition(() => touched || cancelRequested || paid, input.holdTtlMs);
    if (paid) break;
    if (cancelRequested) return finish(await endUnpaid('cancelled', 'Cancelled. Nothing was charged.'));
    if (!acted && inFlight === 0) return finish(await endUnpaid('expired', 'The time to complete the purchase ran out; the item was released.'));
    touched = false;
  }

  // Paid: from here on every way out either hands over a card or gives the money back.
  p.customerDeadline = null;
  setStage('producing', p.message);
  const item = p.item!;
  const cash = p.cash!;
  const compensations: Array<() => Promise<void>> = [];
  let currentCard: { cardId?: string; uid: string } | null = null;
  try {
    await center.recordCashPayment(issuanceId, { amountMinor: cash.dueMinor, tenderedMinor: cash.insertedMinor, changeMinor: cash.changeMinor, currency: item.quote.currency });
    compensations.unshift(async () => {
      const back = await terminal.payoutCash(`refund:${issuanceId}`, cash.dueMinor).then(() => true, () => false);
      await center.markPaymentRefunded(issuanceId, back);
    });
    if (cash.changeMinor > 0) await terminal.payoutCash(`change:${issuanceId}`, cash.changeMinor);

    const maxAttempts = input.maxCardAttempts ?? 3;
    for (let attempt = 1; !p.cardId; attempt++) {
      if (attempt > maxAttempts) throw ApplicationFailure.nonRetryable(`No good card after ${maxAttempts} tries.`, 'ProductionFailed');
      step('binding');
      const { uid } = await terminal.feedBlankCard(issuanceId);
      currentCard = { uid };
      try {
        const { cardId } = await center.bindCard(issuanceId, uid);
        currentCard.cardId = cardId;
        const { recordBase64 } = await center.prepareCardRecord(issuanceId, cardId);
        step('writing');
        await terminal.writeChip(uid, recordBase64);
        step('verifying');
        await terminal.verifyChip(uid, recordBase64);
        await center.setCardStatus(cardId, 'written');
        step('printing');
        await terminal.printFace(uid, { title: item.title, lines: item.lines, imageUrl: item.faceImage, cardId });
        step('dispensing');
        await terminal.presentCard(uid);
        await center.setCardStatus(cardId, 'issued');
        p.cardId = cardId;
        currentCard = null;
      } catch (err) {
        const type = errorType(err);
        if (type !== 'CardSpoiled' && type !== 'CardAlreadyBound') throw err;
        log.warn('card spoiled, producing another', { issuanceId, attempt, reason: errorMessage(err) });
        await terminal.rejectCard(uid, errorMessage(err));
        if (currentCard?.cardId) await center.setCardStatus(currentCard.cardId, 'spoiled', errorMessage(err).slice(0, 200));
        currentCard = null;
      }
    }
  } catch (err) {
    log.error('production failed after payment; refunding', { issuanceId, error: errorMessage(err) });
    await CancellationScope.nonCancellable(async () => {
      if (currentCard) {
        await terminal.rejectCard(currentCard.uid, 'production aborted').catch(() => undefined);
        if (currentCard.cardId) await center.setCardStatus(currentCard.cardId, 'spoiled', `production aborted: ${errorMessage(err)}`.slice(0, 200));
      }
      for (const undo of compensations) await undo().catch((e) => log.error('compensation failed', { issuanceId, error: errorMessage(e) }));
      await center.releaseHold(issuanceId, 'refunded');
    });
    p.step = null;
    setStage('refunded', `Sorry, the card could not be produced (${errorMessage(err)}). Your money has been returned.`);
    return finish(p);
  }

  // The customer has the card. Receipt, sale and notification cannot undo it, so they retry.
  step('receipt');
  await terminal
    .printReceipt(issuanceId, receiptLines(p))
    .catch((err) => log.warn('receipt not printed', { issuanceId, error: errorMessage(err) }));
  p.percent = 100;
  setStage('recording', 'Please take your card and receipt.');
  await CancellationScope.nonCancellable(async () => {
    await center.recordSale(issuanceId, p.cardId!);
    setStage('notifying');
    await issuerCalls.notifyIssuer(issuanceId);
  });
  setStage('completed');
  return finish(p);

  function step(s: ProductionStep) {
    p.step = s;
    p.percent = productionPercent(s, false);
  }

  async function endUnpaid(stage: Stage, message: string): Promise<Progress> {
    await condition(() => inFlight === 0);
    await CancellationScope.nonCancellable(async () => {
      const inserted = p.cash?.insertedMinor ?? 0;
      if (inserted > 0) {
        await terminal.payoutCash(`return:${issuanceId}`, inserted);
        message += ` Your ${formatMoney(inserted, p.item!.quote.currency)} has been returned.`;
      }
      await center.releaseHold(issuanceId, stage as 'expired' | 'cancelled');
    });
    setStage(stage, message);
    return p;
  }

  async function finish(result: Progress): Promise<Progress> {
    if (!FINAL_STAGES.includes(result.stage)) reject(`finished in a non-final stage ${result.stage}`);
    await condition(allHandlersFinished);
    return result;
  }
}

function receiptLines(p: Progress): string[] {
  const q = p.item!.quote;
  const cash = p.cash!;
  return [
    'RECEIPT',
    ...p.item!.lines,
    `Card ${p.cardId}`,
    `Price ${formatMoney(q.priceMinor, q.currency)}`,
    `Issuance fee ${formatMoney(q.customerFeeMinor, q.currency)}`,
    `Total ${formatMoney(q.totalMinor, q.currency)}`,
    `Cash ${formatMoney(cash.insertedMinor, q.currency)}`,
    `Change ${formatMoney(cash.changeMinor, q.currency)}`,
    `Issuer ${p.item!.issuerName}`,
    `Ref ${p.issuanceId}`,
  ];
}
