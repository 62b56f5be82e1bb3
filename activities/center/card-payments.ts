/**
 * Card payments against the payment companies' hosts (ISO 8583 over TCP), money exactly once.
 *
 * - An attempt is a `payments` row keyed by (issuance, attempt), created with its host identity
 *   (STAN, field 41, field 7, RRN: lib/payment-hosts.ts) *before* the first send. A retried
 *   activity finds the row and resends the identical request; the host's duplicate detection
 *   answers it with the original answer and charges once.
 * - An explicit answer moves the row out of `pending` once (conditional update + a unique
 *   payment_transitions row). Approval of a 0200 (prepaid, debit) is a capture at once; a 0100
 *   (credit) is an authorization, captured after the card was handed out.
 * - No answer, a dropped connection after sending, 94 or an unlisted code: the outcome is unknown.
 *   The row becomes `unknown` and a reversal is queued in the same DB transaction; the reversal
 *   workflow (workflows/payment-reversal.ts) sends 0400, then 0420/0421, until the host
 *   acknowledges (00, or 25: nothing to undo). The card is never produced on an unknown outcome.
 * - Voiding an approved payment (production failed, the customer left) queues the same reversal.
 * - Ledger: a capture posts the receivable from the payment company; a void of a captured payment
 *   takes it back (domain/ledger.ts), in the same DB transaction as the state change.
 *
 * The card number exists here only between detokenising and packing one request; it is never
 * logged, stored (beyond the vault), thrown or returned.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { describeResponseCode, REVERSAL_ACKNOWLEDGED_CODES, type Iso8583Fields, type Iso8583Message } from '../../domain/iso8583';
import { cardCaptured, cardReleased } from '../../domain/ledger';
import { allowedFrom, CARD_METHOD_RULES, isCardMethod, type CardAuthResult, type CardEntry, type CardMethod, type CardPaymentStatus } from '../../domain/payments';
import { cardReaderKeyProvider, cardVaultKeyProvider, createCardVault, type CardVault } from '../../lib/card-vault';
import { acceptEncryptedCardRead, CardEdgeError } from '../../lib/card-edge';
import { paymentKeyProvider } from '../../lib/payment-keys';
import type { EncryptedCardRead } from '../../terminal-worker/devices/payment-devices';
import { loadConfig } from '../../lib/config';
import { isUniqueViolation } from '../../lib/db';
import { Iso8583ConnectionError, Iso8583NoAnswerError } from '../../lib/iso8583-framing';
import { currencyNumeric, deriveRrn, deriveStan, hostForMethod, originalDataElements, PaymentHostClients, terminalRef, timeFields, toSecond } from '../../lib/payment-hosts';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { postTransaction } from './ledger';

export interface AuthorizeCardRequest extends CardEntry {
  issuanceId: string;
  attempt: number;
  method: CardMethod;
}

export const PaymentErrorTypes = {
  PaymentMethodUnavailable: 'PaymentMethodUnavailable',
  PaymentHostUnavailable: 'PaymentHostUnavailable',
  ReversalNotAcknowledged: 'ReversalNotAcknowledged',
} as const;

const UNKNOWN_MESSAGE = 'We could not get an answer from the card company. Nothing will be charged: any amount held on your card is being released. Please try again or choose another way to pay.';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createCardPaymentActivities(deps: CenterDeps) {
  const { db, now = Date.now } = deps;
  let vault: CardVault | undefined = deps.cardVault;
  let hosts: PaymentHostClients | undefined = deps.paymentHosts;
  const theVault = () => (vault ??= createCardVault(db, cardVaultKeyProvider(process.env, loadConfig().DATA_DIR)));
  const theHosts = () => (hosts ??= new PaymentHostClients(db));

  /** One state change, once: conditional on an allowed current state, recorded in payment_transitions. */
  async function transition(trx: Knex.Transaction, paymentId: number, to: CardPaymentStatus, note: string, extra: Record<string, unknown> = {}): Promise<{ from: string; changed: boolean }> {
    const row = await trx('payments').where({ id: paymentId }).first('status');
    if (!row) throw refuse('InvariantBroken', `no payment ${paymentId}`);
    if (row.status === to) return { from: row.status, changed: false };
    const n = await trx('payments').where({ id: paymentId }).whereIn('status', allowedFrom(to)).update({ status: to, updated_at_ms: now(), ...extra });
    if (n !== 1) throw refuse('InvariantBroken', `payment ${paymentId} cannot go from ${row.status} to ${to}`);
    await trx('payment_transitions').insert({ payment_id: paymentId, from_status: row.status, to_status: to, note: note.slice(0, 200), at_ms: now() });
    return { from: row.status, changed: true };
  }

  async function queueReversal(trx: Knex.Transaction, payment: { id: number; host_id: string }, reason: string): Promise<void> {
    const existing = await trx('payment_reversals').where({ payment_id: payment.id }).first('id');
    if (existing) return;
    await trx('payment_reversals').insert({ payment_id: payment.id, host_id: payment.host_id, reason, status: 'queued', sends: 0, created_at_ms: now(), updated_at_ms: now() });
  }

  async function resultOf(paymentId: number): Promise<CardAuthResult> {
    const row = await db('payments').where({ id: paymentId }).first();
    const reversal = await db('payment_reversals').where({ payment_id: paymentId }).first('status');
    const status = row.status as CardPaymentStatus;
    const meaning = describeResponseCode(row.response_code ?? undefined);
    let outcome: CardAuthResult['outcome'];
    let message: string;
    if (status === 'authorized' || status === 'captured' || ((status === 'voided' || status === 'refunded') && row.response_code === '00')) {
      outcome = 'approved';
      message = meaning.customerMessage;
    } else if (status === 'declined') {
      outcome = meaning.outcome === 'retry' ? 'retry' : 'declined';
      message = meaning.customerMessage;
    } else {
      outcome = 'unknown';
      message = UNKNOWN_MESSAGE;
    }
    return {
      paymentId,
      attempt: Number(row.attempt),
      outcome,
      status,
      responseCode: row.response_code ?? null,
      customerMessage: message,
      last4: row.card_last4,
      approvalCode: row.approval_code ?? null,
      reversalQueued: Boolean(reversal),
    };
  }

  /** The attempt's row, created with its identity on the first call and found again by retries. */
  async function attemptRow(req: AuthorizeCardRequest): Promise<Record<string, any>> {
    const existing = await db('payments').where({ issuance_id: req.issuanceId, attempt: req.attempt }).first();
    if (existing) {
      if (existing.method !== req.method || existing.card_token !== req.cardToken) throw refuse('InvariantBroken', `attempt ${req.attempt} of ${req.issuanceId} already exists for another payment`);
      return { ...existing, fresh: false };
    }
    const iss = await db('issuances').where({ id: req.issuanceId }).first('terminal_id', 'total_minor', 'currency');
    if (!iss) throw refuse('InvariantBroken', `no issuance ${req.issuanceId}`);
    const host = await hostForMethod(db, req.method);
    if (!host) throw ApplicationFailure.nonRetryable(`No payment company is configured for ${req.method} payments.`, PaymentErrorTypes.PaymentMethodUnavailable);
    const mti = CARD_METHOD_RULES[req.method].mti;
    const at = toSecond(now());
    let stan = deriveStan(`${req.issuanceId}#${req.attempt}`);
    for (let tries = 0; ; tries++) {
      try {
        // The row and its first transition in one commit. sent_count counts sends started: the
        // caller sends right after creating the row, so a new row starts at 1.
        await db.transaction(async (trx) => {
          const [id] = await trx('payments').insert({
            issuance_id: req.issuanceId,
            attempt: req.attempt,
            method: req.method,
            amount_minor: Number(iss.total_minor),
            tendered_minor: Number(iss.total_minor),
            change_minor: 0,
            currency: iss.currency,
            status: 'pending',
            host_id: host.id,
            card_token: req.cardToken,
            card_last4: req.last4,
            request_mti: mti,
            stan,
            terminal_ref: terminalRef(iss.terminal_id),
            transmitted_at_ms: at,
            rrn: deriveRrn(at, stan),
            sent_count: 1,
            created_at_ms: now(),
            updated_at_ms: now(),
          });
          await trx('payment_transitions').insert({ payment_id: id, from_status: null, to_status: 'pending', note: `attempt ${req.attempt} via ${host.id}`, at_ms: now() });
        });
        break;
      } catch (err) {
        if (!isUniqueViolation(err) || tries >= 20) throw err;
        const raced = await db('payments').where({ issuance_id: req.issuanceId, attempt: req.attempt }).first();
        if (raced) return { ...raced, fresh: false }; // a concurrent run of this same attempt made it first
        stan = String((Number(stan) % 999_999) + 1).padStart(6, '0'); // another attempt has this identity this second
      }
    }
    const row = await db('payments').where({ issuance_id: req.issuanceId, attempt: req.attempt }).first();
    return { ...row, fresh: true };
  }

  async function settleUnknown(paymentId: number, reason: string, note: string): Promise<void> {
    await db.transaction(async (trx) => {
      const row = await trx('payments').where({ id: paymentId }).first('id', 'host_id', 'status');
      if (row.status === 'pending') await transition(trx, paymentId, 'unknown', note);
      if (['pending', 'unknown'].includes(row.status)) await queueReversal(trx, row, reason);
    });
  }

  async function recordAnswer(row: Record<string, any>, answer: Iso8583Message, sentAmount: string): Promise<void> {
    const code = answer.fields[39];
    const meaning = describeResponseCode(code);
    const extra = { response_code: code && /^[0-9A-Z]{2}$/.test(code) ? code : null, host_rrn: answer.fields[37] ?? null, approval_code: answer.fields[38] ?? null, answered_at_ms: now() };
    await db.transaction(async (trx) => {
      const current = await trx('payments').where({ id: row.id }).first('status');
      if (current.status !== 'pending') return; // a concurrent run recorded it first
      // An approval for another amount settles nothing: reverse it.
      if (meaning.outcome === 'approved' && answer.fields[4] !== undefined && answer.fields[4] !== sentAmount) {
        await transition(trx, row.id, 'unknown', `approval for amount ${answer.fields[4]} ≠ ${sentAmount}`, extra);
        await queueReversal(trx, row as { id: number; host_id: string }, 'unknown_code');
        return;
      }
      if (meaning.outcome === 'approved') {
        const to = row.request_mti === '0100' ? 'authorized' : 'captured';
        await transition(trx, row.id, to, `${row.request_mti} approved`, extra);
        if (to === 'captured') await postCapture(trx, row);
      } else if (meaning.outcome === 'declined' || meaning.outcome === 'retry') {
        await transition(trx, row.id, 'declined', `${meaning.code} ${meaning.meaning}`, extra);
      } else {
        await transition(trx, row.id, 'unknown', `${meaning.code} ${meaning.meaning}`, extra);
        await queueReversal(trx, row as { id: number; host_id: string }, 'unknown_code');
      }
    });
  }

  async function postCapture(trx: Knex.Transaction, row: Record<string, any>): Promise<void> {
    await postTransaction(trx, {
      kind: 'card_captured',
      ref: `${row.issuance_id}#${row.attempt}`,
      currency: row.currency,
      description: `${row.method} card ****${row.card_last4} captured for ${row.issuance_id} (${row.host_id})`,
      postings: cardCaptured(row.host_id, Number(row.amount_minor)),
      atMs: now(),
    });
  }

  async function maybeDieAfterSend(mti: string): Promise<void> {
    if (!deps.faultKillAfterPaymentSend || (deps.faultKillAfterPaymentSend !== mti && deps.faultKillAfterPaymentSend !== 'any')) return;
    await sleep(150); // the request is on the wire; the answer (if any) is not yet processed
    process.kill(process.pid, 'SIGKILL');
  }

  return {
    /**
     * A terminal's card reader read a card: decrypt the read (P2PE), tokenise the number, and
     * translate the PIN block from the terminal's PIN key to the host's zone PIN key. Only the
     * token, the last four digits and the translated block go back to the workflow.
     */
    async acceptTerminalCardRead(method: CardMethod, read: EncryptedCardRead): Promise<CardEntry> {
      try {
        return await acceptEncryptedCardRead(
          { db, vault: theVault(), keys: paymentKeyProvider(process.env), readerKeys: cardReaderKeyProvider(process.env, loadConfig().DATA_DIR) },
          method,
          read,
        );
      } catch (err) {
        if (err instanceof CardEdgeError) throw ApplicationFailure.nonRetryable(err.message, err.code === 'method_unavailable' ? PaymentErrorTypes.PaymentMethodUnavailable : 'CardNotRead');
        throw ApplicationFailure.nonRetryable('The card read could not be accepted. Please try again.', 'CardNotRead');
      }
    },

    /**
     * One authorization attempt (0100 credit, 0200 prepaid/debit). Returns the outcome; throws
     * only when the host cannot be reached at all (retryable) or no host serves the method.
     */
    async authorizeCardPayment(req: AuthorizeCardRequest): Promise<CardAuthResult> {
      if (!isCardMethod(req.method)) throw refuse('InvariantBroken', `not a card method: ${String(req.method)}`);
      const row = await attemptRow(req);
      if (row.status !== 'pending') return resultOf(row.id);
      const { client, config } = await theHosts().client(row.host_id);
      const card = await theVault().detokenise(row.card_token);
      const time = timeFields(Number(row.transmitted_at_ms));
      const amount = String(row.amount_minor).padStart(12, '0');
      const fields: Iso8583Fields = {
        2: card.pan,
        3: '000000',
        4: amount,
        ...time,
        ...(card.expiry && config.table.fields[14] ? { 14: card.expiry } : {}),
        11: row.stan,
        22: req.entryMode === 'manual' ? '012' : req.entryMode === 'magstripe' ? '021' : req.entryMode === 'contactless' ? '071' : '051',
        37: row.rrn,
        41: row.terminal_ref,
        42: config.merchantId.padEnd(15, ' ').slice(0, 15),
        49: currencyNumeric(row.currency),
        ...(CARD_METHOD_RULES[req.method as CardMethod].needsPin ? { 52: req.pinBlock } : {}),
      };
      if (CARD_METHOD_RULES[req.method as CardMethod].needsPin && !/^[0-9A-F]{16}$/.test(req.pinBlock ?? '')) throw refuse('InvariantBroken', 'a debit payment needs an encrypted PIN block');
      if (!row.fresh) await db('payments').where({ id: row.id }).increment('sent_count', 1);
      let answer: Iso8583Message;
      try {
        const pending = client.request(row.request_mti, fields, { timeoutMs: config.timeoutMs });
        await maybeDieAfterSend(row.request_mti);
        answer = await pending;
      } catch (err) {
        if (err instanceof Iso8583NoAnswerError || (err instanceof Iso8583ConnectionError && err.outcomeUnknown)) {
          await settleUnknown(row.id, 'no_answer', err instanceof Iso8583NoAnswerError ? `no answer within ${config.timeoutMs} ms` : 'connection dropped after sending');
          return resultOf(row.id);
        }
        throw ApplicationFailure.retryable(`payment host ${config.id} cannot be reached: ${(err as Error).message}`, PaymentErrorTypes.PaymentHostUnavailable);
      }
      await recordAnswer(row, answer, amount);
      return resultOf(row.id);
    },

    /**
     * The workflow gave up on an attempt (the activity kept failing): whatever was or was not
     * sent, reverse it. Returns null when the attempt never got as far as a payment row.
     */
    async abandonCardAttempt(issuanceId: string, attempt: number): Promise<CardAuthResult | null> {
      const row = await db('payments').where({ issuance_id: issuanceId, attempt }).first('id', 'status');
      if (!row) return null;
      if (row.status === 'pending') await settleUnknown(row.id, 'abandoned', 'the authorization activity gave up');
      return resultOf(row.id);
    },

    /** Credit: the card is in the customer's hand, the authorization becomes a sale. */
    async captureCardPayment(paymentId: number): Promise<{ status: string }> {
      return db.transaction(async (trx) => {
        const row = await trx('payments').where({ id: paymentId }).first();
        if (!row) throw refuse('InvariantBroken', `no payment ${paymentId}`);
        if (row.status === 'captured') return { status: 'captured' };
        const { changed } = await transition(trx, paymentId, 'captured', 'card handed out');
        if (changed) await postCapture(trx, row);
        return { status: 'captured' };
      });
    },

    /**
     * Gives an approved payment back (production failed, the customer cancelled): queues its
     * reversal; the reversal workflow sends it and moves the payment to voided on acknowledgement.
     */
    async voidCardPayment(paymentId: number, reason: string): Promise<{ reversalQueued: boolean; status: string }> {
      return db.transaction(async (trx) => {
        const row = await trx('payments').where({ id: paymentId }).first('id', 'host_id', 'status');
        if (!row) throw refuse('InvariantBroken', `no payment ${paymentId}`);
        if (['authorized', 'captured', 'unknown'].includes(row.status)) {
          await queueReversal(trx, row, reason === 'production_failed' ? 'void' : reason.slice(0, 30));
          return { reversalQueued: true, status: row.status };
        }
        if (row.status === 'pending') {
          await transition(trx, paymentId, 'unknown', `given up: ${reason}`);
          await queueReversal(trx, row, 'abandoned');
          return { reversalQueued: true, status: 'unknown' };
        }
        return { reversalQueued: false, status: row.status };
      });
    },

    /**
     * One transmission of a payment's reversal: 0400 first, then the 0420 advice, then 0421
     * repeats. Acknowledged (00 or 25) → the payment is voided (it had been approved) or reversed
     * (its outcome was unknown), once. Not acknowledged → a retryable failure, so Temporal keeps
     * the queue entry going with backoff until the host answers.
     */
    async sendReversal(paymentId: number): Promise<{ status: string; mti: string | null; responseCode: string | null; sends: number }> {
      const rev = await db('payment_reversals').where({ payment_id: paymentId }).first();
      if (!rev) throw refuse('InvariantBroken', `no reversal queued for payment ${paymentId}`);
      if (rev.status === 'acknowledged') return { status: 'acknowledged', mti: rev.last_mti, responseCode: rev.last_response_code, sends: Number(rev.sends) };
      const pay = await db('payments').where({ id: paymentId }).first();
      const n = Number(rev.sends);
      const mti = n === 0 ? '0400' : n === 1 ? '0420' : '0421';
      const claimed = await db('payment_reversals').where({ id: rev.id, sends: n }).update({ sends: n + 1, last_mti: mti, updated_at_ms: now() });
      if (claimed !== 1) throw ApplicationFailure.retryable(`reversal of payment ${paymentId} is being sent by another attempt`, PaymentErrorTypes.ReversalNotAcknowledged);
      const { client, config } = await theHosts().client(pay.host_id);
      const card = await theVault().detokenise(pay.card_token);
      const at = now();
      const fields: Iso8583Fields = {
        2: card.pan,
        3: '000000',
        4: String(pay.amount_minor).padStart(12, '0'),
        ...timeFields(at),
        11: deriveStan(`reversal:${paymentId}:${n}`),
        41: pay.terminal_ref,
        42: config.merchantId.padEnd(15, ' ').slice(0, 15),
        49: currencyNumeric(pay.currency),
        90: originalDataElements(pay.request_mti, pay.stan, timeFields(Number(pay.transmitted_at_ms))[7], config.acquirerId),
      };
      let code: string | undefined;
      try {
        code = (await client.request(mti, fields, { timeoutMs: config.timeoutMs })).fields[39];
      } catch (err) {
        await db('payment_reversals').where({ id: rev.id }).update({ last_response_code: null, updated_at_ms: now() });
        throw ApplicationFailure.retryable(`${mti} for payment ${paymentId} not acknowledged: ${(err as Error).message}`, PaymentErrorTypes.ReversalNotAcknowledged);
      }
      const safeCode = code && /^[0-9A-Z]{2}$/.test(code) ? code : null;
      if (!code || !REVERSAL_ACKNOWLEDGED_CODES.includes(code)) {
        await db('payment_reversals').where({ id: rev.id }).update({ last_response_code: safeCode, updated_at_ms: now() });
        throw ApplicationFailure.retryable(`${mti} for payment ${paymentId} answered ${safeCode ?? 'without a code'}; repeating`, PaymentErrorTypes.ReversalNotAcknowledged);
      }
      await db.transaction(async (trx) => {
        const acked = await trx('payment_reversals').where({ id: rev.id, status: 'queued' }).update({ status: 'acknowledged', last_response_code: safeCode, acknowledged_at_ms: now(), updated_at_ms: now() });
        if (acked !== 1) return;
        const row = await trx('payments').where({ id: paymentId }).first();
        if (row.status === 'authorized' || row.status === 'captured') {
          await transition(trx, paymentId, 'voided', `${mti} acknowledged ${code}`);
          if (row.status === 'captured') {
            await postTransaction(trx, {
              kind: 'card_released',
              ref: `${row.issuance_id}#${row.attempt}`,
              currency: row.currency,
              description: `${row.method} card ****${row.card_last4} voided for ${row.issuance_id} (${row.host_id})`,
              postings: cardReleased(row.host_id, Number(row.amount_minor)),
              atMs: now(),
            });
          }
        } else if (row.status === 'unknown' || row.status === 'pending') {
          if (row.status === 'pending') await transition(trx, paymentId, 'unknown', 'reversed before an answer');
          await transition(trx, paymentId, 'reversed', `${mti} acknowledged ${code}`);
        }
      });
      return { status: 'acknowledged', mti, responseCode: safeCode, sends: n + 1 };
    },
  };
}
