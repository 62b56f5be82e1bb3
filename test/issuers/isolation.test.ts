/**
 * An issuer sees and changes only its own resources. Issuer A gets one of everything (nodes,
 * products of each type with their choices, images, a face template, an application package, a
 * sold card, an event, a settlement); then issuer B tries every route of the issuer API against
 * A's resources — the list is taken from the route definitions themselves, so a new route without
 * a case here fails this test. Each answer must be 403/404, and the database must be exactly as
 * before. Routes that act only on the caller (lists, uploads, "me") are checked to show and touch
 * nothing of A's.
 */
import { createHash } from 'node:crypto';
import { createNotificationActivities } from '../../activities/center/notifications';
import { issuerApiRouteDefs } from '../../api/routes/issuer';
import { A, B, fingerprint, pngBytes, sell, startIssuerApi, type IssuerApiHarness, type Res } from './support';

let h: IssuerApiHarness;
const a: Record<string, any> = {};
const MARK = 'ZZA'; // in every name of A's, to spot a leak in B's answers

async function made(res: Res, status = 201) {
  if (res.status !== status) throw new Error(`setup failed: ${res.status} ${res.text}`);
  return res.body;
}

beforeAll(async () => {
  h = await startIssuerApi();
  const nodes = (await h.call(A, 'GET', '/issuer/catalogue/nodes')).body.nodes;
  const root = (name: string) => nodes.find((x: any) => x.name === name).id;
  a.node = (await made(await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId: root('Concert tickets'), kind: 'genre', name: `${MARK} genre` }))).id;
  a.emptyNode = (await made(await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId: a.node, kind: 'artist', name: `${MARK} empty` }))).id;
  a.image = (await made(await h.call(A, 'POST', `/issuer/images?name=${MARK}-face`, undefined, { raw: pngBytes(), contentType: 'image/png' }))).id;
  a.template = (await made(await h.call(A, 'POST', '/issuer/face-templates', { name: `${MARK} template`, imageId: a.image }))).id;
  a.packageBytes = Buffer.from('PK\u0003\u0004 A\'s applet');
  a.package = (
    await made(
      await h.call(A, 'POST', `/issuer/application-packages?name=${MARK}-purse&version=1.0&aid=A000000001&format=javacard-cap&sha256=${createHash('sha256').update(a.packageBytes).digest('hex')}`, undefined, {
        raw: a.packageBytes,
        contentType: 'application/octet-stream',
      }),
    )
  ).id;
  a.concert = (await made(await h.call(A, 'POST', '/issuer/products', { nodeId: a.node, type: 'concert', name: `${MARK} concert`, faceTemplateId: a.template, applicationPackageIds: [a.package] }))).id;
  a.seatClass = (await made(await h.call(A, 'POST', `/issuer/products/${a.concert}/seat-classes`, { code: 'S', name: `${MARK} S`, priceMinor: 5000 }))).id;
  a.performance = (
    await made(await h.call(A, 'POST', `/issuer/products/${a.concert}/performances`, { startsAt: '2027-01-01T18:00:00+09:00', venue: `${MARK} hall`, seatMap: { sections: [{ name: 'F', rows: [{ label: 'A', seats: [{ from: 1, to: 5, classCode: 'S' }] }] }] } }))
  ).performance.id;
  a.commuter = (await made(await h.call(A, 'POST', '/issuer/products', { nodeId: a.node, type: 'commuter', name: `${MARK} pass` }))).id;
  a.route = (await made(await h.call(A, 'POST', `/issuer/products/${a.commuter}/routes`, { origin: `${MARK} here`, destination: `${MARK} there`, fares: [{ months: 1, priceMinor: 1000 }] }))).id;
  a.prepaid = (await made(await h.call(A, 'POST', '/issuer/products', { nodeId: a.node, type: 'prepaid', name: `${MARK} prepaid` }))).id;
  a.value = (await made(await h.call(A, 'POST', `/issuer/products/${a.prepaid}/values`, { valueMinor: 1000, priceMinor: 1000 }))).id;
  const seat = (await h.db('seats').where({ performance_id: a.performance }).orderBy('id').first('id')).id;
  a.sale = await sell(h.db, h.terminalId, { kind: 'seat', seatId: seat });
  await h.db('issuers').where({ id: A }).update({ notify_url: null });
  a.event = (await createNotificationActivities({ db: h.db }).notifyIssuer(a.sale.issuanceId)).eventId;
  a.settlement = 'settlement-sunrise-promotions-2025-05-01';
  await h.db('settlements').insert({ id: a.settlement, issuer_id: A, currency: 'JPY', period_start_ms: 1, period_end_ms: 2, period_label: '2025-05-01', status: 'closed', statement_csv: `${MARK}`, statement_json: `{"x":"${MARK}"}`, statement_sha256: 'x', created_at_ms: 1, updated_at_ms: 1 });
  a.secret = (await h.db('issuers').where({ id: A }).first('webhook_secret')).webhook_secret;
  a.keyId = h.keys[A].split('_')[1];
  a.bProduct = (await h.call(B, 'GET', '/issuer/products')).body.products[0].id;
});
afterAll(async () => {
  await h?.stop();
});

