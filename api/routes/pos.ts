/**
 * The stores' POS registers: pay-at-register slips. Every call is authenticated per store with
 * `Authorization: Bearer <the store's POS token>`; the DB keeps only the token's SHA-256
 * (stores.pos_token_sha256), and a register sees only its own store's slips.
 *
 *   GET  /api/pos/slips/:slipNumber   what to charge: amount, currency, status, deadline
 *   POST /api/pos/payments            { slipNumber, amountMinor, posTransactionId, registerId }
 *
 * A payment report is an Update of the slip's issuance whose id is the POS transaction id, so a
 * register that retries is answered once. The answer is the register's go-ahead: 200 paid, or
 * 409 when the slip has lapsed or was cancelled (the register must not keep the money).
 */
import { createHash } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { isValidSlipNumber } from '../../domain/payments';
import type { Db } from '../../lib/db';
import { registerPaymentUpdate } from '../../workflows/issuance-messages';
import { ApiError } from '../errors';

export interface PosRouteOptions {
  db: Db;
  temporal: Client;
}

export function hashPosToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function storeAuth(db: Db): RequestHandler {
  return (req, res, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!m) {
      res.set('WWW-Authenticate', 'Bearer realm="pos"');
      return next(new ApiError(401, 'unauthenticated', "Store authentication required: send Authorization: Bearer <the store's POS token>."));
    }
    db('stores')
      .where({ pos_token_sha256: hashPosToken(m[1]), active: true })
      .first('id')
      .then((store) => {
        if (!store) return next(new ApiError(403, 'forbidden', 'This token is not an active store POS token.'));
        res.locals.storeId = store.id;
        next();
      }, next);
  };
}

const slipNumber = z.string().refine(isValidSlipNumber, 'is not a slip number (13 digits with a check digit)');
const paymentBody = z
  .object({
    slipNumber,
    amountMinor: z.number().int().positive(),
    posTransactionId: z.string().regex(/^[A-Za-z0-9_-]{4,64}$/, 'must be 4-64 letters, digits, - or _'),
    registerId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, - or _'),
  })
  .strict();

export function posRoutes({ db, temporal }: PosRouteOptions): Router {
  const r = Router();
  r.use(storeAuth(db));

  const slipOf = async (number: string, storeId: string) => {
    const slip = await db('register_slips').where({ slip_number: number }).first();
    // Another store's slip is as unknown as a slip that does not exist.
    if (!slip || slip.store_id !== storeId) throw new ApiError(404, 'unknown_slip', `No slip ${number} at this store.`);
    return slip;
  };
  const view = (s: Record<string, any>) => ({ slipNumber: s.slip_number, amountMinor: Number(s.amount_minor), currency: s.currency, status: s.status, expiresAt: Number(s.expires_at_ms), issuanceId: s.issuance_id });

  r.get('/slips/:slipNumber', async (req, res) => {
    res.json(view(await slipOf(slipNumber.parse(req.params.slipNumber), res.locals.storeId)));
  });

  r.post('/payments', async (req, res) => {
    const body = paymentBody.parse(req.body ?? {});
    const storeId = res.locals.storeId as string;
    const slip = await slipOf(body.slipNumber, storeId);
    if (slip.status === 'paid') {
      if (slip.pos_transaction_id === body.posTransactionId) return res.json(view(slip));
      throw new ApiError(409, 'slip_paid', `Slip ${body.slipNumber} is already paid; do not take the money again.`);
    }
    if (slip.status !== 'open') throw new ApiError(409, 'slip_closed', `Slip ${body.slipNumber} has ${slip.status === 'expired' ? 'expired' : 'been cancelled'}; do not take payment for it.`);
    if (body.amountMinor !== Number(slip.amount_minor)) throw new ApiError(422, 'wrong_amount', `Slip ${body.slipNumber} is for ${slip.amount_minor} ${slip.currency}.`);
    const handle = temporal.workflow.getHandle(slip.issuance_id);
    try {
      await handle.executeUpdate(registerPaymentUpdate, {
        args: [{ slipNumber: body.slipNumber, amountMinor: body.amountMinor, storeId, posTransactionId: body.posTransactionId, registerId: body.registerId }],
        updateId: `pos-${storeId}-${body.posTransactionId}`,
      });
    } catch (err) {
      if (/workflow execution already completed/i.test((err as Error)?.message ?? '')) throw new ApiError(409, 'slip_closed', `Slip ${body.slipNumber} is no longer valid; do not take payment for it.`);
      throw err;
    }
    res.json(view(await slipOf(body.slipNumber, storeId)));
  });
  return r;
}
