/**
 * The verification lookup on a real database (SQLite file, migrated and seeded): statuses by card
 * id, and lookups arriving together batched into one query without ever serving a stale answer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CardStatusLoader, lookupCardStatus } from '../../lib/card-status';
import { createDb, type Db } from '../../lib/db';
import { migrateLatest } from '../../migrations';
import { seedDemo } from '../../migrations/seeds/demo';

let db: Db;
let dir: string;
const queries: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'card-status-'));
  db = createDb(`sqlite:${path.join(dir, 'center.sqlite')}`, dir);
  await migrateLatest(db);
  await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/unused', webhookSecret: 'secret-0123456789abcdef', terminalIds: ['T-001'] });
  const product = await db('products').where({ issuer_id: 'sunrise-promotions' }).first('id', 'type');
  for (let i = 1; i <= 5; i++) {
    await db('issuances').insert({ id: `iss-${i}`, terminal_id: 'T-001', issuer_id: 'sunrise-promotions', product_id: product.id, product_type: product.type, selection: '{}', title: 't', price_minor: 1, customer_fee_minor: 0, total_minor: 1, currency: 'JPY', status: 'completed', created_at_ms: 1, updated_at_ms: 1 });
    await db('cards').insert({ id: `C${i}`, issuance_id: `iss-${i}`, uid: `04000${i}`, status: i === 5 ? 'spoiled' : 'issued', created_at_ms: 1, updated_at_ms: 1, valid_from_ms: 1000, valid_until_ms: i === 4 ? null : 2000 });
  }
  await db('card_revocations').insert({ card_id: 'C3', issuer_id: 'sunrise-promotions', reason: 'fraud', requested_by_kind: 'issuer', requested_by_id: 'k1', request_id: 'r1', workflow_id: 'revocation-C3', revoked_at_ms: 1500 });
  db.on('query', (q: { sql: string }) => queries.push(q.sql));
});
afterAll(async () => {
  await db?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a card\'s status: issuer, product type, validity and its revocation', async () => {
  expect(await lookupCardStatus(db, 'C1')).toMatchObject({ cardId: 'C1', issuanceId: 'iss-1', issuerId: 'sunrise-promotions', status: 'issued', validFromMs: 1000, validUntilMs: 2000, revocation: null });
  expect((await lookupCardStatus(db, 'C3'))!.revocation).toEqual({ reason: 'fraud', revokedAtMs: 1500 });
  expect((await lookupCardStatus(db, 'C4'))!.validUntilMs).toBeNull();
  expect(await lookupCardStatus(db, 'C404')).toBeNull();
});

test('lookups made together go out as one query, each gets its own card (duplicates and unknown ids included)', async () => {
  const loader = new CardStatusLoader(db);
  queries.length = 0;
  const ids = ['C2', 'C3', 'C404', 'C2', 'C5', 'C1'];
  const got = await Promise.all(ids.map((id) => loader.load(id)));
  expect(queries.filter((q) => /card_revocations/.test(q))).toHaveLength(1);
  expect(got.map((s) => s?.cardId ?? null)).toEqual(['C2', 'C3', null, 'C2', 'C5', 'C1']);
  expect(got[4]!.status).toBe('spoiled');

  // No caching: a revocation committed between two lookups is seen by the second.
  expect((await loader.load('C1'))!.revocation).toBeNull();
  await db('card_revocations').insert({ card_id: 'C1', issuer_id: 'sunrise-promotions', reason: 'lost', requested_by_kind: 'issuer', requested_by_id: 'k1', request_id: 'r2', workflow_id: 'revocation-C1', revoked_at_ms: 1600 });
  expect((await loader.load('C1'))!.revocation).toEqual({ reason: 'lost', revokedAtMs: 1600 });
});

test('a batch larger than the limit is split into several queries', async () => {
  const loader = new CardStatusLoader(db, 2);
  queries.length = 0;
  const got = await Promise.all(['C1', 'C2', 'C3', 'C4', 'C5'].map((id) => loader.load(id)));
  expect(got.map((s) => s!.cardId)).toEqual(['C1', 'C2', 'C3', 'C4', 'C5']);
  expect(queries.filter((q) => /card_revocations/.test(q))).toHaveLength(3);
});
