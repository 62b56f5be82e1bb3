/**
 * Payment methods and the payment state machine, the pure part (safe in the workflow bundle).
 *
 * Methods, as the customer meets them on the kiosk:
 *   cash      notes and coins in the kiosk's cash unit
 *   credit    card company's host: 0100 authorization (a hold), captured once the card is handed
 *             out, voided by a 0400 reversal if production fails
 *   prepaid   prepaid company's host: 0200 financial request, deducts at once
 *   debit     bank's host: 0200 with the PIN block in field 52, money moves at once
 *   register  pay at the store's POS register with a printed slip; the POS reports it through the API
 *
 * Card payment states (payments.status), each transition once, enforced in the DB by conditional
 * updates (`UPDATE … WHERE status IN (allowed from)`) and a unique (payment, to_status) row in
 * payment_transitions:
 *
 *   pending ──00──▶ authorized (0100) ──handed out──▶ captured ──refund──▶ refunded
 *      │      └──00──▶ captured (0200: single message, money moved)
 *      ├──declined / retry code──▶ declined
 *      └──no answer / 94 / unlisted code / gave up──▶ unknown ──reversal acknowledged──▶ reversed
 *   authorized | captured (not yet sold) ──reversal acknowledged──▶ voided
 *
 * Cash and register payments are `collected` (then `refunded` / `refund_due`), as before.
 */

export const PAYMENT_METHODS = ['cash', 'credit', 'prepaid', 'debit', 'register'] as const;
export type PaymentMethodName = (typeof PAYMENT_METHODS)[number];

export type CardMethod = 'credit' | 'prepaid' | 'debit';
export const CARD_METHODS: readonly CardMethod[] = ['credit', 'prepaid', 'debit'];

export function isCardMethod(m: unknown): m is CardMethod {
  return CARD_METHODS.includes(m as CardMethod);
}

/** How each card method talks to its host. */
export const CARD_METHOD_RULES: Record<CardMethod, { mti: '0100' | '0200'; needsPin: boolean; label: string }> = {
  credit: { mti: '0100', needsPin: false, label: 'Credit card' },
  prepaid: { mti: '0200', needsPin: false, label: 'Prepaid card' },
  debit: { mti: '0200', needsPin: true, label: 'Debit card' },
};

export const CARD_PAYMENT_STATUSES = ['pending', 'authorized', 'captured', 'declined', 'unknown', 'voided', 'reversed', 'refunded'] as const;
export type CardPaymentStatus = (typeof CARD_PAYMENT_STATUSES)[number];

export const CARD_TRANSITIONS: Readonly<Record<CardPaymentStatus, readonly CardPaymentStatus[]>> = {
  pending: ['authorized', 'captured', 'declined', 'unknown'],
  authorized: ['captured', 'voided'],
  captured: ['voided', 'refunded'],
  unknown: ['reversed'],
  declined: [],
  voided: [],
  reversed: [],
  refunded: [],
};

/** The states a payment may be in to move to `to`. */
export function allowedFrom(to: CardPaymentStatus): CardPaymentStatus[] {
  return CARD_PAYMENT_STATUSES.filter((from) => CARD_TRANSITIONS[from].includes(to));
}

/** What the workflow learns from one authorization attempt. */
export interface CardAuthResult {
  paymentId: number;
  attempt: number;
  /** approved: money authorised or moved; declined/retry: nothing moved; unknown: a reversal is queued. */
  outcome: 'approved' | 'declined' | 'retry' | 'unknown';
  status: CardPaymentStatus;
  responseCode: string | null;
  customerMessage: string;
  last4: string;
  approvalCode: string | null;
  /** A reversal is queued for this payment (run the reversal workflow for it). */
  reversalQueued: boolean;
}

/** Card tokens from the vault (lib/card-vault.ts): never a card number. */
export const CARD_TOKEN_PATTERN = /^tok_[0-9A-Za-z]{24}$/;

/** The card as the workflow may know it: a token and the last four digits, never the number. */
export interface CardEntry {
  cardToken: string;
  last4: string;
  /** Debit: the PIN block encrypted under the bank host's zone PIN key (16 hex digits). */
  pinBlock?: string;
  entryMode: 'manual' | 'chip' | 'magstripe' | 'contactless';
}

export interface RegisterSlip {
  slipNumber: string;
  expiresAt: number;
  storeId: string;
}

export interface RegisterPaymentReport {
  slipNumber: string;
  amountMinor: number;
  storeId: string;
  posTransactionId: string;
  registerId: string;
}

/** The payment part of the kiosk's progress. */
export interface PaymentProgress {
  method: PaymentMethodName;
  /** choosing: the choice screen (after a decline); awaiting-cash; awaiting-card; authorizing; awaiting-register (slip printed); paid. */
  state: 'choosing' | 'awaiting-cash' | 'awaiting-card' | 'authorizing' | 'awaiting-register' | 'paid';
  tries: number;
  maxTries: number;
  last4: string | null;
  approvalCode: string | null;
  /** The last decline (code and what the customer was told), until the next try. */
  lastDecline: { method: PaymentMethodName; code: string | null; message: string } | null;
  slip: RegisterSlip | null;
}

/** Slip numbers: 12 digits plus a mod-10 (Luhn) check digit, so a mistyped number is caught at the register. */
export function luhnCheckDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

export function isValidSlipNumber(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9]{13}$/.test(s) && luhnCheckDigit(s.slice(0, 12)) === s[12];
}
