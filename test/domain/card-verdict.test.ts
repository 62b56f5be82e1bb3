import type { CardRecord } from '../../domain/card-record';
import { offlineVerdict, onlineVerdict, type CardStatus } from '../../domain/card-verdict';

const NOW = Date.parse('2026-11-21T12:00:00Z');
const status: CardStatus = {
  cardId: 'C1',
  issuanceId: 'iss-1',
  issuerId: 'sunrise-promotions',
  productType: 'concert',
  status: 'issued',
  validFromMs: NOW - 3600_000,
  validUntilMs: NOW + 3600_000,
  revocation: null,
};
const record: CardRecord = { issuanceId: 'iss-1', cardId: 'C1', issuerId: 'sunrise-promotions', productType: 'concert', product: {}, userId: null, issuedAt: '2026-11-21T00:00:00Z', validFrom: new Date(NOW - 3600_000).toISOString(), validUntil: new Date(NOW + 3600_000).toISOString() };

test('an issued, unrevoked card within its dates is valid; the answer carries only the card\'s own data', () => {
  expect(onlineVerdict(status, NOW, record)).toEqual({
    valid: true,
    reason: null,
    card: { cardId: 'C1', issuerId: 'sunrise-promotions', productType: 'concert', validFrom: new Date(NOW - 3600_000).toISOString(), validUntil: new Date(NOW + 3600_000).toISOString() },
  });
  expect(offlineVerdict(record, NOW)).toMatchObject({ valid: true, reason: null });
});

test('each refusal comes back with its reason', () => {
  expect(onlineVerdict(null, NOW).reason).toBe('unknown_card');
  expect(onlineVerdict({ ...status, revocation: { reason: 'stolen', revokedAtMs: NOW - 1 } }, NOW)).toMatchObject({ valid: false, reason: 'revoked', card: { revocationReason: 'stolen', revokedAt: new Date(NOW - 1).toISOString() } });
  expect(onlineVerdict({ ...status, status: 'spoiled' }, NOW).reason).toBe('spoiled');
  expect(onlineVerdict({ ...status, status: 'written' }, NOW).reason).toBe('not_issued');
  expect(onlineVerdict({ ...status, status: 'bound' }, NOW).reason).toBe('not_issued');
  expect(onlineVerdict(status, NOW + 3600_000).reason).toBe('expired'); // the end instant is outside
  expect(onlineVerdict(status, NOW - 3600_001).reason).toBe('not_yet_valid');
  expect(onlineVerdict({ ...status, validUntilMs: null }, NOW + 10 * 365 * 86_400_000).valid).toBe(true); // prepaid: no expiry
  expect(onlineVerdict(status, NOW, { ...record, issuanceId: 'iss-other' }).reason).toBe('record_mismatch');
  expect(onlineVerdict(status, NOW, { ...record, issuerId: 'kanto-railway' }).reason).toBe('record_mismatch');
  // Revocation wins over expiry: the gate is told the stronger reason.
  expect(onlineVerdict({ ...status, revocation: { reason: 'lost', revokedAtMs: NOW } }, NOW + 7200_000).reason).toBe('revoked');
  expect(offlineVerdict(record, NOW + 3600_000).reason).toBe('expired');
});
