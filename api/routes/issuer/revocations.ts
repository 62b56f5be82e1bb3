/**
 * Revocation of an issued card by its issuer (lost, stolen, fraud, issuer request).
 *
 * Starts the `revocation` workflow (workflows/revocation.ts) with ID `revocation-<cardId>`:
 * a repeated request while one runs finds the running one, and a card already revoked answers
 * its existing revocation without starting anything. The answer waits briefly for the card to be
 * marked revoked (verification refuses it from then on); the issuer's card.revoked event follows.
 * A card of another issuer answers 404 like a card that does not exist.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Db } from '../../../lib/db';
import { REVOCATION_REASONS, type RevocationInput } from '../../../domain/revocation';
import { awaitRevocationRow, startRevocationWorkflow } from '../../revocation-workflow';
import { ApiError } from '../../errors';
import { issuerCard, isoTime, notFound } from './common';
import { route, type AnyRoute } from './route-def';

export interface RevocationRouteDeps {
  temporal: Client;
  centerTaskQueue: string;
  /** How long the answer waits for the card to be marked revoked before answering 202. */
  waitMs?: number;
}

const Revocation = z
  .object({
    cardId: z.string(),
    status: z.enum(['revoked', 'pending']).describe('revoked: verification refuses the card; pending: the workflow has not marked it yet'),
    reason: z.enum(REVOCATION_REASONS),
    requestedBy: z
      .discriminatedUnion('kind', [z.object({ kind: z.literal('issuer'), apiKeyId: z.string() }), z.object({ kind: z.literal('owner'), userId: z.string() })])
      .describe('issuer: your API key that asked; owner: the registered user who reported the card at a kiosk'),
    requestId: z.string(),
    revokedAt: z.string().nullable(),
    workflowId: z.string(),
    alreadyRevoked: z.boolean().describe('true when the card had been revoked before this request (the first request\'s reason stands)'),
  })
  .meta({ id: 'Revocation' });

const RevocationCreate = z
  .object({
    reason: z.enum(REVOCATION_REASONS),
    requestId: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 letters, digits or ._:-'),
  })
  .strict()
  .meta({ id: 'RevocationCreate' });

const cardParams = z.object({ cardId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be a card id') }).strict();

type RevocationRow = { card_id: string; reason: string; requested_by_kind: string; requested_by_id: string; request_id: string; revoked_at_ms: number | string; workflow_id: string };

const dto = (r: RevocationRow, alreadyRevoked: boolean) => ({
  cardId: r.card_id,
  status: 'revoked' as const,
  reason: r.reason as RevocationInput['reason'],
  requestedBy: r.requested_by_kind === 'owner' ? { kind: 'owner' as const, userId: r.requested_by_id } : { kind: 'issuer' as const, apiKeyId: r.requested_by_id },
  requestId: r.request_id,
  revokedAt: isoTime(r.revoked_at_ms),
  workflowId: r.workflow_id,
  alreadyRevoked,
});

export function revocationRouteDefs(db: Db, deps?: RevocationRouteDeps): AnyRoute[] {
  const revocationOf = (cardId: string): Promise<RevocationRow | undefined> => db('card_revocations').where({ card_id: cardId }).first();
  return [
    route({
      method: 'post',
      path: '/issuer/cards/:cardId/revocations',
      operationId: 'revokeCard',
      summary: 'Revoke one of your issued cards (lost, stolen, fraud, issuer request); repeating it is harmless',
      description: 'Verification refuses the card as soon as the answer says `revoked`; a signed `card.revoked` event follows to your notification endpoint.',
      tag: 'Cards',
      auth: 'issuer',
      params: cardParams,
      body: RevocationCreate,
      errors: [409, 503],
      responses: {
        200: { description: 'The card was already revoked: its revocation', schema: Revocation },
        201: { description: 'Revoked now', schema: Revocation },
        202: { description: 'Accepted: the workflow runs and will mark the card revoked shortly', schema: Revocation },
      },
      async handler({ params, body, issuer }) {
        const card = await issuerCard(db, params.cardId, issuer.issuerId);
        if (!card) throw notFound('card', params.cardId);
        const existing = await revocationOf(card.id);
        if (existing) return { status: 200, json: dto(existing, true) };
        if (card.status !== 'issued') throw new ApiError(409, 'card_not_issued', `Card ${card.id} was never issued (it is ${card.status}); only issued cards can be revoked.`);
        if (!deps) throw new ApiError(503, 'revocation_unavailable', 'Revocation is not available on this server (no workflow engine).');
        const input: RevocationInput = { cardId: card.id, reason: body.reason, requestedBy: { kind: 'issuer', id: issuer.issuerId, keyId: issuer.keyId }, requestId: body.requestId };
        const workflowId = await startRevocationWorkflow(deps, input, issuer.issuerId);
        const row = await awaitRevocationRow(() => revocationOf(card.id), deps.waitMs);
        // Revoked by this workflow run (or a concurrent request's run: the first reason stands).
        if (row) return { status: row.request_id === body.requestId ? 201 : 200, json: dto(row, row.request_id !== body.requestId) };
        return {
          status: 202,
          json: { cardId: card.id, status: 'pending', reason: body.reason, requestedBy: { kind: 'issuer', apiKeyId: issuer.keyId }, requestId: body.requestId, revokedAt: null, workflowId, alreadyRevoked: false },
        };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/cards/:cardId/revocation',
      operationId: 'getCardRevocation',
      summary: 'The revocation of one of your cards (404 when it is not revoked)',
      tag: 'Cards',
      auth: 'issuer',
      params: cardParams,
      responses: { 200: { description: 'The revocation', schema: Revocation } },
      async handler({ params, issuer }) {
        const card = await issuerCard(db, params.cardId, issuer.issuerId);
        if (!card) throw notFound('card', params.cardId);
        const row = await revocationOf(card.id);
        if (!row) throw new ApiError(404, 'not_revoked', `Card ${card.id} is not revoked.`);
        return { json: dto(row, false) };
      },
    }),
  ];
}
