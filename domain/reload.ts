/**
 * Reloading a prepaid card at a kiosk: the amounts a customer may add and the balance a card may
 * hold, and what the kiosk sees. Pure, safe in the workflow bundle.
 */
import type { CashState } from './issuance';

/** Reloads are in steps of ¥1,000, from ¥1,000 to ¥50,000. */
export const RELOAD_STEP_MINOR = 1_000;
export const RELOAD_MAX_MINOR = 50_000;
/** The most a prepaid card may hold after a reload. */
export const MAX_CARD_BALANCE_MINOR = 100_000;

/** Why an amount cannot be reloaded, or null when it can. */
export function reloadAmountProblem(amountMinor: unknown): string | null {
  if (typeof amountMinor !== 'number' || !Number.isSafeInteger(amountMinor)) return 'The amount must be a whole number of yen.';
  if (amountMinor < RELOAD_STEP_MINOR || amountMinor > RELOAD_MAX_MINOR || amountMinor % RELOAD_STEP_MINOR !== 0) return `Reloads are ¥1,000 to ¥50,000 in steps of ¥1,000; got ${amountMinor}.`;
  return null;
}

export const RELOAD_STAGES = ['reading', 'paying', 'writing', 'recording', 'completed', 'refused', 'cancelled', 'expired', 'refunded'] as const;
export type ReloadStage = (typeof RELOAD_STAGES)[number];
export const FINAL_RELOAD_STAGES: readonly ReloadStage[] = ['completed', 'refused', 'cancelled', 'expired', 'refunded'];

export interface ReloadProgress {
  reloadId: string;
  terminalId: string;
  stage: ReloadStage;
  amountMinor: number;
  currency: string;
  cardId: string | null;
  /** The center's balance before the reload (authoritative). */
  balanceBeforeMinor: number | null;
  /** The chip disagreed with the center's balance (flagged in card_reloads; the center's balance was used). */
  chipMismatch: boolean;
  balanceAfterMinor: number | null;
  cash: CashState | null;
  message: string | null;
  customerDeadline: number | null;
}

export function reloadIdFor(terminalId: string, requestId: string): string {
  return `rld-${terminalId}-${requestId}`;
}
