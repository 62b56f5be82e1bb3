/**
 * Catalogue management through the issuer API on MariaDB: the hierarchy, the three product types
 * with their choices, what the kiosk then offers, a 20,000-seat map in one request (timed), seat
 * map edits, and bad input answered with a clear 4xx while nothing changes.
 */
import { A, bigSeatMap, expectError, fingerprint, startIssuerApi, type IssuerApiHarness } from './support';

let h: IssuerApiHarness;
let rootConcerts: number;
let rootPasses: number;
let rootPrepaid: number;

beforeAll(async () => {
  h = await startIssuerApi();
  const nodes = (await h.call(A, 'GET', '/issuer/catalogue/nodes')).body.nodes;
  rootConcerts = nodes.find((x: any) => x.name === 'Concert tickets').id;
  rootPasses = nodes.find((x: any) => x.name === 'Commuter passes').id;
  rootPrepaid = nodes.find((x: any) => x.name === 'Prepaid cards').id;
});
afterAll(async () => {
  await h?.stop();
});

async function node(parentId: number, kind: string, name: string): Promise<number> {
  const res = await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId, kind, name });
  expect(res.status).toBe(201);
  return res.body.id;
}

test('the hierarchy: nodes under the operator\'s card types, products under them, visible to kiosks', async () => {
  const listed = (await h.call(A, 'GET', '/issuer/catalogue/nodes')).body.nodes;
  expect(listed.filter((x: any) => !x.yours).map((x: any) => x.kind)).toEqual(['card_type', 'card_type', 'card_type']);
  const genre = await node(rootConcerts, 'genre', 'Jazz');
  const artist = await node(genre, 'artist', 'Blue Lanterns');
  const product = await h.call(A, 'POST', '/issuer/products', { nodeId: artist, type: 'concert', name: 'Blue Lanterns — Night Walk', issuanceFeeMinor: 330 });
  expect(product.status).toBe(201);
  expect(product.body).toMatchObject({ type: 'concert', currency: 'JPY', active: true, issuanceFeeMinor: 330, seatClasses: [], performances: [] });

  // The kiosk's catalogue shows it under the artist.
  const kiosk = await fetch(`${h.url}/api/catalogue?parentId=${artist}`).then((r) => r.json());
  expect(kiosk.products.map((p: any) => p.name)).toEqual(['Blue Lanterns — Night Walk']);

  // Rename, reorder, move; no cycles; no deleting non-empty nodes.
  expect((await h.call(A, 'PATCH', `/issuer/catalogue/nodes/${artist}`, { name: 'The Blue Lanterns', sort: 5 })).body).toMatchObject({ name: 'The Blue Lanterns', sort: 5 });
  expectError(await h.call(A, 'PATCH', `/issuer/catalogue/nodes/${genre}`, { parentId: artist }), 409, 'cycle');
  expectError(await h.call(A, 'DELETE', `/issuer/catalogue/nodes/${genre}`), 409, 'node_not_empty');
  const spare = await node(genre, 'artist', 'Spare');
  expect((await h.call(A, 'DELETE', `/issuer/catalogue/nodes/${spare}`)).status).toBe(204);
  // The operator's card types are not the issuer's to change, and products need the issuer's own node.
  expectError(await h.call(A, 'PATCH', `/issuer/catalogue/nodes/${rootConcerts}`, { name: 'Mine now' }), 404, 'not_found');
  expectError(await h.call(A, 'POST', '/issuer/products', { nodeId: rootConcerts, type: 'concert', name: 'At the top' }), 404, 'not_found');
  expectError(await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId: rootConcerts, kind: 'card_type', name: 'Sneaky' }), 400, 'invalid_input', /card_type/);
});

