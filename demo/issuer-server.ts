/**
 * A demo issuer's server: receives sales notifications, checks their signature, and
 * acknowledges each event once (a repeated event id is acknowledged again but not counted twice).
 * GET /events lists what it accepted, so a person or a test can see what the issuer learnt.
 */
import http from 'node:http';
import express from 'express';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifySignature } from '../lib/webhook-signature';

export interface ReceivedEvent {
  eventId: string;
  type: string;
  receivedAt: string;
  deliveries: number;
  payload: unknown;
}

export interface DemoIssuerServer {
  url: string;
  events: Map<string, ReceivedEvent>;
  rejected: Array<{ reason: string; at: string }>;
  close(): Promise<void>;
}

export async function startDemoIssuerServer(secret: string, port = 0, host = '127.0.0.1'): Promise<DemoIssuerServer> {
  const events = new Map<string, ReceivedEvent>();
  const rejected: DemoIssuerServer['rejected'] = [];
  const app = express();
  app.post('/webhooks/sales', express.text({ type: '*/*', limit: '1mb' }), (req, res) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const check = verifySignature(secret, raw, req.header(SIGNATURE_HEADER), Math.floor(Date.now() / 1000));
    if (!check.ok) {
      rejected.push({ reason: check.reason, at: new Date().toISOString() });
      res.status(401).json({ error: check.reason });
      return;
    }
    const body = JSON.parse(raw);
    const eventId = String(req.header(EVENT_ID_HEADER) ?? body.id);
    const seen = events.get(eventId);
    if (seen) seen.deliveries += 1;
    else events.set(eventId, { eventId, type: body.type, receivedAt: new Date().toISOString(), deliveries: 1, payload: body });
    res.json({ received: true, duplicate: Boolean(seen) });
  });
  app.get('/events', (_req, res) => res.json({ events: [...events.values()], rejected }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://${host}:${address.port}/webhooks/sales`,
    events,
    rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
