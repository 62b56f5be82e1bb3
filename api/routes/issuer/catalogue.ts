/**
 * Catalogue management for an issuer: its nodes in the hierarchy (card type → genre → artist …),
 * its products, and each product's choices — performances with seat maps and seat classes,
 * commuter routes with 1/3/6-month fares, prepaid values.
 *
 * Issued cards never change (see activities/center/issued-items.ts): the fields a card's content
 * is read through — a held or sold seat's position and class, its performance's date and venue,
 * the class's code and name, a sold fare's route and months, a sold prepaid value — are refused
 * with 409 item_in_use, and such rows cannot be deleted. Prices and product names stay editable:
 * an issuance keeps the title, price and fee it was sold with. To stop selling something that is
 * on cards, deactivate the product (active: false) and create a new one.
 *
 * Every change runs in one transaction that first locks the product row, so a failed request
 * changes nothing and two edits of one product do not interleave.
 */
import { z } from 'zod';
import type { Knex } from 'knex';
import type { Db } from '../../../lib/db';
import { isMysql, isUniqueViolation } from '../../../lib/db';
import { referencedItemIds } from '../../../activities/center/issued-items';
import { ApiError } from '../../errors';
import type { IssuerContext } from '../../issuer-auth';
import { idParams, insertId, locked, logChange, money, n, notFound, ownProduct, positiveId, positiveMoney, text } from './common';
import { route, type AnyRoute } from './route-def';

const TAG = 'Catalogue';
const PRODUCT_TYPES = ['concert', 'commuter', 'prepaid'] as const;
const MAX_SEATS = 100_000;
const INSERT_CHUNK = 1000;

// ---------- schemas ----------

const atLeastOne = <T extends z.ZodObject>(o: T) => o.refine((v) => Object.keys(v).length > 0, 'send at least one field to change').meta({ minProperties: 1 });

const nodeKind = z
  .string()
  .regex(/^[a-z][a-z_]{0,29}$/, 'must be lower-case letters and _ (e.g. genre, artist, railway, brand)')
  .refine((k) => k !== 'card_type', 'card_type nodes belong to the operator')
  .meta({ not: { const: 'card_type' } });
const NodeCreate = z.object({ parentId: positiveId, kind: nodeKind, name: text(200), sort: z.number().int().min(0).max(1_000_000).optional() }).strict().meta({ id: 'NodeCreate' });
const NodeUpdate = atLeastOne(z.object({ parentId: positiveId.optional(), name: text(200).optional(), sort: z.number().int().min(0).max(1_000_000).optional() }).strict()).meta({ id: 'NodeUpdate' });
const Node = z
  .object({ id: z.number().int(), parentId: z.number().int().nullable(), kind: z.string(), name: z.string(), sort: z.number().int(), yours: z.boolean().describe('false for the operator\'s card type nodes at the top') })
  .meta({ id: 'Node' });

const applicationPackageIds = z
  .array(positiveId)
  .max(20)
  .refine((a) => new Set(a).size === a.length, 'must not repeat an id')
  .meta({ uniqueItems: true });
const ProductCreate = z
  .object({
    nodeId: positiveId,
    type: z.enum(PRODUCT_TYPES),
    name: text(200),
    issuanceFeeMinor: money.optional().describe('Fee the customer pays on top of the price (kept by the operator). Default 0.'),
    active: z.boolean().optional().describe('On sale at kiosks. Default true.'),
    faceTemplateId: positiveId.nullable().optional(),
    applicationPackageIds: applicationPackageIds.optional(),
  })
  .strict()
  .meta({ id: 'ProductCreate' });
const ProductUpdate = atLeastOne(
  z
    .object({
      nodeId: positiveId.optional(),
      name: text(200).optional(),
      issuanceFeeMinor: money.optional(),
      active: z.boolean().optional(),
      faceTemplateId: positiveId.nullable().optional(),
      applicationPackageIds: applicationPackageIds.optional(),
    })
    .strict(),
).meta({ id: 'ProductUpdate' });

const SeatClass = z.object({ id: z.number().int(), code: z.string(), name: z.string(), priceMinor: z.number().int(), seatsInUse: z.number().int().describe('Seats of this class held or sold: while > 0, code and name are frozen.') }).meta({ id: 'SeatClass' });
const classCode = z.string().regex(/^[A-Za-z0-9]{1,10}$/, 'must be 1-10 letters or digits');
const SeatClassCreate = z.object({ code: classCode, name: text(100), priceMinor: positiveMoney }).strict().meta({ id: 'SeatClassCreate' });
const SeatClassUpdate = atLeastOne(z.object({ name: text(100).optional(), priceMinor: positiveMoney.optional() }).strict()).meta({ id: 'SeatClassUpdate' });

const seatNumber = z.number().int().min(1).max(99_999);
const SeatRun = z
  .union([
    z.object({ number: seatNumber, classCode }).strict(),
    z
      .object({ from: seatNumber, to: seatNumber, classCode })
      .strict()
      .refine((r) => r.from <= r.to, 'from must not be greater than to'),
  ])
  .meta({ id: 'SeatRun', description: 'One seat, or a run of consecutive seat numbers of one class (from ≤ to: checked by the API, which JSON Schema cannot express).' });
const SeatMap = z
  .object({
    sections: z
      .array(
        z
          .object({
            name: text(20),
            rows: z.array(z.object({ label: text(10), seats: z.array(SeatRun).min(1).max(5000) }).strict()).min(1).max(5000),
          })
          .strict(),
      )
      .min(1)
      .max(500),
  })
  .strict()
  .meta({ id: 'SeatMap', description: `Sections → rows → seats (each with a seat class code of the product). At most ${MAX_SEATS} seats.` });
const SeatCounts = z.object({ total: z.number().int(), available: z.number().int(), held: z.number().int(), sold: z.number().int() }).meta({ id: 'SeatCounts' });
const Performance = z.object({ id: z.number().int(), productId: z.number().int(), startsAt: z.string(), venue: z.string(), seats: SeatCounts }).meta({ id: 'Performance' });
const startsAt = z.iso.datetime({ offset: true, precision: 0 }).describe('Local start time with its offset, e.g. 2027-03-14T18:00:00+09:00.');
const PerformanceCreate = z.object({ startsAt, venue: text(200), seatMap: SeatMap.optional() }).strict().meta({ id: 'PerformanceCreate' });
const PerformanceUpdate = atLeastOne(z.object({ startsAt: startsAt.optional(), venue: text(200).optional() }).strict()).meta({ id: 'PerformanceUpdate' });
const SeatMapView = z.object({ performanceId: z.number().int(), seatMap: z.object({ sections: z.array(z.object({ name: z.string(), rows: z.array(z.object({ label: z.string(), seats: z.array(SeatRun) })) })) }), counts: SeatCounts }).meta({ id: 'SeatMapView' });
const SeatMapResult = z
  .object({ performanceId: z.number().int(), added: z.number().int(), reclassed: z.number().int(), removed: z.number().int(), unchanged: z.number().int(), counts: SeatCounts, elapsedMs: z.number() })
  .meta({ id: 'SeatMapResult' });

