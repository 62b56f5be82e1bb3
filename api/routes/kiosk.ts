/**
 * The kiosk's conversation with its issuance workflow. Starting is idempotent (the kiosk's
 * request id names the workflow), every change is an Update whose id is the kiosk's request id
 * (a retried request is answered once), and progress is a Query.
 *
 * POST /issuances/:id/card stands for the terminal's card reader and PIN pad on the simulated
 * kiosk page: the page sends a (test) card number and PIN, and this endpoint tokenises the number
 * and encrypts the PIN block at once (lib/card-edge.ts), before anything reaches the workflow. A
 * real terminal does the same inside its card reader / PIN pad (terminal-worker/devices/payment-devices.ts).
 * The body is never logged.
 */
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { issuanceIdFor, TERMINAL_ID_PATTERN, type Selection } from '../../domain/issuance';
import { normalizePickupCode } from '../../domain/reissue';
import { hashPickupCode } from '../../lib/pickup-code';
import type { Db } from '../../lib/db';
import { startIssuanceWorkflow } from '../issuance-workflow';
import { cancelUpdate, choosePaymentUpdate, confirmUpdate, enterCardUpdate, insertCashUpdate, progressQuery, selectItemUpdate, type IssuanceInput } from '../../workflows/issuance-messages';
import { ApiError } from '../errors';
import { emulatedCashSlot } from '../emulated-cash-slot';
import { isAcceptedDenomination } from '../../domain/cash';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCardMethod, PAYMENT_METHODS } from '../../domain/payments';
import { PinBlockError } from '../../domain/pin-block';
import { captureCardAtEdge, CardEdgeError } from '../../lib/card-edge';
import { CardDataError, cardVaultKeyProvider, createCardVault, type CardVault } from '../../lib/card-vault';
import { loadConfig } from '../../lib/config';
import { paymentKeyProvider, PaymentKeyError, type PaymentKeyProvider } from '../../lib/payment-keys';
import { holderFromSession } from './users';

export interface KioskRouteOptions {
  db: Db;
  temporal: Client;
  centerTaskQueue: string;
  holdTtlMs: number;
  /** Extra workflow input (tests shorten terminal timeouts). */
  issuanceDefaults?: Partial<IssuanceInput>;
  /** The card vault the edge tokenises into (default: keys from CARD_VAULT_KEYS or $DATA_DIR). */
  cardVault?: CardVault;
  /** Payment host keys by reference (default: PAYMENT_KEYS). */
  paymentKeys?: PaymentKeyProvider;
  /** Where emulated kiosks on this machine write kiosk.json (default DATA_DIR): see api/emulated-cash-slot.ts. */
  dataDir?: string;
}

const requestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, - or _');
const issuanceId = z.string().regex(/^iss-[A-Za-z0-9_-]{1,40}-[A-Za-z0-9_-]{8,64}$/, 'is not an issuance id');
const terminalId = z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id');
const positiveId = z.number().int().positive();

const selection = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('seat'), seatId: positiveId }).strict(),
  z.object({ kind: z.literal('fare'), fareId: positiveId }).strict(),
  z.object({ kind: z.literal('prepaid'), valueId: positiveId }).strict(),
  z.object({ kind: z.literal('reissue'), pickupCode: z.string().max(40) }).strict(),
]);

/** A reissue's pickup code is hashed here, at the edge: the workflow and its history only see the hash. */
function itemSelection(sel: z.output<typeof selection>): Selection {
  if (sel.kind !== 'reissue') return sel;
  const code = normalizePickupCode(sel.pickupCode);
  if (!code) throw new ApiError(400, 'invalid_input', 'selection.pickupCode: must be the 12 letters and digits of the pickup code (hyphens and spaces are ignored).');
  return { kind: 'reissue', pickupCodeHash: hashPickupCode(code) };
}

