/**
 * Settlement statement totals (definitions and identities), item checks, and the CSV and JSON
 * renderings (RFC 4180 quoting, Tokyo times, summary lines).
 */
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { renderStatementCsv, renderStatementJson, SettlementItem, SettlementStatement, statementTotals } from '../../domain/settlement-statement';

let nextSaleId = 1;
function sale(priceMinor: number, operatorFeeMinor: number, over: Partial<SettlementItem> = {}): SettlementItem {
  const saleId = nextSaleId++;
  return {
    kind: 'sale', saleId, issuanceId: `iss-T-001-${saleId}`, cardId: `card-${saleId}`, title: 'Concert',
    soldAtMs: Date.UTC(2025, 3, 1, 0, 30), priceMinor, operatorFeeMinor, issuerNetMinor: priceMinor - operatorFeeMinor, late: false, ...over,
  };
}
function refund(of: SettlementItem, keepFee = false): SettlementItem {
  const fee = keepFee ? 0 : -of.operatorFeeMinor;
  return { ...of, kind: 'refund', priceMinor: -of.priceMinor, operatorFeeMinor: fee, issuerNetMinor: -of.priceMinor - fee };
}

const a = sale(12000, 960);
const b = sale(3000, 160, { late: true });
const items = [a, b, refund(b)];

function statement(its: SettlementItem[], carriedInMinor: number, over: Partial<SettlementStatement> = {}): SettlementStatement {
  return {
    settlementId: 'stl-ISS-1-2025-04-01', issuerId: 'ISS-1', issuerName: 'Demo Tickets', currency: 'JPY',
    periodStartMs: Date.UTC(2025, 2, 31, 15), periodEndMs: Date.UTC(2025, 3, 1, 15),
    items: its, carriedInMinor, ...statementTotals(its, carriedInMinor), ...over,
  };
}

describe('statementTotals', () => {
  test('a worked example', () => {
    expect(statementTotals(items, -500)).toEqual({
      grossMinor: 15000, // 12000 + 3000
      feesMinor: 960, // 960 + 160 − 160
      refundsMinor: 3000,
      netMinor: 10540, // 11040 + 2840 − 2840 − 500
      payoutMinor: 10540,
      carriedOutMinor: 0,
    });
  });

  test('a refund that leaves the fee with the operator', () => {
    const t = statementTotals([a, b, refund(b, true)], 0);
    expect(t).toMatchObject({ grossMinor: 15000, feesMinor: 1120, refundsMinor: 3000, netMinor: 11040 - 160 });
  });

  test('a negative balance is carried out, nothing is paid', () => {
    expect(statementTotals([refund(a)], 0)).toEqual({ grossMinor: 0, feesMinor: -960, refundsMinor: 12000, netMinor: -11040, payoutMinor: 0, carriedOutMinor: -11040 });
    expect(statementTotals(items, -20000)).toMatchObject({ netMinor: -8960, payoutMinor: 0, carriedOutMinor: -8960 });
    expect(statementTotals([], -300)).toMatchObject({ netMinor: -300, payoutMinor: 0, carriedOutMinor: -300 });
    expect(statementTotals([], 0)).toEqual({ grossMinor: 0, feesMinor: 0, refundsMinor: 0, netMinor: 0, payoutMinor: 0, carriedOutMinor: 0 });
  });

  test('identities hold for any valid items (property)', () => {
    const saleArb = fc.integer({ min: 0, max: 10_000_000 }).chain((price) => fc.tuple(fc.constant(price), fc.integer({ min: 0, max: price })));
    const itemArb = fc.tuple(saleArb, fc.constantFrom('sale', 'refund', 'refund-keep-fee')).map(([[p, f], k]) => {
      const s = sale(p, f);
      return k === 'sale' ? s : refund(s, k === 'refund-keep-fee');
    });
    fc.assert(fc.property(fc.array(itemArb, { maxLength: 50 }), fc.integer({ min: -1_000_000, max: 0 }), (its, carriedIn) => {
      const t = statementTotals(its, carriedIn);
      expect(t.grossMinor - t.feesMinor - t.refundsMinor + carriedIn).toBe(t.netMinor);
      expect(t.payoutMinor + t.carriedOutMinor).toBe(t.netMinor);
      expect(t.netMinor).toBe(its.reduce((s, it) => s + it.issuerNetMinor, 0) + carriedIn);
      expect(t.payoutMinor).toBeGreaterThanOrEqual(0);
      expect(t.carriedOutMinor).toBeLessThanOrEqual(0);
      expect(t.grossMinor).toBeGreaterThanOrEqual(0);
      expect(t.refundsMinor).toBeGreaterThanOrEqual(0);
    }), { numRuns: 300 });
  });

  test('rejects inconsistent items and a positive carry-in', () => {
    expect(() => statementTotals(items, 1)).toThrow(/carriedInMinor must be an integer ≤ 0/);
    expect(() => statementTotals(items, -0.5)).toThrow(RangeError);
    expect(() => statementTotals([{ ...a, issuerNetMinor: 11000 }], 0)).toThrow(/item 1 .*issuerNetMinor 11000 ≠ priceMinor 12000 − operatorFeeMinor 960/);
    expect(() => statementTotals([a, { ...b, priceMinor: -3000, issuerNetMinor: -3160 }], 0)).toThrow(/item 2 .*a sale carries amounts ≥ 0/);
    expect(() => statementTotals([{ ...refund(a), priceMinor: 12000, issuerNetMinor: 12960 }], 0)).toThrow(/a refund carries amounts ≤ 0/);
    expect(() => statementTotals([sale(100, 200)], 0)).toThrow(/fee 200 exceeds price 100/);
    expect(() => statementTotals([{ ...a, priceMinor: 1.5 }], 0)).toThrow(/priceMinor must be an integer/);
    expect(() => statementTotals([{ ...a, kind: 'void' as never }], 0)).toThrow(/kind/);
  });
});

