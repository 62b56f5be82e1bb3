/**
 * An issuer's settlement statement for one period: the sales and refunds in it, the operator's
 * fees, and what is paid out. Pure: no I/O, no clock, safe in the workflow bundle.
 *
 * Items. A sale carries positive amounts, a refund the same fields negated. Each item must satisfy
 *   issuerNetMinor = priceMinor − operatorFeeMinor,  0 ≤ |operatorFeeMinor| ≤ |priceMinor|
 * (a refund that leaves the fee with the operator has operatorFeeMinor 0). statementTotals checks it.
 *
 * Totals (all integers in the currency's minor unit):
 *   grossMinor      = Σ priceMinor of sales                               (≥ 0)
 *   feesMinor       = Σ operatorFeeMinor of all items
 *                   = Σ sale fees − Σ refunded fees                       (may be < 0)
 *   refundsMinor    = Σ |priceMinor| of refunds, i.e. what customers got back (≥ 0);
 *                     refundsMinor − refunded fees = Σ |issuerNetMinor| of refunds
 *   carriedInMinor  = balance brought forward from the previous statement, ≤ 0 (a debt)
 *   netMinor        = Σ issuerNetMinor of all items + carriedInMinor
 *   payoutMinor     = max(netMinor, 0)   — transferred to the issuer
 *   carriedOutMinor = min(netMinor, 0)   — brought forward to the next statement
 * Identities, exact because every amount is an integer:
 *   grossMinor − feesMinor − refundsMinor + carriedInMinor = netMinor
 *   payoutMinor + carriedOutMinor = netMinor
 *
 * CSV (RFC 4180 via csv-stringify, CRLF line ends): a header line, one line per item, then summary
 * lines of the same width: "summary", the name in the second column, the value in the third.
 * Times are ISO 8601 in Asia/Tokyo (+09:00; Japan has no daylight saving time). Text cells that a
 * spreadsheet would run as a formula (starting with = + - @ tab or CR) get a leading apostrophe.
 */
import { stringify } from 'csv-stringify/sync';

export interface SettlementItem {
  kind: 'sale' | 'refund';
  saleId: number;
  issuanceId: string;
  cardId: string;
  title: string;
  soldAtMs: number;
  priceMinor: number;
  operatorFeeMinor: number;
  issuerNetMinor: number;
  /** Sold in an earlier period but recorded after that period's statement was closed. */
  late: boolean;
}

export interface SettlementStatement {
  settlementId: string;
  issuerId: string;
  issuerName: string;
  currency: string;
  periodStartMs: number;
  periodEndMs: number;
  items: SettlementItem[];
  grossMinor: number;
  feesMinor: number;
  refundsMinor: number;
  carriedInMinor: number;
  netMinor: number;
  payoutMinor: number;
  carriedOutMinor: number;
}

interface StatementTotals {
  grossMinor: number;
  feesMinor: number;
  refundsMinor: number;
  netMinor: number;
  payoutMinor: number;
  carriedOutMinor: number;
}

function isInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n);
}

function checkItem(it: SettlementItem, i: number): void {
  const at = `settlement item ${i + 1} (saleId ${it.saleId}, ${it.kind})`;
  if (it.kind !== 'sale' && it.kind !== 'refund') throw new RangeError(`${at}: kind must be "sale" or "refund"`);
  for (const f of ['priceMinor', 'operatorFeeMinor', 'issuerNetMinor'] as const) {
    if (!isInt(it[f])) throw new RangeError(`${at}: ${f} must be an integer, got ${it[f]}`);
  }
  const sign = it.kind === 'sale' ? 1 : -1;
  const price = sign * it.priceMinor;
  const fee = sign * it.operatorFeeMinor;
  if (price < 0 || fee < 0) throw new RangeError(`${at}: ${it.kind === 'sale' ? 'a sale carries amounts ≥ 0' : 'a refund carries amounts ≤ 0'}, got price ${it.priceMinor}, fee ${it.operatorFeeMinor}`);
  if (fee > price) throw new RangeError(`${at}: fee ${it.operatorFeeMinor} exceeds price ${it.priceMinor}`);
  if (it.issuerNetMinor !== it.priceMinor - it.operatorFeeMinor) {
    throw new RangeError(`${at}: issuerNetMinor ${it.issuerNetMinor} ≠ priceMinor ${it.priceMinor} − operatorFeeMinor ${it.operatorFeeMinor}`);
  }
}