test('commuter routes with 1/3/6-month fares and prepaid values, as the kiosk sells them', async () => {
  const railway = await node(rootPasses, 'railway', 'Harbor Line');
  const pass = (await h.call(A, 'POST', '/issuer/products', { nodeId: railway, type: 'commuter', name: 'Harbor Line pass' })).body;
  const route = await h.call(A, 'POST', `/issuer/products/${pass.id}/routes`, { origin: 'Minato', destination: 'Hill Park', fares: [{ months: 1, priceMinor: 9800 }, { months: 3, priceMinor: 27900 }] });
  expect(route.status).toBe(201);
  expect(route.body.fares.map((f: any) => [f.months, f.priceMinor, f.issued])).toEqual([[1, 9800, false], [3, 27900, false]]);
  const six = await h.call(A, 'PUT', `/issuer/routes/${route.body.id}/fares/6`, { priceMinor: 52900 });
  expect(six.status).toBe(201);
  expect((await h.call(A, 'PUT', `/issuer/routes/${route.body.id}/fares/1`, { priceMinor: 9900 })).status).toBe(200);
  expectError(await h.call(A, 'PUT', `/issuer/routes/${route.body.id}/fares/2`, { priceMinor: 100 }), 400, 'invalid_input', /months/);
  expectError(await h.call(A, 'POST', `/issuer/products/${pass.id}/routes`, { origin: 'A', destination: 'B', fares: [{ months: 1, priceMinor: 1 }, { months: 1, priceMinor: 2 }] }), 400, 'invalid_input', /one fare per number of months/);
  expectError(await h.call(A, 'POST', `/issuer/products/${pass.id}/values`, { valueMinor: 1000, priceMinor: 1000 }), 409, 'wrong_product_type');

  const kioskView = await fetch(`${h.url}/api/products/${pass.id}`).then((r) => r.json());
  expect(kioskView.routes[0].fares.map((f: any) => [f.months, f.priceMinor])).toEqual([[1, 9900], [3, 27900], [6, 52900]]);

  const brand = await node(rootPrepaid, 'brand', 'Harbor Pay');
  const prepaid = (await h.call(A, 'POST', '/issuer/products', { nodeId: brand, type: 'prepaid', name: 'Harbor Pay card' })).body;
  for (const v of [1000, 5000]) expect((await h.call(A, 'POST', `/issuer/products/${prepaid.id}/values`, { valueMinor: v, priceMinor: v })).status).toBe(201);
  expectError(await h.call(A, 'POST', `/issuer/products/${prepaid.id}/values`, { valueMinor: 1000, priceMinor: 900 }), 409, 'duplicate_value');
  const detail = (await h.call(A, 'GET', `/issuer/products/${prepaid.id}`)).body;
  expect(detail.values.map((v: any) => v.valueMinor)).toEqual([1000, 5000]);
  const five = detail.values[1].id;
  expect((await h.call(A, 'PATCH', `/issuer/values/${five}`, { priceMinor: 4950 })).body).toMatchObject({ valueMinor: 5000, priceMinor: 4950 });
  expect((await h.call(A, 'DELETE', `/issuer/values/${five}`)).status).toBe(204);

  // Deactivated products leave the kiosk at once.
  await h.call(A, 'PATCH', `/issuer/products/${prepaid.id}`, { active: false });
  expect((await fetch(`${h.url}/api/products/${prepaid.id}`)).status).toBe(404);
});

test('a 20,000-seat map uploads in one request in seconds, and reads back in the same format', async () => {
  const genre = await node(rootConcerts, 'genre', 'Stadium');
  const artist = await node(genre, 'artist', 'Big Band');
  const product = (await h.call(A, 'POST', '/issuer/products', { nodeId: artist, type: 'concert', name: 'Big Band — Stadium Night' })).body;
  for (const [code, price] of [['S', 15000], ['A', 11000], ['B', 8000]] as const) {
    expect((await h.call(A, 'POST', `/issuer/products/${product.id}/seat-classes`, { code, name: `${code} seat`, priceMinor: price })).status).toBe(201);
  }
  const map = bigSeatMap(200, 100, ['S', 'A', 'A', 'B', 'B']); // 200 rows × 100 seats, every seat listed one by one
  const bodyBytes = Buffer.byteLength(JSON.stringify({ startsAt: '2027-08-01T18:00:00+09:00', venue: 'Harbor Stadium', seatMap: map }));
  const t0 = performance.now();
  const res = await h.call(A, 'POST', `/issuer/products/${product.id}/performances`, { startsAt: '2027-08-01T18:00:00+09:00', venue: 'Harbor Stadium', seatMap: map });
  const ms = performance.now() - t0;
  expect(res.status).toBe(201);
  expect(res.body.seatMap).toMatchObject({ added: 20000, removed: 0, reclassed: 0, counts: { total: 20000, available: 20000, held: 0, sold: 0 } });
  console.log(`20,000-seat map: ${(bodyBytes / 1e6).toFixed(2)} MB of JSON, one request, ${ms.toFixed(0)} ms round trip (${res.body.seatMap.elapsedMs} ms applying it in the database)`);
  expect(ms).toBeLessThan(10_000);
  const perf = res.body.performance.id;
  expect(Number((await h.db('seats').where({ performance_id: perf }).count({ c: '*' }).first())?.c)).toBe(20000);

  // Read back as runs; putting it back unchanged changes nothing.
  const view = (await h.call(A, 'GET', `/issuer/performances/${perf}/seat-map`)).body;
  expect(view.seatMap.sections[0].rows).toHaveLength(200);
  expect(view.seatMap.sections[0].rows[0].seats).toEqual([{ from: 1, to: 100, classCode: 'S' }]);
  const t1 = performance.now();
  const same = await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, view.seatMap);
  console.log(`re-applying the unchanged 20,000-seat map: ${(performance.now() - t1).toFixed(0)} ms`);
  expect(same.body).toMatchObject({ added: 0, reclassed: 0, removed: 0, unchanged: 20000 });

  // An edit: row R1 becomes A class, row R200 is removed, a new row R201 is added.
  const edited = JSON.parse(JSON.stringify(view.seatMap));
  const rows = edited.sections[0].rows;
  rows[0].seats = [{ from: 1, to: 100, classCode: 'A' }];
  rows.pop();
  rows.push({ label: 'R201', seats: [{ from: 1, to: 10, classCode: 'B' }, { number: 12, classCode: 'B' }] });
  const applied = await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, edited);
  expect(applied.body).toMatchObject({ added: 11, reclassed: 100, removed: 100, counts: { total: 19911 } });
  const kioskSeats = await fetch(`${h.url}/api/performances/${perf}/seats`).then((r) => r.json());
  expect(kioskSeats.seats).toHaveLength(19911);
});

