/**
 * The kiosk's reload of a prepaid card (workflows/reload.ts). Starting is idempotent (the kiosk's
 * request id names the workflow), cash and cancel are Updates whose id is the kiosk's request id,
 * progress is a Query.
 *
 *   POST /kiosk/:terminalId/reloads {requestId, amountMinor}   → 201 {reloadId, progress}
 *   GET  /reloads/:id                                          → progress
 *   POST /reloads/:id/cash {requestId, amountMinor}            → cash state
 *   POST /reloads/:id/cancel {requestId}                       → progress
 */
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { TERMINAL_ID_PATTERN } from '../../domain/issuance';
import { reloadAmountProblem, reloadIdFor } from '../../domain/reload';
import { TerminalIdKey } from '../../domain/search-attributes';
import type { Db } from '../../lib/db';
import { reload } from '../../workflows/reload';
import { reloadCancelUpdate, reloadInsertCashUpdate, reloadProgressQuery, type ReloadInput } from '../../workflows/reload-messages';
import { ApiError } from '../errors';

export interface ReloadRouteOptions {
  db: Db;
  temporal: Client;
  centerTaskQueue: string;
  holdTtlMs: number;
  /** Extra workflow input (tests shorten terminal timeouts). */
  reloadDefaults?: Partial<ReloadInput>;
}

const requestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, - or _');
const reloadId = z.string().regex(/^rld-[A-Za-z0-9_-]{1,40}-[A-Za-z0-9_-]{8,64}$/, 'is not a reload id');
const amount = z.number().int().superRefine((v, ctx) => {
  const problem = reloadAmountProblem(v);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

const bodies = {
  start: z.object({ requestId, amountMinor: amount }).strict(),
  cash: z.object({ requestId, amountMinor: z.number().int().positive().max(10_000) }).strict(),
  plain: z.object({ requestId }).strict(),
};

export function reloadRoutes(opts: ReloadRouteOptions): Router {
  const { db, temporal } = opts;
  const r = Router();
  const handleFor = (raw: string) => temporal.workflow.getHandle(reloadId.parse(raw));

  r.post('/kiosk/:terminalId/reloads', async (req, res) => {
    const tid = z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id').parse(req.params.terminalId);
    const body = bodies.start.parse(req.body ?? {});
    const terminal = await db('terminals').where({ id: tid, active: true }).first('id');
    if (!terminal) throw new ApiError(404, 'unknown_terminal', `Terminal ${tid} is not registered or not active.`);
    const id = reloadIdFor(tid, body.requestId);
    const input: ReloadInput = { ...opts.reloadDefaults, reloadId: id, terminalId: tid, amountMinor: body.amountMinor, holdTtlMs: opts.holdTtlMs };
    const handle = await temporal.workflow.start(reload, {
      taskQueue: opts.centerTaskQueue,
      workflowId: id,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [{ key: TerminalIdKey, value: tid }],
    });
    res.status(201).json({ reloadId: id, progress: await handle.query(reloadProgressQuery) });
  });

  r.get('/reloads/:id', async (req, res) => {
    res.json(await handleFor(req.params.id).query(reloadProgressQuery));
  });

  r.post('/reloads/:id/cash', async (req, res) => {
    const body = bodies.cash.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(reloadInsertCashUpdate, { args: [{ amountMinor: body.amountMinor }], updateId: body.requestId }));
  });

  r.post('/reloads/:id/cancel', async (req, res) => {
    const body = bodies.plain.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(reloadCancelUpdate, { args: [], updateId: body.requestId }));
  });

  return r;
}
