/**
 * ISO 8583 field 39 response codes → what the kiosk does and what it tells the customer.
 *
 * outcome: 'approved' — hand out the goods; 'declined' — final no, ask for another card or method;
 * 'retry' — the host or issuer is temporarily unavailable, the same card may work shortly;
 * 'unknown' — the host's answer does not settle whether money moved (e.g. 94 duplicate, an
 * unlisted code): treat like no answer and reverse. Customer messages never reveal why a card
 * is blocked (lost/stolen say the same as a plain decline). Pure; safe in the workflow bundle.
 */

export type PaymentOutcome = 'approved' | 'declined' | 'retry' | 'unknown';

export interface ResponseCodeMeaning {
  code: string;
  outcome: PaymentOutcome;
  /** For operators and logs. */
  meaning: string;
  /** For the customer, on the kiosk screen. */
  customerMessage: string;
}

const USE_ANOTHER = 'Your card was declined. Please use another card or payment method.';
const TRY_LATER = 'The card company cannot be reached right now. Please try again in a moment or use another payment method.';

const TABLE: Record<string, Omit<ResponseCodeMeaning, 'code'>> = {
  '00': { outcome: 'approved', meaning: 'approved', customerMessage: 'Payment approved.' },
  '01': { outcome: 'declined', meaning: 'refer to card issuer', customerMessage: 'Your card was declined. Please contact your card issuer or use another payment method.' },
  '05': { outcome: 'declined', meaning: 'do not honour', customerMessage: USE_ANOTHER },
  '12': { outcome: 'declined', meaning: 'invalid transaction', customerMessage: USE_ANOTHER },
  '13': { outcome: 'declined', meaning: 'invalid amount', customerMessage: 'This amount cannot be paid with this card. Please use another payment method.' },
  '14': { outcome: 'declined', meaning: 'invalid card number', customerMessage: 'This card number is not valid. Please check the card or use another one.' },
  '25': { outcome: 'declined', meaning: 'unable to locate original transaction', customerMessage: USE_ANOTHER },
  '30': { outcome: 'unknown', meaning: 'format error', customerMessage: TRY_LATER },
  '41': { outcome: 'declined', meaning: 'lost card, pick up', customerMessage: USE_ANOTHER },
  '43': { outcome: 'declined', meaning: 'stolen card, pick up', customerMessage: USE_ANOTHER },
  '51': { outcome: 'declined', meaning: 'insufficient funds / over credit limit', customerMessage: 'Insufficient funds or credit limit reached. Please use another card or payment method.' },
  '54': { outcome: 'declined', meaning: 'expired card', customerMessage: 'This card has expired. Please use another card.' },
  '55': { outcome: 'declined', meaning: 'incorrect PIN', customerMessage: 'The PIN is incorrect. Please try again.' },
  '57': { outcome: 'declined', meaning: 'transaction not permitted to cardholder', customerMessage: 'This card cannot be used for this purchase. Please use another payment method.' },
  '58': { outcome: 'declined', meaning: 'transaction not permitted to terminal', customerMessage: 'This card cannot be used at this terminal. Please use another payment method.' },
  '61': { outcome: 'declined', meaning: 'exceeds withdrawal amount limit', customerMessage: 'The amount exceeds your card limit. Please use another card or payment method.' },
  '65': { outcome: 'declined', meaning: 'exceeds withdrawal frequency limit', customerMessage: 'This card has reached its usage limit. Please use another card or payment method.' },
  '75': { outcome: 'declined', meaning: 'allowable number of PIN tries exceeded', customerMessage: 'Too many incorrect PIN entries. This card cannot be used now; please contact your card issuer.' },
  '91': { outcome: 'retry', meaning: 'issuer or switch inoperative', customerMessage: TRY_LATER },
  '94': { outcome: 'unknown', meaning: 'duplicate transmission', customerMessage: TRY_LATER },
  '96': { outcome: 'retry', meaning: 'system malfunction', customerMessage: TRY_LATER },
};

/** Response codes that acknowledge a reversal (the SAF entry may be deleted): done, or nothing to undo. */
export const REVERSAL_ACKNOWLEDGED_CODES: readonly string[] = ['00', '25'];

export function describeResponseCode(code: string | undefined): ResponseCodeMeaning {
  if (code !== undefined && TABLE[code]) return { code, ...TABLE[code] };
  return {
    code: code ?? '',
    outcome: 'unknown',
    meaning: code === undefined ? 'no response code in the answer' : `unlisted response code ${code}`,
    customerMessage: TRY_LATER,
  };
}

export function knownResponseCodes(): string[] {
  return Object.keys(TABLE);
}