const months = z.union([z.literal(1), z.literal(3), z.literal(6)]);
const Fare = z.object({ id: z.number().int(), months: z.number().int(), priceMinor: z.number().int(), issued: z.boolean() }).meta({ id: 'Fare' });
const Route = z.object({ id: z.number().int(), productId: z.number().int(), origin: z.string(), destination: z.string(), via: z.string().nullable(), fares: z.array(Fare), issued: z.boolean().describe('A fare of this route is on a card: origin, destination and via are frozen.') }).meta({ id: 'Route' });
const RouteCreate = z
  .object({
    origin: text(100),
    destination: text(100),
    via: text(200).nullable().optional(),
    fares: z
      .array(z.object({ months, priceMinor: positiveMoney }).strict())
      .max(3)
      .refine((f) => new Set(f.map((x) => x.months)).size === f.length, 'one fare per number of months')
      .optional(),
  })
  .strict()
  .meta({ id: 'RouteCreate' });
const RouteUpdate = atLeastOne(z.object({ origin: text(100).optional(), destination: text(100).optional(), via: text(200).nullable().optional() }).strict()).meta({ id: 'RouteUpdate' });
const FarePut = z.object({ priceMinor: positiveMoney }).strict().meta({ id: 'FarePut' });

const PrepaidValue = z.object({ id: z.number().int(), productId: z.number().int(), valueMinor: z.number().int(), priceMinor: z.number().int(), issued: z.boolean() }).meta({ id: 'PrepaidValue' });
const ValueCreate = z.object({ valueMinor: positiveMoney, priceMinor: positiveMoney }).strict().meta({ id: 'PrepaidValueCreate' });
const ValueUpdate = atLeastOne(z.object({ valueMinor: positiveMoney.optional(), priceMinor: positiveMoney.optional() }).strict()).meta({ id: 'PrepaidValueUpdate' });

const Product = z
  .object({
    id: z.number().int(),
    nodeId: z.number().int(),
    type: z.enum(PRODUCT_TYPES),
    name: z.string(),
    currency: z.string(),
    issuanceFeeMinor: z.number().int(),
    active: z.boolean(),
    faceTemplateId: z.number().int().nullable(),
    faceImageId: z.number().int().nullable(),
    applicationPackageIds: z.array(z.number().int()),
  })
  .meta({ id: 'Product' });
const ProductDetail = Product.extend({
  seatClasses: z.array(SeatClass).optional(),
  performances: z.array(Performance).optional(),
  routes: z.array(Route).optional(),
  values: z.array(PrepaidValue).optional(),
}).meta({ id: 'ProductDetail' });

// ---------- row → DTO ----------

async function productDto(db: Knex, p: Record<string, unknown>): Promise<z.infer<typeof Product>> {
  const apps = await db('product_applications').where({ product_id: p.id }).orderBy('package_id').pluck('package_id');
  return {
    id: n(p.id),
    nodeId: n(p.node_id),
    type: p.type as (typeof PRODUCT_TYPES)[number],
    name: String(p.name),
    currency: String(p.currency),
    issuanceFeeMinor: n(p.issuance_fee_minor),
    active: Boolean(p.active),
    faceTemplateId: p.face_template_id === null || p.face_template_id === undefined ? null : n(p.face_template_id),
    faceImageId: p.face_image_id === null || p.face_image_id === undefined ? null : n(p.face_image_id),
    applicationPackageIds: apps.map(Number),
  };
}

async function seatCounts(db: Knex, performanceIds: number[]): Promise<Map<number, z.infer<typeof SeatCounts>>> {
  const out = new Map<number, z.infer<typeof SeatCounts>>();
  for (const id of performanceIds) out.set(id, { total: 0, available: 0, held: 0, sold: 0 });
  if (performanceIds.length === 0) return out;
  const rows = await db('seats').whereIn('performance_id', performanceIds).groupBy('performance_id', 'status').select('performance_id', 'status').count({ c: '*' });
  for (const r of rows as Array<{ performance_id: number; status: string; c: number }>) {
    const c = out.get(n(r.performance_id))!;
    c.total += n(r.c);
    if (r.status === 'available' || r.status === 'held' || r.status === 'sold') c[r.status] += n(r.c);
  }
  return out;
}

async function performanceDtos(db: Knex, rows: Array<Record<string, unknown>>) {
  const counts = await seatCounts(db, rows.map((r) => n(r.id)));
  return rows.map((r) => ({ id: n(r.id), productId: n(r.product_id), startsAt: String(r.starts_at), venue: String(r.venue), seats: counts.get(n(r.id))! }));
}

async function seatClassDtos(db: Knex, productId: number) {
  const classes = await db('seat_classes').where({ product_id: productId }).orderBy('id').select('id', 'code', 'name', 'price_minor');
  const inUse = await db('seats as s').join('seat_classes as c', 'c.id', 's.class_id').where('c.product_id', productId).whereNot('s.status', 'available').groupBy('s.class_id').select('s.class_id').count({ c: '*' });
  const used = new Map((inUse as Array<{ class_id: number; c: number }>).map((r) => [n(r.class_id), n(r.c)]));
  return classes.map((c) => ({ id: n(c.id), code: c.code, name: c.name, priceMinor: n(c.price_minor), seatsInUse: used.get(n(c.id)) ?? 0 }));
}

