/**
 * Operator (finance) authentication: `Authorization: Bearer <token>` against the OPERATOR_TOKENS
 * configuration ("name:token,…"). Tokens are compared in constant time (SHA-256 digests through
 * timingSafeEqual, every configured token checked, no early exit). No token → 401; an unknown
 * token → 403. The operator's name is what the API records as the approver.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ApiError } from './errors';

export interface OperatorToken {
  name: string;
  token: string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The operator a presented token belongs to, or null; every configured token is compared. */
export function findOperator(tokens: OperatorToken[], presented: string): string | null {
  const d = digest(presented);
  let who: string | null = null;
  for (const t of tokens) if (timingSafeEqual(digest(t.token), d) && who === null) who = t.name;
  return who;
}

/** A signed-in browser session (see operator-session.ts) also counts, when sessions are given. */
export interface SessionVerifier {
  verify(req: Request): string | null;
}

export function operatorAuth(tokens: OperatorToken[], sessions?: SessionVerifier): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      const fromSession = sessions?.verify(req) ?? null;
      if (fromSession) {
        res.locals.operator = fromSession;
        return next();
      }
      res.set('WWW-Authenticate', 'Bearer realm="operators"');
      return next(new ApiError(401, 'unauthenticated', 'Operator authentication required: send Authorization: Bearer <token>.'));
    }
    const who = findOperator(tokens, m[1]);
    if (!who) return next(new ApiError(403, 'forbidden', 'This token is not an operator token.'));
    res.locals.operator = who;
    next();
  };
}

export function operatorOf(_req: Request, res: { locals: Record<string, unknown> }): string {
  const name = res.locals.operator;
  if (typeof name !== 'string') throw new ApiError(401, 'unauthenticated', 'Operator authentication required.');
  return name;
}
