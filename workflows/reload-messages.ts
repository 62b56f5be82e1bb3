/**
 * The kiosk's conversation with a reload workflow (workflows/reload.ts): cash in, cancel, and the
 * progress Query. Shared by the workflow and the API.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CashState } from '../domain/issuance';
import type { ReloadProgress } from '../domain/reload';

export const reloadInsertCashUpdate = defineUpdate<CashState, [{ amountMinor: number }]>('insertCash');
export const reloadCancelUpdate = defineUpdate<ReloadProgress, []>('cancel');
export const reloadProgressQuery = defineQuery<ReloadProgress>('progress');

export interface ReloadInput {
  reloadId: string;
  terminalId: string;
  amountMinor: number;
  /** How long the customer may take to insert the card, and then to pay. */
  holdTtlMs: number;
  terminal?: { scheduleToStartMs?: number; heartbeatMs?: number };
}
