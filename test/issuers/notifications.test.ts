/**
 * Notifications and their delivery log, through the real notification activity
 * (activities/center/notifications.ts) and a receiver that verifies signatures with the example
 * verifier of docs/issuer-api.md: a failed attempt (HTTP 500), a success, a secret rotation
 * (401 until the receiver has the new secret), an unreachable receiver; the log the issuer reads.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createNotificationActivities } from '../../activities/center/notifications';
import { signPayload } from '../../lib/webhook-signature';
import { A, B, expectError, sell, startIssuerApi, type IssuerApiHarness } from './support';

type Verifier = (secret: string, rawBody: string, header: string | undefined, nowSeconds?: number, toleranceSeconds?: number) => boolean;

/** The verifier example exactly as docs/issuer-api.md shows it. */
function docVerifier(): Verifier {
  const doc = fs.readFileSync(path.resolve(__dirname, '../../../docs/issuer-api.md'), 'utf8');
  const m = /<!-- verifier:start -->\s*```js\n([\s\S]*?)```\s*<!-- verifier:end -->/.exec(doc);
  if (!m) throw new Error('docs/issuer-api.md has no verifier example between the markers');
  return new Function('require', `${m[1]}\nreturn verifyIccSignature;`)(require) as Verifier;
}

interface Receiver {
  url: string;
  secret: string;
  mode: 'fail' | 'verify';
  received: Array<{ eventId: string; body: string; signature: string; verified: boolean }>;
  close(): Promise<void>;
}

