/**
 * The issuer reads its own settlements and statements: sales made through the center's
 * activities, settled by the settlement activities themselves (computeSettlement,
 * settlementStatement, preparePayoutInstruction: the rows exactly as the settlement workflow
 * writes them), then listed and fetched as CSV and JSON through the issuer API.
 */
import { computeSettlement, payoutSettingsFrom, preparePayoutInstruction, settlementStatement } from '../../activities/center/settlement';
import { DEFAULT_PERIOD_CONFIG, periodForDate } from '../../domain/settlement-period';
import { loadConfig } from '../../lib/config';
import { A, B, expectError, sell, startIssuerApi, type IssuerApiHarness, type Sold } from './support';

let h: IssuerApiHarness;
const period = periodForDate('2025-04-01', DEFAULT_PERIOD_CONFIG);
const idA = 'settlement-sunrise-promotions-2025-04-01';
const idB = 'settlement-kanto-railway-2025-04-01';
let salesA: Sold[];

beforeAll(async () => {
  h = await startIssuerApi();
  const seatsA = await h.db('seats as s').join('performances as pf', 'pf.id', 's.performance_id').join('products as p', 'p.id', 'pf.product_id').where('p.issuer_id', A).orderBy('s.id').limit(2).pluck('s.id');
  salesA = [await sell(h.db, h.terminalId, { kind: 'seat', seatId: seatsA[0] }, period.startMs + 60_000), await sell(h.db, h.terminalId, { kind: 'seat', seatId: seatsA[1] }, period.startMs + 120_000)];
  const fareB = (await h.db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').join('products as p', 'p.id', 'r.product_id').where('p.issuer_id', B).first('f.id')).id;
  await sell(h.db, h.terminalId, { kind: 'fare', fareId: fareB }, period.startMs + 60_000);
  const now = period.endMs + 3_600_000;
  for (const [settlementId, issuerId] of [[idA, A], [idB, B]]) {
    await computeSettlement(h.db, { settlementId, issuerId, periodStartMs: period.startMs, periodEndMs: period.endMs, periodLabel: period.label }, now);
    await settlementStatement(h.db, settlementId, now);
    await preparePayoutInstruction(h.db, settlementId, payoutSettingsFrom(loadConfig({})), now);
  }
  // The next day's settlement, still being computed: no statement yet.
  const next = periodForDate('2025-04-02', DEFAULT_PERIOD_CONFIG);
  await h.db('settlements').insert({ id: 'settlement-sunrise-promotions-2025-04-02', issuer_id: A, currency: 'JPY', period_start_ms: next.startMs, period_end_ms: next.endMs, period_label: next.label, status: 'computing', created_at_ms: now, updated_at_ms: now });
});
afterAll(async () => {
  await h?.stop();
});

test('an issuer lists its settlements and reads each one\'s totals and payout', async () => {
  const list = await h.call(A, 'GET', '/issuer/settlements');
  expect(list.status).toBe(200);
  expect(list.body.settlements.map((s: any) => s.settlementId)).toEqual(['settlement-sunrise-promotions-2025-04-02', idA]);
  const row = await h.db('settlements').where({ id: idA }).first();
  const one = (await h.call(A, 'GET', `/issuer/settlements/${idA}`)).body;
  expect(one).toMatchObject({
    settlementId: idA,
    periodLabel: '2025-04-01',
    periodStart: new Date(period.startMs).toISOString(),
    status: 'awaiting_approval',
    saleCount: 2,
    grossMinor: Number(row.gross_minor),
    netMinor: Number(row.net_minor),
    statementReady: true,
    statementSha256: row.statement_sha256,
    payout: { amountMinor: Number(row.payout_minor), transferDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), sentAt: null, paidAt: null },
  });
  expect((await h.call(A, 'GET', '/issuer/settlements?status=computing')).body.settlements.map((s: any) => s.settlementId)).toEqual(['settlement-sunrise-promotions-2025-04-02']);
  expect((await h.call(A, 'GET', '/issuer/settlements?from=2025-04-02&to=2025-04-30')).body.settlements).toHaveLength(1);
  expect((await h.call(A, 'GET', '/issuer/settlements?to=2025-04-01')).body.settlements).toHaveLength(1);
  expectError(await h.call(A, 'GET', '/issuer/settlements?from=2025-4-1'), 400, 'invalid_input', /from/);
});

test('the statement as CSV and JSON, exactly as the settlement stored it', async () => {
  const row = await h.db('settlements').where({ id: idA }).first('statement_csv', 'statement_json');
  const csv = await h.call(A, 'GET', `/issuer/settlements/${idA}/statement.csv`);
  expect(csv.status).toBe(200);
  expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  expect(csv.headers.get('content-disposition')).toContain(`${idA}.csv`);
  expect(csv.text).toBe(row.statement_csv);
  const json = await h.call(A, 'GET', `/issuer/settlements/${idA}/statement.json`);
  expect(json.headers.get('content-type')).toMatch(/^application\/json/);
  expect(json.text).toBe(row.statement_json);
  expect(json.body.items.map((i: any) => i.issuanceId)).toEqual(salesA.map((s) => s.issuanceId));
  expect(json.body.issuerId).toBe(A);
  expectError(await h.call(A, 'GET', '/issuer/settlements/settlement-sunrise-promotions-2025-04-02/statement.csv'), 409, 'statement_not_ready');
  expectError(await h.call(A, 'GET', '/issuer/settlements/not-a-settlement/statement.csv'), 400, 'invalid_input', /settlementId/);
});

test('another issuer\'s settlements do not exist for an issuer', async () => {
  expect((await h.call(B, 'GET', '/issuer/settlements')).body.settlements.map((s: any) => s.settlementId)).toEqual([idB]);
  for (const p of [`/issuer/settlements/${idA}`, `/issuer/settlements/${idA}/statement.csv`, `/issuer/settlements/${idA}/statement.json`]) {
    expectError(await h.call(B, 'GET', p), 404, 'not_found');
  }
  // Sales and cards likewise.
  const salesB = (await h.call(B, 'GET', '/issuer/sales')).body.sales;
  expect(salesB).toHaveLength(1);
  expect(salesB[0]).toMatchObject({ productType: 'commuter', settlementId: idB });
  expectError(await h.call(B, 'GET', `/issuer/cards/${salesA[0].cardId}`), 404, 'not_found');
  const salesAList = (await h.call(A, 'GET', '/issuer/sales?limit=1')).body;
  expect(salesAList.sales[0]).toMatchObject({ saleId: salesA[0].saleId, cardId: salesA[0].cardId, settlementId: idA });
  expect((await h.call(A, 'GET', `/issuer/sales?after=${salesAList.nextAfter}`)).body.sales.map((s: any) => s.saleId)).toEqual([salesA[1].saleId]);
});
