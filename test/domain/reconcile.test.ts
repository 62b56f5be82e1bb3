/**
 * Parsing an acquirer's settlement CSV (with line-numbered errors) and reconciling it against ours.
 */
import { parseAcquirerSettlementCsv, reconcile } from '../../domain/reconcile';

describe('parseAcquirerSettlementCsv', () => {
  test('reads ref, amount, date in any column order, with quoting, BOM and CRLF', () => {
    const text = '\uFEFFdate,ref,amount,note\r\n2025-04-01,pay-1,12000,ok\r\n2025-04-01,"pay,2",-3000,"refund, ""late"""\r\n\r\n';
    expect(parseAcquirerSettlementCsv(text)).toEqual([
      { ref: 'pay-1', amountMinor: 12000, date: '2025-04-01' },
      { ref: 'pay,2', amountMinor: -3000, date: '2025-04-01' },
    ]);
  });

  test('a header alone is an empty file', () => {
    expect(parseAcquirerSettlementCsv('ref,amount,date\n')).toEqual([]);
  });

  test('bad lines are named by line number', () => {
    const head = 'ref,amount,date\npay-1,100,2025-04-01\n';
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,12.5,2025-04-01\n')).toThrow(/line 3: amount must be an integer in minor units, got "12.5"/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,1e3,2025-04-01\n')).toThrow(/line 3: amount/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,,2025-04-01\n')).toThrow(/line 3: amount/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,99999999999999999,2025-04-01\n')).toThrow(/line 3: amount/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,100,2025-02-30\n')).toThrow(/line 3: date must be YYYY-MM-DD, got "2025-02-30"/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,100,04/01/2025\n')).toThrow(/line 3: date/);
    expect(() => parseAcquirerSettlementCsv(head + ',100,2025-04-01\n')).toThrow(/line 3: ref is empty/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,100\n')).toThrow(/acquirer CSV: .*line 3/);
    expect(() => parseAcquirerSettlementCsv(head + 'pay-2,"100,2025-04-01\n')).toThrow(/acquirer CSV/);
  });

  test('the header must name the columns', () => {
    expect(() => parseAcquirerSettlementCsv('id,amount,date\npay-1,100,2025-04-01\n')).toThrow(/line 1: header must name the columns ref, amount, date; missing ref/);
    expect(() => parseAcquirerSettlementCsv('pay-1,100,2025-04-01\n')).toThrow(/missing ref, amount, date/);
  });
});

describe('reconcile', () => {
  const line = (ref: string, amountMinor: number) => ({ ref, amountMinor, date: '2025-04-01' });

  test('sorts every ref into exactly one list', () => {
    const ours = [
      { ref: 'ok-1', amountMinor: 100 },
      { ref: 'only-ours', amountMinor: 200 },
      { ref: 'diff', amountMinor: 300 },
      { ref: 'ok-2', amountMinor: -50 },
    ];
    const theirs = [line('ok-2', -50), line('diff', 299), line('only-theirs', 400), line('ok-1', 100)];
    expect(reconcile(ours, theirs)).toEqual({
      matched: ['ok-1', 'ok-2'],
      missingOnTheirSide: [{ ref: 'only-ours', amountMinor: 200 }],
      missingOnOurSide: [line('only-theirs', 400)],
      amountMismatches: [{ ref: 'diff', reason: 'amount', ours: [300], theirs: [299] }],
    });
  });

  test('duplicate refs on either side are mismatches, even when the amounts agree', () => {
    const r = reconcile(
      [{ ref: 'dup-ours', amountMinor: 100 }, { ref: 'dup-ours', amountMinor: 100 }, { ref: 'dup-theirs', amountMinor: 5 }, { ref: 'dup-alone', amountMinor: 1 }, { ref: 'dup-alone', amountMinor: 2 }],
      [line('dup-ours', 100), line('dup-theirs', 5), line('dup-theirs', 5), line('dup-only-theirs', 7), line('dup-only-theirs', 8)],
    );
    expect(r.matched).toEqual([]);
    expect(r.missingOnTheirSide).toEqual([]);
    expect(r.missingOnOurSide).toEqual([]);
    expect(r.amountMismatches).toEqual([
      { ref: 'dup-ours', reason: 'duplicate', ours: [100, 100], theirs: [100] },
      { ref: 'dup-theirs', reason: 'duplicate', ours: [5], theirs: [5, 5] },
      { ref: 'dup-alone', reason: 'duplicate', ours: [1, 2], theirs: [] },
      { ref: 'dup-only-theirs', reason: 'duplicate', ours: [], theirs: [7, 8] },
    ]);
  });

  test('empty sides', () => {
    expect(reconcile([], [])).toEqual({ matched: [], missingOnTheirSide: [], missingOnOurSide: [], amountMismatches: [] });
    expect(reconcile([{ ref: 'a', amountMinor: 1 }], []).missingOnTheirSide).toEqual([{ ref: 'a', amountMinor: 1 }]);
  });

  test('parsed file straight into reconcile', () => {
    const theirs = parseAcquirerSettlementCsv('ref,amount,date\npay-1,12000,2025-04-01\npay-2,3000,2025-04-01\n');
    expect(reconcile([{ ref: 'pay-1', amountMinor: 12000 }, { ref: 'pay-2', amountMinor: 3300 }], theirs)).toMatchObject({ matched: ['pay-1'], amountMismatches: [{ ref: 'pay-2', ours: [3300], theirs: [3000] }] });
  });
});
