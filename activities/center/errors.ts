/**
 * Business refusals raised by center activities. They are non-retryable ApplicationFailures whose
 * `type` the workflow and the API map to a clear message for the customer.
 */
import { ApplicationFailure } from '@temporalio/common';

export const ErrorTypes = {
  UnknownItem: 'UnknownItem',
  ItemUnavailable: 'ItemUnavailable',
  UnknownTerminal: 'UnknownTerminal',
  CardAlreadyBound: 'CardAlreadyBound',
  InvariantBroken: 'InvariantBroken',
  /** A card from the stock stocker that is not a sellable stock card of this item (to the reject bin). */
  StockCardUnusable: 'StockCardUnusable',
  /** The issuer refused to activate a stock card, or did not answer by the deadline. */
  ActivationDenied: 'ActivationDenied',
  ActivationTimedOut: 'ActivationTimedOut',
  /** A card presented for reload that cannot be reloaded (not ours, not issued, revoked, not prepaid, busy). */
  ReloadRefused: 'ReloadRefused',
} as const;

export function refuse(type: keyof typeof ErrorTypes, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ErrorTypes[type]);
}
