/** Settlement periods for a local closing time and time zone (pure). */
import { businessDayAfter, lastClosedPeriod, periodContaining, periodForDate, periodsBetween, settlementIdFor } from '../../domain/settlement-period';

const tokyo = { closeTime: '00:00', timeZone: 'Asia/Tokyo' };

test('a Tokyo day closing at midnight', () => {
  const p = periodForDate('2025-03-01', tokyo);
  expect(new Date(p.startMs).toISOString()).toBe('2025-02-28T15:00:00.000Z');
  expect(new Date(p.endMs).toISOString()).toBe('2025-03-01T15:00:00.000Z');
  expect(periodContaining(p.startMs, tokyo)).toEqual(p);
  expect(periodContaining(p.endMs - 1, tokyo)).toEqual(p);
  expect(periodContaining(p.endMs, tokyo).label).toBe('2025-03-02');
  expect(lastClosedPeriod(p.endMs, tokyo)).toEqual(p); // a run exactly at the close settles the day that closed
  expect(lastClosedPeriod(p.endMs + 5 * 60_000, tokyo)).toEqual(p);
  expect(settlementIdFor('kanto-railway', p)).toBe('settlement-kanto-railway-2025-03-01');
});

test('a closing time in the afternoon, and a zone with daylight saving', () => {
  const p = periodForDate('2025-03-01', { closeTime: '15:30', timeZone: 'Asia/Tokyo' });
  expect(new Date(p.startMs).toISOString()).toBe('2025-03-01T06:30:00.000Z');
  expect(p.endMs - p.startMs).toBe(86_400_000);
  const ny = { closeTime: '00:00', timeZone: 'America/New_York' };
  const dst = periodForDate('2025-03-09', ny); // 23-hour day
  expect(dst.endMs - dst.startMs).toBe(23 * 3_600_000);
  expect(new Date(dst.startMs).toISOString()).toBe('2025-03-09T05:00:00.000Z');
  // Every instant falls in exactly one period; periods tile time.
  for (let t = Date.UTC(2025, 2, 7); t < Date.UTC(2025, 2, 12); t += 37 * 60_000) {
    const q = periodContaining(t, ny);
    expect(q.startMs <= t && t < q.endMs).toBe(true);
  }
  const days = periodsBetween(periodForDate('2025-03-07', ny).startMs, periodForDate('2025-03-12', ny).startMs, ny);
  expect(days.map((d) => d.label)).toEqual(['2025-03-07', '2025-03-08', '2025-03-09', '2025-03-10', '2025-03-11']);
  for (let i = 1; i < days.length; i++) expect(days[i].startMs).toBe(days[i - 1].endMs);
});

test('bad input and business days', () => {
  expect(() => periodForDate('2025-02-30', tokyo)).toThrow(/no such date/);
  expect(() => periodForDate('2025-03-01', { closeTime: '24:00', timeZone: 'Asia/Tokyo' })).toThrow(/HH:MM/);
  expect(businessDayAfter('2025-01-10', 2)).toBe('2025-01-14'); // Fri → Tue
  expect(businessDayAfter('2025-01-08', 2)).toBe('2025-01-10');
});
