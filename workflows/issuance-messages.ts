/**
 * The kiosk's conversation with an issuance workflow: Updates that change it (each validated
 * before it enters history) and the progress Query. Shared by the workflow and the API.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CashState, HeldItem, PaymentMethod, Progress, Selection } from '../domain/issuance';

export const selectItemUpdate = defineUpdate<HeldItem, [Selection]>('selectItem');
export const confirmUpdate = defineUpdate<Progress, []>('confirm');
export const choosePaymentUpdate = defineUpdate<Progress, [{ method: PaymentMethod }]>('choosePayment');
export const insertCashUpdate = defineUpdate<CashState, [{ amountMinor: number }]>('insertCash');
export const cancelUpdate = defineUpdate<Progress, []>('cancel');
export const progressQuery = defineQuery<Progress>('progress');

export interface IssuanceInput {
  issuanceId: string;
  terminalId: string;
  /** How long the customer may be idle before the hold lapses and the issuance ends. */
  holdTtlMs: number;
  /** Timing knobs for the terminal's activities; tests shorten them. */
  terminal?: {
    /** How long a device step may wait for the terminal to pick it up (terminal offline). */
    scheduleToStartMs?: number;
    heartbeatMs?: number;
  };
  maxCardAttempts?: number;
}
