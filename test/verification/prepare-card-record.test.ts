/**
 * prepareCardRecord on a real database (SQLite, seeded): each product type gets a signed v2 record
 * with what the card is for and its validity, the same window is stored on the card's row, and
 * the value area starts with a prepaid card's value.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCardActivities } from '../../activities/center/cards';
import { parseCardRecord } from '../../domain/card-record';
import type { Selection } from '../../domain/issuance';
import { CardSigningKeys, checkCardSignature, keyIdOf } from '../../lib/card-signing';
import { createDb, type Db } from '../../lib/db';
import { migrateLatest } from '../../migrations';
import { seedDemo } from '../../migrations/seeds/demo';

let db: Db;
let dir: string;
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keys = new CardSigningKeys(privateKey, keyIdOf(publicKey));
const ISSUED_AT = Date.parse('2026-01-31T20:00:00Z'); // 1 Feb in Japan

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'prepare-record-'));
  db = createDb(`sqlite:${path.join(dir, 'center.sqlite')}`, dir);
  await migrateLatest(db);
  await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/unused', webhookSecret: 'secret-0123456789abcdef', terminalIds: ['T-001'] });
});
afterAll(async () => {
  await db?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function issue(n: number, selection: Selection, productType: string, productId: number, issuerId: string) {
  const issuanceId = `iss-T-001-${n}`;
  await db('issuances').insert({ id: issuanceId, terminal_id: 'T-001', issuer_id: issuerId, product_id: productId, product_type: productType, selection: JSON.stringify(selection), title: `item ${n}`, price_minor: 1, customer_fee_minor: 0, total_minor: 1, currency: 'JPY', status: 'producing', created_at_ms: ISSUED_AT, updated_at_ms: ISSUED_AT });
  const cards = createCardActivities({ db, cardKeys: keys, now: () => ISSUED_AT });
  const { cardId } = await cards.bindCard(issuanceId, `04AA${n}`);
  const { recordBase64 } = await cards.prepareCardRecord(issuanceId, cardId);
  const parsed = parseCardRecord(Buffer.from(recordBase64, 'base64'));
  expect(checkCardSignature(parsed, keys.verifyKeys)).toEqual({ ok: true });
  const row = await db('cards').where({ id: cardId }).first('valid_from_ms', 'valid_until_ms');
  expect(parsed.record.validFrom).toBe(new Date(Number(row.valid_from_ms)).toISOString());
  expect(parsed.record.validUntil).toBe(row.valid_until_ms === null ? null : new Date(Number(row.valid_until_ms)).toISOString());
  // The same inputs sign to the same bytes (Ed25519 is deterministic): a retried activity writes the same chip.
  expect((await cards.prepareCardRecord(issuanceId, cardId)).recordBase64).toBe(recordBase64);
  return parsed;
}

test('a commuter pass carries its route and runs from the local date of issue for its months', async () => {
  const fare = await db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').join('products as p', 'p.id', 'r.product_id').where('f.months', 3).first('f.id', 'r.origin', 'r.destination', 'p.id as product_id', 'p.issuer_id');
  const parsed = await issue(1, { kind: 'fare', fareId: fare.id }, 'commuter', fare.product_id, fare.issuer_id);
  expect(parsed.record.product).toMatchObject({ kind: 'fare', origin: fare.origin, destination: fare.destination, months: 3 });
  expect(parsed.record.validFrom).toBe('2026-01-31T15:00:00.000Z');
  expect(parsed.record.validUntil).toBe('2026-04-30T15:00:00.000Z');
  expect(parsed.value!.state).toEqual({ seq: 1, balanceMinor: 0, flags: 0 });
});

test('a prepaid card carries its value in the value area and never expires', async () => {
  const v = await db('prepaid_values as v').join('products as p', 'p.id', 'v.product_id').first('v.id', 'v.value_minor', 'p.id as product_id', 'p.issuer_id');
  const parsed = await issue(2, { kind: 'prepaid', valueId: v.id }, 'prepaid', v.product_id, v.issuer_id);
  expect(parsed.record.product).toMatchObject({ kind: 'prepaid', valueMinor: Number(v.value_minor) });
  expect(parsed.record.validUntil).toBeNull();
  expect(parsed.value!.state).toEqual({ seq: 1, balanceMinor: Number(v.value_minor), flags: 0 });
});

test('a concert ticket carries venue and seat and is valid until midnight after the performance', async () => {
  const s = await db('seats as s').join('performances as pf', 'pf.id', 's.performance_id').join('products as p', 'p.id', 'pf.product_id').orderBy('s.id').first('s.id', 's.section', 's.row_label', 's.number', 'pf.venue', 'pf.starts_at', 'p.id as product_id', 'p.issuer_id');
  const parsed = await issue(3, { kind: 'seat', seatId: s.id }, 'concert', s.product_id, s.issuer_id);
  expect(parsed.record.product).toMatchObject({ kind: 'seat', venue: s.venue, section: s.section, row: s.row_label, seat: Number(s.number), startsAt: s.starts_at });
  const localDate = String(s.starts_at).slice(0, 10);
  const offset = String(s.starts_at).slice(19);
  expect(Date.parse(parsed.record.validUntil!)).toBe(Date.parse(`${localDate}T00:00:00${offset || 'Z'}`) + 86_400_000);
});
