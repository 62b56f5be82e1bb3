/**
 * A demo issuer's server: receives sales notifications, checks their signature, and
 * acknowledges each event once (a repeated event id is acknowledged again but not counted twice).
 * GET /events lists what it accepted, so a person or a test can see what the issuer learnt.
 *
 * POST /activate answers the center's activation requests for stock prepaid cards (signed like
 * the notifications): approved with a reference, the same reference for a repeated request id.
 * `activation.answer` makes it deny, or stay silent past the center's deadline (tests, demos).
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

export interface Activation {
  requestId: string;
  cardId: string;
  issuanceId: string;
  activationRef: string;
  requests: number;
}

export interface DemoIssuerServer {
  url: string;
  activationUrl: string;
  activations: Map<string, Activation>;
  /** How the next activation requests are answered; delayMs holds the answer back. */
  activation: { answer: 'approve' | 'deny'; delayMs: number };
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
  const activations = new Map<string, Activation>();
  const activation: DemoIssuerServer['activation'] = { answer: 'approve', delayMs: 0 };
  app.post('/activate', express.text({ type: '*/*', limit: '64kb' }), async (req, res) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const check = verifySignature(secret, raw, req.header(SIGNATURE_HEADER), Math.floor(Date.now() / 1000));
    if (!check.ok) {
      rejected.push({ reason: `activation: ${check.reason}`, at: new Date().toISOString() });
      res.status(401).json({ error: check.reason });
      return;
    }
    const body = JSON.parse(raw) as { id: string; data: { cardId: string; issuanceId: string } };
    if (activation.delayMs > 0) await new Promise((r) => setTimeout(r, activation.delayMs));
    if (activation.answer === 'deny') {
      res.json({ approved: false, reason: 'card reported stolen from stock' });
      return;
    }
    const seen = activations.get(body.id);
    if (seen) seen.requests += 1;
    else activations.set(body.id, { requestId: body.id, cardId: body.data.cardId, issuanceId: body.data.issuanceId, activationRef: `ACT-${activations.size + 1}-${body.data.cardId}`, requests: 1 });
    res.json({ approved: true, activationRef: activations.get(body.id)!.activationRef });
  });
  app.get('/events', (_req, res) => res.json({ events: [...events.values()], rejected }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://${host}:${address.port}/webhooks/sales`,
    activationUrl: `http://${host}:${address.port}/activate`,
    activations,
    activation,
    events,
    rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
