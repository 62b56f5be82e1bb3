/**
 * The issuer API on SQLite (the embedded database of `npm start`): the migration's triggers log
 * delivery attempts, a seat map goes in and comes back, and a sold item is protected.
 */
import { createNotificationActivities } from '../../activities/center/notifications';
import { A, B, expectError, sell, startIssuerApi, type IssuerApiHarness } from './support';

let h: IssuerApiHarness;
beforeAll(async () => {
  h = await startIssuerApi({ database: 'sqlite' });
});
afterAll(async () => {
  await h?.stop();
});

test('catalogue, seat map, issued-item protection and the delivery log work on SQLite too', async () => {
  const nodes = (await h.call(A, 'GET', '/issuer/catalogue/nodes')).body.nodes;
  const genre = (await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId: nodes[0].id, kind: 'genre', name: 'Lite' })).body.id;
  const product = (await h.call(A, 'POST', '/issuer/products', { nodeId: genre, type: 'concert', name: 'Lite show' })).body.id;
  await h.call(A, 'POST', `/issuer/products/${product}/seat-classes`, { code: 'S', name: 'S seat', priceMinor: 4000 });
  const map = { sections: [{ name: 'Hall', rows: Array.from({ length: 50 }, (_, r) => ({ label: `R${r + 1}`, seats: [{ from: 1, to: 100, classCode: 'S' }] })) }] };
  const created = await h.call(A, 'POST', `/issuer/products/${product}/performances`, { startsAt: '2027-02-02T19:00:00+09:00', venue: 'Lite Hall', seatMap: map });
  expect(created.status).toBe(201);
  expect(created.body.seatMap.counts.total).toBe(5000);
  const perf = created.body.performance.id;
  expect((await h.call(A, 'GET', `/issuer/performances/${perf}/seat-map`)).body.seatMap).toEqual(map);

  const seatId = (await h.db('seats').where({ performance_id: perf }).orderBy('id').first('id')).id;
  const sale = await sell(h.db, h.terminalId, { kind: 'seat', seatId });
  expectError(await h.call(A, 'PATCH', `/issuer/performances/${perf}`, { venue: 'Elsewhere' }), 409, 'item_in_use');
  expect((await h.call(A, 'GET', `/issuer/cards/${sale.cardId}`)).body.content).toMatchObject({ seat: { section: 'Hall', row: 'R1', number: 1 } });

  const notify = createNotificationActivities({ db: h.db, fetch: (async () => new Response('no', { status: 503 })) as typeof fetch });
  await expect(notify.notifyIssuer(sale.issuanceId)).rejects.toThrow(/HTTP 503/);
  const ok = createNotificationActivities({ db: h.db, fetch: (async () => new Response('ok', { status: 200 })) as typeof fetch });
  await ok.notifyIssuer(sale.issuanceId);
  const detail = (await h.call(A, 'GET', `/issuer/notifications/evt-sale-${sale.issuanceId}`)).body;
  expect(detail.deliveries.map((d: any) => [d.attempt, d.outcome, d.httpStatus])).toEqual([[1, 'failed', 503], [2, 'delivered', null]]);
  expect(Math.abs(Date.parse(detail.deliveries[0].startedAt) - Date.now())).toBeLessThan(60_000);
  expectError(await h.call(B, 'GET', `/issuer/notifications/evt-sale-${sale.issuanceId}`), 404, 'not_found');
});
