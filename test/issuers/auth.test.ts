/**
 * Issuer API keys: created and revoked by operators only, shown once, stored only as a hash,
 * checked on every request; the error shape for every way authentication fails.
 */
import { createHash } from 'node:crypto';
import { A, B, C, OPERATOR_TOKEN, expectError, startIssuerApi, type IssuerApiHarness } from './support';

let h: IssuerApiHarness;
beforeAll(async () => {
  h = await startIssuerApi();
});
afterAll(async () => {
  await h?.stop();
});

const op = (method: string, path: string, body?: unknown, token: string | null = OPERATOR_TOKEN) => h.call(null, method, path, body, { token });

test('only operators manage keys', async () => {
  expectError(await op('POST', `/operator/issuers/${A}/api-keys`, { label: 'x' }, null), 401, 'unauthenticated');
  expectError(await op('POST', `/operator/issuers/${A}/api-keys`, { label: 'x' }, 'not-an-operator-token-at-all'), 403, 'forbidden');
  expectError(await op('POST', `/operator/issuers/${A}/api-keys`, { label: 'x' }, h.keys[A]), 403, 'forbidden'); // an issuer key is no operator token
  expectError(await op('GET', `/operator/issuers/${A}/api-keys`, undefined, h.keys[A]), 403, 'forbidden');
  expectError(await op('POST', '/operator/issuers/nobody/api-keys', { label: 'x' }), 404, 'unknown_issuer');
  expectError(await op('POST', `/operator/issuers/${A}/api-keys`, { label: '' }), 400, 'invalid_input', /label/);
});

test('a key is shown once and stored only as its SHA-256', async () => {
  const created = await op('POST', `/operator/issuers/${C}/api-keys`, { label: 'rotation 2027' });
  expect(created.status).toBe(201);
  const { apiKey, keyId } = created.body;
  expect(apiKey).toMatch(/^icc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  expect(created.body).toMatchObject({ issuerId: C, label: 'rotation 2027', createdBy: 'ops.alice', revokedAt: null });
  const row = await h.db('issuer_api_keys').where({ key_id: keyId }).first();
  expect(row.secret_sha256).toBe(createHash('sha256').update(apiKey).digest('hex'));
  const secret = apiKey.split('_')[2];
  const everything = JSON.stringify(await h.db('issuer_api_keys').select('*'));
  expect(everything).not.toContain(secret);
  const listed = await op('GET', `/operator/issuers/${C}/api-keys`);
  expect(listed.body.apiKeys.map((k: any) => k.keyId)).toContain(keyId);
  expect(listed.text).not.toContain(secret);

  const me = await h.call(null, 'GET', '/issuer/me', undefined, { token: apiKey });
  expect(me.body).toEqual({ issuerId: C, name: 'Hikari Mobile', currency: 'JPY', keyId });
  expect((await h.db('issuer_api_keys').where({ key_id: keyId }).first('last_used_at_ms')).last_used_at_ms).not.toBeNull();
});

test('every way authentication fails answers 401 in the error shape', async () => {
  const none = await h.call(null, 'GET', '/issuer/products');
  expectError(none, 401, 'unauthenticated');
  expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="issuers"/);
  expectError(await h.call(null, 'GET', '/issuer/products', undefined, { token: 'garbage' }), 401, 'invalid_api_key');
  expectError(await h.call(null, 'GET', '/issuer/products', undefined, { token: OPERATOR_TOKEN }), 401, 'invalid_api_key');
  // The right key id with a wrong secret.
  const [prefix, id] = h.keys[A].split('_');
  expectError(await h.call(null, 'GET', '/issuer/products', undefined, { token: `${prefix}_${id}_${'x'.repeat(43)}` }), 401, 'invalid_api_key');
  expectError(await h.call(null, 'GET', '/issuer/products', undefined, { token: `${h.keys[A]}x` }), 401, 'invalid_api_key');
  const basic = await fetch(`${h.url}/api/issuer/products`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
  expect(basic.status).toBe(401);
});

test('a revoked key stops working at once; revoking is idempotent and per issuer', async () => {
  const { apiKey, keyId } = (await op('POST', `/operator/issuers/${B}/api-keys`, { label: 'short-lived' })).body;
  expect((await h.call(null, 'GET', '/issuer/me', undefined, { token: apiKey })).status).toBe(200);
  expectError(await op('DELETE', `/operator/issuers/${A}/api-keys/${keyId}`), 404, 'unknown_key'); // B's key under A
  const revoked = await op('DELETE', `/operator/issuers/${B}/api-keys/${keyId}`);
  expect(revoked.body).toMatchObject({ keyId, revokedBy: 'ops.alice', revokedAt: expect.any(String) });
  const again = await op('DELETE', `/operator/issuers/${B}/api-keys/${keyId}`);
  expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
  expectError(await h.call(null, 'GET', '/issuer/me', undefined, { token: apiKey }), 401, 'invalid_api_key');
  // B's other key still works.
  expect((await h.call(B, 'GET', '/issuer/me')).body.issuerId).toBe(B);
});

test('the OpenAPI document needs no key', async () => {
  const doc = await h.call(null, 'GET', '/issuer/openapi.json');
  expect(doc.status).toBe(200);
  expect(doc.body.openapi).toBe('3.1.0');
});
