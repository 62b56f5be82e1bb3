/**
 * Demo catalogue: a concert promoter (two performances of 500 seats in three price classes, and a
 * smaller classical concert), a railway (routes with 1, 3 and 6 month fares) and a telco
 * (prepaid values), each with a card face image; and the kiosk terminal T-001.
 * Idempotent: does nothing when the demo issuers already exist.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { demoFacePng } from './face-image';

export interface DemoSeedOptions {
  /** Where issuers' sales notifications go (the demo issuer server). */
  notifyUrl: string;
  /** Webhook secret shared with the demo issuer server. */
  webhookSecret?: string;
  terminalIds?: string[];
}

export const DEMO_ISSUERS = {
  promoter: 'sunrise-promotions',
  railway: 'kanto-railway',
  telco: 'hikari-mobile',
} as const;

async function insertId(db: Knex, table: string, row: Record<string, unknown>): Promise<number> {
  const [id] = await db(table).insert(row);
  return Number(id);
}

async function node(db: Knex, parentId: number | null, issuerId: string | null, kind: string, name: string, sort = 0): Promise<number> {
  return insertId(db, 'catalogue_nodes', { parent_id: parentId, issuer_id: issuerId, kind, name, sort });
}

async function image(db: Knex, issuerId: string, png: Buffer): Promise<number> {
  return insertId(db, 'images', { issuer_id: issuerId, content_type: 'image/png', bytes: png, sha256: createHash('sha256').update(png).digest('hex') });
}

export async function seedTerminals(db: Knex, terminalIds: string[]): Promise<void> {
  for (const id of terminalIds) {
    const existing = await db('terminals').where({ id }).first();
    if (!existing) await db('terminals').insert({ id, kind: 'kiosk', name: `Kiosk ${id}`, location: 'Demo convenience store, Shinjuku', active: true });
  }
}

