/**
 * Operator alerts (Authorization: Bearer <operator token>, or the operator's browser session),
 * mounted at /api/operator/alerts:
 *
 *   GET  /?terminalId=T-001                    owed cash vouchers and uncleared device faults
 *   GET  /vouchers/:voucherNumber              one voucher (the store staff check what is owed)
 *   POST /vouchers/:voucherNumber/settle       the customer has been paid: recorded and posted
 *   POST /faults/:id/clear                     the device was fixed (paper loaded, jam cleared)
 *
 * The operator's authenticated name is recorded as who settled or cleared, never a name from the
 * body. lib/operator-alerts.ts holds the rules.
 */
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { TERMINAL_ID_PATTERN } from '../../domain/issuance';
import type { Db } from '../../lib/db';
import { clearFault, findVoucher, openAlerts, settleVoucher } from '../../lib/operator-alerts';
import { ApiError } from '../errors';
import { operatorOf } from '../operator-auth';

const voucherParam = z.string().regex(/^CV-[0-9]{6,12}$/, 'must be a voucher number like CV-000123');
const faultParam = z.coerce.number().int().positive();
const listQuery = z.object({ terminalId: z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id').optional() }).strict();

export function operatorAlertRoutes(db: Db, authenticate: RequestHandler, now: () => number = Date.now): Router {
  const r = Router();
  r.use(authenticate, express.json({ limit: '4kb' }));

  r.get('/', async (req, res) => {
    const { terminalId } = listQuery.parse(req.query);
    res.json(await openAlerts(db, terminalId));
  });

  r.get('/vouchers/:voucherNumber', async (req, res) => {
    const v = await findVoucher(db, voucherParam.parse(req.params.voucherNumber));
    if (!v) throw new ApiError(404, 'not_found', `There is no voucher ${req.params.voucherNumber}.`);
    res.json(v);
  });

  r.post('/vouchers/:voucherNumber/settle', async (req, res) => {
    const voucherNumber = voucherParam.parse(req.params.voucherNumber);
    const done = await settleVoucher(db, voucherNumber, operatorOf(req, res), now());
    if (!done) throw new ApiError(404, 'not_found', `There is no voucher ${voucherNumber}.`);
    if (!done.settled) throw new ApiError(409, 'already_settled', `Voucher ${voucherNumber} was already settled by ${done.voucher.settledBy} at ${done.voucher.settledAt}; do not pay it again.`);
    res.json(done.voucher);
  });

  r.post('/faults/:id/clear', async (req, res) => {
    const id = faultParam.parse(req.params.id);
    const done = await clearFault(db, id, operatorOf(req, res), now());
    if (!done) throw new ApiError(404, 'not_found', `There is no device fault ${id}.`);
    if (!done.cleared) throw new ApiError(409, 'already_cleared', `Fault ${id} was already cleared by ${done.fault.clearedBy} at ${done.fault.clearedAt}.`);
    res.json(done.fault);
  });

  return r;
}