test('bad input: a clear 4xx in the error shape, and nothing changed', async () => {
  const product = (await h.call(A, 'GET', '/issuer/products')).body.products.find((p: any) => p.name === 'Big Band — Stadium Night');
  const perf = (await h.call(A, 'GET', `/issuer/products/${product.id}`)).body.performances[0].id;
  const before = await fingerprint(h.db);

  expectError(await h.call(A, 'POST', '/issuer/products', undefined, { raw: '{"nodeId": 1,', contentType: 'application/json' }), 400, 'malformed_json');
  expectError(await h.call(A, 'POST', '/issuer/products', undefined, { raw: 'nodeId=1', contentType: 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type');
  expectError(await h.call(A, 'POST', '/issuer/products', { nodeId: 1, type: 'lottery', name: 'x' }), 400, 'invalid_input', /type/);
  expectError(await h.call(A, 'POST', '/issuer/products', { nodeId: 1, type: 'concert', name: '  padded  ' }), 400, 'invalid_input', /name/);
  expectError(await h.call(A, 'POST', '/issuer/products', { nodeId: 1, type: 'concert', name: 'x', admin: true }), 400, 'invalid_input', /admin/);
  expectError(await h.call(A, 'PATCH', `/issuer/products/${product.id}`, {}), 400, 'invalid_input', /at least one field/);
  expectError(await h.call(A, 'PATCH', `/issuer/products/${product.id}`, { issuanceFeeMinor: -5 }), 400, 'invalid_input', /issuanceFeeMinor/);
  expectError(await h.call(A, 'PATCH', `/issuer/products/${product.id}`, { issuanceFeeMinor: 1.5 }), 400, 'invalid_input');
  expectError(await h.call(A, 'GET', '/issuer/products/abc'), 400, 'invalid_input', /productId/);
  expectError(await h.call(A, 'GET', '/issuer/products/99999999'), 404, 'not_found');
  expectError(await h.call(A, 'POST', `/issuer/products/${product.id}/performances`, { startsAt: '2027-08-01 18:00', venue: 'X' }), 400, 'invalid_input', /startsAt/);
  expectError(await h.call(A, 'POST', `/issuer/products/${product.id}/seat-classes`, { code: 'S', name: 'Again', priceMinor: 1 }), 409, 'duplicate_code');

  // Seat maps: an unknown class, a seat twice, a backwards run, too many seats — all refused whole.
  const seat = (section: string, row: string, from: number, to: number, classCode = 'S') => ({ sections: [{ name: section, rows: [{ label: row, seats: [{ from, to, classCode }] }] }] });
  expectError(await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, seat('Arena', 'R1', 1, 5, 'Z')), 422, 'unknown_seat_class', /Z/);
  const twice = { sections: [{ name: 'Arena', rows: [{ label: 'R1', seats: [{ from: 1, to: 5, classCode: 'S' }, { number: 3, classCode: 'A' }] }] }] };
  expectError(await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, twice), 422, 'duplicate_seats', /Arena row R1 seat 3/);
  expectError(await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, seat('Arena', 'R1', 9, 2)), 400, 'invalid_input', /from must not be greater than to/);
  const huge = { sections: [{ name: 'Arena', rows: [{ label: 'R1', seats: [{ from: 1, to: 99_999, classCode: 'S' }] }, { label: 'R2', seats: [{ from: 1, to: 5, classCode: 'S' }] }] }] };
  expectError(await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, huge), 422, 'seat_map_too_large');
  expectError(await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, seat('A section name far too long', 'R1', 1, 2)), 400, 'invalid_input', /name/);

  expect(await fingerprint(h.db)).toEqual(before);
});
