/**
 * Operators and registered users (Authorization: Bearer <operator token>, or the operator's
 * browser session), mounted at /api/operator/users:
 *
 *   GET  /:userId                  the profile, identity status and lock state
 *   GET  /:userId/photo            the registered photo (to compare with the ID document)
 *   POST /:userId/identity-check   {status: verified|rejected, document}: the person showed an ID
 *   POST /:userId/unlock           after five wrong PINs, once the person has been checked
 *
 * The operator's name is recorded as who checked; the document's kind is stored, never its number.
 */
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { IDENTITY_DOCUMENTS, USER_ID_PATTERN } from '../../domain/users';
import type { Db } from '../../lib/db';
import { unlockUser } from '../../lib/user-login';
import { ApiError } from '../errors';
import { operatorOf } from '../operator-auth';
import { loadProfile } from './users';

const userIdParam = z.string().regex(USER_ID_PATTERN, 'must be a user ID: U and 9 digits');
const identityCheck = z.object({ status: z.enum(['verified', 'rejected']), document: z.enum(IDENTITY_DOCUMENTS) }).strict();

export function operatorUserRoutes(db: Db, authenticate: RequestHandler): Router {
  const r = Router();
  r.use(authenticate, express.json({ limit: '4kb' }));

  const mustExist = async (userId: string) => {
    const profile = await loadProfile(db, userId);
    if (!profile) throw new ApiError(404, 'not_found', `There is no registered user ${userId}.`);
    return profile;
  };

  r.get('/:userId', async (req, res) => {
    res.json(await mustExist(userIdParam.parse(req.params.userId)));
  });

  r.get('/:userId/photo', async (req, res) => {
    const userId = userIdParam.parse(req.params.userId);
    await mustExist(userId);
    const p = await db('user_photos').where({ user_id: userId }).first('content_type', 'bytes');
    if (!p) throw new ApiError(404, 'no_photo', `User ${userId} registered no photo.`);
    res.set('content-type', p.content_type).set('cache-control', 'no-store').send(Buffer.from(p.bytes));
  });

  r.post('/:userId/identity-check', async (req, res) => {
    const userId = userIdParam.parse(req.params.userId);
    const body = identityCheck.parse(req.body ?? {});
    await mustExist(userId);
    const now = Date.now();
    await db('users').where({ id: userId }).update({ identity_status: body.status, identity_document: body.document, identity_checked_by: operatorOf(req, res), identity_checked_at_ms: now, updated_at_ms: now });
    res.json(await loadProfile(db, userId));
  });

  r.post('/:userId/unlock', async (req, res) => {
    const userId = userIdParam.parse(req.params.userId);
    await mustExist(userId);
    await unlockUser(db, userId);
    res.json(await loadProfile(db, userId));
  });

  return r;
}