/** Totals of a statement; see the file header for the definitions. Throws RangeError on inconsistent items. */
export function statementTotals(items: SettlementItem[], carriedInMinor: number): StatementTotals {
  if (!isInt(carriedInMinor) || carriedInMinor > 0) throw new RangeError(`carriedInMinor must be an integer ≤ 0, got ${carriedInMinor}`);
  let grossMinor = 0;
  let feesMinor = 0;
  let refundsMinor = 0;
  let issuerNet = 0;
  items.forEach((it, i) => {
    checkItem(it, i);
    if (it.kind === 'sale') grossMinor += it.priceMinor;
    else refundsMinor += -it.priceMinor;
    feesMinor += it.operatorFeeMinor;
    issuerNet += it.issuerNetMinor;
  });
  const netMinor = issuerNet + carriedInMinor;
  for (const [name, v] of Object.entries({ grossMinor, feesMinor, refundsMinor, netMinor })) {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${name} ${v} is beyond the safe integer range`);
  }
  return { grossMinor, feesMinor, refundsMinor, netMinor, payoutMinor: Math.max(netMinor, 0), carriedOutMinor: Math.min(netMinor, 0) };
}

/** Throws unless the statement's stored totals are the ones its items give. */
function checkStatement(s: SettlementStatement): void {
  if (!isInt(s.periodStartMs) || !isInt(s.periodEndMs) || s.periodStartMs > s.periodEndMs) {
    throw new RangeError(`settlement ${s.settlementId}: period ${s.periodStartMs}..${s.periodEndMs} is not a valid range`);
  }
  const t = statementTotals(s.items, s.carriedInMinor);
  for (const k of Object.keys(t) as (keyof StatementTotals)[]) {
    if (s[k] !== t[k]) throw new RangeError(`settlement ${s.settlementId}: ${k} is ${s[k]} but the items give ${t[k]}`);
  }
}

/** ISO 8601 in Asia/Tokyo, e.g. 2025-04-01T09:30:00.000+09:00 (fixed +09:00: no DST since 1951). */
function tokyoIso(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${ms}`);
  return new Date(ms + 9 * 3_600_000).toISOString().replace('Z', '+09:00');
}

const COLUMNS = ['kind', 'saleId', 'issuanceId', 'cardId', 'title', 'soldAt', 'priceMinor', 'operatorFeeMinor', 'issuerNetMinor', 'late'];

/** Keeps spreadsheets from evaluating issuer-supplied text as a formula (OWASP "CSV injection"). */
function cell(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

export function renderStatementCsv(s: SettlementStatement): string {
  checkStatement(s);
  const rows: (string | number)[][] = [COLUMNS];
  for (const it of s.items) {
    rows.push([it.kind, it.saleId, cell(it.issuanceId), cell(it.cardId), cell(it.title), tokyoIso(it.soldAtMs), it.priceMinor, it.operatorFeeMinor, it.issuerNetMinor, it.late ? 'true' : 'false']);
  }
  const summary: [string, string | number][] = [
    ['settlementId', cell(s.settlementId)],
    ['issuerId', cell(s.issuerId)],
    ['issuerName', cell(s.issuerName)],
    ['currency', s.currency],
    ['periodStart', tokyoIso(s.periodStartMs)],
    ['periodEnd', tokyoIso(s.periodEndMs)],
    ['itemCount', s.items.length],
    ['grossMinor', s.grossMinor],
    ['feesMinor', s.feesMinor],
    ['refundsMinor', s.refundsMinor],
    ['carriedInMinor', s.carriedInMinor],
    ['netMinor', s.netMinor],
    ['payoutMinor', s.payoutMinor],
    ['carriedOutMinor', s.carriedOutMinor],
  ];
  for (const [name, value] of summary) rows.push(['summary', name, value, ...Array(COLUMNS.length - 3).fill('')]);
  return stringify(rows, { record_delimiter: 'windows' });
}

/** The statement as JSON (2-space indent, newline-terminated), after checking its totals. */
export function renderStatementJson(s: SettlementStatement): string {
  checkStatement(s);
  const { settlementId, issuerId, issuerName, currency, periodStartMs, periodEndMs, items, grossMinor, feesMinor, refundsMinor, carriedInMinor, netMinor, payoutMinor, carriedOutMinor } = s;
  return JSON.stringify({ settlementId, issuerId, issuerName, currency, periodStartMs, periodEndMs, items, grossMinor, feesMinor, refundsMinor, carriedInMinor, netMinor, payoutMinor, carriedOutMinor }, null, 2) + '\n';
}
