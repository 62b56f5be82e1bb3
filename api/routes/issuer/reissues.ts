/**
 * Reissue of a lost or stolen card by its issuer: `POST /issuer/cards/:cardId/reissue` revokes the
 * card if it is not revoked yet (the `revocation` workflow, as `POST …/revocations` does) and opens
 * a reissue with a pickup code for the holder, who collects an identical card at a kiosk
 * (activities/center/reissues.ts). Only the code's hash is stored, so the code is in the answer
 * that made it; a repeated request answers the same reissue without a code, and `newCode: true`
 * replaces the code while the card has not been collected (the earlier code stops working).
 * A card of another issuer answers 404 like a card that does not exist.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { isUniqueViolation, type Db } from '../../../lib/db';
import { hashPickupCode, newPickupCode } from '../../../lib/pickup-code';
import { feeRuleAt } from '../../../activities/center/fee-rules';
import { formatPickupCode, REISSUE_STATUSES } from '../../../domain/reissue';
import { REVOCATION_REASONS, type RevocationInput } from '../../../domain/revocation';
import { awaitRevocationRow, startRevocationWorkflow } from '../../revocation-workflow';
import { ApiError } from '../../errors';
import { issuerCard, isoTime, notFound } from './common';
import { route, type AnyRoute } from './route-def';

export interface ReissueRouteDeps {
  temporal: Client;
  centerTaskQueue: string;
  /** How long the answer waits for the card to be marked revoked. */
  waitMs?: number;
}

const Reissue = z
  .object({
    cardId: z.string().describe('the card being replaced (revoked)'),
    status: z.enum(REISSUE_STATUSES).describe('pending: waiting to be collected; claimed: a kiosk is making it; completed: handed out'),
    pickupCode: z.string().nullable().describe('only in the answer that made it: give it to the card holder'),
    reason: z.enum(REVOCATION_REASONS),
    feeMinor: z.number().int().describe('what the holder pays at the kiosk (your fee rule\'s reissue fee; 0 when waived)'),
    feeWaived: z.boolean(),
    revoked: z.boolean().describe('whether verification already refuses the old card'),
    newCardId: z.string().nullable().describe('the replacement card, once handed out'),
    requestId: z.string(),
    createdAt: z.string(),
    completedAt: z.string().nullable(),
  })
  .meta({ id: 'Reissue' });

const ReissueCreate = z
  .object({
    reason: z.enum(REVOCATION_REASONS),
    requestId: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 letters, digits or ._:-'),
    waiveFee: z.boolean().optional().describe('the holder pays no reissue fee'),
    newCode: z.boolean().optional().describe('replace the pickup code of a reissue not yet collected (the earlier code stops working)'),
  })
  .strict()
  .meta({ id: 'ReissueCreate' });

