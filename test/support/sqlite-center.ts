/**
 * A center database for tests that need no services: a migrated SQLite file in a temporary
 * directory, seeded with the demo catalogue, and optionally one issuance of the first product at a
 * terminal (still paying), for tests that record money against it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb, type Db } from '../../lib/db';
import { migrateLatest } from '../../migrations';
import { seedDemo } from '../../migrations/seeds/demo';

export async function sqliteCenter(name: string, terminalId: string, issuanceId?: string): Promise<Db> {
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), `${name}-`));
  const db = createDb(`sqlite:${path.join(dir, 'center.sqlite')}`, dir);
  await migrateLatest(db);
  await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/webhooks', webhookSecret: 'x'.repeat(32), terminalIds: [terminalId] });
  if (issuanceId) {
    const product = await db('products').orderBy('id').first('id', 'issuer_id', 'type');
    await db('issuances').insert({ id: issuanceId, terminal_id: terminalId, issuer_id: product.issuer_id, product_id: product.id, product_type: product.type, selection: '{}', title: 't', price_minor: 1000, customer_fee_minor: 0, total_minor: 1000, currency: 'JPY', status: 'paying', created_at_ms: 1, updated_at_ms: 1 });
  }
  return db;
}
