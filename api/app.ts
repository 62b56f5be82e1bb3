/** The center's HTTP API and the kiosk page. */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import { catalogueRoutes } from './routes/catalogue';
import { kioskRoutes, type KioskRouteOptions } from './routes/kiosk';
import { financeRoutes, type FinanceRouteOptions } from './routes/finance';
import { codecRoutes } from './routes/codec';
import { issuerApiRoutes } from './routes/issuer';
import { posRoutes } from './routes/pos';
import { reloadRoutes, type ReloadRouteOptions } from './routes/reload';
import { terminalPackageRoutes } from './routes/terminal-packages';
import { kioskApplicationRoutes } from './routes/kiosk-applications';
import { kioskCustomerCardRoutes } from './routes/kiosk-customer-card';
import { verifyRoutes } from './routes/verify';
import { userRoutes, type UserRouteOptions } from './routes/users';
import { operatorUserRoutes } from './routes/operator-users';
import { operatorAlertRoutes } from './routes/operator-alerts';
import { cardSigningKeys, type CardSigningKeys } from '../lib/card-signing';
import { errorHandler, notFound } from './errors';
import { operatorAuth, type OperatorToken } from './operator-auth';
import { OperatorSessions, operatorLoginRoutes } from './operator-session';
import { loadConfig } from '../lib/config';
import type { PayloadCodec } from '@temporalio/common';

export type AppOptions = KioskRouteOptions & Pick<UserRouteOptions, 'userSessionTtlMs'> & {
  defaultTerminalId?: string;
  finance?: FinanceRouteOptions['finance'];
  /** The payload codec to serve to the Temporal Web UI at /api/codec (operators only). */
  codec?: { codec: PayloadCodec; allowedOrigins: string[]; publicUrl: string };
  /** The center's card keys (verification publishes and checks them); from configuration by default. */
  cardKeys?: CardSigningKeys;
  reloadDefaults?: ReloadRouteOptions['reloadDefaults'];
};

/** The page's static files sit beside the sources (api/public), also when running from dist/. */
function publicDir(): string {
  const candidates = [path.join(__dirname, 'public'), path.resolve(__dirname, '../../api/public')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'kiosk.html'))) ?? candidates[0];
}

export function createApp(opts: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  const operatorTokens: OperatorToken[] = opts.finance?.operatorTokens ?? loadConfig().OPERATOR_TOKENS;
  const sessions = new OperatorSessions();
  if (opts.codec) {
    // Before the JSON parser: the codec takes larger bodies and answers CORS preflights.
    app.use('/api/codec', codecRoutes({ codec: opts.codec.codec, allowedOrigins: opts.codec.allowedOrigins, authenticate: operatorAuth(operatorTokens, sessions) }));
    app.use(operatorLoginRoutes(operatorTokens, sessions, `${opts.codec.publicUrl}/api/codec`));
  }
  // First: gates call it at every entry, so it skips the other routers (and has its own small body limit).
  app.use('/api/verify', express.json({ limit: '16kb' }), verifyRoutes({ db: opts.db, cardKeys: opts.cardKeys ?? cardSigningKeys(process.env, loadConfig().DATA_DIR) }));
  // Registered users: before the issuer API (which answers unknown /api/operator/… paths) and the JSON parser (registration carries a photo).
  app.use('/api/operator/users', operatorUserRoutes(opts.db, operatorAuth(operatorTokens, sessions)));
  app.use('/api/operator/alerts', operatorAlertRoutes(opts.db, operatorAuth(operatorTokens, sessions)));
  app.use('/api', userRoutes(opts));
  app.use('/api', issuerApiRoutes({ db: opts.db, operatorTokens, revocations: { temporal: opts.temporal, centerTaskQueue: opts.centerTaskQueue } })); // before the JSON parser: its routes parse their own bodies
  app.use(express.json({ limit: '100kb' }));
  app.get('/api/health', (_req, res) => res.json({ ok: true }));
  app.use('/api', catalogueRoutes(opts.db));
  app.use('/api', terminalPackageRoutes(opts.db));
  app.use('/api', kioskApplicationRoutes(opts));
  app.use('/api', kioskRoutes(opts));
  app.use('/api', reloadRoutes(opts));
  app.use('/api', kioskCustomerCardRoutes(opts));
  app.use('/api/pos', posRoutes(opts));
  app.use('/api/finance', financeRoutes(opts));
  const dir = publicDir();
  app.use('/static', express.static(dir, { index: false }));
  app.get('/kiosk/:terminalId', (_req, res) => res.sendFile(path.join(dir, 'kiosk.html')));
  app.get('/', (_req, res) => res.redirect(`/kiosk/${opts.defaultTerminalId ?? 'T-001'}`));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
