/**
 * Registered users at the kiosk (docs/registered-users.md), mounted at /api before the app's JSON
 * parser (registration carries an optional photo, so its body limit is larger):
 *
 *   POST /users                                  register (profile, PIN, optional photo) → user ID
 *   POST /kiosk/:terminalId/login                user ID + PIN → a short-lived session token
 *   POST /users/me/logout
 *   GET  /users/me                               my profile
 *   PUT  /users/me/photo                         add or replace my photo (raw PNG/JPEG body)
 *   GET  /users/me/purchases                     my past purchases (renewable ones marked)
 *   POST /users/me/purchases/:issuanceId/again   "renew my pass": a new issuance for the same item
 *   GET  /users/me/cards                         my issued cards and whether they are revoked
 *   POST /users/me/cards/:cardId/report-lost     revoke my card (revocation workflow, kind 'owner')
 *
 * `/users/me/*` take `Authorization: Bearer <session token>`; the session is valid only at the
 * terminal it was opened at. Personal data is never logged: bodies are not logged, and database
 * errors on user rows are re-thrown without their SQL (knex puts the bound values in messages).
 */
import express, { Router, type Request, type Response } from 'express';
import { createHash, randomInt } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { issuanceIdFor, TERMINAL_ID_PATTERN, type Selection } from '../../domain/issuance';
import { OWNER_REVOCATION_REASONS, revocationWorkflowId, type RevocationInput } from '../../domain/revocation';
import { awaitRevocationRow, startRevocationWorkflow } from '../revocation-workflow';
import { GENDERS, LOCKED_MESSAGE, pinProblem, USER_ID_PATTERN, type IssuanceHolder } from '../../domain/users';
import { isUniqueViolation, type Db } from '../../lib/db';
import { hashPin } from '../../lib/pin-hash';
import { checkUserPin } from '../../lib/user-login';
import { DEFAULT_USER_SESSION_TTL_MS, endUserSession, findUserSession, openUserSession, type UserSession } from '../../lib/user-sessions';
import { startIssuanceWorkflow } from '../issuance-workflow';
import { cancelUpdate, progressQuery, selectItemUpdate, type IssuanceInput } from '../../workflows/issuance-messages';
import { ApiError } from '../errors';
import { inspectImage } from './issuer/media';

export interface UserRouteOptions {
  db: Db;
  temporal: Client;
  centerTaskQueue: string;
  holdTtlMs: number;
  issuanceDefaults?: Partial<IssuanceInput>;
  /** How long a kiosk login lasts (default 10 minutes). */
  userSessionTtlMs?: number;
  /** How long report-lost waits for the card to be marked revoked before answering 202. */
  revocationWaitMs?: number;
}

/** A photo is printed on a card face (about 180 × 240 px at 300 dpi): 384 KiB is plenty. */
export const PHOTO_MAX_BYTES = 384 * 1024;
export const PHOTO_TYPES = ['image/png', 'image/jpeg'] as const;

// ---------- input ----------

const noControl = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters');

const birthDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'is not a real date')
  .refine((s) => {
    const ms = Date.parse(`${s}T00:00:00Z`);
    return ms < Date.now() && ms > Date.now() - 130 * 365.25 * 86_400_000;
  }, 'must be in the past (and within 130 years)');

