/**
 * The issuer's notifications and their delivery log, and its webhook settings.
 *
 * Each event (e.g. sale.recorded) has a stable id the issuer dedupes on, the exact body that was
 * signed, its status (pending until the issuer's server answered 2xx, then delivered) and one log
 * entry per attempt (migrations/006_issuer_api.ts: written by triggers, so every sender is logged).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../../../lib/db';
import { DEFAULT_TOLERANCE_SEC, EVENT_ID_HEADER, SIGNATURE_HEADER } from '../../../lib/webhook-signature';
import { ApiError } from '../../errors';
import { isoTime, logChange, n, notFound, pageLimit } from './common';
import { route, type AnyRoute } from './route-def';

const TAG = 'Notifications';

const Delivery = z
  .object({
    attempt: z.number().int(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    outcome: z.enum(['sending', 'delivered', 'failed']).describe('sending: no outcome recorded (in flight, or the sender stopped mid-attempt)'),
    httpStatus: z.number().int().nullable().describe('What your server answered, when it answered'),
    error: z.string().nullable(),
  })
  .meta({ id: 'Delivery' });
const Notification = z
  .object({
    eventId: z.string(),
    type: z.string(),
    issuanceId: z.string(),
    status: z.string().describe('pending (not yet acknowledged) or delivered'),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .meta({ id: 'Notification' });
const NotificationDetail = Notification.extend({
  payload: z.string().describe('The exact body that was signed and sent'),
  deliveries: z.array(Delivery),
}).meta({ id: 'NotificationDetail' });

const cursor = z.string().regex(/^[0-9]{1,15}:[A-Za-z0-9_.:-]{1,160}$/, 'is not a cursor from a previous page');
const ListQuery = z
  .object({
    status: z.enum(['pending', 'delivered']).optional(),
    type: z.string().regex(/^[a-z][a-z_.]{0,39}$/).optional(),
    limit: pageLimit.optional(),
    before: cursor.optional().describe('nextBefore of the previous page'),
  })
  .strict();

const Webhook = z
  .object({
    url: z.string().nullable().describe('Where your events are POSTed (set by the operator)'),
    signatureHeader: z.string(),
    eventIdHeader: z.string(),
    toleranceSeconds: z.number().int(),
  })
  .meta({ id: 'Webhook' });

const httpStatusOf = (error: string | null) => {
  const m = error ? /HTTP (\d{3})\b/.exec(error) : null;
  return m ? Number(m[1]) : null;
};

const notificationDto = (r: Record<string, unknown>) => ({
  eventId: String(r.event_id),
  type: String(r.type),
  issuanceId: String(r.issuance_id),
  status: String(r.status),
  attempts: n(r.attempts),
  lastError: (r.last_error as string | null) ?? null,
  createdAt: isoTime(r.created_at_ms as number)!,
  deliveredAt: isoTime(r.delivered_at_ms as number | null),
});

export function notificationRouteDefs(db: Db): AnyRoute[] {
  return [
    route({
      method: 'get',
      path: '/issuer/notifications',
      operationId: 'listNotifications',
      summary: 'Your events, newest first, with their delivery status',
      tag: TAG,
      auth: 'issuer',
      query: ListQuery,
      responses: { 200: { description: 'A page of events', schema: z.object({ notifications: z.array(Notification), nextBefore: z.string().nullable() }) } },
      async handler({ issuer, query }) {
        const limit = query.limit ?? 100;
        let q = db('issuer_notifications').where({ issuer_id: issuer.issuerId });
        if (query.status) q = q.where({ status: query.status });
        if (query.type) q = q.where({ type: query.type });
        if (query.before) {
          const i = query.before.indexOf(':');
          const at = Number(query.before.slice(0, i));
          const id = query.before.slice(i + 1);
          q = q.where((w) => w.where('created_at_ms', '<', at).orWhere((o) => o.where('created_at_ms', at).andWhere('event_id', '<', id)));
        }
        const rows = await q.orderBy([{ column: 'created_at_ms', order: 'desc' }, { column: 'event_id', order: 'desc' }]).limit(limit + 1).select('event_id', 'type', 'issuance_id', 'status', 'attempts', 'last_error', 'created_at_ms', 'delivered_at_ms');
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return { json: { notifications: page.map(notificationDto), nextBefore: rows.length > limit && last ? `${n(last.created_at_ms)}:${last.event_id}` : null } };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/notifications/:eventId',
      operationId: 'getNotification',
      summary: 'One event: the signed body and every delivery attempt',
      tag: TAG,
      auth: 'issuer',
      params: z.object({ eventId: z.string().regex(/^[A-Za-z0-9_.:-]{1,160}$/, 'is not an event id') }).strict(),
      responses: { 200: { description: 'The event', schema: NotificationDetail } },
      async handler({ issuer, params }) {
        const row = await db('issuer_notifications').where({ event_id: params.eventId, issuer_id: issuer.issuerId }).first();
        if (!row) throw notFound('event', params.eventId);
        const attempts = await db('issuer_notification_attempts').where({ event_id: row.event_id }).orderBy('attempt').select('attempt', 'started_at_ms', 'finished_at_ms', 'outcome', 'error');
        return {
          json: {
            ...notificationDto(row),
            payload: String(row.payload),
            deliveries: attempts.map((a) => ({ attempt: n(a.attempt), startedAt: isoTime(a.started_at_ms)!, finishedAt: isoTime(a.finished_at_ms), outcome: a.outcome, httpStatus: httpStatusOf(a.error), error: a.error ?? null })),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/webhook',
      operationId: 'getWebhook',
      summary: 'Where your events go and how they are signed',
      tag: TAG,
      auth: 'issuer',
      responses: { 200: { description: 'The webhook settings', schema: Webhook } },
      async handler({ issuer }) {
        const row = await db('issuers').where({ id: issuer.issuerId }).first('notify_url');
        return { json: { url: row?.notify_url ?? null, signatureHeader: SIGNATURE_HEADER, eventIdHeader: EVENT_ID_HEADER, toleranceSeconds: DEFAULT_TOLERANCE_SEC } };
      },
    }),
    route({
      method: 'post',
      path: '/issuer/webhook/secret',
      operationId: 'rotateWebhookSecret',
      summary: 'Replace your webhook signing secret; the new one is shown once',
      description: 'Events sent from now on are signed with the new secret; an event whose delivery failed is signed again with it on its next attempt.',
      tag: TAG,
      auth: 'issuer',
      responses: { 200: { description: 'The new secret', schema: z.object({ secret: z.string() }) } },
      async handler({ issuer }) {
        const secret = randomBytes(32).toString('hex');
        return db.transaction(async (trx) => {
          const changed = await trx('issuers').where({ id: issuer.issuerId }).update({ webhook_secret: secret });
          if (changed !== 1) throw new ApiError(404, 'not_found', 'Your issuer record is gone.');
          await logChange(trx, issuer, 'rotateWebhookSecret', 'issuer', issuer.issuerId);
          return { json: { secret } };
        });
      },
    }),
  ];
}
