/**
 * Issuer API authentication: `Authorization: Bearer icc_<key id>_<secret>`.
 *
 * A key is created for one issuer by an operator (POST /api/operator/issuers/:issuerId/api-keys)
 * and shown once. The center stores only the SHA-256 of the whole key beside its id: the secret is
 * 256 random bits, so a fast hash is enough (nothing to brute-force) and a stolen table holds no
 * usable key. A request's key is looked up by its id and its digest compared in constant time
 * (timingSafeEqual); an unknown id is compared against a dummy digest so it takes the same path.
 * No key → 401 unauthenticated; a malformed, unknown or revoked key → 401 invalid_api_key.
 *
 * The authenticated issuer (res.locals.issuer) is the only issuer whose resources a route may
 * read or change; resources of other issuers answer 404 exactly as if they did not exist.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Db } from '../lib/db';
import { ApiError } from './errors';

export interface IssuerContext {
  issuerId: string;
  keyId: string;
  currency: string;
}

export const API_KEY_PATTERN = /^icc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** Last-used times are written at most this often per key (one write per minute, not per request). */
const LAST_USED_RESOLUTION_MS = 60_000;
const DUMMY_DIGEST = createHash('sha256').update('icc_0000000000000000_unknown-key').digest();

export function digestApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex');
}

export function newApiKey(): { keyId: string; apiKey: string; secretSha256: string } {
  const keyId = randomBytes(8).toString('hex');
  const apiKey = `icc_${keyId}_${randomBytes(32).toString('base64url')}`;
  return { keyId, apiKey, secretSha256: digestApiKey(apiKey) };
}

export interface CreatedApiKey {
  keyId: string;
  apiKey: string;
  issuerId: string;
  label: string;
  createdBy: string;
  createdAtMs: number;
}

/** Creates a key for an issuer; the returned apiKey is the only time the secret exists in clear. */
export async function createIssuerApiKey(db: Db, opts: { issuerId: string; label: string; createdBy: string; nowMs?: number }): Promise<CreatedApiKey> {
  const issuer = await db('issuers').where({ id: opts.issuerId }).first('id');
  if (!issuer) throw new ApiError(404, 'unknown_issuer', `No issuer ${opts.issuerId}.`);
  const { keyId, apiKey, secretSha256 } = newApiKey();
  const createdAtMs = opts.nowMs ?? Date.now();
  await db('issuer_api_keys').insert({ key_id: keyId, issuer_id: opts.issuerId, secret_sha256: secretSha256, label: opts.label, created_by: opts.createdBy, created_at_ms: createdAtMs });
  return { keyId, apiKey, issuerId: opts.issuerId, label: opts.label, createdBy: opts.createdBy, createdAtMs };
}

/** Revokes a key of that issuer; true when it exists (revoking twice is harmless). */
export async function revokeIssuerApiKey(db: Db, opts: { issuerId: string; keyId: string; revokedBy: string; nowMs?: number }): Promise<boolean> {
  const row = await db('issuer_api_keys').where({ key_id: opts.keyId, issuer_id: opts.issuerId }).first('key_id');
  if (!row) return false;
  await db('issuer_api_keys').where({ key_id: opts.keyId }).whereNull('revoked_at_ms').update({ revoked_at_ms: opts.nowMs ?? Date.now(), revoked_by: opts.revokedBy });
  return true;
}

/** The issuer a presented key belongs to, or null (unknown, revoked or malformed). */
export async function verifyIssuerApiKey(db: Db, presented: string): Promise<{ issuerId: string; keyId: string; lastUsedAtMs: number | null } | null> {
  const m = API_KEY_PATTERN.exec(presented);
  const row = m ? await db('issuer_api_keys').where({ key_id: m[1] }).first('key_id', 'issuer_id', 'secret_sha256', 'revoked_at_ms', 'last_used_at_ms') : undefined;
  const want = row ? Buffer.from(row.secret_sha256, 'hex') : DUMMY_DIGEST;
  const got = createHash('sha256').update(presented, 'utf8').digest();
  const same = want.length === got.length && timingSafeEqual(want, got);
  if (!row || !same || row.revoked_at_ms !== null) return null;
  return { issuerId: row.issuer_id, keyId: row.key_id, lastUsedAtMs: row.last_used_at_ms === null ? null : Number(row.last_used_at_ms) };
}

export function issuerAuth(db: Db, now: () => number = Date.now): RequestHandler {
  return async (req, res, next) => {
    try {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
      if (!m) {
        res.set('WWW-Authenticate', 'Bearer realm="issuers"');
        throw new ApiError(401, 'unauthenticated', 'Issuer authentication required: send Authorization: Bearer <API key>.');
      }
      const key = await verifyIssuerApiKey(db, m[1]);
      if (!key) {
        res.set('WWW-Authenticate', 'Bearer realm="issuers", error="invalid_token"');
        throw new ApiError(401, 'invalid_api_key', 'This API key is not valid or has been revoked.');
      }
      const issuer = await db('issuers').where({ id: key.issuerId }).first('id', 'currency');
      if (!issuer) throw new ApiError(401, 'invalid_api_key', 'This API key is not valid or has been revoked.');
      const at = now();
      if (key.lastUsedAtMs === null || at - key.lastUsedAtMs >= LAST_USED_RESOLUTION_MS) {
        await db('issuer_api_keys').where({ key_id: key.keyId }).update({ last_used_at_ms: at });
      }
      const ctx: IssuerContext = { issuerId: issuer.id, keyId: key.keyId, currency: issuer.currency };
      res.locals.issuer = ctx;
      next();
    } catch (err) {
      next(err);
    }
  };
}

export function issuerOf(res: Response): IssuerContext {
  const ctx = res.locals.issuer as IssuerContext | undefined;
  if (!ctx) throw new ApiError(401, 'unauthenticated', 'Issuer authentication required.');
  return ctx;
}
