/**
 * Settlement periods: daily, closing at a local time of day in a time zone (Asia/Tokyo 00:00 by
 * default). A period runs from one close (inclusive) to the next (exclusive) and is named by the
 * local date of its start: with close 00:00 JST, period "2025-03-01" is
 * [2025-03-01T00:00+09:00, 2025-03-02T00:00+09:00).
 *
 * Pure (Intl only), so the settlement trigger workflow can use it deterministically.
 */

export interface PeriodConfig {
  /** Local closing time "HH:MM" (24 h). */
  closeTime: string;
  /** IANA time zone, e.g. "Asia/Tokyo". */
  timeZone: string;
}

export interface Period {
  startMs: number;
  endMs: number;
  /** Local date (YYYY-MM-DD) of the period's start. */
  label: string;
}

export const DEFAULT_PERIOD_CONFIG: PeriodConfig = { closeTime: '00:00', timeZone: 'Asia/Tokyo' };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const DAY_MS = 86_400_000;

export function parseCloseTime(closeTime: string): { hour: number; minute: number } {
  const m = TIME.exec(closeTime);
  if (!m) throw new RangeError(`closing time must be HH:MM, got ${JSON.stringify(closeTime)}`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local wall-clock fields of an instant in a time zone. */
export function localParts(ms: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour % 24, minute: parts.minute, second: parts.second };
}

/** Offset of the zone from UTC at an instant, in ms (Tokyo: +9 h). */
function offsetAt(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The instant a local wall-clock time occurs in a zone (the later one in a DST gap/overlap is fine for closes). */
export function zonedTimeToUtc(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  let t = guess - offsetAt(guess, timeZone);
  t = guess - offsetAt(t, timeZone);
  return t;
}

function isoDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The close instant on a local calendar date. */
function closeOn(year: number, month: number, day: number, cfg: PeriodConfig): number {
  const { hour, minute } = parseCloseTime(cfg.closeTime);
  // Normalise the calendar date (day may be 0 or 32) through UTC arithmetic.
  const d = new Date(Date.UTC(year, month - 1, day));
  return zonedTimeToUtc(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), hour, minute, cfg.timeZone);
}

/** The period named by a local date (YYYY-MM-DD): from that date's close to the next day's. */
export function periodForDate(label: string, cfg: PeriodConfig = DEFAULT_PERIOD_CONFIG): Period {
  const m = DATE.exec(label);
  if (!m) throw new RangeError(`period date must be YYYY-MM-DD, got ${JSON.stringify(label)}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() + 1 !== mo || check.getUTCDate() !== d) throw new RangeError(`no such date ${label}`);
  return { startMs: closeOn(y, mo, d, cfg), endMs: closeOn(y, mo, d + 1, cfg), label };
}

/** The period an instant falls in (start ≤ at < end). */
export function periodContaining(atMs: number, cfg: PeriodConfig = DEFAULT_PERIOD_CONFIG): Period {
  const p = localParts(atMs, cfg.timeZone);
  // The close on the instant's local date, the day before or the day after brackets it.
  for (const offset of [0, -1, 1, -2]) {
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day + offset));
    const period = periodForDate(isoDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()), cfg);
    if (period.startMs <= atMs && atMs < period.endMs) return period;
  }
  throw new Error(`no period contains ${new Date(atMs).toISOString()} in ${cfg.timeZone}`);
}

/** The latest period that has closed at an instant (end ≤ at): what a run at `at` settles. */
export function lastClosedPeriod(atMs: number, cfg: PeriodConfig = DEFAULT_PERIOD_CONFIG): Period {
  return periodContaining(periodContaining(atMs, cfg).startMs - 1, cfg);
}

/** Every period whose start lies in [fromMs, toMs), oldest first (for backfills). */
export function periodsBetween(fromMs: number, toMs: number, cfg: PeriodConfig = DEFAULT_PERIOD_CONFIG): Period[] {
  const out: Period[] = [];
  let p = periodContaining(fromMs, cfg);
  if (p.startMs < fromMs) p = periodContaining(p.endMs, cfg);
  while (p.startMs < toMs && out.length < 3700) {
    out.push(p);
    p = periodContaining(p.endMs, cfg);
  }
  return out;
}

/** The settlement's id and workflow id: `settlement-<issuer>-<period start date>`. */
export function settlementIdFor(issuerId: string, period: Pick<Period, 'label'>): string {
  return `settlement-${issuerId}-${period.label}`;
}

/** A local date a number of days after another (YYYY-MM-DD arithmetic). */
export function addDays(label: string, days: number): string {
  const m = DATE.exec(label);
  if (!m) throw new RangeError(`date must be YYYY-MM-DD, got ${label}`);
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + days * DAY_MS);
  return isoDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** The date `days` business days (Monday–Friday; holidays not modelled) after a local date. */
export function businessDayAfter(label: string, days: number): string {
  let out = label;
  let counted = 0;
  while (counted < days) {
    out = addDays(out, 1);
    const m = DATE.exec(out)!;
    const dow = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay();
    if (dow !== 0 && dow !== 6) counted++;
  }
  return out;
}