async function routeDtos(db: Knex, productId: number, routeIds?: number[]) {
  let q = db('commuter_routes').where({ product_id: productId }).orderBy('id');
  if (routeIds) q = q.whereIn('id', routeIds);
  const routes = await q.select('id', 'product_id', 'origin', 'destination', 'via');
  const fares = routes.length ? await db('commuter_fares').whereIn('route_id', routes.map((r) => r.id)).orderBy(['route_id', 'months']).select('id', 'route_id', 'months', 'price_minor') : [];
  const issued = await referencedItemIds(db, productId, 'fareId', fares.map((f) => n(f.id)));
  return routes.map((r) => {
    const fs = fares.filter((f) => n(f.route_id) === n(r.id)).map((f) => ({ id: n(f.id), months: n(f.months), priceMinor: n(f.price_minor), issued: issued.has(n(f.id)) }));
    return { id: n(r.id), productId: n(r.product_id), origin: r.origin, destination: r.destination, via: r.via ?? null, fares: fs, issued: fs.some((f) => f.issued) };
  });
}

async function valueDtos(db: Knex, productId: number, valueIds?: number[]) {
  let q = db('prepaid_values').where({ product_id: productId }).orderBy(['value_minor', 'id']);
  if (valueIds) q = q.whereIn('id', valueIds);
  const rows = await q.select('id', 'product_id', 'value_minor', 'price_minor');
  const issued = await referencedItemIds(db, productId, 'valueId', rows.map((r) => n(r.id)));
  return rows.map((r) => ({ id: n(r.id), productId: n(r.product_id), valueMinor: n(r.value_minor), priceMinor: n(r.price_minor), issued: issued.has(n(r.id)) }));
}

async function productDetail(db: Knex, p: Record<string, unknown>) {
  const base = await productDto(db, p);
  const id = n(p.id);
  if (p.type === 'concert') {
    const perfs = await db('performances').where({ product_id: id }).orderBy(['starts_at', 'id']).select('id', 'product_id', 'starts_at', 'venue');
    return { ...base, seatClasses: await seatClassDtos(db, id), performances: await performanceDtos(db, perfs) };
  }
  if (p.type === 'commuter') return { ...base, routes: await routeDtos(db, id) };
  return { ...base, values: await valueDtos(db, id) };
}

// ---------- ownership lookups ----------

async function ownNode(trx: Knex, issuer: IssuerContext, nodeId: number) {
  const node = await trx('catalogue_nodes').where({ id: nodeId, issuer_id: issuer.issuerId }).first();
  if (!node) throw notFound('catalogue node', nodeId);
  return node;
}

/** A node an issuer may hang things under: one of its own, or (for nodes) an operator's top-level card type. */
async function parentNode(trx: Knex, issuer: IssuerContext, nodeId: number) {
  const node = await trx('catalogue_nodes').where({ id: nodeId }).first();
  if (!node || (node.issuer_id !== issuer.issuerId && !(node.issuer_id === null && node.parent_id === null))) throw notFound('catalogue node', nodeId);
  return node;
}

/** A row of a table hanging off a product (`product_id`), if the product is the issuer's. */
async function ownProductRow(trx: Knex, issuer: IssuerContext, table: string, what: string, id: number) {
  const row = await trx(`${table} as x`).join('products as p', 'p.id', 'x.product_id').where({ 'x.id': id, 'p.issuer_id': issuer.issuerId }).first('x.*');
  if (!row) throw notFound(what, id);
  return row;
}

const ownPerformance = (trx: Knex, issuer: IssuerContext, performanceId: number) => ownProductRow(trx, issuer, 'performances', 'performance', performanceId);
const ownSeatClass = (trx: Knex, issuer: IssuerContext, classId: number) => ownProductRow(trx, issuer, 'seat_classes', 'seat class', classId);
const ownRoute = (trx: Knex, issuer: IssuerContext, routeId: number) => ownProductRow(trx, issuer, 'commuter_routes', 'route', routeId);
const ownValue = (trx: Knex, issuer: IssuerContext, valueId: number) => ownProductRow(trx, issuer, 'prepaid_values', 'prepaid value', valueId);

async function lockProduct(trx: Knex, productId: number) {
  await locked(trx, trx('products').where({ id: productId })).first('id');
}

const inUse = (message: string, details?: unknown) => new ApiError(409, 'item_in_use', message, details);

async function applyFaceAndApps(trx: Knex, issuer: IssuerContext, productId: number, body: { faceTemplateId?: number | null; applicationPackageIds?: number[] }) {
  if (body.faceTemplateId !== undefined) {
    if (body.faceTemplateId === null) {
      await trx('products').where({ id: productId }).update({ face_template_id: null, face_image_id: null });
    } else {
      const t = await trx('face_templates').where({ id: body.faceTemplateId, issuer_id: issuer.issuerId }).first('id', 'image_id');
      if (!t) throw notFound('face template', body.faceTemplateId);
      await trx('products').where({ id: productId }).update({ face_template_id: t.id, face_image_id: t.image_id });
    }
  }
  if (body.applicationPackageIds !== undefined) {
    const ids = body.applicationPackageIds;
    if (ids.length) {
      const own = await trx('application_packages').whereIn('id', ids).where({ issuer_id: issuer.issuerId }).pluck('id');
      const missing = ids.filter((id) => !own.map(Number).includes(id));
      if (missing.length) throw notFound('application package', missing.join(', '));
    }
    await trx('product_applications').where({ product_id: productId }).del();
    if (ids.length) await trx('product_applications').insert(ids.map((package_id) => ({ product_id: productId, package_id })));
  }
}

// ---------- seat maps ----------

interface DesiredSeat {
  section: string;
  row: string;
  number: number;
  classCode: string;
}

const seatKey = (section: string, row: string, num: number) => `${section}\u0000${row}\u0000${num}`;

function expandSeatMap(map: z.infer<typeof SeatMap>): DesiredSeat[] {
  const seats: DesiredSeat[] = [];
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const section of map.sections) {
    for (const row of section.rows) {
      for (const run of row.seats) {
        const [from, to] = 'number' in run ? [run.number, run.number] : [run.from, run.to];
        if (seats.length + (to - from + 1) > MAX_SEATS) throw new ApiError(422, 'seat_map_too_large', `A seat map holds at most ${MAX_SEATS} seats.`);
        for (let num = from; num <= to; num++) {
          const key = seatKey(section.name, row.label, num);
          if (seen.has(key)) {
            if (duplicates.length < 20) duplicates.push(`${section.name} row ${row.label} seat ${num}`);
            continue;
          }
          seen.add(key);
          seats.push({ section: section.name, row: row.label, number: num, classCode: run.classCode });
        }
      }
    }
  }
  if (duplicates.length) throw new ApiError(422, 'duplicate_seats', `The seat map lists a seat more than once: ${duplicates.join('; ')}.`, { duplicates });
  return seats;
}

