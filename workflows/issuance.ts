/**
 * One card issuance, from the customer's first touch to the issuer's acknowledgement:
 * select → hold → confirm → pay → produce on the terminal → record the sale → notify the issuer.
 *
 * The kiosk drives it with Updates and reads `progress`. Before payment, an idle customer lets
 * the hold lapse (inserted cash is returned, the seat is released). After payment, a failure to
 * produce a card refunds in a non-cancellable scope, newest step first. Once the card is in the
 * customer's hand, the sale and the notification are retried until they succeed.
 *
 * Payment is a pluggable step (domain/payments.ts): cash in the kiosk's cash unit; credit,
 * prepaid and debit cards authorised online by the payment company's host (the card arrives
 * tokenised, the PIN encrypted, through `enterCard`); or a pay-at-register slip that a store's POS
 * reports paid through `registerPayment`. Each settled method says how it is captured after the
 * card is handed out and how it is given back if production fails. A decline brings back the
 * choice screen (up to `payment.maxTries` tries); an unknown outcome and every approved payment
 * that is not used are reversed by a `paymentReversal` workflow that outlives this one. The card
 * is produced only after an explicit approval.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  condition,
  ParentClosePolicy,
  proxyActivities,
  startChild,
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
import { PICKUP_CODE_HASH_PATTERN } from '../domain/reissue';
import {
  CARD_METHOD_RULES,
  CARD_TOKEN_PATTERN,
  isCardMethod,
  PAYMENT_METHODS,
  type CardAuthResult,
  type CardEntry,
  type CardMethod,
  type PaymentProgress,
  type RegisterSlip,
} from '../domain/payments';
import { paymentReversal, reversalWorkflowId } from './payment-reversal';
import { CENTER_STEP, errorMessage, errorType, ISSUER_CALL, terminalStep } from './activity-options';
import { createCashDesk, owedMessage, terminalOffline } from './issuance-cash';
import { IssuanceStageKey, IssuerIdKey, ProductTypeKey } from '../domain/search-attributes';
import {
  cancelUpdate,
  choosePaymentUpdate,
  confirmUpdate,
  enterCardUpdate,
  insertCashUpdate,
  progressQuery,
  registerPaymentUpdate,
  selectItemUpdate,
  type IssuanceInput,
} from './issuance-messages';

export * from './issuance-messages';

const center = proxyActivities<CenterActivities>(CENTER_STEP);
const issuerCalls = proxyActivities<Pick<CenterActivities, 'notifyIssuer'>>(ISSUER_CALL);

function reject(message: string, type = 'InvalidRequest'): never {
  throw ApplicationFailure.create({ message, type, nonRetryable: true });
}

function validateSelection(sel: Selection): void {
  const positive = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  if (!sel || typeof sel !== 'object') reject('A selection is required.');
  if (sel.kind === 'seat' && positive(sel.seatId)) return;
  if (sel.kind === 'fare' && positive(sel.fareId)) return;
  if (sel.kind === 'prepaid' && positive(sel.valueId)) return;
  if (sel.kind === 'reissue' && PICKUP_CODE_HASH_PATTERN.test(sel.pickupCodeHash)) return;
  reject('The selection must be a seat, a commuter fare or a prepaid value with a positive id, or a reissue pickup code.');
}

export async function issuance(input: IssuanceInput): Promise<Progress> {
  const { issuanceId, terminalId } = input;
  const terminal = proxyActivities<TerminalActivities>(terminalStep(terminalId, input.terminal));

  // The terminal's coin/note acceptor runs while cash is awaited; cancelled (and waited for) when that ends.
  const acceptor = proxyActivities<Pick<TerminalActivities, 'acceptCash'>>({
    taskQueue: terminalTaskQueue(terminalId),
    scheduleToStartTimeout: input.terminal?.scheduleToStartMs ?? 60_000,
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: input.terminal?.heartbeatMs ?? 10_000,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 5 },
  });
  const desk = createCashDesk({ issuanceId, terminalId, terminal, center });

  const payOpts = input.payment ?? {};
  const maxTries = payOpts.maxTries ?? 3;
  const registerHoldMs = payOpts.registerHoldMs ?? 30 * 60_000;
  // One authorization attempt: a crashed worker's attempt is retried after this timeout, resending
  // the same request (the host answers a duplicate once); after the last retry the attempt is reversed.
  const cardCalls = proxyActivities<Pick<CenterActivities, 'authorizeCardPayment'>>({
    startToCloseTimeout: payOpts.authorizeTimeoutMs ?? 30_000,
    retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 4 },
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
    payment: null,
    cardId: null,
    message: null,
    customerDeadline: Date.now() + input.holdTtlMs,
  };
  let touched = false;
  let inFlight = 0;
  let cancelRequested = false;
  let paid = false;
  /** Payment attempts are numbered per issuance (payments.attempt): each card try, cash, or slip takes one. */
  let attempt = 0;
  let cashAttempt = 0;
  let pendingCard: CardEntry | null = null;
  /** Card methods with entry 'terminal': the terminal's card reader is to read the card next. */
  let readFromTerminal = false;
  let authorizing = false;
  let readingCard = false;
  let approvedCard: CardAuthResult | null = null;
  let slip: (RegisterSlip & { attempt: number }) | null = null;
  const payment = (): PaymentProgress => p.payment!;
  /** acceptCash running for this issuance; `ended`: it finished by itself (no acceptor, failed), not restarted. */
  let acceptance: { scope: CancellationScope; done: Promise<void> } | null = null;
  let acceptanceEnded = false;
  /** The terminal has a real cash unit (it counts: its counters are reported to the books). */
  let cashUnitCounts = false;

  /** Moves to a stage; the stage search attribute goes in the same upsert as any others given. */
  const setStage = (stage: Stage, message: string | null = p.message, more: SearchAttributeUpdatePair[] = []) => {
    p.stage = stage;
    p.message = message;
    upsertSearchAttributes([{ key: IssuanceStageKey, value: stage }, ...more]);
  };
  const touch = () => {
    touched = true;
    // An open register slip holds the item until its own deadline; otherwise the idle timer restarts.
    p.customerDeadline = slip && !paid ? slip.expiresAt : Date.now() + input.holdTtlMs;
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
        const item = await center.holdItem(issuanceId, terminalId, selection, input.holdTtlMs, ...(input.holder ? [input.holder] : []));
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
      // Nothing to pay (a replacement card with its fee waived): straight to production.
      if (p.item!.quote.totalMinor === 0) paid = true;
      touch();
      return p;
    },
    { validator: () => requireStage(['selected'], 'confirm') },
  );

  setHandler(
    choosePaymentUpdate,
    async ({ method, entry }) => {
      inFlight++;
      try {
        const due = p.item!.quote.totalMinor;
        const currency = p.item!.quote.currency;
        const base: PaymentProgress = { method, state: 'choosing', tries: p.payment?.tries ?? 0, maxTries, last4: null, approvalCode: null, lastDecline: null, slip: null };
        if (method === 'register') {
          // The slip first: if this kiosk cannot take register payments, nothing has changed.
          const made = await center.issueRegisterSlip(issuanceId, registerHoldMs).catch((err) => reject(errorMessage(err), errorType(err) ?? 'PaymentMethodUnavailable'));
          attempt++;
          slip = { slipNumber: made.slipNumber, expiresAt: made.expiresAt, storeId: made.storeId, attempt };
          p.paymentMethod = method;
          p.cash = null;
          p.payment = { ...base, state: 'awaiting-register', slip: { slipNumber: made.slipNumber, expiresAt: made.expiresAt, storeId: made.storeId } };
          setStage('paying', `Please take the slip to the store's register and pay ${formatMoney(due, currency)} there. Slip number ${made.slipNumber}.`);
          await desk.printOrFlag(`slip-${issuanceId}`, slipLines(made.slipNumber, due, currency, made.expiresAt));
        } else if (method === 'cash') {
          attempt++;
          cashAttempt = attempt;
          p.paymentMethod = method;
          p.payment = { ...base, state: 'awaiting-cash' };
          p.cash = { insertedMinor: 0, dueMinor: due, remainingMinor: due, changeMinor: 0 };
          setStage('paying', `Please insert ${formatMoney(due, currency)}.`);
        } else {
          p.paymentMethod = method;
          p.cash = null;
          p.payment = { ...base, state: 'awaiting-card' };
          readFromTerminal = entry === 'terminal';
          setStage('paying', method === 'debit' ? 'Please insert your debit card and enter your PIN.' : `Please insert your ${CARD_METHOD_RULES[method as CardMethod].label.toLowerCase()}.`);
        }
        return p;
      } finally {
        inFlight--;
        touch();
      }
    },
    {
      validator: (choice) => {
        requireStage(['confirmed', 'paying'], 'choose a payment method');
        if (!PAYMENT_METHODS.includes(choice?.method)) reject(`Payment method "${choice?.method}" is not available; choose one of ${PAYMENT_METHODS.join(', ')}.`);
        if (paid) reject('The price is already paid.', 'WrongStage');
        if (authorizing || pendingCard || readingCard) reject('Your card is being checked; please wait.', 'WrongStage');
        if (choice.entry !== undefined && (choice.entry !== 'terminal' && choice.entry !== 'kiosk-page')) reject('entry must be "terminal" or "kiosk-page".');
        if (choice.entry === 'terminal' && !isCardMethod(choice.method)) reject('Only card payments are read by the terminal.');
        if (p.stage === 'paying' && (p.cash?.insertedMinor ?? 0) > 0) reject('Cash has been inserted: please finish paying in cash, or cancel to get it back.', 'WrongStage');
        if (slip) reject('A register slip has been printed: please pay at the register, or cancel.', 'WrongStage');
      },
    },
  );

  setHandler(
    enterCardUpdate,
    (card) => {
      pendingCard = card;
      payment().state = 'authorizing';
      payment().last4 = card.last4;
      p.message = 'Checking your card…';
      touch();
      return p;
    },
    {
      validator: (card) => {
        requireStage(['paying'], 'present a card');
        if (!isCardMethod(p.paymentMethod)) reject('This issuance is not being paid by card; choose a card payment first.', 'WrongStage');
        if (paid) reject('The price is already paid.', 'WrongStage');
        if (authorizing || pendingCard || readingCard || readFromTerminal) reject('Your card is already being checked; please wait.', 'WrongStage');
        if (!card || typeof card.cardToken !== 'string' || !CARD_TOKEN_PATTERN.test(card.cardToken)) reject('A card token is required (card numbers are tokenised before they reach the workflow).');
        if (typeof card.last4 !== 'string' || !/^[0-9]{4}$/.test(card.last4)) reject('last4 must be the last four digits of the card.');
        if (!['manual', 'chip', 'magstripe', 'contactless'].includes(card.entryMode)) reject('entryMode must be manual, chip, magstripe or contactless.');
        const needsPin = CARD_METHOD_RULES[p.paymentMethod as CardMethod].needsPin;
        if (needsPin && !/^[0-9A-F]{16}$/.test(card.pinBlock ?? '')) reject('A debit card needs its PIN: an encrypted PIN block of 16 hex digits from the PIN pad.');
        if (!needsPin && card.pinBlock !== undefined) reject(`A ${p.paymentMethod} payment takes no PIN.`);
      },
    },
  );

  setHandler(
    registerPaymentUpdate,
    async (report) => {
      inFlight++;
      try {
        await center.recordRegisterPayment(issuanceId, slip!.attempt, report);
        paid = true;
        payment().state = 'paid';
        p.message = 'Paid at the register. Your card is being made at the kiosk.';
        return { issuanceId, slipNumber: report.slipNumber, accepted: true as const };
      } finally {
        inFlight--;
        touch();
      }
    },
    {
      validator: (r) => {
        requireStage(['paying'], 'take a register payment');
        if (p.paymentMethod !== 'register' || !slip) reject('This issuance has no open register slip.', 'WrongStage');
        if (paid) reject('This slip is already paid.', 'WrongStage');
        if (r?.slipNumber !== slip.slipNumber) reject('The slip number does not match this issuance.');
        if (r.storeId !== slip.storeId) reject('This slip belongs to another store.');
        if (r.amountMinor !== p.item!.quote.totalMinor) reject(`The slip is for ${formatMoney(p.item!.quote.totalMinor, p.item!.quote.currency)}.`);
        if (Date.now() > slip.expiresAt) reject('The slip has expired; do not take payment for it.', 'SlipExpired');
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

  // Wait for payment, while the customer keeps acting within the hold time (or the slip's time).
  for (;;) {
    if (awaitingCash() && !acceptance && !acceptanceEnded) startAcceptance();
    if (acceptance && !awaitingCash() && !paid) await stopAcceptance(); // another payment method was chosen
    const waitMs = Math.max(1, (p.customerDeadline ?? Date.now()) - Date.now());
    const acted = await condition(() => touched || cancelRequested || paid || pendingCard !== null || readFromTerminal, waitMs);
    if (paid) break;
    if (cancelRequested) return finish(await endUnpaid('cancelled', 'Cancelled. Nothing was charged.'));
    if (readFromTerminal) {
      readFromTerminal = false;
      const read = await readCardAtTerminal();
      if (!read) continue;
      pendingCard = read;
      if (cancelRequested) continue;
    }
    if (pendingCard) {
      const outcome = await authorizeCard(pendingCard);
      if (outcome === 'approved') {
        if (!cancelRequested) {
          paid = true;
          break;
        }
        // Cancelled while the card was being checked: the approval is not used, so it is released.
        await CancellationScope.nonCancellable(() => voidCard(approvedCard!.paymentId, 'cancelled'));
        return finish(await endUnpaid('cancelled', 'Cancelled. Your card payment has been cancelled; nothing will be charged.'));
      }
      if (payment().tries >= maxTries) {
        return finish(await endUnpaid('cancelled', `${p.message} The payment could not be completed after ${maxTries} tries; the item was released.`));
      }
      touched = false;
      continue;
    }
    if (!acted && inFlight === 0) {
      const lapsed = slip ? 'The time to pay at the register ran out; the slip is no longer valid and the item was released.' : 'The time to complete the purchase ran out; the item was released.';
      return finish(await endUnpaid('expired', lapsed));
    }
    touched = false;
  }

  await stopAcceptance();
  // Paid: from here on every way out either hands over a card or gives the money back.
  p.customerDeadline = null;
  setStage('producing', p.message);
  const item = p.item!;
  const method = p.paymentMethod;
  const compensations: Array<() => Promise<void>> = [];
  /** What the customer is told if the card cannot be made, by how they paid. */
  let refundNote = 'Your money has been returned.';
  /** Change the cash unit could not pay (owed, with a voucher): repeated on the last screens. */
  let owedNote = '';
  /** Credit: the authorization becomes a sale only once the card is in the customer's hand. */
  let capture: (() => Promise<void>) | null = null;
  let currentCard: { cardId?: string; uid: string } | null = null;
  try {
    if (item.quote.totalMinor === 0) {
      refundNote = 'Nothing was charged.';
    } else if (method === 'cash') {
      const cash = p.cash!;
      await center.recordCashPayment(issuanceId, { amountMinor: cash.dueMinor, tenderedMinor: cash.insertedMinor, changeMinor: cash.changeMinor, currency: item.quote.currency, ...(cashAttempt > 1 ? { attempt: cashAttempt } : {}) });
      compensations.unshift(async () => {
        const back = await desk.payOut('refund', `refund:${issuanceId}`, cash.dueMinor, item.quote.currency);
        await center.markPaymentRefunded(issuanceId, back.owedMinor === 0);
        if (back.owedMinor > 0) refundNote = owedMessage(back, 'refund', item.quote.currency);
        if (cashUnitCounts) await desk.reportCounters();
      });
      // Change the unit cannot pay is owed (voucher); the card is still made.
      const change = await desk.payOut('change', `change:${issuanceId}`, cash.changeMinor, item.quote.currency);
      if (change.owedMinor > 0) owedNote = ` ${owedMessage(change, 'change', item.quote.currency)}`;
      p.message += owedNote;
      if (cashUnitCounts) await desk.reportCounters();
      if (desk.offline) throw ApplicationFailure.nonRetryable('the kiosk is not responding', 'TerminalOffline');
    } else if (method === 'register') {
      refundNote = 'Please show your slip at the register: the store will give your money back.';
      compensations.unshift(async () => {
        await center.markPaymentRefunded(issuanceId, false);
      });
    } else {
      const card = approvedCard!;
      refundNote = 'Your card payment has been cancelled; nothing will be charged.';
      compensations.unshift(() => voidCard(card.paymentId, 'production_failed'));
      if (card.status === 'authorized') capture = async () => void (await center.captureCardPayment(card.paymentId));
    }

    // CPU card products: the packages held with the item (ids and SHA-256s; the terminal fetches the bytes).
    const applications = item.applications ?? [];
    const maxAttempts = input.maxCardAttempts ?? 3;
    for (let attempt = 1; !p.cardId; attempt++) {
      if (attempt > maxAttempts) throw ApplicationFailure.nonRetryable(`No good card after ${maxAttempts} tries.`, 'ProductionFailed');
      step('binding');
      // A prepaid value sold from stock: a pre-loaded card whose chip the terminal reads (docs/prepaid.md).
      const fed: { uid: string; recordBase64?: string } = item.fromStock ? await terminal.feedStockCard(issuanceId) : await terminal.feedBlankCard(issuanceId);
      const { uid } = fed;
      currentCard = { uid };
      try {
        const { cardId } = fed.recordBase64 ? await center.claimStockCard(issuanceId, uid, fed.recordBase64) : await center.bindCard(issuanceId, uid);
        currentCard.cardId = cardId;
        // A stock card's chip already holds its signed record and value: its issuer activates it now instead.
        if (fed.recordBase64) await center.activateStockCard(issuanceId, cardId);
        else {
          const { recordBase64 } = await center.prepareCardRecord(issuanceId, cardId);
          step('writing');
          await terminal.writeChip(uid, recordBase64);
          step('verifying');
          await terminal.verifyChip(uid, recordBase64);
          await center.setCardStatus(cardId, 'written');
        }
        if (applications.length > 0) {
          // Still "verifying" on the progress bar. A card that refuses is spoiled (CardSpoiled);
          // damaged package bytes (PackageChecksum) end production: every card would get them.
          for (const app of applications) await terminal.installApplication(uid, app);
          await center.recordCardApplications(cardId, applications.map((a) => ({ packageId: a.packageId, aid: a.aid, sha256: a.sha256 })), 'issuance', issuanceId);
        }
        step('printing');
        const holder = item.holderFace ? await center.holderFaceDetails(issuanceId, item.holderFace) : null;
        await terminal.printFace(uid, { title: item.title, lines: holder?.holderName ? [...item.lines, `Holder: ${holder.holderName}`] : item.lines, imageUrl: item.faceImage, cardId, ...(holder?.photoPngBase64 ? { holderPhotoPng: holder.photoPngBase64 } : {}) });
        step('dispensing');
        await terminal.presentCard(uid);
        await center.setCardStatus(cardId, 'issued');
        p.cardId = cardId;
        currentCard = null;
      } catch (err) {
        const type = errorType(err);
        if (type !== 'CardSpoiled' && type !== 'CardAlreadyBound' && type !== 'StockCardUnusable') throw err;
        log.warn('card spoiled, producing another', { issuanceId, attempt, reason: errorMessage(err) });
        await terminal.rejectCard(uid, errorMessage(err));
        if (currentCard?.cardId) await center.setCardStatus(currentCard.cardId, 'spoiled', errorMessage(err).slice(0, 200));
        if (item.fromStock && currentCard?.cardId) await center.releaseStockCard(issuanceId, currentCard.cardId);
        currentCard = null;
      }
    }
  } catch (err) {
    desk.noteFailure(err);
    log.error('production failed after payment; refunding', { issuanceId, error: errorMessage(err) });
    await CancellationScope.nonCancellable(async () => {
      if (currentCard) {
        await terminal.rejectCard(currentCard.uid, 'production aborted').catch(() => undefined);
        if (currentCard.cardId) await center.setCardStatus(currentCard.cardId, 'spoiled', `production aborted: ${errorMessage(err)}`.slice(0, 200));
        if (item.fromStock && currentCard.cardId) await center.releaseStockCard(issuanceId, currentCard.cardId);
      }
      for (const undo of compensations) await undo().catch((e) => log.error('compensation failed', { issuanceId, error: errorMessage(e) }));
      await center.releaseHold(issuanceId, 'refunded');
    });
    p.step = null;
    const why = terminalOffline(err) ? 'the kiosk is not responding' : errorMessage(err);
    setStage('refunded', `Sorry, the card could not be produced (${why}). ${refundNote}${owedNote}`);
    return finish(p);
  }

  // The customer has the card. Receipt, sale and notification cannot undo it, so they retry.
  step('receipt');
  await desk.printOrFlag(issuanceId, receiptLines(p));
  p.percent = 100;
  setStage('recording', `Please take your card and receipt.${owedNote}`);
  await CancellationScope.nonCancellable(async () => {
    if (capture) await capture();
    await center.recordSale(issuanceId, p.cardId!);
    setStage('notifying');
    await issuerCalls.notifyIssuer(issuanceId);
  });
  setStage('completed');
  return finish(p);

  /**
   * One card try: the host's answer decides. Approved → the card can be made. Anything else → the
   * choice screen again with the reason, and an unknown outcome is reversed in the background.
   */
  async function authorizeCard(card: CardEntry): Promise<'approved' | 'declined'> {
    pendingCard = null;
    authorizing = true;
    const cardMethod = p.paymentMethod as CardMethod;
    const mine = ++attempt;
    payment().tries += 1;
    payment().lastDecline = null;
    let result: CardAuthResult | null = null;
    let failure = 'The card company cannot be reached right now. Please try again in a moment or use another payment method.';
    try {
      result = await cardCalls.authorizeCardPayment({ issuanceId, attempt: mine, method: cardMethod, ...card });
    } catch (err) {
      if (errorType(err) === 'PaymentMethodUnavailable') failure = errorMessage(err);
      log.warn('authorization attempt failed; reversing whatever was sent', { issuanceId, attempt: mine, error: errorMessage(err) });
      result = await CancellationScope.nonCancellable(() => center.abandonCardAttempt(issuanceId, mine));
    } finally {
      authorizing = false;
    }
    if (result?.reversalQueued) await startReversal(result.paymentId);
    if (result?.outcome === 'approved') {
      approvedCard = result;
      payment().state = 'paid';
      payment().approvalCode = result.approvalCode;
      p.message = 'Payment approved. Your card is being made.';
      return 'approved';
    }
    const message = result?.customerMessage ?? failure;
    payment().state = 'choosing';
    payment().lastDecline = { method: cardMethod, code: result?.responseCode ?? null, message };
    setStage('confirmed', message);
    touch();
    return 'declined';
  }

  /**
   * The terminal's card reader / PIN pad reads the card; the center decrypts and tokenises it.
   * Nothing read (the customer walked off, cancelled the PIN): back to the choice screen.
   */
  async function readCardAtTerminal(): Promise<CardEntry | null> {
    const cardMethod = p.paymentMethod as CardMethod;
    readingCard = true;
    try {
      const read = await terminal.readPaymentCard(issuanceId, { withPin: CARD_METHOD_RULES[cardMethod].needsPin, timeoutMs: payOpts.cardReadTimeoutMs ?? 60_000 });
      const entry = await center.acceptTerminalCardRead(cardMethod, read);
      payment().state = 'authorizing';
      payment().last4 = entry.last4;
      return entry;
    } catch (err) {
      const message = errorType(err) === 'NoCardPresented' ? 'No card was inserted. Please choose how to pay.' : errorMessage(err);
      payment().state = 'choosing';
      payment().lastDecline = { method: cardMethod, code: null, message };
      setStage('confirmed', message);
      touch();
      return null;
    } finally {
      readingCard = false;
    }
  }

  /** Queues the release of an approved payment and starts its reversal. */
  async function voidCard(paymentId: number, reason: string): Promise<void> {
    const v = await center.voidCardPayment(paymentId, reason);
    if (v.reversalQueued) await startReversal(paymentId);
  }

  /** The reversal runs in its own workflow, so neither the customer nor this issuance waits for the host. */
  async function startReversal(paymentId: number): Promise<void> {
    try {
      await startChild(paymentReversal, {
        workflowId: reversalWorkflowId(paymentId),
        args: [{ paymentId, ...(payOpts.reversalMaxIntervalMs ? { maxIntervalMs: payOpts.reversalMaxIntervalMs } : {}) }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } catch (err) {
      // Already started (one reversal per payment): nothing more to do.
      log.warn('reversal workflow not started', { issuanceId, paymentId, error: errorMessage(err) });
    }
  }

  function awaitingCash(): boolean {
    return p.stage === 'paying' && p.paymentMethod === 'cash' && !paid && !cancelRequested;
  }

  /** Starts the terminal's acceptCash for the amount still due (see activities/terminal/cash-acceptance.ts). */
  function startAcceptance(): void {
    const scope = new CancellationScope();
    const run = scope.run(() => acceptor.acceptCash(issuanceId, { dueMinor: p.cash!.remainingMinor }));
    const done = run.then(
      (r) => {
        cashUnitCounts ||= r.acceptor;
        if (!r.acceptor || !scope.consideredCancelled) acceptanceEnded = true;
      },
      (err) => {
        if (isCancellation(err)) return;
        acceptanceEnded = true;
        desk.noteFailure(err);
        log.warn('cash acceptance ended', { issuanceId, error: errorMessage(err) });
      },
    );
    acceptance = { scope, done: done.finally(() => void (acceptance = null)) };
  }

  async function stopAcceptance(): Promise<void> {
    const a = acceptance;
    if (!a) return;
    a.scope.cancel();
    await a.done;
  }

  function step(s: ProductionStep) {
    p.step = s;
    p.percent = productionPercent(s, false);
  }

  async function endUnpaid(stage: Stage, message: string): Promise<Progress> {
    await condition(() => inFlight === 0);
    await CancellationScope.nonCancellable(async () => {
      await stopAcceptance(); // no more coins in before they are counted and given back
      const inserted = p.cash?.insertedMinor ?? 0;
      if (inserted > 0) {
        const currency = p.item!.quote.currency;
        const back = await desk.payOut('return', `return:${issuanceId}`, inserted, currency);
        message += back.owedMinor === 0 ? ` Your ${formatMoney(inserted, currency)} has been returned.` : ` ${owedMessage(back, 'return', currency)}`;
        if (cashUnitCounts) await desk.reportCounters();
      }
      if (slip) await center.closeRegisterSlip(issuanceId, stage === 'expired' ? 'expired' : 'cancelled');
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
  const paidWith: string[] = [];
  if (p.paymentMethod === 'cash' && p.cash) {
    paidWith.push(`Cash ${formatMoney(p.cash.insertedMinor, q.currency)}`, `Change ${formatMoney(p.cash.changeMinor, q.currency)}`);
  } else if (p.paymentMethod === 'register') {
    paidWith.push(`Paid at the register, slip ${p.payment?.slip?.slipNumber ?? ''}`);
  } else if (isCardMethod(p.paymentMethod)) {
    paidWith.push(`${CARD_METHOD_RULES[p.paymentMethod].label} ****${p.payment?.last4 ?? ''}`, `Approval ${p.payment?.approvalCode ?? ''}`);
  }
  return [
    'RECEIPT',
    ...p.item!.lines,
    `Card ${p.cardId}`,
    `Price ${formatMoney(q.priceMinor, q.currency)}`,
    `Issuance fee ${formatMoney(q.customerFeeMinor, q.currency)}`,
    `Total ${formatMoney(q.totalMinor, q.currency)}`,
    ...paidWith,
    `Issuer ${p.item!.issuerName}`,
    `Ref ${p.issuanceId}`,
  ];
}

function slipLines(slipNumber: string, amountMinor: number, currency: string, expiresAt: number): string[] {
  const until = new Date(expiresAt).toISOString().replace('T', ' ').slice(0, 16);
  return ['PAYMENT SLIP', 'Please pay at the register', `Slip ${slipNumber}`, `Amount ${formatMoney(amountMinor, currency)}`, `Valid until ${until} UTC`, 'Your card is made when the register has taken the payment.'];
}
