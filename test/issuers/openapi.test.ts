/**
 * The OpenAPI document matches the routes: every route the express router serves is in the
 * document and every documented operation answers at its path; the document is valid OpenAPI 3.1
 * in shape; and its JSON Schemas (checked with an independent validator, Ajv's draft 2020-12)
 * reject the bodies, path and query parameters the routes reject, and accept what they accept.
 * (Every JSON answer in these suites is also checked against its documented schema:
 * ISSUER_API_CHECK_RESPONSES=1 in ./support.)
 */
import { issuerApiRoutes } from '../../api/routes/issuer';
import { openApiPath } from '../../api/routes/issuer/route-def';
import { A, OPERATOR_TOKEN, startIssuerApi, type IssuerApiHarness } from './support';

// Ajv ships with the Temporal worker's webpack (schema-utils); it is only used here, as an
// independent JSON Schema 2020-12 validator.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Ajv2020 = require('ajv/dist/2020').default;

let h: IssuerApiHarness;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

beforeAll(async () => {
  h = await startIssuerApi();
  doc = (await h.call(null, 'GET', '/issuer/openapi.json')).body;
});
afterAll(async () => {
  await h?.stop();
});

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function operation(operationId: string): { path: string; method: string; op: any } {
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const method of METHODS) if (item[method]?.operationId === operationId) return { path, method, op: item[method] };
  }
  throw new Error(`no operation ${operationId} in the document`);
}

function validator(schema: unknown) {
  return ajv.compile({ ...(schema as object), components: doc.components });
}

const bodyOk = (operationId: string, body: unknown) => validator(operation(operationId).op.requestBody.content['application/json'].schema)(body) as boolean;
const paramOk = (operationId: string, name: string, value: string) => validator(operation(operationId).op.parameters.find((p: any) => p.name === name).schema)(value) as boolean;

test('a valid OpenAPI 3.1 document, with every schema reference resolvable', () => {
  expect(doc.openapi).toBe('3.1.0');
  expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
  expect(doc.components.securitySchemes.issuerApiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  const ids = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    expect(path.startsWith('/api/')).toBe(true);
    for (const [method, op] of Object.entries<any>(item)) {
      expect(METHODS).toContain(method);
      expect(ids.has(op.operationId)).toBe(false);
      ids.add(op.operationId);
      expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      // Path parameters named in the path are declared, and the other way round.
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect((op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name).sort()).toEqual(inPath);
    }
  }
  const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
  for (const ref of new Set(refs)) {
    const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1];
    expect(name && doc.components.schemas[name]).toBeTruthy();
  }
  // Every component compiles as JSON Schema 2020-12.
  for (const name of Object.keys(doc.components.schemas)) validator({ $ref: `#/components/schemas/${name}` });
});

test('every route the router serves is in the document, and every documented operation is served', async () => {
  const router = issuerApiRoutes({ db: h.db, operatorTokens: [] });
  const served = new Set<string>();
  for (const layer of (router as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack) {
    if (!layer.route) continue;
    for (const m of Object.keys(layer.route.methods)) if (m !== '_all') served.add(`${m} ${openApiPath(`/api${layer.route.path}`)}`);
  }
  const documented = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths)) for (const m of Object.keys(item)) documented.add(`${m} ${path}`);
  expect([...served].filter((x) => !documented.has(x))).toEqual([]);
  expect([...documented].filter((x) => !served.has(x))).toEqual([]);
  expect(served.size).toBeGreaterThan(40);

  // Through the real app: each documented path answers (401 without credentials, not 404).
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!op.security?.length) continue;
      const concrete = path.replace('/api', '').replace(/\{([^}]+)\}/g, (_m, name: string) => (name === 'months' ? '1' : name === 'settlementId' ? 'settlement-x-2025-01-01' : name === 'issuerId' ? A : name === 'keyId' ? '0123456789abcdef' : name === 'eventId' || name === 'cardId' ? 'X1' : '1'));
      const res = await h.call(null, method.toUpperCase(), concrete);
      expect({ op: op.operationId, status: res.status }).toEqual({ op: op.operationId, status: 401 });
    }
  }
});