async function startReceiver(secret: string, verify: Verifier): Promise<Receiver> {
  const r: Receiver = { url: '', secret, mode: 'verify', received: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['x-icc-signature'] ?? '');
      const verified = verify(r.secret, body, signature);
      r.received.push({ eventId: String(req.headers['x-icc-event-id']), body, signature, verified });
      res.statusCode = r.mode === 'fail' ? 500 : verified ? 200 : 401;
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/icc-events`;
  r.close = () => new Promise((ok) => server.close(() => ok()));
  return r;
}

let h: IssuerApiHarness;
let receiver: Receiver;
const verify = docVerifier();
beforeAll(async () => {
  h = await startIssuerApi();
  receiver = await startReceiver(h.webhookSecret, verify);
  await h.db('issuers').where({ id: A }).update({ notify_url: receiver.url });
});
afterAll(async () => {
  await receiver?.close();
  await h?.stop();
});

async function seat(skip: number): Promise<number> {
  return Number((await h.db('seats as s').join('performances as pf', 'pf.id', 's.performance_id').join('products as p', 'p.id', 'pf.product_id').where({ 'p.issuer_id': A, 's.status': 'available' }).orderBy('s.id').offset(skip).first('s.id')).id);
}

test('the doc\'s verifier accepts good signatures and refuses bad, stale and tampered ones', async () => {
  const now = 1_800_000_000;
  const sig = signPayload('s3cret', '{"a":1}', now);
  expect(verify('s3cret', '{"a":1}', sig, now)).toBe(true);
  expect(verify('s3cret', '{"a":1}', `t=${now},v1=${'0'.repeat(64)},${sig.split(',')[1]}`, now)).toBe(true); // one of several v1
  expect(verify('s3cret', '{"a":2}', sig, now)).toBe(false);
  expect(verify('other', '{"a":1}', sig, now)).toBe(false);
  expect(verify('s3cret', '{"a":1}', sig, now + 301)).toBe(false);
  expect(verify('s3cret', '{"a":1}', undefined, now)).toBe(false);
  expect(verify('s3cret', '{"a":1}', 'garbage', now)).toBe(false);
});

test('a failed attempt, then a delivery: the issuer reads both in its delivery log', async () => {
  const sale = await sell(h.db, h.terminalId, { kind: 'seat', seatId: await seat(0) });
  const notify = createNotificationActivities({ db: h.db });
  receiver.mode = 'fail';
  await expect(notify.notifyIssuer(sale.issuanceId)).rejects.toThrow(/HTTP 500/);
  receiver.mode = 'verify';
  const done = await notify.notifyIssuer(sale.issuanceId);
  expect(done).toMatchObject({ eventId: `evt-sale-${sale.issuanceId}`, attempts: 2 });

  const list = await h.call(A, 'GET', '/issuer/notifications');
  expect(list.status).toBe(200);
  expect(list.body.notifications[0]).toMatchObject({ eventId: done.eventId, type: 'sale.recorded', issuanceId: sale.issuanceId, status: 'delivered', attempts: 2, lastError: null });
  const detail = (await h.call(A, 'GET', `/issuer/notifications/${done.eventId}`)).body;
  expect(detail.deliveries).toEqual([
    expect.objectContaining({ attempt: 1, outcome: 'failed', httpStatus: 500, error: 'issuer answered HTTP 500', finishedAt: expect.any(String) }),
    expect.objectContaining({ attempt: 2, outcome: 'delivered', httpStatus: null, error: null, finishedAt: expect.any(String) }),
  ]);
  expect(Math.abs(Date.parse(detail.deliveries[0].startedAt) - Date.now())).toBeLessThan(60_000); // the database's clock, in UTC
  // The body in the log is exactly what was signed and received, with the event id inside.
  const last = receiver.received[receiver.received.length - 1];
  expect(last).toMatchObject({ eventId: done.eventId, verified: true });
  expect(detail.payload).toBe(last.body);
  expect(JSON.parse(detail.payload)).toMatchObject({ id: done.eventId, type: 'sale.recorded', data: { issuanceId: sale.issuanceId, cardId: sale.cardId } });

  // Another issuer sees none of it.
  expectError(await h.call(B, 'GET', `/issuer/notifications/${done.eventId}`), 404, 'not_found');
  expect((await h.call(B, 'GET', '/issuer/notifications')).body.notifications).toEqual([]);
});

test('a rotated secret: refused (401) until the receiver uses it; an unreachable receiver is logged too', async () => {
  const rotated = await h.call(A, 'POST', '/issuer/webhook/secret');
  expect(rotated.status).toBe(200);
  expect(rotated.body.secret).toMatch(/^[0-9a-f]{64}$/);
  expect((await h.db('issuers').where({ id: A }).first('webhook_secret')).webhook_secret).toBe(rotated.body.secret);
  expect((await h.call(A, 'GET', '/issuer/webhook')).body).toEqual({ url: receiver.url, signatureHeader: 'x-icc-signature', eventIdHeader: 'x-icc-event-id', toleranceSeconds: 300 });

  const sale = await sell(h.db, h.terminalId, { kind: 'seat', seatId: await seat(0) });
  const notify = createNotificationActivities({ db: h.db });
  await expect(notify.notifyIssuer(sale.issuanceId)).rejects.toThrow(/HTTP 401/); // the receiver still has the old secret
  receiver.secret = rotated.body.secret;
  await notify.notifyIssuer(sale.issuanceId);

  const unreachable = await sell(h.db, h.terminalId, { kind: 'seat', seatId: await seat(0) });
  await h.db('issuers').where({ id: A }).update({ notify_url: 'http://127.0.0.1:9/nobody-listens' });
  await expect(notify.notifyIssuer(unreachable.issuanceId)).rejects.toThrow(/could not reach issuer/);
  await h.db('issuers').where({ id: A }).update({ notify_url: receiver.url });

  const rotatedLog = (await h.call(A, 'GET', `/issuer/notifications/evt-sale-${sale.issuanceId}`)).body.deliveries;
  expect(rotatedLog.map((d: any) => [d.outcome, d.httpStatus])).toEqual([['failed', 401], ['delivered', null]]);
  const unreachableLog = (await h.call(A, 'GET', `/issuer/notifications/evt-sale-${unreachable.issuanceId}`)).body;
  expect(unreachableLog).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringMatching(/could not reach issuer/) });
  expect(unreachableLog.deliveries).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', httpStatus: null, error: expect.stringMatching(/could not reach issuer/) })]);

  // Filters and pages, newest first.
  expect((await h.call(A, 'GET', '/issuer/notifications?status=pending')).body.notifications.map((x: any) => x.issuanceId)).toEqual([unreachable.issuanceId]);
  const page1 = (await h.call(A, 'GET', '/issuer/notifications?limit=2')).body;
  expect(page1.notifications).toHaveLength(2);
  const page2 = (await h.call(A, 'GET', `/issuer/notifications?limit=2&before=${encodeURIComponent(page1.nextBefore)}`)).body;
  expect(page2.notifications).toHaveLength(1);
  expect(page2.nextBefore).toBeNull();
  expect(new Set([...page1.notifications, ...page2.notifications].map((x: any) => x.eventId)).size).toBe(3);
  expectError(await h.call(A, 'GET', '/issuer/notifications?status=lost'), 400, 'invalid_input', /status/);
});
