/**
 * Kiosk sessions of registered users: a random 256-bit token handed to the kiosk page after a
 * good user ID + PIN, valid at that terminal only and for a short time. The table keeps only the
 * token's SHA-256, so a copy of the database opens no session. Logging out ends it at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';

export const DEFAULT_USER_SESSION_TTL_MS = 10 * 60_000;

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export interface UserSession {
  userId: string;
  terminalId: string;
  expiresAtMs: number;
}

export async function openUserSession(db: Knex, userId: string, terminalId: string, ttlMs = DEFAULT_USER_SESSION_TTL_MS, now = Date.now()): Promise<{ token: string; expiresAtMs: number }> {
  const token = `us_${randomBytes(32).toString('base64url')}`;
  const expiresAtMs = now + ttlMs;
  await db('user_sessions').insert({ token_sha256: digest(token), user_id: userId, terminal_id: terminalId, created_at_ms: now, expires_at_ms: expiresAtMs, ended_at_ms: null });
  return { token, expiresAtMs };
}

/** The session a token opens: 'expired' for an expired or ended one, null for an unknown token. */
export async function findUserSession(db: Knex, token: string, now = Date.now()): Promise<UserSession | 'expired' | null> {
  if (!/^us_[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const row = await db('user_sessions').where({ token_sha256: digest(token) }).first('user_id', 'terminal_id', 'expires_at_ms', 'ended_at_ms');
  if (!row) return null;
  if (row.ended_at_ms !== null || Number(row.expires_at_ms) <= now) return 'expired';
  return { userId: row.user_id, terminalId: row.terminal_id, expiresAtMs: Number(row.expires_at_ms) };
}

export async function endUserSession(db: Knex, token: string, now = Date.now()): Promise<void> {
  await db('user_sessions').where({ token_sha256: digest(token) }).whereNull('ended_at_ms').update({ ended_at_ms: now });
}
