import { signPayload, verifySignature } from '../../lib/webhook-signature';

const secret = 'whsec_test';
const body = '{"id":"evt-1","type":"sale.recorded"}';

test('a signature made now verifies', () => {
  const header = signPayload(secret, body, 1_800_000_000);
  expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
  expect(verifySignature(secret, body, header, 1_800_000_100)).toEqual({ ok: true, timestamp: 1_800_000_000 });
});

test('tampered body, wrong secret, stale timestamp and junk headers are refused', () => {
  const header = signPayload(secret, body, 1_800_000_000);
  expect(verifySignature(secret, body.replace('1', '2'), header, 1_800_000_000)).toEqual({ ok: false, reason: 'signature mismatch' });
  expect(verifySignature('other', body, header, 1_800_000_000)).toEqual({ ok: false, reason: 'signature mismatch' });
  expect(verifySignature(secret, body, header, 1_800_000_301)).toEqual({ ok: false, reason: 'signature timestamp outside tolerance' });
  expect(verifySignature(secret, body, undefined, 1_800_000_000).ok).toBe(false);
  expect(verifySignature(secret, body, 'garbage', 1_800_000_000).ok).toBe(false);
  expect(verifySignature(secret, body, 'v1=abc', 1_800_000_000).ok).toBe(false);
});
