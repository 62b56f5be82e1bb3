/**
 * Double-entry bookkeeping, the pure part: named accounts and the balanced postings of each kind
 * of money movement. Debits are positive, credits negative; every transaction sums to zero.
 *
 * Accounts
 *   cash:terminal:<id>        asset      notes and coins in a terminal's cash box
 *   customer_prepayments      liability  money taken for an issuance whose sale is not yet recorded
 *   issuer_payable:<issuer>   liability  what the operator owes an issuer
 *   operator_fee_revenue      revenue    the operator's fee deducted from issuers' takings
 *   issuance_fee_revenue      revenue    issuance fees customers pay on top of the price
 *   bank:operator             asset      the operator's bank account (payouts leave from here)
 *   refunds_due               liability  refunds owed to customers that the terminal could not pay
 *   receivable:<payment host> asset      captured card payments the payment company owes the operator
 *   cash:store:<store>        asset      pay-at-register money a store's POS took for the operator
 */

export interface Posting {
  account: string;
  /** Debit > 0, credit < 0, in minor units. */
  amountMinor: number;
}

export const Accounts = {
  terminalCash: (terminalId: string) => `cash:terminal:${terminalId}`,
  customerPrepayments: 'customer_prepayments',
  issuerPayable: (issuerId: string) => `issuer_payable:${issuerId}`,
  operatorFeeRevenue: 'operator_fee_revenue',
  issuanceFeeRevenue: 'issuance_fee_revenue',
  operatorBank: 'bank:operator',
  refundsDue: 'refunds_due',
  paymentReceivable: (hostId: string) => `receivable:${hostId}`,
  storeCash: (storeId: string) => `cash:store:${storeId}`,
} as const;

export function isBalanced(postings: Posting[]): boolean {
  return postings.every((p) => Number.isSafeInteger(p.amountMinor)) && postings.reduce((s, p) => s + p.amountMinor, 0) === 0;
}

/** Drops zero lines; throws if the rest does not balance (a bug, never data). */
export function balanced(postings: Posting[]): Posting[] {
  const lines = postings.filter((p) => p.amountMinor !== 0);
  if (!isBalanced(lines)) throw new Error(`unbalanced postings: ${JSON.stringify(lines)}`);
  return lines;
}

/** Cash kept by a terminal for an issuance (tendered minus change), before the sale exists. */
export function cashCollected(terminalId: string, amountMinor: number): Posting[] {
  return balanced([
    { account: Accounts.terminalCash(terminalId), amountMinor },
    { account: Accounts.customerPrepayments, amountMinor: -amountMinor },
  ]);
}

/** The sale: the prepayment becomes the issuer's takings less the operator's fee, plus the issuance fee. */
export function saleRecognised(s: { issuerId: string; priceMinor: number; operatorFeeMinor: number; customerFeeMinor: number }): Posting[] {
  return balanced([
    { account: Accounts.customerPrepayments, amountMinor: s.priceMinor + s.customerFeeMinor },
    { account: Accounts.issuerPayable(s.issuerId), amountMinor: -(s.priceMinor - s.operatorFeeMinor) },
    { account: Accounts.operatorFeeRevenue, amountMinor: -s.operatorFeeMinor },
    { account: Accounts.issuanceFeeRevenue, amountMinor: -s.customerFeeMinor },
  ]);
}

/** A prepayment given back in cash by the terminal, or owed when the terminal could not pay it. */
export function cashRefunded(terminalId: string, amountMinor: number, paidBack: boolean): Posting[] {
  return balanced([
    { account: Accounts.customerPrepayments, amountMinor },
    { account: paidBack ? Accounts.terminalCash(terminalId) : Accounts.refundsDue, amountMinor: -amountMinor },
  ]);
}

/** An issuer's net takings paid out from the operator's bank account. */
export function issuerPaidOut(issuerId: string, amountMinor: number): Posting[] {
  return balanced([
    { account: Accounts.issuerPayable(issuerId), amountMinor },
    { account: Accounts.operatorBank, amountMinor: -amountMinor },
  ]);
}

/**
 * A sold card refunded after the fact (or revoked with a refund): the sale is reversed except the
 * customer's issuance fee. The issuer gives back its net, the operator its fee, and the price is
 * owed to the customer. If the sale was already settled, the issuer's payable goes negative until
 * its next settlement nets it off (or carries it forward).
 */
export function saleRefunded(s: { issuerId: string; priceMinor: number; operatorFeeMinor: number }): Posting[] {
  return balanced([
    { account: Accounts.issuerPayable(s.issuerId), amountMinor: s.priceMinor - s.operatorFeeMinor },
    { account: Accounts.operatorFeeRevenue, amountMinor: s.operatorFeeMinor },
    { account: Accounts.refundsDue, amountMinor: -s.priceMinor },
  ]);
}

/**
 * A card payment captured (credit: after the card was handed out; prepaid/debit: at approval,
 * single message): the payment company now owes the amount, held as the customer's prepayment
 * until the sale is recorded. An authorization alone (a hold on the cardholder's limit) moves no
 * money and posts nothing.
 */
export function cardCaptured(hostId: string, amountMinor: number): Posting[] {
  return balanced([
    { account: Accounts.paymentReceivable(hostId), amountMinor },
    { account: Accounts.customerPrepayments, amountMinor: -amountMinor },
  ]);
}

/** A captured card payment voided (reversal acknowledged) or refunded: the company owes it no more. */
export function cardReleased(hostId: string, amountMinor: number): Posting[] {
  return balanced([
    { account: Accounts.customerPrepayments, amountMinor },
    { account: Accounts.paymentReceivable(hostId), amountMinor: -amountMinor },
  ]);
}

/** Money a store's POS register took for a pay-at-register slip. */
export function registerCollected(storeId: string, amountMinor: number): Posting[] {
  return balanced([
    { account: Accounts.storeCash(storeId), amountMinor },
    { account: Accounts.customerPrepayments, amountMinor: -amountMinor },
  ]);
}

/**
 * A cash voucher settled: the customer has been paid what a terminal owed them (short change, an
 * unpaid refund, cash not returned), by the operator, so the debt leaves refunds_due and the money
 * leaves the operator's bank; the terminal's cash box is untouched (its counters still agree).
 */
export function voucherSettled(amountMinor: number): Posting[] {
  return balanced([
    { account: Accounts.refundsDue, amountMinor },
    { account: Accounts.operatorBank, amountMinor: -amountMinor },
  ]);
}