type Case = { method: string; path: string; body?: unknown; raw?: Buffer; contentType?: string };
const seatMap = { sections: [{ name: 'F', rows: [{ label: 'A', seats: [{ from: 1, to: 5, classCode: 'S' }] }] }] };

/** Requests by B aimed at A's resources: each must be refused with 403/404. */
function attacks(): Record<string, Case[]> {
  return {
    createIssuerApiKey: [{ method: 'POST', path: `/operator/issuers/${A}/api-keys`, body: { label: 'mine now' } }],
    listIssuerApiKeys: [{ method: 'GET', path: `/operator/issuers/${A}/api-keys` }],
    revokeIssuerApiKey: [{ method: 'DELETE', path: `/operator/issuers/${A}/api-keys/${a.keyId}` }],
    createNode: [{ method: 'POST', path: '/issuer/catalogue/nodes', body: { parentId: a.node, kind: 'artist', name: 'B under A' } }],
    updateNode: [{ method: 'PATCH', path: `/issuer/catalogue/nodes/${a.node}`, body: { name: 'hijacked' } }],
    deleteNode: [{ method: 'DELETE', path: `/issuer/catalogue/nodes/${a.emptyNode}` }],
    createProduct: [{ method: 'POST', path: '/issuer/products', body: { nodeId: a.node, type: 'concert', name: 'B under A' } }],
    getProduct: [{ method: 'GET', path: `/issuer/products/${a.concert}` }],
    updateProduct: [
      { method: 'PATCH', path: `/issuer/products/${a.concert}`, body: { name: 'hijacked' } },
      { method: 'PATCH', path: `/issuer/products/${a.concert}`, body: { active: false } },
      // B's own product pointing at A's template, package or node.
      { method: 'PATCH', path: `/issuer/products/${a.bProduct}`, body: { faceTemplateId: a.template } },
      { method: 'PATCH', path: `/issuer/products/${a.bProduct}`, body: { applicationPackageIds: [a.package] } },
      { method: 'PATCH', path: `/issuer/products/${a.bProduct}`, body: { nodeId: a.node } },
    ],
    createSeatClass: [{ method: 'POST', path: `/issuer/products/${a.concert}/seat-classes`, body: { code: 'X', name: 'X', priceMinor: 1 } }],
    updateSeatClass: [{ method: 'PATCH', path: `/issuer/seat-classes/${a.seatClass}`, body: { priceMinor: 1 } }],
    deleteSeatClass: [{ method: 'DELETE', path: `/issuer/seat-classes/${a.seatClass}` }],
    createPerformance: [{ method: 'POST', path: `/issuer/products/${a.concert}/performances`, body: { startsAt: '2027-01-02T18:00:00+09:00', venue: 'B' } }],
    getPerformance: [{ method: 'GET', path: `/issuer/performances/${a.performance}` }],
    updatePerformance: [{ method: 'PATCH', path: `/issuer/performances/${a.performance}`, body: { venue: 'hijacked' } }],
    deletePerformance: [{ method: 'DELETE', path: `/issuer/performances/${a.performance}` }],
    getSeatMap: [{ method: 'GET', path: `/issuer/performances/${a.performance}/seat-map` }],
    putSeatMap: [{ method: 'PUT', path: `/issuer/performances/${a.performance}/seat-map`, body: seatMap }],
    createRoute: [{ method: 'POST', path: `/issuer/products/${a.commuter}/routes`, body: { origin: 'B', destination: 'B' } }],
    updateRoute: [{ method: 'PATCH', path: `/issuer/routes/${a.route}`, body: { origin: 'hijacked' } }],
    deleteRoute: [{ method: 'DELETE', path: `/issuer/routes/${a.route}` }],
    putFare: [
      { method: 'PUT', path: `/issuer/routes/${a.route}/fares/1`, body: { priceMinor: 1 } },
      { method: 'PUT', path: `/issuer/routes/${a.route}/fares/6`, body: { priceMinor: 1 } },
    ],
    deleteFare: [{ method: 'DELETE', path: `/issuer/routes/${a.route}/fares/1` }],
    createPrepaidValue: [{ method: 'POST', path: `/issuer/products/${a.prepaid}/values`, body: { valueMinor: 7, priceMinor: 7 } }],
    updatePrepaidValue: [{ method: 'PATCH', path: `/issuer/values/${a.value}`, body: { priceMinor: 1 } }],
    deletePrepaidValue: [{ method: 'DELETE', path: `/issuer/values/${a.value}` }],
    getImage: [{ method: 'GET', path: `/issuer/images/${a.image}` }],
    getImageContent: [{ method: 'GET', path: `/issuer/images/${a.image}/content` }],
    createFaceTemplate: [{ method: 'POST', path: '/issuer/face-templates', body: { name: 'B with A\'s image', imageId: a.image } }],
    getFaceTemplate: [{ method: 'GET', path: `/issuer/face-templates/${a.template}` }],
    updateFaceTemplate: [{ method: 'PATCH', path: `/issuer/face-templates/${a.template}`, body: { name: 'hijacked' } }],
    getApplicationPackage: [{ method: 'GET', path: `/issuer/application-packages/${a.package}` }],
    getApplicationPackageContent: [{ method: 'GET', path: `/issuer/application-packages/${a.package}/content` }],
    getNotification: [{ method: 'GET', path: `/issuer/notifications/${a.event}` }],
    getCard: [{ method: 'GET', path: `/issuer/cards/${a.sale.cardId}` }],
    revokeCard: [{ method: 'POST', path: `/issuer/cards/${a.sale.cardId}/revocations`, body: { reason: 'stolen', requestId: 'b-attack-1' } }],
    getCardRevocation: [{ method: 'GET', path: `/issuer/cards/${a.sale.cardId}/revocation` }],
    reissueCard: [{ method: 'POST', path: `/issuer/cards/${a.sale.cardId}/reissue`, body: { reason: 'lost', requestId: 'b-attack-2', waiveFee: true } }],
    getCardReissue: [{ method: 'GET', path: `/issuer/cards/${a.sale.cardId}/reissue` }],
    getSettlement: [{ method: 'GET', path: `/issuer/settlements/${a.settlement}` }],
    getSettlementStatementCsv: [{ method: 'GET', path: `/issuer/settlements/${a.settlement}/statement.csv` }],
    getSettlementStatementJson: [{ method: 'GET', path: `/issuer/settlements/${a.settlement}/statement.json` }],
  };
}

