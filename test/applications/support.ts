/**
 * Application packages for the application tests: stored and attached to a product exactly as the
 * issuer API does (api/routes/issuer/media.ts and catalogue.ts write these rows), and the demo
 * catalogue's items to buy.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../lib/db';

export interface TestPackage {
  id: number;
  aid: string;
  sha256: string;
  bytes: Buffer;
}

/**
 * A package in this project's test format ("ICRPKG1" ‖ 1 ‖ len ‖ module AID ‖ body): the virtual
 * card checks the module AID it declares, which is the application AID (domain/applications.ts).
 */
export function packageBytes(aid: string, bodyBytes: number): Buffer {
  const module = Buffer.from(aid, 'hex');
  return Buffer.concat([Buffer.from('ICRPKG1'), Buffer.from([1, module.length]), module, randomBytes(bodyBytes)]);
}

export async function storePackage(db: Db, issuerId: string, opts: { aid: string; name: string; bodyBytes?: number; productIds?: number[] }): Promise<TestPackage> {
  const bytes = packageBytes(opts.aid, opts.bodyBytes ?? 4000);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const [inserted] = await db('application_packages').insert({ issuer_id: issuerId, name: opts.name, version: '1.0.0', aid: opts.aid, format: 'binary', bytes, byte_size: bytes.length, sha256, created_at_ms: Date.now() });
  const id = typeof inserted === 'object' ? Number((inserted as { id: number }).id) : Number(inserted);
  for (const productId of opts.productIds ?? []) await attach(db, productId, id);
  return { id, aid: opts.aid, sha256, bytes };
}

export async function attach(db: Db, productId: number, packageId: number): Promise<void> {
  await db('product_applications').insert({ product_id: productId, package_id: packageId });
}

/** The demo railway's commuter pass product and a one-month fare on it (¥13,570 Shinjuku–Tachikawa). */
export async function commuterFare(db: Db): Promise<{ productId: number; fareId: number; price: number }> {
  const f = await db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').where({ 'r.origin': 'Shinjuku', 'f.months': 1 }).first('f.id', 'f.price_minor', 'r.product_id');
  return { productId: Number(f.product_id), fareId: Number(f.id), price: Number(f.price_minor) };
}

/** The demo telco's prepaid product. */
export async function prepaidProduct(db: Db): Promise<number> {
  return Number((await db('products').where({ type: 'prepaid' }).first('id')).id);
}