const pin = z.string().superRefine((v, ctx) => {
  const problem = pinProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const photoBody = z
  .object({
    contentType: z.enum(PHOTO_TYPES, 'must be image/png or image/jpeg'),
    base64: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64').max(Math.ceil(PHOTO_MAX_BYTES / 3) * 4, `the photo must be at most ${PHOTO_MAX_BYTES / 1024} KiB`),
  })
  .strict();

const registration = z
  .object({
    name: noControl(100),
    nameKana: noControl(100)
      .refine((s) => /^[\u3040-\u30ff\u3000 ・ー]+$/.test(s), 'must be written in kana')
      .optional(),
    birthDate,
    gender: z.enum(GENDERS).optional(),
    postalCode: z.string().regex(/^\d{3}-?\d{4}$/, 'must be a postal code like 160-0022').optional(),
    address: noControl(300),
    phone: z.string().regex(/^\+?[0-9][0-9-]{8,18}[0-9]$/, 'must be a phone number: digits, optionally with - and a leading +'),
    email: z.email('must be an e-mail address').max(200).optional(),
    occupation: noControl(100).optional(),
    workplaceName: noControl(200).optional().describe('employer or school'),
    workplaceAddress: noControl(300).optional(),
    householdSize: z.number().int().min(1).max(20).optional(),
    commuteFrom: noControl(100).optional(),
    commuteTo: noControl(100).optional(),
    pin,
    photo: photoBody.optional(),
  })
  .strict();

const login = z.object({ userId: z.string().regex(USER_ID_PATTERN, 'must be a user ID: U and 9 digits'), pin: z.string().max(20) }).strict();
const terminalId = z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id');
const requestId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, - or _');
const cardIdParam = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be a card id');
const issuanceIdParam = z.string().regex(/^iss-[A-Za-z0-9_-]{1,40}-[A-Za-z0-9_-]{8,64}$/, 'is not an issuance id');
const reportLost = z.object({ requestId, reason: z.enum(OWNER_REVOCATION_REASONS).default('lost') }).strict();
const again = z.object({ requestId }).strict();

// ---------- rows → answers ----------

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const iso = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

/** The profile as the user (and an operator) sees it. Never the PIN hash. */
export function profileDto(u: Row, hasPhoto: boolean) {
  return {
    userId: u.id as string,
    name: u.name as string,
    nameKana: u.name_kana ?? null,
    birthDate: u.birth_date as string,
    gender: u.gender ?? null,
    postalCode: u.postal_code ?? null,
    address: u.address as string,
    phone: u.phone as string,
    email: u.email ?? null,
    occupation: u.occupation ?? null,
    workplaceName: u.workplace_name ?? null,
    workplaceAddress: u.workplace_address ?? null,
    householdSize: u.household_size === null || u.household_size === undefined ? null : Number(u.household_size),
    commuteFrom: u.commute_from ?? null,
    commuteTo: u.commute_to ?? null,
    hasPhoto,
    identity: { status: u.identity_status as string, document: u.identity_document ?? null, checkedBy: u.identity_checked_by ?? null, checkedAt: iso(u.identity_checked_at_ms) },
    locked: u.locked_at_ms !== null && u.locked_at_ms !== undefined,
    registeredAt: iso(u.created_at_ms),
  };
}

export async function loadProfile(db: Db, userId: string) {
  const u = await db('users').where({ id: userId }).first();
  if (!u) return null;
  const photo = await db('user_photos').where({ user_id: userId }).first('user_id');
  return profileDto(u, Boolean(photo));
}

/** Re-throws a database error without its message (knex writes the bound values, personal data, into it). */
function scrubbed(err: unknown): Error {
  const code = (err as { code?: string })?.code ?? 'unknown';
  return new Error(`database error on a user row (${code})`);
}

function checkedPhoto(bytes: Buffer, contentType: string | undefined) {
  if (bytes.length > PHOTO_MAX_BYTES) throw new ApiError(413, 'photo_too_large', `The photo is ${Math.ceil(bytes.length / 1024)} KiB; it must be at most ${PHOTO_MAX_BYTES / 1024} KiB.`);
  const info = inspectImage(bytes, contentType);
  return { content_type: info.contentType, bytes, byte_size: bytes.length, width: info.width, height: info.height, sha256: createHash('sha256').update(bytes).digest('hex') };
}

function newUserId(): string {
  return `U${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;
}

// ---------- sessions ----------

function bearer(req: Request): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return m ? m[1] : null;
}

/** The logged-in user of a kiosk request, if it carries a session (null when it carries none). */
export async function optionalUserSession(db: Db, req: Request, atTerminal?: string): Promise<UserSession | null> {
  const token = bearer(req);
  if (!token) return null;
  const s = await findUserSession(db, token);
  if (s === 'expired') throw new ApiError(401, 'session_expired', 'Your login has expired. Please log in again with your user ID and PIN.');
  if (!s) throw new ApiError(401, 'login_required', 'Please log in with your user ID and PIN.');
  if (atTerminal !== undefined && s.terminalId !== atTerminal) throw new ApiError(401, 'login_required', 'This login belongs to another kiosk. Please log in here.');
  return s;
}

async function requireUser(db: Db, req: Request): Promise<UserSession> {
  const s = await optionalUserSession(db, req);
  if (!s) throw new ApiError(401, 'login_required', 'Please log in with your user ID and PIN.');
  return s;
}

/** The holder of an issuance started with a user session (api/routes/kiosk.ts), or undefined. */
export async function holderFromSession(db: Db, req: Request, terminalId: string): Promise<IssuanceHolder | undefined> {
  const s = await optionalUserSession(db, req, terminalId);
  return s ? { userId: s.userId } : undefined;
}

// ---------- routes ----------

export function userRoutes(opts: UserRouteOptions): Router {
  const { db, temporal } = opts;
  const r = Router();
  const json = express.json({ limit: `${Math.ceil((PHOTO_MAX_BYTES * 4) / 3 / 1024) + 16}kb` });

  r.post('/users', json, async (req, res) => {
    const body = registration.parse(req.body ?? {});
    const photo = body.photo ? checkedPhoto(Buffer.from(body.photo.base64, 'base64'), body.photo.contentType) : null;
    const pinHash = await hashPin(body.pin);
    const now = Date.now();
    const profile = {
      name: body.name,
      name_kana: body.nameKana ?? null,
      birth_date: body.birthDate,
      gender: body.gender ?? null,
      postal_code: body.postalCode ?? null,
      address: body.address,
      phone: body.phone,
      email: body.email ?? null,
      occupation: body.occupation ?? null,
      workplace_name: body.workplaceName ?? null,
      workplace_address: body.workplaceAddress ?? null,
      household_size: body.householdSize ?? null,
      commute_from: body.commuteFrom ?? null,
      commute_to: body.commuteTo ?? null,
    };
    for (let tries = 0; ; tries++) {
      const id = newUserId();
      try {
        await db.transaction(async (trx) => {
          await trx('users').insert({ id, ...profile, pin_hash: pinHash, failed_pin_attempts: 0, locked_at_ms: null, identity_status: 'unchecked', created_at_ms: now, updated_at_ms: now });
          if (photo) await trx('user_photos').insert({ user_id: id, ...photo, created_at_ms: now });
        });
        res.status(201).json({ ...(await loadProfile(db, id)), message: `Your user ID is ${id}. Keep it with your PIN; an operator checks your identity once when you show an ID document.` });
        return;
      } catch (err) {
        if (isUniqueViolation(err) && tries < 5) continue; // the random user ID was taken: draw another
        throw scrubbed(err);
      }
    }
  });

  r.post('/kiosk/:terminalId/login', express.json({ limit: '2kb' }), async (req, res) => {
    const tid = terminalId.parse(req.params.terminalId);
    const body = login.parse(req.body ?? {});
    const terminal = await db('terminals').where({ id: tid, active: true }).first('id');
    if (!terminal) throw new ApiError(404, 'unknown_terminal', `Terminal ${tid} is not registered or not active.`);
    const outcome = await checkUserPin(db, body.userId, body.pin);
    if (!outcome.ok) {
      if (outcome.reason === 'locked') throw new ApiError(423, 'account_locked', LOCKED_MESSAGE);
      const left = outcome.reason === 'wrong_pin' ? ` ${outcome.triesLeft} ${outcome.triesLeft === 1 ? 'try' : 'tries'} left before the account is locked.` : '';
      throw new ApiError(401, 'wrong_credentials', `The user ID or PIN is wrong.${left}`);
    }
    const session = await openUserSession(db, outcome.userId, tid, opts.userSessionTtlMs ?? DEFAULT_USER_SESSION_TTL_MS);
    res.json({ token: session.token, expiresAt: iso(session.expiresAtMs), user: await loadProfile(db, outcome.userId) });
  });

  r.post('/users/me/logout', async (req, res) => {
    const token = bearer(req);
    if (token) await endUserSession(db, token);
    res.json({ loggedOut: true });
  });

  r.get('/users/me', async (req, res) => {
    const s = await requireUser(db, req);
    res.json(await loadProfile(db, s.userId));
  });

  r.put('/users/me/photo', express.raw({ type: () => true, limit: PHOTO_MAX_BYTES }), async (req, res) => {
    const s = await requireUser(db, req);
    const type = (req.get('content-type') ?? '').split(';')[0].trim();
    if (!(PHOTO_TYPES as readonly string[]).includes(type)) throw new ApiError(415, 'unsupported_type', 'Send the photo as image/png or image/jpeg.');
    const photo = checkedPhoto(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), type);
    await db.transaction(async (trx) => {
      await trx('user_photos').where({ user_id: s.userId }).delete();
      await trx('user_photos').insert({ user_id: s.userId, ...photo, created_at_ms: Date.now() });
    }).catch((err) => {
      throw scrubbed(err);
    });
    res.json(await loadProfile(db, s.userId));
  });

  r.get('/users/me/purchases', async (req, res) => {
    const s = await requireUser(db, req);
    const rows = await db('issuances as i')
      .leftJoin('cards as c', function () {
        this.on('c.issuance_id', '=', 'i.id').andOnVal('c.status', '=', 'issued');
      })
      .leftJoin('card_revocations as r', 'r.card_id', 'c.id')
      .where('i.user_id', s.userId)
      .where('i.status', 'sold')
      .orderBy('i.created_at_ms', 'desc')
      .limit(100)
      .select('i.id', 'i.terminal_id', 'i.issuer_id', 'i.product_id', 'i.product_type', 'i.selection', 'i.title', 'i.total_minor', 'i.currency', 'i.created_at_ms', 'c.id as card_id', 'c.valid_from_ms', 'c.valid_until_ms', 'r.reason as revocation_reason');
    res.json({
      purchases: rows.map((p) => ({
        issuanceId: p.id,
        productType: p.product_type,
        title: p.title,
        selection: JSON.parse(p.selection) as Selection,
        totalMinor: Number(p.total_minor),
        currency: p.currency,
        boughtAt: iso(p.created_at_ms),
        cardId: p.card_id ?? null,
        validFrom: iso(p.valid_from_ms),
        validUntil: iso(p.valid_until_ms),
        revoked: Boolean(p.revocation_reason),
        // A seat is sold once; passes are renewed and prepaid values bought again.
        canBuyAgain: p.product_type !== 'concert',
      })),
    });
  });

  r.post('/users/me/purchases/:issuanceId/again', json, async (req, res) => {
    const s = await requireUser(db, req);
    const pastId = issuanceIdParam.parse(req.params.issuanceId);
    const body = again.parse(req.body ?? {});
    const past = await db('issuances').where({ id: pastId, user_id: s.userId, status: 'sold' }).first('id', 'product_type', 'selection');
    if (!past) throw new ApiError(404, 'not_found', `You have no purchase ${pastId}.`);
    if (past.product_type === 'concert') throw new ApiError(409, 'not_repeatable', 'A concert seat is sold only once; pick another seat from the menu.');
    const selection = JSON.parse(past.selection) as Selection;
    let holder: IssuanceHolder = { userId: s.userId };
    if (past.product_type === 'commuter') {
      const card = await db('cards').where({ issuance_id: past.id, status: 'issued' }).first('id');
      if (card) holder = { ...holder, renewsCardId: card.id };
    }
    const id = issuanceIdFor(s.terminalId, body.requestId);
    const input: IssuanceInput = { ...opts.issuanceDefaults, issuanceId: id, terminalId: s.terminalId, holdTtlMs: opts.holdTtlMs, holder };
    const handle = await startIssuanceWorkflow(temporal, opts.centerTaskQueue, input);
    let item;
    try {
      item = await handle.executeUpdate(selectItemUpdate, { args: [selection], updateId: `${body.requestId}-select` });
    } catch (err) {
      // Nothing is held (the item is gone, a photo is now needed…): end the issuance rather than leave it waiting.
      await handle.executeUpdate(cancelUpdate, { args: [], updateId: `${body.requestId}-cancel` }).catch(() => undefined);
      throw err;
    }
    res.status(201).json({ issuanceId: id, renews: holder.renewsCardId ?? null, item, progress: await handle.query(progressQuery) });
  });

  r.get('/users/me/cards', async (req, res) => {
    const s = await requireUser(db, req);
    const rows = await db('cards as c')
      .join('issuances as i', 'i.id', 'c.issuance_id')
      .leftJoin('card_revocations as r', 'r.card_id', 'c.id')
      .where('i.user_id', s.userId)
      .where('c.status', 'issued')
      .orderBy('c.created_at_ms', 'desc')
      .limit(100)
      .select('c.id', 'c.issuance_id', 'c.valid_from_ms', 'c.valid_until_ms', 'c.created_at_ms', 'i.title', 'i.product_type', 'i.issuer_id', 'r.reason', 'r.revoked_at_ms', 'r.requested_by_kind');
    res.json({
      cards: rows.map((c) => ({
        cardId: c.id,
        issuanceId: c.issuance_id,
        title: c.title,
        productType: c.product_type,
        issuedAt: iso(c.created_at_ms),
        validFrom: iso(c.valid_from_ms),
        validUntil: iso(c.valid_until_ms),
        status: c.reason ? 'revoked' : 'valid',
        revocation: c.reason ? { reason: c.reason, revokedAt: iso(c.revoked_at_ms), by: c.requested_by_kind } : null,
      })),
    });
  });

  r.post('/users/me/cards/:cardId/report-lost', json, async (req: Request, res: Response) => {
    const s = await requireUser(db, req);
    const cardId = cardIdParam.parse(req.params.cardId);
    const body = reportLost.parse(req.body ?? {});
    // Someone else's card answers exactly like a card that does not exist.
    const card = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', cardId).where('i.user_id', s.userId).first('c.id', 'c.status', 'i.issuer_id');
    if (!card || card.status !== 'issued') throw new ApiError(404, 'not_found', `You have no issued card ${cardId}.`);
    const revocationOf = () => db('card_revocations').where({ card_id: card.id }).first('reason', 'revoked_at_ms', 'request_id', 'requested_by_kind');
    const answer = (row: Row, status: number) =>
      res.status(status).json({ cardId: card.id, status: 'revoked', reason: row.reason, revokedAt: iso(row.revoked_at_ms), alreadyRevoked: row.request_id !== body.requestId, workflowId: revocationWorkflowId(card.id), message: 'The card is now invalid: gates and readers refuse it, and its issuer has been told.' });
    const existing = await revocationOf();
    if (existing) return void answer(existing, 200);
    const input: RevocationInput = { cardId: card.id, reason: body.reason, requestedBy: { kind: 'owner', id: s.userId, terminalId: s.terminalId }, requestId: body.requestId };
    await startRevocationWorkflow({ temporal, centerTaskQueue: opts.centerTaskQueue }, input, card.issuer_id);
    const row = await awaitRevocationRow(revocationOf, opts.revocationWaitMs);
    if (row) return void answer(row, row.request_id === body.requestId ? 201 : 200);
    res.status(202).json({ cardId: card.id, status: 'pending', reason: body.reason, revokedAt: null, alreadyRevoked: false, workflowId: revocationWorkflowId(card.id), message: 'Your report is being processed; the card will be refused within moments.' });
  });

  return r;
}
