/**
 * Browser sign-in for operators, so the Temporal Web UI can call our codec endpoint with the
 * operator's cookie ("include cross-origin credentials" in the UI's codec settings). The operator
 * pastes their token once at /operator/login; the API answers with an HttpOnly, SameSite=Lax
 * cookie holding `name.expiry.HMAC(name.expiry)` under a per-process secret (a restart signs
 * everyone out). Tokens themselves are never stored in the browser.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request } from 'express';
import { findOperator, type OperatorToken } from './operator-auth';

export const SESSION_COOKIE = 'icc_operator';
const TTL_MS = 8 * 60 * 60 * 1000;

export class OperatorSessions {
  private readonly secret = randomBytes(32);
  constructor(private readonly now: () => number = Date.now) {}

  issue(name: string): string {
    const body = `${name}.${this.now() + TTL_MS}`;
    return `${body}.${this.mac(body)}`;
  }

  /** The operator's name for a valid, unexpired session cookie; null otherwise. */
  verify(req: Request): string | null {
    const raw = (req.get('cookie') ?? '').split(';').map((c) => c.trim()).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    if (!raw) return null;
    const value = decodeURIComponent(raw.slice(SESSION_COOKIE.length + 1));
    const [name, expiry, mac] = value.split('.');
    if (!name || !expiry || !mac) return null;
    const want = Buffer.from(this.mac(`${name}.${expiry}`));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    return Number(expiry) > this.now() ? name : null;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('hex');
  }
}

const page = (message: string) => `<!doctype html><html><head><meta charset="utf-8"><title>Operator sign-in</title>
<style>body{font:16px system-ui;margin:3rem auto;max-width:34rem}input,button{font:inherit;padding:.5rem}input{width:100%}</style></head>
<body><h1>Operator sign-in</h1><p>${message}</p>
<form method="post" action="/operator/login"><label>Operator token<br><input name="token" type="password" autocomplete="off" required></label><p><button>Sign in</button></p></form></body></html>`;

export function operatorLoginRoutes(tokens: OperatorToken[], sessions: OperatorSessions, codecUrl: string): Router {
  const r = Router();
  r.get('/operator/login', (_req, res) => {
    res.type('html').send(page('Sign in to let the Temporal Web UI decrypt workflow history through this API.'));
  });
  r.post('/operator/login', express.urlencoded({ extended: false, limit: '2kb' }), (req, res) => {
    const name = findOperator(tokens, String(req.body?.token ?? ''));
    if (!name) {
      res.status(403).type('html').send(page('That token is not an operator token.'));
      return;
    }
    res.cookie(SESSION_COOKIE, sessions.issue(name), { httpOnly: true, sameSite: 'lax', maxAge: TTL_MS, path: '/' });
    res.type('html').send(
      `<!doctype html><meta charset="utf-8"><title>Signed in</title><body style="font:16px system-ui;margin:3rem auto;max-width:34rem"><h1>Signed in as ${name.replace(/[<>&"]/g, '')}</h1>` +
        `<p>In the Temporal Web UI, open <b>Data Encoder</b> settings, set the codec endpoint to <code>${codecUrl}</code> and turn on <b>include cross-origin credentials</b>. Payloads then show decrypted.</p></body>`,
    );
  });
  return r;
}