describe('renderStatementCsv', () => {
  const tricky = sale(5000, 400, { title: 'Live, "Encore"\nnight 2', issuanceId: 'iss-T-001-x', soldAtMs: Date.UTC(2025, 2, 31, 15, 0, 0, 250) });
  const s = statement([...items, tricky], -500);
  const csv = renderStatementCsv(s);
  const rows: string[][] = parse(csv);

  test('header line, one line per item, then summary lines, all the same width, CRLF', () => {
    expect(rows[0]).toEqual(['kind', 'saleId', 'issuanceId', 'cardId', 'title', 'soldAt', 'priceMinor', 'operatorFeeMinor', 'issuerNetMinor', 'late']);
    expect(rows.slice(1, 5).map((r) => r[0])).toEqual(['sale', 'sale', 'refund', 'sale']);
    for (const r of rows) expect(r).toHaveLength(10);
    expect(csv.split('\r\n')[0]).toBe('kind,saleId,issuanceId,cardId,title,soldAt,priceMinor,operatorFeeMinor,issuerNetMinor,late');
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  test('item lines: Tokyo time, signed amounts, late flag', () => {
    expect(rows[1]).toEqual(['sale', String(a.saleId), a.issuanceId, a.cardId, 'Concert', '2025-04-01T09:30:00.000+09:00', '12000', '960', '11040', 'false']);
    expect(rows[3]).toEqual(['refund', String(b.saleId), b.issuanceId, b.cardId, 'Concert', '2025-04-01T09:30:00.000+09:00', '-3000', '-160', '-2840', 'true']);
    expect(rows[4][5]).toBe('2025-04-01T00:00:00.250+09:00'); // 15:00 UTC the day before
  });

  test('commas, quotes and newlines are quoted per RFC 4180 and read back exactly', () => {
    expect(csv).toContain('"Live, ""Encore""\nnight 2"');
    expect(rows[4][4]).toBe('Live, "Encore"\nnight 2');
  });

  test('summary lines carry the statement and its totals', () => {
    const summary = Object.fromEntries(rows.filter((r) => r[0] === 'summary').map((r) => [r[1], r[2]]));
    expect(summary).toEqual({
      settlementId: 'stl-ISS-1-2025-04-01', issuerId: 'ISS-1', issuerName: 'Demo Tickets', currency: 'JPY',
      periodStart: '2025-04-01T00:00:00.000+09:00', periodEnd: '2025-04-02T00:00:00.000+09:00', itemCount: '4',
      grossMinor: '20000', feesMinor: '1360', refundsMinor: '3000', carriedInMinor: '-500', netMinor: '15140', payoutMinor: '15140', carriedOutMinor: '0',
    });
  });

  test('text a spreadsheet would evaluate is defused', () => {
    const out: string[][] = parse(renderStatementCsv(statement([sale(100, 0, { title: '=HYPERLINK("x")' })], 0, { issuerName: '@evil' })));
    expect(out[1][4]).toBe(`'=HYPERLINK("x")`);
    expect(out.find((r) => r[1] === 'issuerName')![2]).toBe(`'@evil`);
  });

  test('refuses a statement whose totals do not match its items', () => {
    expect(() => renderStatementCsv({ ...s, payoutMinor: s.payoutMinor + 1 })).toThrow(/payoutMinor is 15141 but the items give 15140/);
    expect(() => renderStatementCsv({ ...s, periodEndMs: s.periodStartMs - 1 })).toThrow(/period/);
  });
});

describe('renderStatementJson', () => {
  test('is the statement, parseable back to the same value', () => {
    const s = statement(items, -500);
    const json = renderStatementJson(s);
    expect(JSON.parse(json)).toEqual(s);
    expect(json.endsWith('}\n')).toBe(true);
    expect(() => renderStatementJson({ ...s, netMinor: 0 })).toThrow(/netMinor/);
  });
});