/**
 * Makes the performance's seats exactly `map`: adds new seats, changes the class of available
 * ones, removes available seats that are not in the map. A held or sold seat must stay as it is
 * (same place, same class) or the whole request is refused. Inserts go in multi-row batches.
 */
async function applySeatMap(trx: Knex, productId: number, performanceId: number, map: z.infer<typeof SeatMap>) {
  const started = process.hrtime.bigint();
  const desired = expandSeatMap(map);
  const classes = await trx('seat_classes').where({ product_id: productId }).select('id', 'code');
  const classByCode = new Map(classes.map((c) => [String(c.code), n(c.id)]));
  const unknown = [...new Set(desired.map((s) => s.classCode).filter((c) => !classByCode.has(c)))];
  if (unknown.length) throw new ApiError(422, 'unknown_seat_class', `The product has no seat class ${unknown.join(', ')}; create it first (POST /issuer/products/${productId}/seat-classes).`, { unknownClassCodes: unknown });

  const existing = await trx('seats').where({ performance_id: performanceId }).select('id', 'section', 'row_label', 'number', 'class_id', 'status');
  const byKey = new Map(existing.map((s) => [seatKey(s.section, s.row_label, n(s.number)), s]));
  const wanted = new Set<string>();
  const toInsert: Array<Record<string, unknown>> = [];
  const reclass = new Map<number, number[]>();
  const conflicts: string[] = [];
  let unchanged = 0;
  for (const d of desired) {
    const key = seatKey(d.section, d.row, d.number);
    wanted.add(key);
    const classId = classByCode.get(d.classCode)!;
    const cur = byKey.get(key);
    if (!cur) {
      toInsert.push({ performance_id: performanceId, class_id: classId, section: d.section, row_label: d.row, number: d.number, status: 'available' });
    } else if (n(cur.class_id) !== classId) {
      if (cur.status !== 'available') conflicts.push(`${d.section} row ${d.row} seat ${d.number} is ${cur.status}: its class cannot change`);
      else reclass.set(classId, [...(reclass.get(classId) ?? []), n(cur.id)]);
    } else unchanged++;
  }
  const toRemove: number[] = [];
  for (const [key, cur] of byKey) {
    if (wanted.has(key)) continue;
    if (cur.status !== 'available') conflicts.push(`${cur.section} row ${cur.row_label} seat ${cur.number} is ${cur.status}: it cannot be removed`);
    else toRemove.push(n(cur.id));
  }
  if (conflicts.length) throw inUse(`The seat map would change seats that are on cards or being sold (${conflicts.length}): ${conflicts.slice(0, 10).join('; ')}${conflicts.length > 10 ? '; …' : ''}.`, { conflicts: conflicts.slice(0, 100) });

  // Conditional writes: a kiosk may hold a seat between our read and our write; then nothing is changed.
  const raced = () => inUse('A kiosk took one of the seats this map changes while it was being applied; nothing was changed. Fetch the seat map and try again.');
  for (let i = 0; i < toRemove.length; i += INSERT_CHUNK) {
    const ids = toRemove.slice(i, i + INSERT_CHUNK);
    const removed = await trx('seats').whereIn('id', ids).where('status', 'available').whereNull('hold_issuance_id').del();
    if (removed !== ids.length) throw raced();
  }
  for (const [classId, ids] of reclass) {
    for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
      const chunk = ids.slice(i, i + INSERT_CHUNK);
      const changed = await trx('seats').whereIn('id', chunk).where('status', 'available').update({ class_id: classId });
      if (changed !== chunk.length) throw raced();
    }
  }
  // knex writes a multi-row insert on SQLite as a compound SELECT, which SQLite caps at 500 terms.
  const insertChunk = isMysql(trx) ? INSERT_CHUNK : 400;
  for (let i = 0; i < toInsert.length; i += insertChunk) await trx('seats').insert(toInsert.slice(i, i + insertChunk));
  const counts = (await seatCounts(trx, [performanceId])).get(performanceId)!;
  const reclassed = [...reclass.values()].reduce((s, ids) => s + ids.length, 0);
  return { performanceId, added: toInsert.length, reclassed, removed: toRemove.length, unchanged, counts, elapsedMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100 };
}

async function seatMapView(db: Knex, performanceId: number) {
  const seats = await db('seats as s').join('seat_classes as c', 'c.id', 's.class_id').where('s.performance_id', performanceId).orderBy('s.id').select('s.section', 's.row_label', 's.number', 'c.code');
  const sections = new Map<string, Map<string, Array<{ number: number; code: string }>>>();
  for (const s of seats) {
    if (!sections.has(s.section)) sections.set(s.section, new Map());
    const rows = sections.get(s.section)!;
    if (!rows.has(s.row_label)) rows.set(s.row_label, []);
    rows.get(s.row_label)!.push({ number: n(s.number), code: s.code });
  }
  const out = [...sections].map(([name, rows]) => ({
    name,
    rows: [...rows].map(([label, list]) => {
      list.sort((a, b) => a.number - b.number);
      const runs: Array<z.infer<typeof SeatRun>> = [];
      let start = 0;
      for (let i = 1; i <= list.length; i++) {
        if (i < list.length && list[i].number === list[i - 1].number + 1 && list[i].code === list[start].code) continue;
        const from = list[start].number;
        const to = list[i - 1].number;
        runs.push(from === to ? { number: from, classCode: list[start].code } : { from, to, classCode: list[start].code });
        start = i;
      }
      return { label, seats: runs };
    }),
  }));
  const counts = (await seatCounts(db, [performanceId])).get(performanceId)!;
  return { performanceId, seatMap: { sections: out }, counts };
}

// ---------- routes ----------