export async function seedDemo(db: Knex, opts: DemoSeedOptions): Promise<{ created: boolean; webhookSecret: string }> {
  await seedTerminals(db, opts.terminalIds ?? ['T-001']);
  const existing = await db('issuers').where({ id: DEMO_ISSUERS.promoter }).first();
  if (existing) {
    await db('issuers').whereIn('id', Object.values(DEMO_ISSUERS)).update({ notify_url: opts.notifyUrl });
    await seedActivationUrl(db, opts.notifyUrl);
    return { created: false, webhookSecret: existing.webhook_secret };
  }
  const secret = opts.webhookSecret ?? randomBytes(24).toString('hex');
  const now = Date.now();
  await db('issuers').insert([
    { id: DEMO_ISSUERS.promoter, name: 'Sunrise Promotions', currency: 'JPY', notify_url: opts.notifyUrl, webhook_secret: secret, created_at_ms: now },
    { id: DEMO_ISSUERS.railway, name: 'Kanto Railway', currency: 'JPY', notify_url: opts.notifyUrl, webhook_secret: secret, created_at_ms: now },
    { id: DEMO_ISSUERS.telco, name: 'Hikari Mobile', currency: 'JPY', notify_url: opts.notifyUrl, webhook_secret: secret, created_at_ms: now },
  ]);
  // Where each issuer's takings are paid (Zengin fields: half-width kana names).
  const bank = { bank_code: '0005', bank_name: 'ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ', branch_code: '001', branch_name: 'ﾎﾝﾃﾝ', account_type: '1' };
  await db('issuers').where({ id: DEMO_ISSUERS.promoter }).update({ ...bank, account_number: '7654321', account_holder_kana: 'ｻﾝﾗｲｽﾞﾌﾟﾛﾓ-ｼﾖﾝｽﾞ' });
  await db('issuers').where({ id: DEMO_ISSUERS.railway }).update({ ...bank, account_number: '7654322', account_holder_kana: 'ｶﾝﾄｳﾃﾂﾄﾞｳ' });
  await db('issuers').where({ id: DEMO_ISSUERS.telco }).update({ ...bank, account_number: '7654323', account_holder_kana: 'ﾋｶﾘﾓﾊﾞｲﾙ' });
  await seedActivationUrl(db, opts.notifyUrl);
  // The operator's fee: 8 % on tickets, 3 % on passes, 5 % + ¥10 on prepaid cards, in force from the start.
  await db('fee_rules').insert([
    { issuer_id: DEMO_ISSUERS.promoter, product_type: null, bps: 800, fixed_minor: 0, reissue_fee_minor: 550, effective_from_ms: 0, created_at_ms: now },
    { issuer_id: DEMO_ISSUERS.railway, product_type: null, bps: 300, fixed_minor: 0, reissue_fee_minor: 520, effective_from_ms: 0, created_at_ms: now },
    { issuer_id: DEMO_ISSUERS.telco, product_type: null, bps: 500, fixed_minor: 10, reissue_fee_minor: 0, effective_from_ms: 0, created_at_ms: now },
  ]);

  // Concerts: card type → genre → artist → product (performances → seats).
  const concerts = await node(db, null, null, 'card_type', 'Concert tickets', 1);
  const rock = await node(db, concerts, DEMO_ISSUERS.promoter, 'genre', 'Rock & Pop', 1);
  const classical = await node(db, concerts, DEMO_ISSUERS.promoter, 'genre', 'Classical', 2);
  const neon = await node(db, rock, DEMO_ISSUERS.promoter, 'artist', 'The Neon Harbors', 1);
  const orchestra = await node(db, classical, DEMO_ISSUERS.promoter, 'artist', 'Tokyo Chamber Orchestra', 1);
  const concertFace = await image(db, DEMO_ISSUERS.promoter, demoFacePng([220, 40, 90], [40, 20, 120]));
  const classicalFace = await image(db, DEMO_ISSUERS.promoter, demoFacePng([30, 60, 40], [200, 170, 90]));

  const tour = await insertId(db, 'products', { issuer_id: DEMO_ISSUERS.promoter, node_id: neon, type: 'concert', name: 'The Neon Harbors — Tide Tour 2027', currency: 'JPY', issuance_fee_minor: 330, face_image_id: concertFace, active: true });
  const classes = {
    S: await insertId(db, 'seat_classes', { product_id: tour, code: 'S', name: 'S seat', price_minor: 12000 }),
    A: await insertId(db, 'seat_classes', { product_id: tour, code: 'A', name: 'A seat', price_minor: 9800 }),
    B: await insertId(db, 'seat_classes', { product_id: tour, code: 'B', name: 'B seat', price_minor: 7500 }),
  };
  const rows = 'ABCDEFGHIJKLMNOPQRST'.split(''); // 20 rows × 25 seats = 500 seats
  for (const [startsAt, venue] of [
    ['2027-03-14T18:00:00+09:00', 'Tokyo Garden Theater'],
    ['2027-03-21T17:30:00+09:00', 'Osaka Castle Hall'],
  ]) {
    const perf = await insertId(db, 'performances', { product_id: tour, starts_at: startsAt, venue });
    const seats = rows.flatMap((row, r) =>
      Array.from({ length: 25 }, (_, n) => ({
        performance_id: perf,
        class_id: r < 5 ? classes.S : r < 12 ? classes.A : classes.B,
        section: 'Floor',
        row_label: row,
        number: n + 1,
        status: 'available',
      })),
    );
    await db.batchInsert('seats', seats, 100);
  }

  const chamber = await insertId(db, 'products', { issuer_id: DEMO_ISSUERS.promoter, node_id: orchestra, type: 'concert', name: 'Tokyo Chamber Orchestra — Spring Serenades', currency: 'JPY', issuance_fee_minor: 330, face_image_id: classicalFace, active: true });
  const chamberClass = await insertId(db, 'seat_classes', { product_id: chamber, code: 'R', name: 'Reserved', price_minor: 6000 });
  const chamberPerf = await insertId(db, 'performances', { product_id: chamber, starts_at: '2027-04-05T14:00:00+09:00', venue: 'Kioi Hall' });
  await db.batchInsert(
    'seats',
    'ABCDE'.split('').flatMap((row) => Array.from({ length: 20 }, (_, n) => ({ performance_id: chamberPerf, class_id: chamberClass, section: 'Hall', row_label: row, number: n + 1, status: 'available' }))),
    100,
  );

  // Commuter passes: card type → railway → product (routes → 1/3/6 month fares).
  const passes = await node(db, null, null, 'card_type', 'Commuter passes', 2);
  const railway = await node(db, passes, DEMO_ISSUERS.railway, 'railway', 'Kanto Railway', 1);
  const railFace = await image(db, DEMO_ISSUERS.railway, demoFacePng([0, 140, 80], [20, 60, 160]));
  const passProduct = await insertId(db, 'products', { issuer_id: DEMO_ISSUERS.railway, node_id: railway, type: 'commuter', name: 'Kanto Railway commuter pass', currency: 'JPY', issuance_fee_minor: 0, face_image_id: railFace, active: true });
  for (const [origin, destination, one] of [
    ['Shinjuku', 'Tachikawa', 13570],
    ['Shibuya', 'Yokohama', 11840],
    ['Ueno', 'Omiya', 12230],
  ] as const) {
    const route = await insertId(db, 'commuter_routes', { product_id: passProduct, origin, destination, via: null });
    await db('commuter_fares').insert([
      { route_id: route, months: 1, price_minor: one },
      { route_id: route, months: 3, price_minor: Math.round(one * 2.85) },
      { route_id: route, months: 6, price_minor: Math.round(one * 5.4) },
    ]);
  }

  // Prepaid: card type → brand → product (values).
  const prepaid = await node(db, null, null, 'card_type', 'Prepaid cards', 3);
  const brand = await node(db, prepaid, DEMO_ISSUERS.telco, 'brand', 'Hikari Mobile', 1);
  const telcoFace = await image(db, DEMO_ISSUERS.telco, demoFacePng([250, 170, 20], [230, 80, 20]));
  const prepaidProduct = await insertId(db, 'products', { issuer_id: DEMO_ISSUERS.telco, node_id: brand, type: 'prepaid', name: 'Hikari Mobile prepaid card', currency: 'JPY', issuance_fee_minor: 0, face_image_id: telcoFace, active: true });
  await db('prepaid_values').insert([1000, 3000, 5000].map((v) => ({ product_id: prepaidProduct, value_minor: v, price_minor: v })));

  return { created: true, webhookSecret: secret };
}

/** The telco activates its stock prepaid cards at sale on the demo issuer server (POST /activate there). */
async function seedActivationUrl(db: Knex, notifyUrl: string): Promise<void> {
  await db('issuers').where({ id: DEMO_ISSUERS.telco }).update({ activation_url: new URL('/activate', notifyUrl).toString() });
}
