/**
 * The kiosk's conversation with an issuance workflow: Updates that change it (each validated
 * before it enters history) and the progress Query. Shared by the workflow and the API.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CashState, HeldItem, PaymentMethod, Progress, Selection } from '../domain/issuance';
import type { CardEntry, RegisterPaymentReport } from '../domain/payments';
import type { IssuanceHolder } from '../domain/users';

export const selectItemUpdate = defineUpdate<HeldItem, [Selection]>('selectItem');
export const confirmUpdate = defineUpdate<Progress, []>('confirm');
/**
 * `entry: 'terminal'` (card methods): the terminal's own card reader and PIN pad read the card;
 * otherwise the card comes through `enterCard` (the kiosk page's simulated reader).
 */
export const choosePaymentUpdate = defineUpdate<Progress, [{ method: PaymentMethod; entry?: 'terminal' | 'kiosk-page' }]>('choosePayment');
export const insertCashUpdate = defineUpdate<CashState, [{ amountMinor: number }]>('insertCash');
export const cancelUpdate = defineUpdate<Progress, []>('cancel');
/** The card the customer presented, already tokenised (and the PIN already encrypted) at the edge. */
export const enterCardUpdate = defineUpdate<Progress, [CardEntry]>('enterCard');
/** A store's POS register took the money for the issuance's pay-at-register slip. */
export const registerPaymentUpdate = defineUpdate<{ issuanceId: string; slipNumber: string; accepted: true }, [RegisterPaymentReport]>('registerPayment');
export const progressQuery = defineQuery<Progress>('progress');

export interface IssuanceInput {
  issuanceId: string;
  terminalId: string;
  /** How long the customer may be idle before the hold lapses and the issuance ends. */
  holdTtlMs: number;
  /** A registered user logged in at the kiosk (their user ID goes on the card); absent for anonymous customers. */
  holder?: IssuanceHolder;
  /** Timing knobs for the terminal's activities; tests shorten them. */
  terminal?: {
    /** How long a device step may wait for the terminal to pick it up (terminal offline). */
    scheduleToStartMs?: number;
    heartbeatMs?: number;
  };
  maxCardAttempts?: number;
  /** Card and register payments; tests shorten the times. */
  payment?: {
    /** How many payment tries (declines included) before the issuance gives up. Default 3. */
    maxTries?: number;
    /** How long a pay-at-register slip holds the item. Default 30 minutes. */
    registerHoldMs?: number;
    /** Start-to-close timeout of one authorization activity attempt (must exceed the host timeout). Default 30 s. */
    authorizeTimeoutMs?: number;
    /** Longest backoff between reversal transmissions. Default 60 s. */
    reversalMaxIntervalMs?: number;
    /** How long the terminal's card reader waits for the card (entry: 'terminal'). Default 60 s. */
    cardReadTimeoutMs?: number;
  };
}