/** Routes that act on the caller only: B gets its own things, never A's. */
function ownScope(): Record<string, Case[]> {
  const bBytes = Buffer.from('PK\u0003\u0004 B\'s applet');
  return {
    whoAmI: [{ method: 'GET', path: '/issuer/me' }],
    listNodes: [{ method: 'GET', path: '/issuer/catalogue/nodes' }],
    listProducts: [{ method: 'GET', path: '/issuer/products' }],
    listImages: [{ method: 'GET', path: '/issuer/images' }],
    listFaceTemplates: [{ method: 'GET', path: '/issuer/face-templates' }],
    listApplicationPackages: [{ method: 'GET', path: '/issuer/application-packages' }],
    listNotifications: [{ method: 'GET', path: '/issuer/notifications' }],
    getWebhook: [{ method: 'GET', path: '/issuer/webhook' }],
    listSales: [{ method: 'GET', path: '/issuer/sales' }],
    listSettlements: [{ method: 'GET', path: '/issuer/settlements' }],
    uploadImage: [{ method: 'POST', path: '/issuer/images?name=b-face', raw: pngBytes(), contentType: 'image/png' }],
    // The same name and version as A's package: B gets a package of its own, not A's.
    uploadApplicationPackage: [
      { method: 'POST', path: `/issuer/application-packages?name=${MARK}-purse&version=1.0&aid=A000000001&format=javacard-cap&sha256=${createHash('sha256').update(bBytes).digest('hex')}`, raw: bBytes, contentType: 'application/octet-stream' },
    ],
    rotateWebhookSecret: [{ method: 'POST', path: '/issuer/webhook/secret' }],
  };
}
const PUBLIC = ['getOpenApiDocument'];

