/**
 * When a card is valid, from what it is for. Pure date arithmetic on ISO strings and epoch ms.
 *
 * - Concert ticket: from issue until the end of the performance's local date (midnight after it,
 *   in the offset the performance was published with), so a late show still gets everyone in.
 * - Commuter pass of N months: from the local date of issue (Japan time, +09:00, no DST) through
 *   the day before the same date N months later, as Japanese railways count it; a start on the
 *   31st of a shorter month ends with that month's last day.
 * - Prepaid value: no expiry.
 */
const JST_OFFSET_MS = 9 * 3600_000;
const DAY_MS = 86_400_000;

export interface Validity {
  validFromMs: number;
  validUntilMs: number | null;
}

/** Midnight after the performance's local date. `startsAt` must carry an offset or Z. */
export function concertValidUntilMs(startsAt: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})T[0-9:.]+(Z|[+-]\d{2}:\d{2})$/.exec(startsAt);
  if (!m) throw new Error(`performance start ${startsAt} is not an ISO time with an offset`);
  const midnight = Date.parse(`${m[1]}T00:00:00${m[2]}`);
  return midnight + DAY_MS;
}

/** Start of the local (JST) date and midnight (JST) at the start date + N months. */
export function commuterValidity(issuedAtMs: number, months: number): Validity {
  if (!Number.isInteger(months) || months < 1) throw new Error(`a commuter pass lasts a whole number of months, got ${months}`);
  const local = new Date(issuedAtMs + JST_OFFSET_MS);
  const y = local.getUTCFullYear();
  const mo = local.getUTCMonth();
  const d = local.getUTCDate();
  const validFromMs = Date.UTC(y, mo, d) - JST_OFFSET_MS;
  // The same day N months on, clamped to that month's length; the pass ends at its midnight.
  const lastDayOfTarget = new Date(Date.UTC(y, mo + months + 1, 0)).getUTCDate();
  const end = Date.UTC(y, mo + months, Math.min(d, lastDayOfTarget));
  const validUntilMs = (d > lastDayOfTarget ? end + DAY_MS : end) - JST_OFFSET_MS;
  return { validFromMs, validUntilMs };
}