const bodies = {
  start: z.object({ requestId }).strict(),
  select: z.object({ requestId, selection }).strict(),
  plain: z.object({ requestId }).strict(),
  payment: z.object({ requestId, method: z.enum(PAYMENT_METHODS), entry: z.enum(['terminal', 'kiosk-page']).optional() }).strict(),
  card: z
    .object({
      requestId,
      pan: z.string().regex(/^[0-9]{13,19}$/, 'must be the card number: 13 to 19 digits'),
      expiry: z.string().regex(/^[0-9]{2}(0[1-9]|1[0-2])$/, 'must be YYMM').optional(),
      pin: z.string().regex(/^[0-9]{4,12}$/, 'must be 4 to 12 digits').optional(),
    })
    .strict(),
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
    const holder = await holderFromSession(db, req, tid); // a registered user logged in at this kiosk (Authorization: Bearer <session>)
    const input: IssuanceInput = { ...opts.issuanceDefaults, issuanceId: id, terminalId: tid, holdTtlMs: opts.holdTtlMs, ...(holder ? { holder } : {}) };
    const handle = await startIssuanceWorkflow(temporal, opts.centerTaskQueue, input);
    res.status(201).json({ issuanceId: id, progress: await handle.query(progressQuery) });
  });

  r.get('/issuances/:id', async (req, res) => {
    res.json(await handleFor(req.params.id).query(progressQuery));
  });

  r.post('/issuances/:id/select', async (req, res) => {
    const body = bodies.select.parse(req.body ?? {});
    const item = await handleFor(req.params.id).executeUpdate(selectItemUpdate, { args: [itemSelection(body.selection)], updateId: body.requestId });
    res.json({ item });
  });

  r.post('/issuances/:id/confirm', async (req, res) => {
    const body = bodies.plain.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(confirmUpdate, { args: [], updateId: body.requestId }));
  });

  r.post('/issuances/:id/payment', async (req, res) => {
    const body = bodies.payment.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(choosePaymentUpdate, { args: [{ method: body.method, ...(body.entry ? { entry: body.entry } : {}) }], updateId: body.requestId }));
  });

  r.post('/issuances/:id/cash', async (req, res) => {
    const body = bodies.cash.parse(req.body ?? {});
    const handle = handleFor(req.params.id);
    const before = await handle.query(progressQuery);
    const slot = before.stage === 'paying' && before.paymentMethod === 'cash' && isAcceptedDenomination(body.amountMinor) ? await emulatedCashSlot(opts.dataDir ?? loadConfig().DATA_DIR, before.terminalId) : null;
    if (!slot) {
      res.json(await handle.executeUpdate(insertCashUpdate, { args: [{ amountMinor: body.amountMinor }], updateId: body.requestId }));
      return;
    }
    // Into the emulated acceptor; the terminal reports the credit to the workflow. Answer once it has.
    const inserted = before.cash?.insertedMinor ?? 0;
    const { taken, answer } = await slot.insert(body.amountMinor);
    if (!taken) throw new ApiError(409, 'cash_refused', `The cash unit handed it back (${answer}). It takes cash only while a purchase waits for it.`);
    const end = Date.now() + 15_000;
    for (;;) {
      const now = await handle.query(progressQuery);
      if ((now.cash?.insertedMinor ?? 0) >= inserted + body.amountMinor || Date.now() > end) {
        res.json(now.cash);
        return;
      }
      await sleep(100);
    }
  });

  let vault = opts.cardVault;
  let keys = opts.paymentKeys;
  r.post('/issuances/:id/card', async (req, res) => {
    const body = bodies.card.parse(req.body ?? {});
    const handle = handleFor(req.params.id);
    const progress = await handle.query(progressQuery);
    if (progress.stage !== 'paying' || !isCardMethod(progress.paymentMethod)) throw new ApiError(409, 'wrong_stage', 'Choose a card payment method first.');
    vault ??= createCardVault(db, cardVaultKeyProvider(process.env, loadConfig().DATA_DIR));
    keys ??= paymentKeyProvider(process.env);
    let entry;
    try {
      entry = await captureCardAtEdge({ db, vault, keys }, { method: progress.paymentMethod, pan: body.pan, expiry: body.expiry, pin: body.pin, entryMode: 'manual' });
    } catch (err) {
      if (err instanceof CardEdgeError) throw new ApiError(err.code === 'method_unavailable' ? 503 : 400, err.code, err.message);
      if (err instanceof CardDataError || err instanceof PinBlockError) throw new ApiError(400, 'invalid_card', err.message);
      if (err instanceof PaymentKeyError) throw new ApiError(503, 'method_unavailable', 'Debit card payments are not available right now.');
      throw err;
    }
    res.json(await handle.executeUpdate(enterCardUpdate, { args: [entry], updateId: body.requestId }));
  });

  r.post('/issuances/:id/cancel', async (req, res) => {
    const body = bodies.plain.parse(req.body ?? {});
    res.json(await handleFor(req.params.id).executeUpdate(cancelUpdate, { args: [], updateId: body.requestId }));
  });

  return r;
}