test('the cases here cover every route of the issuer API', () => {
  const covered = new Set([...Object.keys(attacks()), ...Object.keys(ownScope()), ...PUBLIC]);
  const missing = issuerApiRouteDefs(h.db).map((d) => d.operationId).filter((op) => !covered.has(op));
  expect(missing).toEqual([]);
});

test('another issuer gets 403/404 on every route aimed at A\'s resources, and the database does not change', async () => {
  const before = await fingerprint(h.db);
  const aBefore = JSON.stringify((await h.call(A, 'GET', `/issuer/products/${a.concert}`)).body);
  const answers: string[] = [];
  for (const [op, cases] of Object.entries(attacks())) {
    for (const c of cases) {
      const res = await h.call(B, c.method, c.path, c.body, { raw: c.raw, contentType: c.contentType });
      answers.push(`${op} ${c.method} ${c.path} → ${res.status} ${res.body?.error?.code}`);
      expect([403, 404]).toContain(res.status);
      expect(res.body).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
      expect(res.text).not.toContain(MARK);
    }
  }
  expect(await fingerprint(h.db)).toEqual(before);
  expect(JSON.stringify((await h.call(A, 'GET', `/issuer/products/${a.concert}`)).body)).toBe(aBefore);
  console.log(`another issuer's attempts, all refused:\n  ${answers.join('\n  ')}`);
});

test('routes that act on the caller show B only B\'s things and change nothing of A\'s', async () => {
  const aViews = async () => ({
    images: (await h.call(A, 'GET', '/issuer/images')).body,
    packages: (await h.call(A, 'GET', '/issuer/application-packages')).body,
    products: (await h.call(A, 'GET', '/issuer/products')).body,
    secret: (await h.db('issuers').where({ id: A }).first('webhook_secret')).webhook_secret,
  });
  const before = await aViews();
  for (const [op, cases] of Object.entries(ownScope())) {
    for (const c of cases) {
      const res = await h.call(B, c.method, c.path, c.body, { raw: c.raw, contentType: c.contentType });
      expect({ op, status: res.status }).toEqual({ op, status: expect.any(Number) });
      expect(res.status).toBeLessThan(300);
      expect(res.text.includes(MARK) && op !== 'uploadApplicationPackage').toBe(false);
      for (const secretThing of [a.sale.cardId, a.event, a.settlement, a.secret]) expect(res.text).not.toContain(secretThing);
    }
  }
  expect((await h.call(B, 'GET', '/issuer/me')).body.issuerId).toBe(B);
  const bPackages = (await h.call(B, 'GET', '/issuer/application-packages')).body.applicationPackages;
  expect(bPackages).toHaveLength(1);
  expect(bPackages[0].id).not.toBe(a.package);
  expect(await aViews()).toEqual(before);
});
