/**
 * Application package bytes for terminals: the issuance and add-application workflows pass only
 * a package id and its SHA-256, and the terminal fetches the bytes here right before installing
 * them (then checks the SHA-256 itself). Only packages attached to a product are served — what is
 * offered on cards — and only to registered, active terminals. The stored SHA-256 is in the ETag.
 */
import { Router } from 'express';
import { z } from 'zod';
import { TERMINAL_ID_PATTERN } from '../../domain/issuance';
import type { Db } from '../../lib/db';
import { ApiError } from '../errors';

const params = z.object({
  terminalId: z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id'),
  packageId: z.coerce.number().int().positive(),
});

export function terminalPackageRoutes(db: Db): Router {
  const r = Router();
  r.get('/terminals/:terminalId/application-packages/:packageId', async (req, res) => {
    const { terminalId, packageId } = params.parse(req.params);
    const terminal = await db('terminals').where({ id: terminalId, active: true }).first('id');
    if (!terminal) throw new ApiError(404, 'unknown_terminal', `Terminal ${terminalId} is not registered or not active.`);
    const pkg = await db('application_packages as p')
      .whereExists(db('product_applications as pa').whereRaw('pa.package_id = p.id'))
      .where('p.id', packageId)
      .first('p.bytes', 'p.sha256');
    if (!pkg) throw new ApiError(404, 'unknown_package', `There is no application package ${packageId} offered on cards.`);
    res.set('content-type', 'application/octet-stream').set('etag', `"${pkg.sha256}"`).set('cache-control', 'no-store').send(Buffer.from(pkg.bytes));
  });
  return r;
}
