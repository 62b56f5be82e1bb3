/**
 * Telling the issuer about a sale: the event is first stored with a stable id (one per issuance
 * and type), then POSTed signed to the issuer's endpoint. A failure throws, and Temporal retries
 * with backoff until the issuer acknowledges with a 2xx; the receiver dedupes on the event id.
 * The collection of a replacement card (a reissue issuance) is told as card.reissued instead.
 */
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signPayload } from '../../lib/webhook-signature';
import { isUniqueViolation } from '../../lib/db';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { reissuedEvent } from './reissues';

export function saleEventId(issuanceId: string): string {
  return `evt-sale-${issuanceId}`;
}

export function createNotificationActivities({ db, now = Date.now, fetch: httpFetch = fetch, notifyTimeoutMs = 10_000 }: CenterDeps) {
  async function ensureSaleEvent(issuanceId: string) {
    const eventId = saleEventId(issuanceId);
    const existing = await db('issuer_notifications').where({ issuance_id: issuanceId }).whereIn('type', ['sale.recorded', 'card.reissued']).first();
    if (existing) return existing;
    const sale = await db('sales as s').join('issuances as i', 'i.id', 's.issuance_id').where('s.issuance_id', issuanceId).first('s.*', 'i.terminal_id', 'i.title', 'i.selection', 'i.product_type');
    if (!sale) throw refuse('InvariantBroken', `no sale recorded for ${issuanceId}`);
    if (JSON.parse(sale.selection).kind === 'reissue') return ensureEvent(sale, await reissuedEvent(db, issuanceId, sale, now()));
    const payload = JSON.stringify({
      id: eventId,
      type: 'sale.recorded',
      created: Math.floor(now() / 1000),
      data: {
        issuanceId,
        cardId: sale.card_id,
        terminalId: sale.terminal_id,
        productId: Number(sale.product_id),
        productType: sale.product_type,
        title: sale.title,
        selection: JSON.parse(sale.selection),
        priceMinor: Number(sale.price_minor),
        operatorFeeMinor: Number(sale.operator_fee_minor),
        issuerNetMinor: Number(sale.issuer_net_minor),
        currency: sale.currency,
        soldAt: new Date(Number(sale.sold_at_ms)).toISOString(),
      },
    });
    return ensureEvent(sale, { eventId, type: 'sale.recorded', payload });
  }

  /** Stores the event once (a retry finds the first) and returns its row. */
  async function ensureEvent(sale: { issuer_id: string; issuance_id: string }, event: { eventId: string; type: string; payload: string }) {
    try {
      await db('issuer_notifications').insert({ event_id: event.eventId, issuer_id: sale.issuer_id, issuance_id: sale.issuance_id, type: event.type, payload: event.payload, status: 'pending', attempts: 0, created_at_ms: now() });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    return db('issuer_notifications').where({ event_id: event.eventId }).first();
  }

  return {
    async notifyIssuer(issuanceId: string): Promise<{ eventId: string; attempts: number }> {
      return deliverIssuerEvent({ db, now, fetch: httpFetch, notifyTimeoutMs }, await ensureSaleEvent(issuanceId));
    },
  };
}

/**
 * Sends one stored event (a row of issuer_notifications) signed to its issuer, once per call;
 * shared by every event type (sale.recorded, card.revoked). Delivered events are not resent.
 */
export async function deliverIssuerEvent(
  { db, now = Date.now, fetch: httpFetch = fetch, notifyTimeoutMs = 10_000 }: CenterDeps,
  event: { event_id: string; issuer_id: string; payload: string; status: string; attempts: number | string },
): Promise<{ eventId: string; attempts: number }> {
  if (event.status === 'delivered') return { eventId: event.event_id, attempts: Number(event.attempts) };
  const issuer = await db('issuers').where({ id: event.issuer_id }).first('notify_url', 'webhook_secret');
  if (!issuer?.notify_url) {
    // Nowhere to send: keep it pending for the operator rather than fail the caller.
    return { eventId: event.event_id, attempts: Number(event.attempts) };
  }
  const signature = signPayload(issuer.webhook_secret, event.payload, Math.floor(now() / 1000));
  await db('issuer_notifications').where({ event_id: event.event_id }).increment('attempts', 1);
  let failure: string | null = null;
  try {
    const res = await httpFetch(issuer.notify_url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, [EVENT_ID_HEADER]: event.event_id },
      body: event.payload,
      signal: AbortSignal.timeout(notifyTimeoutMs),
    });
    if (!res.ok) failure = `issuer answered HTTP ${res.status}`;
  } catch (err) {
    failure = `could not reach issuer: ${(err as Error).message}`;
  }
  if (failure) {
    await db('issuer_notifications').where({ event_id: event.event_id }).update({ last_error: failure.slice(0, 500) });
    throw new Error(failure); // retryable: Temporal backs off and tries again
  }
  await db('issuer_notifications').where({ event_id: event.event_id }).update({ status: 'delivered', delivered_at_ms: now(), last_error: null });
  return { eventId: event.event_id, attempts: Number(event.attempts) + 1 };
}
