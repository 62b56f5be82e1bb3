/**
 * Money is always an integer count of the currency's minor unit (yen have none, so 1 = ¥1).
 * Fees are computed per sale: a percentage in basis points plus a fixed amount, rounded half up
 * to the minor unit, never more than the price itself.
 */
export interface FeeRule {
  /** Percentage of the price in basis points (1 bp = 0.01 %). */
  bps: number;
  /** Fixed amount per card in minor units. */
  fixedMinor: number;
}

export function isMinorAmount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Operator fee on one sale: round half up of price × bps / 10 000, plus the fixed part, capped at the price. */
export function operatorFee(priceMinor: number, rule: FeeRule): number {
  if (!isMinorAmount(priceMinor)) throw new RangeError(`price must be a non-negative integer, got ${priceMinor}`);
  if (!isMinorAmount(rule.bps) || rule.bps > 10_000) throw new RangeError(`fee bps must be 0..10000, got ${rule.bps}`);
  if (!isMinorAmount(rule.fixedMinor)) throw new RangeError(`fixed fee must be a non-negative integer, got ${rule.fixedMinor}`);
  const percentage = Math.floor((priceMinor * rule.bps + 5_000) / 10_000);
  return Math.min(priceMinor, percentage + rule.fixedMinor);
}

export function formatMoney(amountMinor: number, currency: string): string {
  if (currency === 'JPY') return `¥${amountMinor.toLocaleString('en-US')}`;
  return `${(amountMinor / 100).toFixed(2)} ${currency}`;
}
