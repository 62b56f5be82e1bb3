import { changeBreakdown, isAcceptedDenomination } from '../../domain/cash';
import { formatMoney, operatorFee } from '../../domain/money';

describe('operator fee', () => {
  test('percentage rounds half up to the yen, plus the fixed part', () => {
    expect(operatorFee(12000, { bps: 800, fixedMinor: 0 })).toBe(960);
    expect(operatorFee(1001, { bps: 50, fixedMinor: 0 })).toBe(5); // 5.005 → 5
    expect(operatorFee(1010, { bps: 50, fixedMinor: 0 })).toBe(5); // 5.05 → 5
    expect(operatorFee(1100, { bps: 50, fixedMinor: 0 })).toBe(6); // 5.5 → 6
    expect(operatorFee(3000, { bps: 500, fixedMinor: 10 })).toBe(160);
  });

  test('never more than the price', () => {
    expect(operatorFee(50, { bps: 1000, fixedMinor: 100 })).toBe(50);
    expect(operatorFee(0, { bps: 800, fixedMinor: 0 })).toBe(0);
  });

  test('rejects impossible inputs', () => {
    expect(() => operatorFee(-1, { bps: 1, fixedMinor: 0 })).toThrow(RangeError);
    expect(() => operatorFee(1.5, { bps: 1, fixedMinor: 0 })).toThrow(RangeError);
    expect(() => operatorFee(100, { bps: 10001, fixedMinor: 0 })).toThrow(RangeError);
    expect(() => operatorFee(100, { bps: 1, fixedMinor: -5 })).toThrow(RangeError);
  });

  test('formats yen without a minor unit', () => {
    expect(formatMoney(12330, 'JPY')).toBe('¥12,330');
  });
});

describe('cash', () => {
  test('accepts only real yen denominations', () => {
    for (const d of [10, 50, 100, 500, 1000, 2000, 5000, 10000]) expect(isAcceptedDenomination(d)).toBe(true);
    for (const d of [0, -1000, 1, 20, 200, 1234, 20000, 1e9, 1000.5, NaN]) expect(isAcceptedDenomination(d)).toBe(false);
  });

  test('change is made greedily without ¥2000 notes and adds up', () => {
    expect(changeBreakdown(2670)).toEqual({ 1000: 2, 500: 1, 100: 1, 50: 1, 10: 2 });
    expect(changeBreakdown(0)).toEqual({});
    expect(() => changeBreakdown(5)).toThrow(RangeError);
  });
});
