/**
 * Adding an application to an issued card at a kiosk (workflows/add-application.ts):
 *
 *   GET  /api/cards/:cardId/application-offers          what the card's product offers, and what it has
 *   POST /api/kiosk/:terminalId/card-applications       {requestId, cardId, packageId} → starts (or finds) the workflow
 *   GET  /api/card-applications/:cardId                 its progress (a Query)
 *
 * The request is checked here first (the same check the workflow repeats when it runs), so a
 * refused request answers 4xx and starts nothing. One add-application runs at a time per card
 * (the workflow id names the card): a repeat of the running request finds it; another package
 * for the same card while one runs is 409. Free of charge for now.
 */
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { addApplicationWorkflowId, CARD_ID_PATTERN, type AddApplicationInput } from '../../domain/applications';
import { TERMINAL_ID_PATTERN } from '../../domain/issuance';
import { CardIdKey, TerminalIdKey } from '../../domain/search-attributes';
import type { Db } from '../../lib/db';
import { applicationOffers, checkApplicationRequest } from '../../activities/center/card-applications';
import { addApplication, addApplicationProgressQuery } from '../../workflows/add-application';
import { ApiError } from '../errors';

export interface KioskApplicationRouteOptions {
  db: Db;
  temporal: Client;
  centerTaskQueue: string;
  /** How long the terminal waits for the card to be inserted (tests shorten it). */
  insertTimeoutMs?: number;
}

const cardId = z.string().regex(CARD_ID_PATTERN, 'is not a card id (C and 12 hex digits, as printed on the card)');
const startBody = z
  .object({
    requestId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, - or _'),
    cardId,
    packageId: z.number().int().positive(),
  })
  .strict();

const REFUSAL_STATUS = { unknown_card: 404, card_not_valid: 409, not_offered: 404, already_installed: 409 } as const;

export function kioskApplicationRoutes(opts: KioskApplicationRouteOptions): Router {
  const { db, temporal } = opts;
  const r = Router();

  r.get('/cards/:cardId/application-offers', async (req, res) => {
    const id = cardId.parse(req.params.cardId);
    const offers = await applicationOffers(db, id);
    if (!offers) throw new ApiError(404, 'unknown_card', `There is no card ${id}.`);
    res.json({ cardId: id, offers: offers.map((o) => ({ packageId: o.packageId, name: o.name, version: o.version, aid: o.aid, installed: o.installed })) });
  });

  r.post('/kiosk/:terminalId/card-applications', async (req, res) => {
    const tid = z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id').parse(req.params.terminalId);
    const body = startBody.parse(req.body ?? {});
    const terminal = await db('terminals').where({ id: tid, active: true }).first('id');
    if (!terminal) throw new ApiError(404, 'unknown_terminal', `Terminal ${tid} is not registered or not active.`);
    const workflowId = addApplicationWorkflowId(body.cardId);
    const running = await runningInput(temporal, workflowId);
    if (running) {
      if (running.packageId !== body.packageId || running.terminalId !== tid) throw new ApiError(409, 'busy', `Another application is being added to card ${body.cardId} right now; try again when it has finished.`);
      return void res.status(200).json({ workflowId, progress: await temporal.workflow.getHandle(workflowId).query(addApplicationProgressQuery) });
    }
    const check = await checkApplicationRequest(db, body.cardId, body.packageId, Date.now());
    if (!check.ok) throw new ApiError(REFUSAL_STATUS[check.code], check.code, check.message);
    const input: AddApplicationInput = { cardId: body.cardId, packageId: body.packageId, terminalId: tid, requestId: body.requestId, ...(opts.insertTimeoutMs ? { insertTimeoutMs: opts.insertTimeoutMs } : {}) };
    const handle = await temporal.workflow.start(addApplication, {
      taskQueue: opts.centerTaskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: TerminalIdKey, value: tid },
        { key: CardIdKey, value: body.cardId },
      ],
    });
    const progress = await handle.query(addApplicationProgressQuery);
    // Two kiosks asking at the same moment: USE_EXISTING gave this one the other's run.
    if (progress.packageId !== body.packageId) throw new ApiError(409, 'busy', `Another application is being added to card ${body.cardId} right now; try again when it has finished.`);
    res.status(201).json({ workflowId, progress });
  });

  r.get('/card-applications/:cardId', async (req, res) => {
    const workflowId = addApplicationWorkflowId(cardId.parse(req.params.cardId));
    try {
      res.json(await temporal.workflow.getHandle(workflowId).query(addApplicationProgressQuery));
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', 'No application has been added to this card at a kiosk.');
      throw err;
    }
  });

  return r;
}

/** The input of the add-application running for this card, if one is running. */
async function runningInput(temporal: Client, workflowId: string): Promise<AddApplicationInput | null> {
  try {
    const handle = temporal.workflow.getHandle(workflowId);
    const desc = await handle.describe();
    if (desc.status.name !== 'RUNNING') return null;
    const p = await handle.query(addApplicationProgressQuery);
    return { cardId: p.cardId, packageId: p.packageId, terminalId: desc.typedSearchAttributes.get(TerminalIdKey) ?? '', requestId: '' };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}
