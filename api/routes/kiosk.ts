/**
 * The kiosk's conversation with its issuance workflow. Starting is idempotent (the kiosk's
 * request id names the workflow), every change is an Update whose id is the kiosk's request id
 * (a retried request is answered once), and progress is a Query.
 */
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { issuanceIdFor, TERMINAL_ID_PATTERN } from '../../domain/issuance';
import { IssuanceStageKey, TerminalIdKey } from '../../domain/search-attributes';
import type { Db } from '../../lib/db';
import { issuance } from '../../workflows/issuance';
import { cancelUpdate, choosePaymentUpdate, confirmUpdate, insertCashUpdate, progressQuery, selectItemUpdate, type IssuanceInput } from '../../workflows/issuance-messages';
import { ApiError } from '../errors';

export interface KioskRouteOptions {
  db: Db;
  temporal: Client;
  centerTaskQueue: string;
  holdTtlMs: number;
  /** Extra workflow input (tests shorten terminal timeouts). */
  issuanceDefaults?: Partial<IssuanceInput>;
}

const requestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, - or _');
const issuanceId = z.string().regex(/^iss-[A-Za-z0-9_-]{1,40}-[A-Za-z0-9_-]{8,64}$/, 'is not an issuance id');
const terminalId = z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id');
const positiveId = z.number().int().positive();

const selection = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('seat'), seatId: positiveId }).strict(),
  z.object({ kind: z.literal('fare'), fareId: positiveId }).strict(),
  z.object({ kind: z.literal('prepaid'), valueId: positiveId }).strict(),
]);

const bodies = {
  start: z.object({ requestId }).strict(),
  select: z.object({ requestId, selection }).strict(),
  plain: z.object({ requestId }).strict(),
  payment: z.object({ requestId, method: z.enum(['cash']) }).strict(),
  cash: z.object({ requestId, amountMinor: z.number().int().positive().max(10_000) }).strict(),
};

export function kioskRoutes(opts: KioskRouteOptions): Router {
  const { db, temporal } = opts;
  const r = Router();
  const handleFor = (raw: string) => temporal.workflow.getHandle(issuanceId.parse(raw));

  r.post('/kiosk/:terminalId/issuances', async (req, res) => {
    const tid = terminalId.parse(req.params.terminalId);
    const body = bodies.start.parse(req.body ?? {});
    const terminal = await db('terminals').where({ id: tid, active: true }).first('id');
    if (!terminal) throw new ApiError(404, 'unknown_terminal', `Terminal ${tid} is not registered or not active.`);
    const id = issuanceIdFor(tid, body.requestId);
    const input: IssuanceInput = { ...opts.issuanceDefaults, issuanceId: id, terminalId: tid, holdTtlMs: opts.holdTtlMs };
    const handle = await temporal.workflow.start(issuance, {
      taskQueue: opts.centerTaskQueue,
      workflowId: id,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: TerminalIdKey, value: tid },
        { key: IssuanceStageKey, value: 'selecting' },
      ],
    });
    res.status(201).json({ issuanceId: id, progress: await handle.query(progressQuery) });
  });

  r.get('/issuances/:id', async (req, res) => {
    res.json(await handleFor(req.params.id).query(progressQuery));
  });

  r.post('/issuances/:id/select', async (req, res) => {
    const body = bodies.select.parse(req.body ?? {});
    const item = await handleFor(req.params.id).executeUpdate(selectItemUpdate, { args: [body.selection], updateId: body.requestId });
    res.json({ item });
  });

  r.post('/issuances/:id/confirm', async (req, res) => {
    const body = bodies.plain.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(confirmUpdate, { args: [], updateId: body.requestId }));
  });

  r.post('/issuances/:id/payment', async (req, res) => {
    const body = bodies.payment.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(choosePaymentUpdate, { args: [{ method: body.method }], updateId: body.requestId }));
  });

  r.post('/issuances/:id/cash', async (req, res) => {
    const body = bodies.cash.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(insertCashUpdate, { args: [{ amountMinor: body.amountMinor }], updateId: body.requestId }));
  });

  r.post('/issuances/:id/cancel', async (req, res) => {
    const body = bodies.plain.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(cancelUpdate, { args: [], updateId: body.requestId }));
  });

  return r;
}