const cardParams = z.object({ cardId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be a card id') }).strict();

type ReissueRow = { original_card_id: string; status: string; reason: string; fee_minor: number | string; fee_waived: number | boolean; new_card_id: string | null; request_id: string; created_at_ms: number | string; completed_at_ms: number | string | null };

export function reissueRouteDefs(db: Db, deps?: ReissueRouteDeps): AnyRoute[] {
  const reissueOf = (cardId: string): Promise<ReissueRow | undefined> => db('card_reissues').where({ original_card_id: cardId }).first();
  const isRevoked = async (cardId: string) => Boolean(await db('card_revocations').where({ card_id: cardId }).first('card_id'));
  const dto = async (r: ReissueRow, pickupCode: string | null = null) => ({
    cardId: r.original_card_id,
    status: r.status as (typeof REISSUE_STATUSES)[number],
    pickupCode,
    reason: r.reason as RevocationInput['reason'],
    feeMinor: Number(r.fee_minor),
    feeWaived: Boolean(r.fee_waived),
    revoked: await isRevoked(r.original_card_id),
    newCardId: r.new_card_id,
    requestId: r.request_id,
    createdAt: isoTime(r.created_at_ms)!,
    completedAt: isoTime(r.completed_at_ms),
  });

  return [
    route({
      method: 'post',
      path: '/issuer/cards/:cardId/reissue',
      operationId: 'reissueCard',
      summary: 'Reissue one of your cards (lost, stolen…): it is revoked, and the holder collects an identical card at a kiosk with the pickup code',
      description:
        'Revokes the card if it is not revoked yet (verification refuses it from then on; a `card.revoked` event follows), then opens a reissue: the replacement has the same content and validity, a new card id, and costs the holder your fee rule\'s reissue fee unless `waiveFee`. The pickup code is only in the answer that made it; a repeat answers the same reissue without a code. A signed `card.reissued` event follows once the holder has the new card.',
      tag: 'Cards',
      auth: 'issuer',
      params: cardParams,
      body: ReissueCreate,
      errors: [409, 503],
      responses: {
        200: { description: 'The card already has this reissue (nothing changed), or a new pickup code when newCode was asked', schema: Reissue },
        201: { description: 'Reissue opened: the pickup code', schema: Reissue },
      },
      async handler({ params, body, issuer }) {
        const card = await issuerCard(db, params.cardId, issuer.issuerId);
        if (!card) throw notFound('card', params.cardId);
        const existing = await reissueOf(card.id);
        if (existing) {
          if (!body.newCode) return { status: 200, json: await dto(existing) };
          if (existing.status !== 'pending') throw new ApiError(409, existing.status === 'completed' ? 'reissue_completed' : 'reissue_in_progress', existing.status === 'completed' ? `The replacement for card ${card.id} has been collected.` : `The replacement for card ${card.id} is being made at a kiosk right now.`);
          const code = newPickupCode();
          const n = await db('card_reissues').where({ original_card_id: card.id, status: 'pending' }).update({ pickup_code_hash: hashPickupCode(code), updated_at_ms: Date.now() });
          if (n !== 1) throw new ApiError(409, 'reissue_in_progress', `The replacement for card ${card.id} is being made at a kiosk right now.`);
          return { status: 200, json: await dto((await reissueOf(card.id))!, formatPickupCode(code)) };
        }
        if (card.status !== 'issued') throw new ApiError(409, 'card_not_issued', `Card ${card.id} was never issued (it is ${card.status}); only issued cards can be reissued.`);
        if (!deps) throw new ApiError(503, 'reissue_unavailable', 'Reissue is not available on this server (no workflow engine).');
        // Revoked first: a failure here (no workflow engine) leaves nothing behind, so a retry gets its code.
        await revokeUnlessRevoked(card.id, body.reason, body.requestId, issuer);
        const now = Date.now();
        const rule = await feeRuleAt(db, issuer.issuerId, card.product_type, now);
        const code = newPickupCode();
        try {
          await db('card_reissues').insert({
            original_card_id: card.id,
            original_issuance_id: card.issuance_id,
            issuer_id: issuer.issuerId,
            status: 'pending',
            pickup_code_hash: hashPickupCode(code),
            fee_minor: body.waiveFee ? 0 : (rule?.reissueFeeMinor ?? 0),
            fee_waived: Boolean(body.waiveFee),
            reason: body.reason,
            requested_by_kind: 'issuer',
            requested_by_id: issuer.keyId,
            request_id: body.requestId,
            created_at_ms: now,
            updated_at_ms: now,
          });
        } catch (err) {
          // A concurrent request opened it first: that one stands.
          if (!isUniqueViolation(err)) throw err;
          return { status: 200, json: await dto((await reissueOf(card.id))!) };
        }
        return { status: 201, json: await dto((await reissueOf(card.id))!, formatPickupCode(code)) };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/cards/:cardId/reissue',
      operationId: 'getCardReissue',
      summary: 'The reissue of one of your cards (404 when it has none); never the pickup code',
      tag: 'Cards',
      auth: 'issuer',
      params: cardParams,
      responses: { 200: { description: 'The reissue', schema: Reissue } },
      async handler({ params, issuer }) {
        const card = await issuerCard(db, params.cardId, issuer.issuerId);
        if (!card) throw notFound('card', params.cardId);
        const row = await reissueOf(card.id);
        if (!row) throw new ApiError(404, 'not_reissued', `Card ${card.id} has no reissue.`);
        return { json: await dto(row) };
      },
    }),
  ];

  /**
   * The same revocation workflow as POST …/revocations (one per card, a repeat finds it), then a
   * short wait for it to commit; a kiosk refuses to make the replacement until it has.
   */
  async function revokeUnlessRevoked(cardId: string, reason: RevocationInput['reason'], requestId: string, issuer: { issuerId: string; keyId: string }): Promise<void> {
    if (await isRevoked(cardId)) return;
    const input: RevocationInput = { cardId, reason, requestedBy: { kind: 'issuer', id: issuer.issuerId, keyId: issuer.keyId }, requestId };
    await startRevocationWorkflow(deps!, input, issuer.issuerId, 'for a reissue');
    await awaitRevocationRow(async () => ((await isRevoked(cardId)) ? true : undefined), deps!.waitMs);
  }
}