test('the document\'s schemas reject what the routes reject, and accept what they accept', async () => {
  const nodes = (await h.call(A, 'GET', '/issuer/catalogue/nodes')).body.nodes;
  const genre = (await h.call(A, 'POST', '/issuer/catalogue/nodes', { parentId: nodes[0].id, kind: 'genre', name: 'Doc genre' })).body.id;
  const product = (await h.call(A, 'POST', '/issuer/products', { nodeId: genre, type: 'concert', name: 'Doc product' })).body.id;
  await h.call(A, 'POST', `/issuer/products/${product}/seat-classes`, { code: 'S', name: 'S', priceMinor: 100 });
  const perf = (await h.call(A, 'POST', `/issuer/products/${product}/performances`, { startsAt: '2027-01-01T18:00:00+09:00', venue: 'Hall' })).body.performance.id;
  const pass = (await h.call(A, 'POST', '/issuer/products', { nodeId: genre, type: 'commuter', name: 'Doc pass' })).body.id;

  const cases: Array<[string, string, string, unknown]> = [
    // [operationId, method, path, body]
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'lottery', name: 'x' }],
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'concert' }],
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'concert', name: 'x', admin: true }],
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'concert', name: ' leading space' }],
    ['createProduct', 'POST', '/issuer/products', { nodeId: 0, type: 'concert', name: 'x' }],
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'concert', name: 'x', issuanceFeeMinor: 1.5 }],
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'concert', name: 'x', applicationPackageIds: [1, 1] }],
    ['updateProduct', 'PATCH', `/issuer/products/${product}`, {}],
    ['updateProduct', 'PATCH', `/issuer/products/${product}`, { issuanceFeeMinor: -1 }],
    ['createNode', 'POST', '/issuer/catalogue/nodes', { parentId: genre, kind: 'card_type', name: 'x' }],
    ['createNode', 'POST', '/issuer/catalogue/nodes', { parentId: genre, kind: 'Has Spaces', name: 'x' }],
    ['createPerformance', 'POST', `/issuer/products/${product}/performances`, { startsAt: '2027-01-01 18:00', venue: 'x' }],
    ['createPerformance', 'POST', `/issuer/products/${product}/performances`, { startsAt: '2027-01-01T18:00:00', venue: 'x' }],
    ['putSeatMap', 'PUT', `/issuer/performances/${perf}/seat-map`, { sections: [] }],
    ['putSeatMap', 'PUT', `/issuer/performances/${perf}/seat-map`, { sections: [{ name: 'A', rows: [{ label: '1', seats: [{ number: 0, classCode: 'S' }] }] }] }],
    ['putSeatMap', 'PUT', `/issuer/performances/${perf}/seat-map`, { sections: [{ name: 'A', rows: [{ label: '1', seats: [{ number: 1 }] }] }] }],
    ['putSeatMap', 'PUT', `/issuer/performances/${perf}/seat-map`, { sections: [{ name: 'A', rows: [{ label: '1', seats: [{ number: 1, from: 2, classCode: 'S' }] }] }] }],
    ['putSeatMap', 'PUT', `/issuer/performances/${perf}/seat-map`, { sections: [{ name: 'A', rows: [{ label: '1', seats: [{ number: 1, classCode: 'not ok!' }] }] }] }],
    ['createRoute', 'POST', `/issuer/products/${pass}/routes`, { origin: 'a', destination: 'b', fares: [{ months: 2, priceMinor: 1 }] }],
    ['createRoute', 'POST', `/issuer/products/${pass}/routes`, { origin: 'a', destination: 'b', fares: [{ months: 1, priceMinor: 0 }] }],
    ['createSeatClass', 'POST', `/issuer/products/${product}/seat-classes`, { code: 'TOOLONGCODE1', name: 'x', priceMinor: 1 }],
    ['createIssuerApiKey', 'POST', `/operator/issuers/${A}/api-keys`, { label: '' }],
  ];
  for (const [operationId, method, path, body] of cases) {
    const res = await h.call(A, method, path, body, operationId === 'createIssuerApiKey' ? { token: OPERATOR_TOKEN } : {});
    expect({ operationId, body, status: res.status, code: res.body?.error?.code }).toEqual({ operationId, body, status: 400, code: 'invalid_input' });
    expect({ operationId, body, documentAccepts: bodyOk(operationId, body) }).toEqual({ operationId, body, documentAccepts: false });
  }

  const good: Array<[string, string, string, unknown]> = [
    ['createProduct', 'POST', '/issuer/products', { nodeId: genre, type: 'prepaid', name: 'Good one', issuanceFeeMinor: 0, applicationPackageIds: [] }],
    ['updateProduct', 'PATCH', `/issuer/products/${product}`, { name: 'Renamed', faceTemplateId: null }],
    ['putSeatMap', 'PUT', `/issuer/performances/${perf}/seat-map`, { sections: [{ name: 'A', rows: [{ label: '1', seats: [{ from: 1, to: 3, classCode: 'S' }, { number: 5, classCode: 'S' }] }] }] }],
    ['createRoute', 'POST', `/issuer/products/${pass}/routes`, { origin: 'a', destination: 'b', via: null, fares: [{ months: 6, priceMinor: 1 }] }],
    ['createPerformance', 'POST', `/issuer/products/${product}/performances`, { startsAt: '2027-01-02T18:00:00Z', venue: 'Hall' }],
  ];
  for (const [operationId, method, path, body] of good) {
    expect({ operationId, documentAccepts: bodyOk(operationId, body) }).toEqual({ operationId, documentAccepts: true });
    const res = await h.call(A, method, path, body);
    expect({ operationId, status: res.status < 300 }).toEqual({ operationId, status: true });
  }

  // Path and query parameters.
  expect(paramOk('getProduct', 'productId', 'abc')).toBe(false);
  expect((await h.call(A, 'GET', '/issuer/products/abc')).status).toBe(400);
  expect(paramOk('getProduct', 'productId', String(product))).toBe(true);
  expect(paramOk('putFare', 'months', '2')).toBe(false);
  expect((await h.call(A, 'PUT', '/issuer/routes/1/fares/2', { priceMinor: 1 })).status).toBe(400);
  expect(paramOk('listNotifications', 'status', 'lost')).toBe(false);
  expect((await h.call(A, 'GET', '/issuer/notifications?status=lost')).status).toBe(400);
  expect(paramOk('listSettlements', 'from', '2025-4-1')).toBe(false);
  expect(paramOk('listSettlements', 'from', '2025-04-01')).toBe(true);
  expect(paramOk('uploadApplicationPackage', 'sha256', 'F'.repeat(64))).toBe(false);
  const unknownQuery = operation('listSales').op.parameters.map((p: any) => p.name);
  expect(unknownQuery).toEqual(['from', 'to', 'after', 'limit']);
  expect((await h.call(A, 'GET', '/issuer/sales?colour=red')).status).toBe(400); // unknown query parameters are refused

  // One limit of JSON Schema: a run whose from > to is refused by the route (a cross-field rule)
  // but cannot be said in the document's schema; the operation's description and this test say it.
  const backwards = { sections: [{ name: 'A', rows: [{ label: '1', seats: [{ from: 5, to: 1, classCode: 'S' }] }] }] };
  expect((await h.call(A, 'PUT', `/issuer/performances/${perf}/seat-map`, backwards)).status).toBe(400);
  expect(bodyOk('putSeatMap', backwards)).toBe(true);
});

test('responses match their documented schemas (a sample checked with the document itself)', async () => {
  const products = await h.call(A, 'GET', '/issuer/products');
  const schema = operation('listProducts').op.responses['200'].content['application/json'].schema;
  expect(validator(schema)(products.body)).toBe(true);
  const err = await h.call(A, 'GET', '/issuer/products/99999999');
  expect(validator(operation('getProduct').op.responses['404'].content['application/json'].schema)(err.body)).toBe(true);
});
