/**
 * Reconciliation of our payment records against an acquirer's settlement file. Pure: the caller
 * reads the file; this parses the text and compares.
 *
 * The acquirer file is CSV (RFC 4180, parsed with csv-parse) with a header naming the columns
 * ref, amount, date (any order, extra columns ignored): ref is non-empty, amount an integer in
 * minor units (negative for refunds or chargebacks), date YYYY-MM-DD.
 *
 * reconcile() pairs lines by ref:
 *   matched            one line on each side, same amount
 *   amountMismatches   one line on each side with different amounts (reason "amount"), or a ref
 *                      appearing more than once on either side (reason "duplicate"); ours/theirs
 *                      list every amount seen for the ref on that side
 *   missingOnTheirSide one line of ours, none of theirs
 *   missingOnOurSide   one line of theirs, none of ours
 * Every ref appears in exactly one of the four lists, in order of first appearance (ours first).
 */
import { parse } from 'csv-parse/sync';

export interface AcquirerLine {
  ref: string;
  amountMinor: number;
  date: string;
}

export interface OurLine {
  ref: string;
  amountMinor: number;
}

export interface AmountMismatch {
  ref: string;
  reason: 'amount' | 'duplicate';
  ours: number[];
  theirs: number[];
}

export interface ReconcileResult {
  matched: string[];
  missingOnTheirSide: OurLine[];
  missingOnOurSide: AcquirerLine[];
  amountMismatches: AmountMismatch[];
}

class AcquirerCsvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcquirerCsvError';
  }
}

const REQUIRED = ['ref', 'amount', 'date'];

function isRealDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

/** Parses the acquirer's settlement CSV; throws AcquirerCsvError naming the line on any bad line. */
export function parseAcquirerSettlementCsv(text: string): AcquirerLine[] {
  let rows: { record: Record<string, string>; info: { lines: number } }[];
  try {
    rows = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.toLowerCase());
        const missing = REQUIRED.filter((c) => !names.includes(c));
        if (missing.length > 0) throw new AcquirerCsvError(`acquirer CSV line 1: header must name the columns ref, amount, date; missing ${missing.join(', ')}`);
        return names;
      },
    }) as unknown as typeof rows;
  } catch (err) {
    if (err instanceof AcquirerCsvError) throw err;
    throw new AcquirerCsvError(`acquirer CSV: ${(err as Error).message}`);
  }
  return rows.map(({ record, info }) => {
    const at = `acquirer CSV line ${info.lines}`;
    const { ref, amount, date } = record;
    if (!ref) throw new AcquirerCsvError(`${at}: ref is empty`);
    if (!/^-?\d+$/.test(amount) || !Number.isSafeInteger(Number(amount))) throw new AcquirerCsvError(`${at}: amount must be an integer in minor units, got ${JSON.stringify(amount)}`);
    if (!isRealDate(date)) throw new AcquirerCsvError(`${at}: date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
    return { ref, amountMinor: Number(amount), date };
  });
}

function groupByRef<T extends { ref: string }>(lines: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const l of lines) {
    const g = m.get(l.ref);
    if (g) g.push(l);
    else m.set(l.ref, [l]);
  }
  return m;
}

export function reconcile(ours: OurLine[], theirs: AcquirerLine[]): ReconcileResult {
  const a = groupByRef(ours);
  const b = groupByRef(theirs);
  const result: ReconcileResult = { matched: [], missingOnTheirSide: [], missingOnOurSide: [], amountMismatches: [] };
  for (const ref of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(ref) ?? [];
    const y = b.get(ref) ?? [];
    const amounts = { ours: x.map((l) => l.amountMinor), theirs: y.map((l) => l.amountMinor) };
    if (x.length > 1 || y.length > 1) result.amountMismatches.push({ ref, reason: 'duplicate', ...amounts });
    else if (y.length === 0) result.missingOnTheirSide.push({ ref, amountMinor: x[0].amountMinor });
    else if (x.length === 0) result.missingOnOurSide.push(y[0]);
    else if (x[0].amountMinor !== y[0].amountMinor) result.amountMismatches.push({ ref, reason: 'amount', ...amounts });
    else result.matched.push(ref);
  }
  return result;
}
