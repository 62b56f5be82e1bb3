/** The center's HTTP API and the kiosk page. */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import { catalogueRoutes } from './routes/catalogue';
import { kioskRoutes, type KioskRouteOptions } from './routes/kiosk';
import { errorHandler, notFound } from './errors';

export type AppOptions = KioskRouteOptions & { defaultTerminalId?: string };

/** The page's static files sit beside the sources (api/public), also when running from dist/. */
function publicDir(): string {
  const candidates = [path.join(__dirname, 'public'), path.resolve(__dirname, '../../api/public')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'kiosk.html'))) ?? candidates[0];
}

export function createApp(opts: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));
  app.get('/api/health', (_req, res) => res.json({ ok: true }));
  app.use('/api', catalogueRoutes(opts.db));
  app.use('/api', kioskRoutes(opts));
  const dir = publicDir();
  app.use('/static', express.static(dir, { index: false }));
  app.get('/kiosk/:terminalId', (_req, res) => res.sendFile(path.join(dir, 'kiosk.html')));
  app.get('/', (_req, res) => res.redirect(`/kiosk/${opts.defaultTerminalId ?? 'T-001'}`));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
