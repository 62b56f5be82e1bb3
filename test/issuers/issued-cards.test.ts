/**
 * Changing a product never changes cards already issued. Cards are sold through the center's own
 * activities (hold → bind → sale), then the issuer changes everything it can: what the cards carry
 * (seat, performance, class name, route, months, value) is refused with 409 and nothing changes;
 * prices, names, fees and faces change for future sales only. Afterwards each card reads back the
 * same through the API, its chip record is byte-for-byte the same, and its issuance and sale rows
 * are untouched.
 */
import { createCardActivities } from '../../activities/center/cards';
import { createHoldActivities } from '../../activities/center/holds';
import { A, expectError, fingerprint, pngBytes, sell, startIssuerApi, type IssuerApiHarness, type Sold } from './support';

let h: IssuerApiHarness;
const ids: Record<string, number> = {};
const sold: Record<string, Sold> = {};
let heldSeatId: number;

async function ok(res: { status: number; text: string; body: any }, status = 200) {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${res.text}`);
  return res.body;
}

beforeAll(async () => {
  h = await startIssuerApi();
  const nodes = (await h.call(A, 'GET', '/issuer/catalogue/nodes')).body.nodes;
  const root = (name: string) => nodes.find((x: any) => x.name === name).id;
  const node = async (parentId: number, kind: string, name: string) => (await ok(await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId, kind, name }), 201)).id;

  const image = await ok(await h.call(A, 'POST', '/issuer/images?name=face-v1', undefined, { raw: pngBytes(80, 50), contentType: 'image/png' }), 201);
  ids.template = (await ok(await h.call(A, 'POST', '/issuer/face-templates', { name: 'Standard', imageId: image.id }), 201)).id;

  const artist = await node(await node(root('Concert tickets'), 'genre', 'Folk'), 'artist', 'River Stones');
  ids.concert = (await ok(await h.call(A, 'POST', '/issuer/products', { nodeId: artist, type: 'concert', name: 'River Stones Live', issuanceFeeMinor: 330, faceTemplateId: ids.template }), 201)).id;
  await ok(await h.call(A, 'POST', `/issuer/products/${ids.concert}/seat-classes`, { code: 'S', name: 'S seat', priceMinor: 9000 }), 201);
  await ok(await h.call(A, 'POST', `/issuer/products/${ids.concert}/seat-classes`, { code: 'A', name: 'A seat', priceMinor: 7000 }), 201);
  const perf = await ok(
    await h.call(A, 'POST', `/issuer/products/${ids.concert}/performances`, {
      startsAt: '2027-05-05T18:00:00+09:00',
      venue: 'River Hall',
      seatMap: { sections: [{ name: 'Floor', rows: [{ label: 'A', seats: [{ from: 1, to: 10, classCode: 'S' }] }, { label: 'B', seats: [{ from: 1, to: 10, classCode: 'A' }] }] }] },
    }),
    201,
  );
  ids.performance = perf.performance.id;
  const seats = await h.db('seats').where({ performance_id: ids.performance }).orderBy('id').select('id', 'row_label', 'number');
  ids.soldSeat = seats.find((s) => s.row_label === 'A' && s.number === 1).id;
  heldSeatId = seats.find((s) => s.row_label === 'A' && s.number === 2).id;

  const railway = await node(root('Commuter passes'), 'railway', 'Valley Railway');
  ids.pass = (await ok(await h.call(A, 'POST', '/issuer/products', { nodeId: railway, type: 'commuter', name: 'Valley pass' }), 201)).id;
  const route = await ok(await h.call(A, 'POST', `/issuer/products/${ids.pass}/routes`, { origin: 'Upper Town', destination: 'Lower Town', fares: [{ months: 1, priceMinor: 8000 }, { months: 3, priceMinor: 22000 }] }), 201);
  ids.route = route.id;
  ids.fare1 = route.fares.find((f: any) => f.months === 1).id;

  const brand = await node(root('Prepaid cards'), 'brand', 'Valley Pay');
  ids.prepaid = (await ok(await h.call(A, 'POST', '/issuer/products', { nodeId: brand, type: 'prepaid', name: 'Valley Pay card' }), 201)).id;
  ids.value = (await ok(await h.call(A, 'POST', `/issuer/products/${ids.prepaid}/values`, { valueMinor: 3000, priceMinor: 3000 }), 201)).id;

  sold.seat = await sell(h.db, h.terminalId, { kind: 'seat', seatId: ids.soldSeat });
  sold.fare = await sell(h.db, h.terminalId, { kind: 'fare', fareId: ids.fare1 });
  sold.value = await sell(h.db, h.terminalId, { kind: 'prepaid', valueId: ids.value });
  // A seat a kiosk holds right now (not paid yet) is as untouchable as a sold one.
  await createHoldActivities({ db: h.db }).holdItem(`iss-${h.terminalId}-holding0001`, h.terminalId, { kind: 'seat', seatId: heldSeatId }, 600_000);
});
afterAll(async () => {
  await h?.stop();
});

async function cardState(s: Sold) {
  const api = (await h.call(A, 'GET', `/issuer/cards/${s.cardId}`)).body;
  const chip = await createCardActivities({ db: h.db }).prepareCardRecord(s.issuanceId, s.cardId);
  const issuance = await h.db('issuances').where({ id: s.issuanceId }).first();
  const sale = await h.db('sales').where({ issuance_id: s.issuanceId }).first();
  const card = await h.db('cards').where({ id: s.cardId }).first();
  return { api, chip, issuance, sale, card };
}

test('issued cards carry what they were sold with, whatever the issuer changes later', async () => {
  const before = { seat: await cardState(sold.seat), fare: await cardState(sold.fare), value: await cardState(sold.value) };
  expect(before.seat.api).toMatchObject({
    title: 'River Stones Live',
    priceMinor: 9000,
    customerFeeMinor: 330,
    content: { kind: 'seat', performance: { startsAt: '2027-05-05T18:00:00+09:00', venue: 'River Hall' }, seat: { section: 'Floor', row: 'A', number: 1 }, seatClass: { code: 'S', name: 'S seat' } },
  });
  expect(before.fare.api.content).toMatchObject({ kind: 'fare', route: { origin: 'Upper Town', destination: 'Lower Town' }, months: 1 });
  expect(before.value.api.content).toEqual({ kind: 'prepaid', valueId: ids.value, valueMinor: 3000 });
  const S = (await h.call(A, 'GET', `/issuer/products/${ids.concert}`)).body.seatClasses.find((c: any) => c.code === 'S');
  expect(S.seatsInUse).toBe(2); // one sold, one held

  // What the cards carry: refused, each time with nothing changed.
  const refusals: Array<[string, string, unknown]> = [
    ['PATCH', `/issuer/seat-classes/${S.id}`, { name: 'Premium' }],
    ['PATCH', `/issuer/performances/${ids.performance}`, { startsAt: '2027-05-06T18:00:00+09:00' }],
    ['PATCH', `/issuer/performances/${ids.performance}`, { venue: 'Another Hall' }],
    ['DELETE', `/issuer/performances/${ids.performance}`, undefined],
    ['PUT', `/issuer/performances/${ids.performance}/seat-map`, { sections: [{ name: 'Floor', rows: [{ label: 'B', seats: [{ from: 1, to: 10, classCode: 'A' }] }] }] }],
    ['PUT', `/issuer/performances/${ids.performance}/seat-map`, { sections: [{ name: 'Floor', rows: [{ label: 'A', seats: [{ from: 1, to: 10, classCode: 'A' }] }, { label: 'B', seats: [{ from: 1, to: 10, classCode: 'A' }] }] }] }],
    ['PATCH', `/issuer/routes/${ids.route}`, { destination: 'Far Town' }],
    ['DELETE', `/issuer/routes/${ids.route}`, undefined],
    ['DELETE', `/issuer/routes/${ids.route}/fares/1`, undefined],
    ['PATCH', `/issuer/values/${ids.value}`, { valueMinor: 5000 }],
    ['DELETE', `/issuer/values/${ids.value}`, undefined],
  ];
  for (const [method, path, body] of refusals) {
    const fp = await fingerprint(h.db);
    const res = await h.call(A, method, path, body);
    expectError(res, 409, 'item_in_use');
    expect(await fingerprint(h.db)).toEqual(fp);
  }
  // A seat held by a kiosk right now cannot be removed or reclassed either.
  const heldOnly = { sections: [{ name: 'Floor', rows: [{ label: 'A', seats: [{ number: 1, classCode: 'S' }, { from: 3, to: 10, classCode: 'S' }] }, { label: 'B', seats: [{ from: 1, to: 10, classCode: 'A' }] }] }] };
  expectError(await h.call(A, 'PUT', `/issuer/performances/${ids.performance}/seat-map`, heldOnly), 409, 'item_in_use', /row A seat 2 is held/);
  expectError(await h.call(A, 'DELETE', `/issuer/seat-classes/${S.id}`), 409, 'class_has_seats');

  // Prices, names, fees, faces and unsold seats: changed, for future sales only.
  const face2 = (await h.call(A, 'POST', '/issuer/images?name=face-v2', undefined, { raw: pngBytes(90, 60), contentType: 'image/png' })).body;
  await ok(await h.call(A, 'PATCH', `/issuer/face-templates/${ids.template}`, { imageId: face2.id }));
  await ok(await h.call(A, 'PATCH', `/issuer/products/${ids.concert}`, { name: 'River Stones Live (new tour name)', issuanceFeeMinor: 550 }));
  await ok(await h.call(A, 'PATCH', `/issuer/seat-classes/${S.id}`, { priceMinor: 9900 }));
  await ok(await h.call(A, 'PUT', `/issuer/performances/${ids.performance}/seat-map`, { sections: [{ name: 'Floor', rows: [{ label: 'A', seats: [{ from: 1, to: 2, classCode: 'S' }, { from: 3, to: 12, classCode: 'A' }] }, { label: 'B', seats: [{ from: 1, to: 10, classCode: 'A' }] }] }] }));
  await ok(await h.call(A, 'PUT', `/issuer/routes/${ids.route}/fares/1`, { priceMinor: 8400 }));
  await ok(await h.call(A, 'PATCH', `/issuer/products/${ids.pass}`, { name: 'Valley commuter pass' }));
  await ok(await h.call(A, 'PATCH', `/issuer/values/${ids.value}`, { priceMinor: 2900 }));
  await ok(await h.call(A, 'PATCH', `/issuer/products/${ids.prepaid}`, { active: false }));

  const after = { seat: await cardState(sold.seat), fare: await cardState(sold.fare), value: await cardState(sold.value) };
  expect(after).toEqual(before);

  // … while the next customer gets the new name, fee, price and face.
  const kiosk = await fetch(`${h.url}/api/products/${ids.concert}`).then((r) => r.json());
  expect(kiosk).toMatchObject({ name: 'River Stones Live (new tour name)', issuanceFeeMinor: 550, faceImage: `/api/images/${face2.id}` });
  const next = await sell(h.db, h.terminalId, { kind: 'seat', seatId: (await h.db('seats').where({ performance_id: ids.performance, row_label: 'A', number: 12 }).first('id')).id });
  expect((await h.call(A, 'GET', `/issuer/cards/${next.cardId}`)).body).toMatchObject({ title: 'River Stones Live (new tour name)', priceMinor: 7000, customerFeeMinor: 550, content: { seatClass: { code: 'A' } } });
  const nextPass = await sell(h.db, h.terminalId, { kind: 'fare', fareId: ids.fare1 });
  expect((await h.call(A, 'GET', `/issuer/cards/${nextPass.cardId}`)).body.priceMinor).toBe(8400);
  expect((await h.call(A, 'GET', `/issuer/cards/${sold.fare.cardId}`)).body.priceMinor).toBe(8000);
});
