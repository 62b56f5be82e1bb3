/**
 * Finance API (operator authentication, see api/operator-auth.ts), mounted at /api/finance:
 *
 *   GET  /settlements?issuerId&status&from&to&format=csv   list (period dates YYYY-MM-DD)
 *   POST /settlements {issuerId, date}                      start a settlement by hand (idempotent)
 *   GET  /settlements/:id                                   one settlement with its items and payout
 *   POST /settlements/:id/approve {requestId}               approve the payout (approver = operator)
 *   POST /settlements/:id/confirm-payment {requestId, bankReference}   the bank's confirmation
 *   GET  /settlements/:id/statement.csv | statement.json    the statement (export)
 *   GET  /settlements/:id/payout.zengin                     the Zengin transfer file (approved only)
 *   POST /reconcile?method&from&to  (text/csv body)         our payments vs a payment company's file
 *   GET  /schedules/:issuerId, POST /schedules/:issuerId/{pause,unpause,trigger,backfill}
 */
import express, { Router, type Response } from 'express';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { buildStatement, settlementStatement, toSummary } from '../../activities/center/settlement';
import { reconcile, parseAcquirerSettlementCsv } from '../../domain/reconcile';
import { periodForDate, type PeriodConfig } from '../../domain/settlement-period';
import { loadConfig } from '../../lib/config';
import type { Db } from '../../lib/db';
import {
  backfillSettlementSchedule,
  describeSettlementSchedule,
  pauseSettlementSchedule,
  startSettlement,
  triggerSettlementSchedule,
  unpauseSettlementSchedule,
  UnknownScheduleError,
  type SettlementScheduling,
} from '../../lib/settlement-schedule';
import { approveSettlementUpdate, confirmPayoutUpdate, settlementStateQuery } from '../../workflows/settlement';
import { ApiError } from '../errors';
import { operatorAuth, operatorOf, type OperatorToken } from '../operator-auth';

export interface FinanceRouteOptions {
  db: Db;
  temporal: Client;
  centerTaskQueue: string;
  /** Defaults come from the environment (OPERATOR_TOKENS, SETTLEMENT_CLOSE_TIME, SETTLEMENT_TIME_ZONE). */
  finance?: { operatorTokens?: OperatorToken[]; period?: PeriodConfig };
}

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD');
const issuerId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'is not an issuer id');
const settlementId = z.string().regex(/^settlement-[a-z0-9][a-z0-9-]{0,39}-\d{4}-\d{2}-\d{2}$/, 'is not a settlement id');
const requestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, - or _');
const STATUSES = ['computing', 'computed', 'needs_bank_account', 'awaiting_approval', 'approved', 'sent', 'paid', 'carried_forward', 'closed'] as const;

const listQuery = z.object({ issuerId: issuerId.optional(), status: z.enum(STATUSES).optional(), from: date.optional(), to: date.optional(), format: z.enum(['json', 'csv']).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }).strict();
const bodies = {
  start: z.object({ issuerId, date }).strict(),
  approve: z.object({ requestId }).strict(),
  confirm: z.object({ requestId, bankReference: z.string().regex(/^[\x21-\x7e]{1,100}$/, 'must be 1-100 printable ASCII characters') }).strict(),
  note: z.object({ note: z.string().max(200).optional() }).strict(),
  backfill: z.object({ from: date, to: date }).strict(),
};
const reconcileQuery = z.object({ method: z.string().regex(/^[a-z_]{1,20}$/), from: date, to: date }).strict();