export function catalogueRouteDefs(db: Db): AnyRoute[] {
  const P = idParams('productId');
  return [
    // nodes
    route({
      method: 'get',
      path: '/issuer/catalogue/nodes',
      operationId: 'listNodes',
      summary: 'Your catalogue nodes, and the operator\'s card types to hang them under',
      tag: TAG,
      auth: 'issuer',
      responses: { 200: { description: 'The nodes', schema: z.object({ nodes: z.array(Node) }) } },
      async handler({ issuer }) {
        const rows = await db('catalogue_nodes')
          .where((w) => w.where('issuer_id', issuer.issuerId).orWhere((o) => o.whereNull('issuer_id').whereNull('parent_id')))
          .orderBy([{ column: 'parent_id' }, { column: 'sort' }, { column: 'id' }])
          .select('id', 'parent_id', 'kind', 'name', 'sort', 'issuer_id');
        return { json: { nodes: rows.map((r) => ({ id: n(r.id), parentId: r.parent_id === null ? null : n(r.parent_id), kind: r.kind, name: r.name, sort: n(r.sort), yours: r.issuer_id === issuer.issuerId })) } };
      },
    }),
    route({
      method: 'post',
      path: '/issuer/catalogue/nodes',
      operationId: 'createNode',
      summary: 'Create a node (genre, artist, railway, brand …) under a card type or one of your nodes',
      tag: TAG,
      auth: 'issuer',
      body: NodeCreate,
      errors: [404],
      responses: { 201: { description: 'Created', schema: Node } },
      async handler({ issuer, body }) {
        return db.transaction(async (trx) => {
          await parentNode(trx, issuer, body.parentId);
          const row = { parent_id: body.parentId, issuer_id: issuer.issuerId, kind: body.kind, name: body.name, sort: body.sort ?? 0 };
          const id = await insertId(trx, 'catalogue_nodes', row);
          await logChange(trx, issuer, 'createNode', 'catalogue_node', id, body);
          return { status: 201, json: { id, parentId: body.parentId, kind: body.kind, name: body.name, sort: row.sort, yours: true } };
        });
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/catalogue/nodes/:nodeId',
      operationId: 'updateNode',
      summary: 'Rename, reorder or move one of your nodes',
      tag: TAG,
      auth: 'issuer',
      params: idParams('nodeId'),
      body: NodeUpdate,
      errors: [409],
      responses: { 200: { description: 'Updated', schema: Node } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const node = await ownNode(trx, issuer, params.nodeId);
          if (body.parentId !== undefined) {
            await parentNode(trx, issuer, body.parentId);
            for (let at: number | null = body.parentId; at !== null; ) {
              if (at === params.nodeId) throw new ApiError(409, 'cycle', 'A node cannot move under itself or its own descendants.');
              const up: { parent_id: number | null } | undefined = await trx('catalogue_nodes').where({ id: at }).first('parent_id');
              at = up?.parent_id === null || up?.parent_id === undefined ? null : n(up.parent_id);
            }
          }
          const changes = { ...(body.parentId !== undefined ? { parent_id: body.parentId } : {}), ...(body.name !== undefined ? { name: body.name } : {}), ...(body.sort !== undefined ? { sort: body.sort } : {}) };
          await trx('catalogue_nodes').where({ id: node.id }).update(changes);
          await logChange(trx, issuer, 'updateNode', 'catalogue_node', node.id, body);
          const r = await trx('catalogue_nodes').where({ id: node.id }).first();
          return { json: { id: n(r.id), parentId: r.parent_id === null ? null : n(r.parent_id), kind: r.kind, name: r.name, sort: n(r.sort), yours: true } };
        });
      },
    }),
    route({
      method: 'delete',
      path: '/issuer/catalogue/nodes/:nodeId',
      operationId: 'deleteNode',
      summary: 'Delete one of your nodes that has no nodes or products under it',
      tag: TAG,
      auth: 'issuer',
      params: idParams('nodeId'),
      errors: [409],
      responses: { 204: { description: 'Deleted' } },
      async handler({ issuer, params }) {
        return db.transaction(async (trx) => {
          const node = await ownNode(trx, issuer, params.nodeId);
          const child = await trx('catalogue_nodes').where({ parent_id: node.id }).first('id');
          const product = await trx('products').where({ node_id: node.id }).first('id');
          if (child || product) throw new ApiError(409, 'node_not_empty', `Node ${node.id} still has ${child ? 'nodes' : 'products'} under it.`);
          await trx('catalogue_nodes').where({ id: node.id }).del();
          await logChange(trx, issuer, 'deleteNode', 'catalogue_node', node.id);
          return { status: 204 };
        });
      },
    }),

    // products
    route({
      method: 'get',
      path: '/issuer/products',
      operationId: 'listProducts',
      summary: 'Your products',
      tag: TAG,
      auth: 'issuer',
      responses: { 200: { description: 'The products', schema: z.object({ products: z.array(Product) }) } },
      async handler({ issuer }) {
        const rows = await db('products').where({ issuer_id: issuer.issuerId }).orderBy('id');
        return { json: { products: await Promise.all(rows.map((p) => productDto(db, p))) } };
      },
    }),
    route({
      method: 'post',
      path: '/issuer/products',
      operationId: 'createProduct',
      summary: 'Create a product under one of your nodes',
      tag: TAG,
      auth: 'issuer',
      body: ProductCreate,
      errors: [404],
      responses: { 201: { description: 'Created', schema: ProductDetail } },
      async handler({ issuer, body }) {
        return db.transaction(async (trx) => {
          await ownNode(trx, issuer, body.nodeId);
          const id = await insertId(trx, 'products', {
            issuer_id: issuer.issuerId,
            node_id: body.nodeId,
            type: body.type,
            name: body.name,
            currency: issuer.currency,
            issuance_fee_minor: body.issuanceFeeMinor ?? 0,
            active: body.active ?? true,
          });
          await applyFaceAndApps(trx, issuer, id, body);
          await logChange(trx, issuer, 'createProduct', 'product', id, body);
          return { status: 201, json: await productDetail(trx, await trx('products').where({ id }).first()) };
        });
      },
    }),
    route({
      method: 'get',
      path: '/issuer/products/:productId',
      operationId: 'getProduct',
      summary: 'One product with its seat classes and performances, routes and fares, or prepaid values',
      tag: TAG,
      auth: 'issuer',
      params: P,
      responses: { 200: { description: 'The product', schema: ProductDetail } },
      async handler({ issuer, params }) {
        return { json: await productDetail(db, await ownProduct(db, issuer, params.productId)) };
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/products/:productId',
      operationId: 'updateProduct',
      summary: 'Change a product (name, fee, node, face, applications, on sale or not)',
      description: 'Cards already issued keep the title, price and fee they were sold with and the face they were printed with.',
      tag: TAG,
      auth: 'issuer',
      params: P,
      body: ProductUpdate,
      responses: { 200: { description: 'Updated', schema: ProductDetail } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const p = await ownProduct(trx, issuer, params.productId, { lock: true });
          if (body.nodeId !== undefined) await ownNode(trx, issuer, body.nodeId);
          const changes = {
            ...(body.nodeId !== undefined ? { node_id: body.nodeId } : {}),
            ...(body.name !== undefined ? { name: body.name } : {}),
            ...(body.issuanceFeeMinor !== undefined ? { issuance_fee_minor: body.issuanceFeeMinor } : {}),
            ...(body.active !== undefined ? { active: body.active } : {}),
          };
          if (Object.keys(changes).length) await trx('products').where({ id: p.id }).update(changes);
          await applyFaceAndApps(trx, issuer, n(p.id), body);
          await logChange(trx, issuer, 'updateProduct', 'product', p.id, body);
          return { json: await productDetail(trx, await trx('products').where({ id: p.id }).first()) };
        });
      },
    }),

    // seat classes
    route({
      method: 'post',
      path: '/issuer/products/:productId/seat-classes',
      operationId: 'createSeatClass',
      summary: 'Add a seat (price) class to a concert product',
      tag: TAG,
      auth: 'issuer',
      params: P,
      body: SeatClassCreate,
      errors: [409],
      responses: { 201: { description: 'Created', schema: SeatClass } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          await ownProduct(trx, issuer, params.productId, { lock: true, type: 'concert' });
          let id: number;
          try {
            id = await insertId(trx, 'seat_classes', { product_id: params.productId, code: body.code, name: body.name, price_minor: body.priceMinor });
          } catch (err) {
            if (isUniqueViolation(err)) throw new ApiError(409, 'duplicate_code', `Product ${params.productId} already has a seat class ${body.code}.`);
            throw err;
          }
          await logChange(trx, issuer, 'createSeatClass', 'seat_class', id, body);
          return { status: 201, json: { id, code: body.code, name: body.name, priceMinor: body.priceMinor, seatsInUse: 0 } };
        });
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/seat-classes/:classId',
      operationId: 'updateSeatClass',
      summary: 'Change a seat class: its price (for seats not yet sold), or its name while none of its seats is held or sold',
      tag: TAG,
      auth: 'issuer',
      params: idParams('classId'),
      body: SeatClassUpdate,
      errors: [409],
      responses: { 200: { description: 'Updated', schema: SeatClass } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const c = await ownSeatClass(trx, issuer, params.classId);
          await lockProduct(trx, n(c.product_id));
          if (body.name !== undefined && body.name !== c.name) {
            const used = await trx('seats').where({ class_id: c.id }).whereNot('status', 'available').count({ c: '*' }).first();
            if (n(used?.c) > 0) throw inUse(`${n(used?.c)} seats of class ${c.code} are on cards or being sold; its name is printed on them and cannot change. Create a new class instead.`);
          }
          await trx('seat_classes').where({ id: c.id }).update({ ...(body.name !== undefined ? { name: body.name } : {}), ...(body.priceMinor !== undefined ? { price_minor: body.priceMinor } : {}) });
          await logChange(trx, issuer, 'updateSeatClass', 'seat_class', c.id, body);
          return { json: (await seatClassDtos(trx, n(c.product_id))).find((x) => x.id === n(c.id))! };
        });
      },
    }),
    route({
      method: 'delete',
      path: '/issuer/seat-classes/:classId',
      operationId: 'deleteSeatClass',
      summary: 'Delete a seat class no seat uses',
      tag: TAG,
      auth: 'issuer',
      params: idParams('classId'),
      errors: [409],
      responses: { 204: { description: 'Deleted' } },
      async handler({ issuer, params }) {
        return db.transaction(async (trx) => {
          const c = await ownSeatClass(trx, issuer, params.classId);
          await lockProduct(trx, n(c.product_id));
          const used = await trx('seats').where({ class_id: c.id }).first('id');
          if (used) throw new ApiError(409, 'class_has_seats', `Seats still use class ${c.code}; move them to another class in the seat map first.`);
          await trx('seat_classes').where({ id: c.id }).del();
          await logChange(trx, issuer, 'deleteSeatClass', 'seat_class', c.id);
          return { status: 204 };
        });
      },
    }),

    // performances and seat maps
    route({
      method: 'post',
      path: '/issuer/products/:productId/performances',
      operationId: 'createPerformance',
      summary: 'Add a performance, optionally with its whole seat map in the same request',
      tag: TAG,
      auth: 'issuer',
      params: P,
      body: PerformanceCreate,
      jsonLimit: '8mb',
      errors: [409, 422],
      responses: { 201: { description: 'Created', schema: z.object({ performance: Performance, seatMap: SeatMapResult.nullable() }) } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          await ownProduct(trx, issuer, params.productId, { lock: true, type: 'concert' });
          const id = await insertId(trx, 'performances', { product_id: params.productId, starts_at: body.startsAt, venue: body.venue });
          const result = body.seatMap ? await applySeatMap(trx, params.productId, id, body.seatMap) : null;
          await logChange(trx, issuer, 'createPerformance', 'performance', id, { startsAt: body.startsAt, venue: body.venue, seats: result?.counts.total ?? 0 });
          const [performance] = await performanceDtos(trx, [await trx('performances').where({ id }).first()]);
          return { status: 201, json: { performance, seatMap: result } };
        });
      },
    }),
    route({
      method: 'get',
      path: '/issuer/performances/:performanceId',
      operationId: 'getPerformance',
      summary: 'One performance with its seat counts',
      tag: TAG,
      auth: 'issuer',
      params: idParams('performanceId'),
      responses: { 200: { description: 'The performance', schema: Performance } },
      async handler({ issuer, params }) {
        const [pf] = await performanceDtos(db, [await ownPerformance(db, issuer, params.performanceId)]);
        return { json: pf };
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/performances/:performanceId',
      operationId: 'updatePerformance',
      summary: 'Change a performance\'s date or venue while none of its seats is held or sold',
      tag: TAG,
      auth: 'issuer',
      params: idParams('performanceId'),
      body: PerformanceUpdate,
      errors: [409],
      responses: { 200: { description: 'Updated', schema: Performance } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const pf = await ownPerformance(trx, issuer, params.performanceId);
          await lockProduct(trx, n(pf.product_id));
          const changes = { ...(body.startsAt !== undefined ? { starts_at: body.startsAt } : {}), ...(body.venue !== undefined ? { venue: body.venue } : {}) };
          const changing = (changes.starts_at !== undefined && changes.starts_at !== pf.starts_at) || (changes.venue !== undefined && changes.venue !== pf.venue);
          if (changing) {
            const used = await locked(trx, trx('seats').where({ performance_id: pf.id }).whereNot('status', 'available')).first('id');
            if (used) throw inUse(`Performance ${pf.id} has seats on cards or being sold; its date and venue are on those cards and cannot change.`);
            await trx('performances').where({ id: pf.id }).update(changes);
          }
          await logChange(trx, issuer, 'updatePerformance', 'performance', pf.id, body);
          const [out] = await performanceDtos(trx, [await trx('performances').where({ id: pf.id }).first()]);
          return { json: out };
        });
      },
    }),
    route({
      method: 'delete',
      path: '/issuer/performances/:performanceId',
      operationId: 'deletePerformance',
      summary: 'Delete a performance and its seats while none of them is held or sold',
      tag: TAG,
      auth: 'issuer',
      params: idParams('performanceId'),
      errors: [409],
      responses: { 204: { description: 'Deleted' } },
      async handler({ issuer, params }) {
        return db.transaction(async (trx) => {
          const pf = await ownPerformance(trx, issuer, params.performanceId);
          await lockProduct(trx, n(pf.product_id));
          const used = await locked(trx, trx('seats').where({ performance_id: pf.id }).whereNot('status', 'available')).first('id');
          if (used) throw inUse(`Performance ${pf.id} has seats on cards or being sold; it cannot be deleted.`);
          const total = n((await trx('seats').where({ performance_id: pf.id }).count({ c: '*' }).first())?.c);
          const removed = await trx('seats').where({ performance_id: pf.id, status: 'available' }).whereNull('hold_issuance_id').del();
          if (removed !== total) throw inUse('A kiosk took a seat of this performance meanwhile; nothing was deleted.');
          await trx('performances').where({ id: pf.id }).del();
          await logChange(trx, issuer, 'deletePerformance', 'performance', pf.id);
          return { status: 204 };
        });
      },
    }),
    route({
      method: 'get',
      path: '/issuer/performances/:performanceId/seat-map',
      operationId: 'getSeatMap',
      summary: 'A performance\'s seat map, in the format PUT accepts',
      tag: TAG,
      auth: 'issuer',
      params: idParams('performanceId'),
      responses: { 200: { description: 'The seat map', schema: SeatMapView } },
      async handler({ issuer, params }) {
        await ownPerformance(db, issuer, params.performanceId);
        return { json: await seatMapView(db, params.performanceId) };
      },
    }),
    route({
      method: 'put',
      path: '/issuer/performances/:performanceId/seat-map',
      operationId: 'putSeatMap',
      summary: 'Replace a performance\'s seat map (up to 100,000 seats in one request)',
      description:
        'Seats not yet in the map are added, available seats change class or are removed as the map says. Held and sold seats must appear unchanged; otherwise the request is refused (409) and nothing changes.',
      tag: TAG,
      auth: 'issuer',
      params: idParams('performanceId'),
      body: SeatMap,
      jsonLimit: '8mb',
      errors: [409, 422],
      responses: { 200: { description: 'Applied', schema: SeatMapResult } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const pf = await ownPerformance(trx, issuer, params.performanceId);
          await lockProduct(trx, n(pf.product_id));
          const result = await applySeatMap(trx, n(pf.product_id), n(pf.id), body);
          await logChange(trx, issuer, 'putSeatMap', 'performance', pf.id, { added: result.added, reclassed: result.reclassed, removed: result.removed, total: result.counts.total });
          return { json: result };
        });
      },
    }),

    // commuter routes and fares
    route({
      method: 'post',
      path: '/issuer/products/:productId/routes',
      operationId: 'createRoute',
      summary: 'Add a commuter route (origin, destination) with its 1, 3 and 6 month fares',
      tag: TAG,
      auth: 'issuer',
      params: P,
      body: RouteCreate,
      errors: [409],
      responses: { 201: { description: 'Created', schema: Route } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          await ownProduct(trx, issuer, params.productId, { lock: true, type: 'commuter' });
          const id = await insertId(trx, 'commuter_routes', { product_id: params.productId, origin: body.origin, destination: body.destination, via: body.via ?? null });
          if (body.fares?.length) await trx('commuter_fares').insert(body.fares.map((f) => ({ route_id: id, months: f.months, price_minor: f.priceMinor })));
          await logChange(trx, issuer, 'createRoute', 'commuter_route', id, body);
          return { status: 201, json: (await routeDtos(trx, params.productId, [id]))[0] };
        });
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/routes/:routeId',
      operationId: 'updateRoute',
      summary: 'Change a route\'s origin, destination or via while none of its fares is on a card',
      tag: TAG,
      auth: 'issuer',
      params: idParams('routeId'),
      body: RouteUpdate,
      errors: [409],
      responses: { 200: { description: 'Updated', schema: Route } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const r = await ownRoute(trx, issuer, params.routeId);
          const productId = n(r.product_id);
          await lockProduct(trx, productId);
          const changes = { ...(body.origin !== undefined ? { origin: body.origin } : {}), ...(body.destination !== undefined ? { destination: body.destination } : {}), ...(body.via !== undefined ? { via: body.via } : {}) };
          const changing = Object.entries(changes).some(([k, v]) => (r[k] ?? null) !== v);
          if (changing) {
            const fareIds = (await trx('commuter_fares').where({ route_id: r.id }).pluck('id')).map(Number);
            const issued = await referencedItemIds(trx, productId, 'fareId', fareIds);
            if (issued.size) throw inUse(`Passes for route ${r.id} (${r.origin} – ${r.destination}) have been issued; the route on them cannot change. Add a new route instead.`);
            await trx('commuter_routes').where({ id: r.id }).update(changes);
          }
          await logChange(trx, issuer, 'updateRoute', 'commuter_route', r.id, body);
          return { json: (await routeDtos(trx, productId, [n(r.id)]))[0] };
        });
      },
    }),
    route({
      method: 'delete',
      path: '/issuer/routes/:routeId',
      operationId: 'deleteRoute',
      summary: 'Delete a route and its fares while none of them is on a card',
      tag: TAG,
      auth: 'issuer',
      params: idParams('routeId'),
      errors: [409],
      responses: { 204: { description: 'Deleted' } },
      async handler({ issuer, params }) {
        return db.transaction(async (trx) => {
          const r = await ownRoute(trx, issuer, params.routeId);
          await lockProduct(trx, n(r.product_id));
          const fareIds = (await trx('commuter_fares').where({ route_id: r.id }).pluck('id')).map(Number);
          if ((await referencedItemIds(trx, n(r.product_id), 'fareId', fareIds)).size) throw inUse(`Passes for route ${r.id} have been issued; it cannot be deleted (deactivate the product instead).`);
          await trx('commuter_fares').where({ route_id: r.id }).del();
          await trx('commuter_routes').where({ id: r.id }).del();
          await logChange(trx, issuer, 'deleteRoute', 'commuter_route', r.id);
          return { status: 204 };
        });
      },
    }),
    route({
      method: 'put',
      path: '/issuer/routes/:routeId/fares/:months',
      operationId: 'putFare',
      summary: 'Set the price of a route\'s 1, 3 or 6 month pass (creates the fare if missing)',
      description: 'Passes already sold keep the price they were sold for.',
      tag: TAG,
      auth: 'issuer',
      params: z.object({ routeId: idParams('routeId').shape.routeId, months: z.enum(['1', '3', '6']).transform(Number) }).strict(),
      body: FarePut,
      responses: { 200: { description: 'Updated', schema: Route }, 201: { description: 'Created', schema: Route } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const r = await ownRoute(trx, issuer, params.routeId);
          await lockProduct(trx, n(r.product_id));
          const fare = await trx('commuter_fares').where({ route_id: r.id, months: params.months }).first('id');
          if (fare) await trx('commuter_fares').where({ id: fare.id }).update({ price_minor: body.priceMinor });
          else await trx('commuter_fares').insert({ route_id: r.id, months: params.months, price_minor: body.priceMinor });
          await logChange(trx, issuer, 'putFare', 'commuter_route', r.id, { months: params.months, ...body });
          return { status: fare ? 200 : 201, json: (await routeDtos(trx, n(r.product_id), [n(r.id)]))[0] };
        });
      },
    }),
    route({
      method: 'delete',
      path: '/issuer/routes/:routeId/fares/:months',
      operationId: 'deleteFare',
      summary: 'Stop offering a route\'s 1, 3 or 6 month pass, unless such passes have been issued',
      tag: TAG,
      auth: 'issuer',
      params: z.object({ routeId: idParams('routeId').shape.routeId, months: z.enum(['1', '3', '6']).transform(Number) }).strict(),
      errors: [409],
      responses: { 204: { description: 'Deleted' } },
      async handler({ issuer, params }) {
        return db.transaction(async (trx) => {
          const r = await ownRoute(trx, issuer, params.routeId);
          await lockProduct(trx, n(r.product_id));
          const fare = await trx('commuter_fares').where({ route_id: r.id, months: params.months }).first('id');
          if (!fare) throw notFound(`${params.months}-month fare on route`, r.id);
          if ((await referencedItemIds(trx, n(r.product_id), 'fareId', [n(fare.id)])).size) throw inUse(`${params.months}-month passes for route ${r.id} have been issued; the fare cannot be deleted.`);
          await trx('commuter_fares').where({ id: fare.id }).del();
          await logChange(trx, issuer, 'deleteFare', 'commuter_route', r.id, { months: params.months });
          return { status: 204 };
        });
      },
    }),

    // prepaid values
    route({
      method: 'post',
      path: '/issuer/products/:productId/values',
      operationId: 'createPrepaidValue',
      summary: 'Add a prepaid value (the value loaded on the card, and its price)',
      tag: TAG,
      auth: 'issuer',
      params: P,
      body: ValueCreate,
      errors: [409],
      responses: { 201: { description: 'Created', schema: PrepaidValue } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          await ownProduct(trx, issuer, params.productId, { lock: true, type: 'prepaid' });
          if (await trx('prepaid_values').where({ product_id: params.productId, value_minor: body.valueMinor }).first('id')) throw new ApiError(409, 'duplicate_value', `Product ${params.productId} already offers a value of ${body.valueMinor}.`);
          const id = await insertId(trx, 'prepaid_values', { product_id: params.productId, value_minor: body.valueMinor, price_minor: body.priceMinor });
          await logChange(trx, issuer, 'createPrepaidValue', 'prepaid_value', id, body);
          return { status: 201, json: (await valueDtos(trx, params.productId, [id]))[0] };
        });
      },
    }),
    route({
      method: 'patch',
      path: '/issuer/values/:valueId',
      operationId: 'updatePrepaidValue',
      summary: 'Change a prepaid value\'s price, or its value while no such card has been issued',
      tag: TAG,
      auth: 'issuer',
      params: idParams('valueId'),
      body: ValueUpdate,
      errors: [409],
      responses: { 200: { description: 'Updated', schema: PrepaidValue } },
      async handler({ issuer, params, body }) {
        return db.transaction(async (trx) => {
          const v = await ownValue(trx, issuer, params.valueId);
          const productId = n(v.product_id);
          await lockProduct(trx, productId);
          if (body.valueMinor !== undefined && body.valueMinor !== n(v.value_minor)) {
            if ((await referencedItemIds(trx, productId, 'valueId', [n(v.id)])).size) throw inUse(`Cards worth ${v.value_minor} have been issued from prepaid value ${v.id}; their value cannot change. Add a new value instead.`);
            if (await trx('prepaid_values').where({ product_id: productId, value_minor: body.valueMinor }).whereNot('id', v.id).first('id')) throw new ApiError(409, 'duplicate_value', `Product ${productId} already offers a value of ${body.valueMinor}.`);
          }
          await trx('prepaid_values').where({ id: v.id }).update({ ...(body.valueMinor !== undefined ? { value_minor: body.valueMinor } : {}), ...(body.priceMinor !== undefined ? { price_minor: body.priceMinor } : {}) });
          await logChange(trx, issuer, 'updatePrepaidValue', 'prepaid_value', v.id, body);
          return { json: (await valueDtos(trx, productId, [n(v.id)]))[0] };
        });
      },
    }),
    route({
      method: 'delete',
      path: '/issuer/values/:valueId',
      operationId: 'deletePrepaidValue',
      summary: 'Delete a prepaid value no card has been issued from',
      tag: TAG,
      auth: 'issuer',
      params: idParams('valueId'),
      errors: [409],
      responses: { 204: { description: 'Deleted' } },
      async handler({ issuer, params }) {
        return db.transaction(async (trx) => {
          const v = await ownValue(trx, issuer, params.valueId);
          await lockProduct(trx, n(v.product_id));
          if ((await referencedItemIds(trx, n(v.product_id), 'valueId', [n(v.id)])).size) throw inUse(`Cards have been issued from prepaid value ${v.id}; it cannot be deleted (deactivate the product instead).`);
          await trx('prepaid_values').where({ id: v.id }).del();
          await logChange(trx, issuer, 'deletePrepaidValue', 'prepaid_value', v.id);
          return { status: 204 };
        });
      },
    }),
  ];
}

