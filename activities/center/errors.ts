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
} as const;

export function refuse(type: keyof typeof ErrorTypes, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ErrorTypes[type]);
}