function parseDate(d: string, cfg: PeriodConfig) {
  try {
    return periodForDate(d, cfg);
  } catch (err) {
    throw new ApiError(400, 'invalid_input', (err as Error).message);
  }
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function financeRoutes(opts: FinanceRouteOptions): Router {
  const { db, temporal } = opts;
  const config = opts.finance?.operatorTokens && opts.finance?.period ? null : loadConfig();
  const tokens = opts.finance?.operatorTokens ?? config!.OPERATOR_TOKENS;
  const period: PeriodConfig = opts.finance?.period ?? { closeTime: config!.SETTLEMENT_CLOSE_TIME, timeZone: config!.SETTLEMENT_TIME_ZONE };
  const scheduling: SettlementScheduling = { client: temporal, taskQueue: opts.centerTaskQueue, period };
  const r = Router();
  r.use(operatorAuth(tokens));

  const settlementRow = async (raw: string) => {
    const id = settlementId.parse(raw);
    const row = await db('settlements').where({ id }).first();
    if (!row) throw new ApiError(404, 'unknown_settlement', `No settlement ${id} (it may still be computing).`);
    return row;
  };
  const scheduleCall = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UnknownScheduleError) throw new ApiError(404, 'unknown_schedule', err.message);
      if (err instanceof RangeError) throw new ApiError(400, 'invalid_input', err.message);
      throw err;
    }
  };

  r.get('/settlements', async (req, res) => {
    const q = listQuery.parse(req.query);
    let query = db('settlements').orderBy([{ column: 'period_start_ms', order: 'desc' }, { column: 'issuer_id' }]).limit(q.limit ?? 200);
    if (q.issuerId) query = query.where({ issuer_id: q.issuerId });
    if (q.status) query = query.where({ status: q.status });
    if (q.from) query = query.where('period_start_ms', '>=', parseDate(q.from, period).startMs);
    if (q.to) query = query.where('period_start_ms', '<=', parseDate(q.to, period).startMs);
    const rows = (await query.select('*')).map((row) => toSummary(row));
    if (q.format === 'csv') {
      const cols = ['settlementId', 'issuerId', 'periodLabel', 'status', 'currency', 'saleCount', 'refundCount', 'lateCount', 'grossMinor', 'feesMinor', 'refundsMinor', 'carriedInMinor', 'netMinor', 'payoutMinor', 'carriedOutMinor', 'approvedBy', 'bankReference'] as const;
      const lines = [cols.join(','), ...rows.map((s) => cols.map((c) => csvCell(s[c])).join(','))];
      res.type('text/csv; charset=utf-8').set('Content-Disposition', 'attachment; filename="settlements.csv"').send(lines.join('\r\n') + '\r\n');
      return;
    }
    res.json({ settlements: rows });
  });

  r.post('/settlements', async (req, res) => {
    const body = bodies.start.parse(req.body ?? {});
    const issuer = await db('issuers').where({ id: body.issuerId }).first('id');
    if (!issuer) throw new ApiError(404, 'unknown_issuer', `No issuer ${body.issuerId}.`);
    const p = parseDate(body.date, period);
    if (p.endMs > Date.now()) throw new ApiError(409, 'period_open', `The period ${body.date} has not closed yet (it closes at ${new Date(p.endMs).toISOString()}).`);
    const { handle, started } = await startSettlement(scheduling, body.issuerId, p);
    res.status(started ? 202 : 200).json({ settlementId: handle.workflowId, periodStartMs: p.startMs, periodEndMs: p.endMs });
  });

  r.get('/settlements/:id', async (req, res) => {
    const row = await settlementRow(req.params.id);
    const statement = await buildStatement(db, row.id);
    const payout = await db('payout_instructions').where({ settlement_id: row.id }).first('amount_minor', 'transfer_date', 'format', 'file_sha256', 'created_at_ms');
    res.json({
      settlement: toSummary(row),
      items: statement.items,
      payoutInstruction: payout ? { amountMinor: Number(payout.amount_minor), transferDate: payout.transfer_date, format: payout.format, fileSha256: payout.file_sha256 } : null,
    });
  });

  const update = async (res: Response, id: string, fn: () => Promise<unknown>) => {
    try {
      res.json({ settlement: await fn() });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'unknown_settlement', `No running settlement workflow ${id}.`);
      if (/workflow execution already completed/i.test((err as Error)?.message ?? '')) throw new ApiError(409, 'settlement_finished', `Settlement ${id} has already finished.`);
      throw err;
    }
  };

  r.post('/settlements/:id/approve', async (req, res) => {
    const row = await settlementRow(req.params.id);
    const body = bodies.approve.parse(req.body ?? {});
    const approver = operatorOf(req, res);
    await update(res, row.id, async () => (await temporal.workflow.getHandle(row.id).executeUpdate(approveSettlementUpdate, { args: [{ approver }], updateId: body.requestId })).summary);
  });

  r.post('/settlements/:id/confirm-payment', async (req, res) => {
    const row = await settlementRow(req.params.id);
    const body = bodies.confirm.parse(req.body ?? {});
    const confirmedBy = operatorOf(req, res);
    await update(res, row.id, async () => (await temporal.workflow.getHandle(row.id).executeUpdate(confirmPayoutUpdate, { args: [{ bankReference: body.bankReference, confirmedBy }], updateId: body.requestId })).summary);
  });

  r.get('/settlements/:id/state', async (req, res) => {
    const row = await settlementRow(req.params.id);
    await update(res, row.id, () => temporal.workflow.getHandle(row.id).query(settlementStateQuery));
  });

  r.get('/settlements/:id/statement.csv', async (req, res) => {
    const row = await settlementRow(req.params.id);
    const statement = await settlementStatement(db, row.id, Date.now());
    res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="${row.id}.csv"`).set('x-statement-sha256', statement.sha256).send(statement.csv);
  });

  r.get('/settlements/:id/statement.json', async (req, res) => {
    const row = await settlementRow(req.params.id);
    const statement = await settlementStatement(db, row.id, Date.now());
    res.type('application/json').set('x-statement-sha256', statement.sha256).send(statement.json);
  });

  r.get('/settlements/:id/payout.zengin', async (req, res) => {
    const row = await settlementRow(req.params.id);
    const p = await db('payout_instructions').where({ settlement_id: row.id }).first('file');
    if (!p) throw new ApiError(404, 'no_payout', `Settlement ${row.id} has no payout instruction.`);
    if (!['approved', 'sent', 'paid'].includes(row.status)) throw new ApiError(409, 'not_approved', `Settlement ${row.id} is ${row.status}; the transfer file is released after approval.`);
    res.type('application/octet-stream').set('Content-Disposition', `attachment; filename="${row.id}.zengin.txt"`).send(Buffer.from(p.file));
  });

  r.post('/reconcile', express.text({ type: ['text/csv', 'text/plain'], limit: '10mb' }), async (req, res) => {
    const q = reconcileQuery.parse(req.query);
    if (typeof req.body !== 'string' || req.body.length === 0) throw new ApiError(400, 'invalid_input', 'Send the payment company\'s settlement file as a text/csv body.');
    let theirs;
    try {
      theirs = parseAcquirerSettlementCsv(req.body);
    } catch (err) {
      throw new ApiError(422, 'invalid_file', (err as Error).message);
    }
    const from = parseDate(q.from, period).startMs;
    const to = parseDate(q.to, period).endMs;
    const ours = (await db('payments').where({ method: q.method }).whereIn('status', ['collected', 'captured', 'refunded', 'refund_due']).andWhere('created_at_ms', '>=', from).andWhere('created_at_ms', '<', to).orderBy('id').select('issuance_id', 'amount_minor', 'status')).flatMap((p) => {
      const line = { ref: String(p.issuance_id), amountMinor: Number(p.amount_minor) };
      return p.status === 'collected' || p.status === 'captured' ? [line] : [line, { ref: `${p.issuance_id}:refund`, amountMinor: -Number(p.amount_minor) }];
    });
    const result = reconcile(ours, theirs);
    res.json({ ...result, ok: result.amountMismatches.length === 0 && result.missingOnOurSide.length === 0 && result.missingOnTheirSide.length === 0, counts: { ours: ours.length, theirs: theirs.length } });
  });

  r.get('/schedules/:issuerId', async (req, res) => {
    res.json(await scheduleCall(() => describeSettlementSchedule(scheduling, issuerId.parse(req.params.issuerId))));
  });
  r.post('/schedules/:issuerId/pause', async (req, res) => {
    const id = issuerId.parse(req.params.issuerId);
    const body = bodies.note.parse(req.body ?? {});
    await scheduleCall(() => pauseSettlementSchedule(scheduling, id, body.note ?? `paused by ${operatorOf(req, res)}`));
    res.json(await scheduleCall(() => describeSettlementSchedule(scheduling, id)));
  });
  r.post('/schedules/:issuerId/unpause', async (req, res) => {
    const id = issuerId.parse(req.params.issuerId);
    const body = bodies.note.parse(req.body ?? {});
    await scheduleCall(() => unpauseSettlementSchedule(scheduling, id, body.note ?? `unpaused by ${operatorOf(req, res)}`));
    res.json(await scheduleCall(() => describeSettlementSchedule(scheduling, id)));
  });
  r.post('/schedules/:issuerId/trigger', async (req, res) => {
    const id = issuerId.parse(req.params.issuerId);
    await scheduleCall(() => triggerSettlementSchedule(scheduling, id));
    res.status(202).json({ triggered: true });
  });
  r.post('/schedules/:issuerId/backfill', async (req, res) => {
    const id = issuerId.parse(req.params.issuerId);
    const body = bodies.backfill.parse(req.body ?? {});
    res.status(202).json(await scheduleCall(() => backfillSettlementSchedule(scheduling, id, body.from, body.to)));
  });

  return r;
}
