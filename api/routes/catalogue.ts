/**
 * What the kiosk can sell: the catalogue tree (card type → genre → artist … → product), each
 * product's choices (performances and seats, routes and fares, prepaid values) and face images.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../lib/db';
import { ApiError } from '../errors';

const id = z.coerce.number().int().positive();

export function catalogueRoutes(db: Db): Router {
  const r = Router();

  r.get('/catalogue', async (req, res) => {
    const { parentId } = z.object({ parentId: id.optional() }).strict().parse(req.query);
    if (parentId !== undefined && !(await db('catalogue_nodes').where({ id: parentId }).first('id'))) {
      throw new ApiError(404, 'unknown_node', `There is no catalogue entry ${parentId}.`);
    }
    const nodes = await db('catalogue_nodes')
      .where((w) => (parentId === undefined ? w.whereNull('parent_id') : w.where('parent_id', parentId)))
      .orderBy(['sort', 'id'])
      .select('id', 'kind', 'name');
    const products =
      parentId === undefined
        ? []
        : await db('products as p').join('issuers as i', 'i.id', 'p.issuer_id').where({ 'p.node_id': parentId, 'p.active': true }).orderBy('p.id').select('p.id', 'p.type', 'p.name', 'p.face_image_id', 'i.name as issuer_name');
    const path = [];
    for (let at = parentId; at !== undefined && at !== null; ) {
      const n = await db('catalogue_nodes').where({ id: at }).first('id', 'name', 'parent_id');
      path.unshift({ id: n.id, name: n.name });
      at = n.parent_id ?? undefined;
    }
    res.json({
      path,
      nodes,
      products: products.map((p) => ({ id: p.id, type: p.type, name: p.name, issuerName: p.issuer_name, faceImage: p.face_image_id ? `/api/images/${p.face_image_id}` : null })),
    });
  });

  r.get('/products/:id', async (req, res) => {
    const productId = id.parse(req.params.id);
    const p = await db('products as p').join('issuers as i', 'i.id', 'p.issuer_id').where({ 'p.id': productId, 'p.active': true }).first('p.*', 'i.name as issuer_name');
    if (!p) throw new ApiError(404, 'unknown_product', `There is no product ${productId} on sale.`);
    const base = { id: p.id, type: p.type, name: p.name, issuerName: p.issuer_name, currency: p.currency, issuanceFeeMinor: p.issuance_fee_minor, faceImage: p.face_image_id ? `/api/images/${p.face_image_id}` : null };
    if (p.type === 'concert') {
      const performances = await db('performances').where({ product_id: productId }).orderBy('starts_at').select('id', 'starts_at', 'venue');
      const classes = await db('seat_classes').where({ product_id: productId }).orderBy('price_minor', 'desc').select('code', 'name', 'price_minor');
      res.json({ ...base, performances: performances.map((x) => ({ id: x.id, startsAt: x.starts_at, venue: x.venue })), seatClasses: classes.map((c) => ({ code: c.code, name: c.name, priceMinor: c.price_minor })) });
    } else if (p.type === 'commuter') {
      const fares = await db('commuter_routes as r').join('commuter_fares as f', 'f.route_id', 'r.id').where('r.product_id', productId).orderBy(['r.id', 'f.months']).select('r.id as route_id', 'r.origin', 'r.destination', 'f.id', 'f.months', 'f.price_minor');
      const routes = new Map<number, { id: number; origin: string; destination: string; fares: Array<{ id: number; months: number; priceMinor: number }> }>();
      for (const f of fares) {
        if (!routes.has(f.route_id)) routes.set(f.route_id, { id: f.route_id, origin: f.origin, destination: f.destination, fares: [] });
        routes.get(f.route_id)!.fares.push({ id: f.id, months: f.months, priceMinor: f.price_minor });
      }
      res.json({ ...base, routes: [...routes.values()] });
    } else {
      const values = await db('prepaid_values').where({ product_id: productId }).orderBy('value_minor').select('id', 'value_minor', 'price_minor');
      res.json({ ...base, values: values.map((v) => ({ id: v.id, valueMinor: v.value_minor, priceMinor: v.price_minor })) });
    }
  });

  r.get('/performances/:id/seats', async (req, res) => {
    const performanceId = id.parse(req.params.id);
    const perf = await db('performances').where({ id: performanceId }).first('id', 'starts_at', 'venue', 'product_id');
    if (!perf) throw new ApiError(404, 'unknown_performance', `There is no performance ${performanceId}.`);
    const seats = await db('seats as s').join('seat_classes as c', 'c.id', 's.class_id').where('s.performance_id', performanceId).orderBy(['s.section', 's.row_label', 's.number']).select('s.id', 's.section', 's.row_label', 's.number', 's.status', 'c.code', 'c.price_minor');
    res.json({
      performance: { id: perf.id, startsAt: perf.starts_at, venue: perf.venue, productId: perf.product_id },
      seats: seats.map((s) => ({ id: s.id, section: s.section, row: s.row_label, number: s.number, classCode: s.code, priceMinor: s.price_minor, available: s.status === 'available' })),
    });
  });

  r.get('/images/:id', async (req, res) => {
    const imageId = id.parse(req.params.id);
    const img = await db('images').where({ id: imageId }).first('content_type', 'bytes', 'sha256');
    if (!img) throw new ApiError(404, 'unknown_image', `There is no image ${imageId}.`);
    res.set('content-type', img.content_type).set('etag', `"${img.sha256}"`).set('cache-control', 'public, max-age=86400').send(Buffer.from(img.bytes));
  });

  return r;
}
