/**
 * The finance API on the real stack: operator authentication (401 without a token, 403 with a
 * wrong one, the JSON error shape), a settlement started by hand through to paid with the
 * approver's identity, statement and Zengin export, listing, reconciliation of a payment
 * company's file, and the per-issuer Schedule: pause, backfill, trigger.
 */
import { lastClosedPeriod, periodForDate } from '../../domain/settlement-period';
import { decodeZenginTransfer } from '../../domain/zengin';
import { ensureSettlementSchedules } from '../../lib/settlement-schedule';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { startStack, type Stack } from '../support/stack';
import { giveBankAccounts, makeSale } from './fixtures';
import { until } from '../support/until';

const TOKEN = 'alice-token-0123456789abcdef';
process.env.OPERATOR_TOKENS = `finance.alice:${TOKEN},finance.bob:bob-token-0123456789abcdef`;
const tz = { closeTime: '00:00', timeZone: 'Asia/Tokyo' };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await giveBankAccounts(stack.db);
});
afterAll(async () => {
  await stack?.stop();
});

async function api(method: string, path: string, body?: unknown, token: string | null = TOKEN, contentType = 'application/json') {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(`${stack.apiUrl}/api/finance${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers, buffer: Buffer.from(text, 'latin1') };
}


test('no token: 401; a wrong token: 403; both in the error shape', async () => {
  const none = await api('GET', '/settlements', undefined, null);
  expect(none.status).toBe(401);
  expect(none.json).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
  const wrong = await api('GET', '/settlements', undefined, 'not-a-real-token-at-all');
  expect(wrong.status).toBe(403);
  expect(wrong.json.error.code).toBe('forbidden');
  const bad = await api('POST', '/settlements', { issuerId: 'sunrise-promotions', date: '2025-13-01' });
  expect(bad.status).toBe(400);
  expect(bad.json.error.code).toBe('invalid_input');
  const unknown = await api('GET', '/settlements/settlement-nobody-2025-01-01');
  expect(unknown.status).toBe(404);
});

test('by hand: start, statement, approve (as the operator), export, bank confirmation, list', async () => {
  const issuerId = DEMO_ISSUERS.promoter;
  const p = periodForDate('2025-04-01', tz);
  const sales = [await makeSale(stack.db, { issuerId, priceMinor: 12000, soldAtMs: p.startMs + 1000 }), await makeSale(stack.db, { issuerId, priceMinor: 7500, soldAtMs: p.startMs + 2000 })];
  const net = sales.reduce((s, x) => s + x.issuerNetMinor, 0);
  const started = await api('POST', '/settlements', { issuerId, date: '2025-04-01' });
  expect(started.status).toBe(202);
  const id = started.json.settlementId;
  expect(id).toBe('settlement-sunrise-promotions-2025-04-01');
  expect((await api('POST', '/settlements', { issuerId, date: '2025-04-01' })).json.settlementId).toBe(id);
  await until('awaiting approval', async () => (await api('GET', `/settlements/${id}`)).json?.settlement?.status === 'awaiting_approval');
  const view = await api('GET', `/settlements/${id}`);
  expect(view.json.items.map((i: any) => i.saleId)).toEqual(sales.map((s) => s.saleId));
  expect(view.json.payoutInstruction).toMatchObject({ amountMinor: net, format: 'zengin' });
  const csv = await api('GET', `/settlements/${id}/statement.csv`);
  expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
  expect(csv.text).toContain(`summary,payoutMinor,${net}`);
  expect((await api('GET', `/settlements/${id}/statement.json`)).json.netMinor).toBe(net);
  expect((await api('GET', `/settlements/${id}/payout.zengin`)).status).toBe(409); // not before approval
  expect((await api('POST', `/settlements/${id}/confirm-payment`, { requestId: 'confirm-early-1', bankReference: 'X1' })).json.error.code).toBe('wrong_stage');

  const approved = await api('POST', `/settlements/${id}/approve`, { requestId: 'approve-000001' });
  expect(approved.status).toBe(200);
  expect(approved.json.settlement).toMatchObject({ status: 'approved', approvedBy: 'finance.alice' });
  await until('sent', async () => (await api('GET', `/settlements/${id}`)).json.settlement.status === 'sent');
  const file = await fetch(`${stack.apiUrl}/api/finance/settlements/${id}/payout.zengin`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(file.status).toBe(200);
  const decoded = decodeZenginTransfer(Buffer.from(await file.arrayBuffer()));
  expect(decoded.totalAmountMinor).toBe(net);
  const paid = await api('POST', `/settlements/${id}/confirm-payment`, { requestId: 'confirm-000001', bankReference: 'ZB-0401-77' }, 'bob-token-0123456789abcdef');
  expect(paid.json.settlement).toMatchObject({ status: 'paid', confirmedBy: 'finance.bob', bankReference: 'ZB-0401-77' });

  const list = await api('GET', `/settlements?issuerId=${issuerId}&status=paid&from=2025-04-01&to=2025-04-01`);
  expect(list.json.settlements.map((s: any) => s.settlementId)).toEqual([id]);
  const listCsv = await api('GET', `/settlements?issuerId=${issuerId}&format=csv`);
  expect(listCsv.text.split('\r\n')[1]).toContain(id);
});

test('reconcile our payments against a payment company\'s settlement file', async () => {
  const rows = await stack.db('payments').where({ method: 'cash', status: 'collected' }).orderBy('id').select('issuance_id', 'amount_minor', 'created_at_ms');
  expect(rows.length).toBeGreaterThanOrEqual(2);
  const [a, b, ...rest] = rows;
  const lines = ['ref,amount,date', `${a.issuance_id},${a.amount_minor},2025-04-01`, `${b.issuance_id},${Number(b.amount_minor) + 1},2025-04-01`, 'iss-unknown-xyz12345,500,2025-04-01'];
  const r = await api('POST', '/reconcile?method=cash&from=2025-01-01&to=2025-12-31', lines.join('\n'), TOKEN, 'text/csv');
  expect(r.status).toBe(200);
  expect(r.json.ok).toBe(false);
  expect(r.json.matched).toContain(a.issuance_id);
  expect(r.json.amountMismatches).toEqual([expect.objectContaining({ ref: b.issuance_id, reason: 'amount' })]);
  expect(r.json.missingOnOurSide.map((l: any) => l.ref)).toEqual(['iss-unknown-xyz12345']);
  expect(r.json.missingOnTheirSide.map((l: any) => l.ref)).toEqual(rest.map((x) => x.issuance_id));
  expect((await api('POST', '/reconcile?method=cash&from=2025-01-01&to=2025-12-31', 'nonsense', TOKEN, 'text/csv')).status).toBe(422);
});

test('the per-issuer Schedule: pause, backfill past periods, trigger now', async () => {
  const issuerId = DEMO_ISSUERS.telco;
  const scheduling = { client: stack.temporal, taskQueue: stack.centerTaskQueue, period: tz };
  const d1 = periodForDate('2025-05-01', tz);
  const d2 = periodForDate('2025-05-02', tz);
  const s1 = await makeSale(stack.db, { issuerId, priceMinor: 3000, soldAtMs: d1.startMs + 1000 });
  await makeSale(stack.db, { issuerId, priceMinor: 5000, soldAtMs: d2.startMs + 1000 });
  // A unique schedule per suite: the Temporal server is shared, so drop an old one first.
  await stack.temporal.schedule.getHandle(`settlement-schedule-${issuerId}`).delete().catch(() => undefined);
  expect((await ensureSettlementSchedules(scheduling, [issuerId])).created).toEqual([issuerId]);
  expect((await ensureSettlementSchedules(scheduling, [issuerId])).created).toEqual([]);
  try {
    const paused = await api('POST', `/schedules/${issuerId}/pause`, {});
    expect(paused.json).toMatchObject({ paused: true, closeTime: '00:00', timeZone: 'Asia/Tokyo', note: 'paused by finance.alice' });
    const bf = await api('POST', `/schedules/${issuerId}/backfill`, { from: '2025-05-01', to: '2025-05-02' });
    expect(bf.status).toBe(202);
    expect(bf.json.periods).toEqual(['2025-05-01', '2025-05-02']);
    const rows = await until('both backfilled settlements', async () => {
      const r = await stack.db('settlements').where({ issuer_id: issuerId }).whereIn('period_label', ['2025-05-01', '2025-05-02']).orderBy('period_start_ms');
      return r.length === 2 ? r : null;
    });
    expect(rows.map((r) => r.id)).toEqual(['settlement-hikari-mobile-2025-05-01', 'settlement-hikari-mobile-2025-05-02']);
    expect(Number(rows[0].net_minor)).toBe(s1.issuerNetMinor);
    // Backfilling the same dates again settles nothing twice.
    await api('POST', `/schedules/${issuerId}/backfill`, { from: '2025-05-01', to: '2025-05-02' });
    await api('POST', `/schedules/${issuerId}/trigger`);
    const latest = lastClosedPeriod(Date.now(), tz);
    await until('the triggered settlement', async () => stack.db('settlements').where({ id: `settlement-${issuerId}-${latest.label}` }).first());
    expect(await stack.db('settlements').where({ issuer_id: issuerId }).whereIn('period_label', ['2025-05-01', '2025-05-02'])).toHaveLength(2);
    expect((await api('POST', `/schedules/${issuerId}/unpause`, {})).json.paused).toBe(false);
    expect((await api('GET', '/schedules/nobody-here')).status).toBe(404);
  } finally {
    await stack.temporal.schedule.getHandle(`settlement-schedule-${issuerId}`).delete().catch(() => undefined);
  }
});
