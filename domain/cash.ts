/**
 * Cash accepted by the kiosk's note/coin unit. Only real Japanese denominations are accepted,
 * which rejects negative, fractional and absurd amounts at the door.
 */
export const JPY_DENOMINATIONS = [10, 50, 100, 500, 1000, 2000, 5000, 10000] as const;

export function isAcceptedDenomination(amountMinor: number): boolean {
  return (JPY_DENOMINATIONS as readonly number[]).includes(amountMinor);
}

/** Greedy change-making in yen (canonical coin system, so greedy is optimal). */
export function changeBreakdown(amountMinor: number): Record<number, number> {
  const result: Record<number, number> = {};
  let left = amountMinor;
  for (const d of [...JPY_DENOMINATIONS].reverse()) {
    if (d === 2000) continue; // the change dispenser holds no ¥2000 notes
    const n = Math.floor(left / d);
    if (n > 0) {
      result[d] = n;
      left -= n * d;
    }
  }
  if (left !== 0) throw new RangeError(`cannot make change for ${amountMinor}`);
  return result;
}
