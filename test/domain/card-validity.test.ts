import { commuterValidity, concertValidUntilMs } from '../../domain/card-validity';

test('a concert ticket is valid until midnight after the performance, local to the venue', () => {
  expect(new Date(concertValidUntilMs('2027-04-05T14:00:00+09:00')).toISOString()).toBe('2027-04-05T15:00:00.000Z');
  expect(new Date(concertValidUntilMs('2027-04-05T23:30:00Z')).toISOString()).toBe('2027-04-06T00:00:00.000Z');
  expect(() => concertValidUntilMs('2027-04-05 14:00')).toThrow(/offset/);
});

test('a commuter pass runs from the local date of issue through the day before the same date N months on', () => {
  // 2026-01-15 10:00 JST
  const v = commuterValidity(Date.parse('2026-01-15T10:00:00+09:00'), 1);
  expect(new Date(v.validFromMs).toISOString()).toBe('2026-01-14T15:00:00.000Z'); // 15 Jan 00:00 JST
  expect(new Date(v.validUntilMs!).toISOString()).toBe('2026-02-14T15:00:00.000Z'); // through 14 Feb JST
  // Issued late on 31 Jan UTC = 1 Feb JST: the local date counts.
  const w = commuterValidity(Date.parse('2026-01-31T20:00:00Z'), 3);
  expect(new Date(w.validFromMs).toISOString()).toBe('2026-01-31T15:00:00.000Z');
  expect(new Date(w.validUntilMs!).toISOString()).toBe('2026-04-30T15:00:00.000Z');
  // From 31 Jan for one month: February has no 31st, so the pass ends with 28 Feb.
  const x = commuterValidity(Date.parse('2026-01-31T10:00:00+09:00'), 1);
  expect(new Date(x.validUntilMs!).toISOString()).toBe('2026-02-28T15:00:00.000Z');
  expect(() => commuterValidity(0, 0)).toThrow(/months/);
});
