/**
 * The Web UI's codec endpoint: operators only (bearer token or a signed-in browser session),
 * CORS for the UI's origin, and it really decrypts what the workers wrote into history.
 */
import http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { EncryptionCodec } from '../../lib/payload-codec';
import { payloadKeyProvider } from '../../lib/payload-keys';
import { Kiosk } from '../support/kiosk-client';
import { temporalTestAddress } from '../support/env';
import { startStack, type Stack } from '../support/stack';

const TOKEN = 'a-very-secret-operator-token';
const UI = 'http://localhost:8233';
let stack: Stack;
let server: http.Server;
let base: string;

beforeAll(async () => {
  stack = await startStack();
  const app = createApp({
    db: stack.db,
    temporal: stack.temporal,
    centerTaskQueue: stack.centerTaskQueue,
    holdTtlMs: 60_000,
    finance: { operatorTokens: [{ name: 'alice', token: TOKEN }], period: { closeTime: '00:00', timeZone: 'Asia/Tokyo' } },
    codec: { codec: new EncryptionCodec(payloadKeyProvider(process.env, '/nonexistent')), allowedOrigins: [UI], publicUrl: 'http://localhost:3000' },
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await stack?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

test('refuses anyone who is not an operator', async () => {
  const none = await post('/api/codec/decode', { payloads: [] });
  expect(none.status).toBe(401);
  expect(await none.json()).toMatchObject({ error: { code: 'unauthenticated' } });
  const wrong = await post('/api/codec/decode', { payloads: [] }, { authorization: 'Bearer not-the-token' });
  expect(wrong.status).toBe(403);
});

test('decrypts a real history payload for an operator, and round-trips encode/decode', async () => {
  const seat = Number((await stack.db('seats').where({ status: 'available' }).orderBy('id').first('id')).id);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat }, [10000, 5000]);
  await kiosk.waitForStage('completed');
  const connection = await Connection.connect({ address: temporalTestAddress() });
  const history = await new Client({ connection }).workflow.getHandle(kiosk.issuanceId).fetchHistory();
  await connection.close();
  const completed = history.events!.find((e) => e.workflowExecutionCompletedEventAttributes)!;
  const sealed = completed.workflowExecutionCompletedEventAttributes!.result!.payloads![0];
  const wire = { metadata: Object.fromEntries(Object.entries(sealed.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(sealed.data!).toString('base64') };
  expect(Buffer.from(wire.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');

  const res = await post('/api/codec/decode', { payloads: [wire] }, { authorization: `Bearer ${TOKEN}` });
  expect(res.status).toBe(200);
  const [plain] = ((await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> }).payloads;
  expect(Buffer.from(plain.metadata.encoding, 'base64').toString()).toBe('json/plain');
  expect(JSON.parse(Buffer.from(plain.data, 'base64').toString())).toMatchObject({ issuanceId: kiosk.issuanceId, stage: 'completed' });

  const enc = await post('/api/codec/encode', { payloads: [plain] }, { authorization: `Bearer ${TOKEN}` });
  const [again] = ((await enc.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> }).payloads;
  expect(Buffer.from(again.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
  expect(again.data).not.toBe(plain.data);
});

test('CORS lets only the Web UI origin call with credentials', async () => {
  const ok = await fetch(`${base}/api/codec/decode`, { method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST' } });
  expect(ok.status).toBe(204);
  expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
  expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
  const other = await fetch(`${base}/api/codec/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
  expect(other.headers.get('access-control-allow-origin')).toBeNull();
});

test('an operator signs in once in the browser; the session cookie opens the codec', async () => {
  const bad = await fetch(`${base}/operator/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope', redirect: 'manual' });
  expect(bad.status).toBe(403);
  expect(bad.headers.get('set-cookie')).toBeNull();
  const good = await fetch(`${base}/operator/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}`, redirect: 'manual' });
  expect(good.status).toBe(200);
  expect(await good.text()).toContain('Signed in as alice');
  const cookie = good.headers.get('set-cookie')!;
  expect(cookie).toMatch(/^icc_operator=alice\.\d+\.[0-9a-f]{64};.*HttpOnly/i);
  expect(cookie).not.toContain(TOKEN);
  const withCookie = await post('/api/codec/decode', { payloads: [] }, { cookie: cookie.split(';')[0] });
  expect(withCookie.status).toBe(200);
  const forged = await post('/api/codec/decode', { payloads: [] }, { cookie: 'icc_operator=alice.99999999999999.' + '0'.repeat(64) });
  expect(forged.status).toBe(401);
});
