/**
 * Revoking an issued card: one row in card_revocations (its primary key makes a repeat a no-op),
 * then a signed card.revoked event to the issuer, stored first with a stable id so retries and
 * repeats send the same event the issuer dedupes on.
 */
import { revocationEventId, type RevocationInput, type RevocationRequester } from '../../domain/revocation';
import { isUniqueViolation } from '../../lib/db';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { deliverIssuerEvent } from './notifications';

export function createRevocationActivities(deps: CenterDeps) {
  const { db, now = Date.now } = deps;

  async function ensureRevokedEvent(cardId: string) {
    const eventId = revocationEventId(cardId);
    const existing = await db('issuer_notifications').where({ event_id: eventId }).first();
    if (existing) return existing;
    const r = await db('card_revocations as r').join('cards as c', 'c.id', 'r.card_id').join('issuances as i', 'i.id', 'c.issuance_id').where('r.card_id', cardId).first('r.*', 'c.issuance_id', 'i.product_type', 'i.product_id');
    if (!r) throw refuse('InvariantBroken', `card ${cardId} has no revocation to notify`);
    const payload = JSON.stringify({
      id: eventId,
      type: 'card.revoked',
      created: Math.floor(now() / 1000),
      data: {
        cardId,
        issuanceId: r.issuance_id,
        productId: Number(r.product_id),
        productType: r.product_type,
        reason: r.reason,
        requestedBy: r.requested_by_kind === 'owner' ? { kind: 'owner', userId: r.requested_by_id } : { kind: r.requested_by_kind, apiKeyId: r.requested_by_id },
        requestId: r.request_id,
        revokedAt: new Date(Number(r.revoked_at_ms)).toISOString(),
      },
    });
    try {
      await db('issuer_notifications').insert({ event_id: eventId, issuer_id: r.issuer_id, issuance_id: r.issuance_id, type: 'card.revoked', payload, status: 'pending', attempts: 0, created_at_ms: now() });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    return db('issuer_notifications').where({ event_id: eventId }).first();
  }

  return {
    /** Marks the card revoked; verification refuses it from the moment this commits. */
    async revokeCard(input: RevocationInput, workflowId: string): Promise<{ revokedAtMs: number; alreadyRevoked: boolean }> {
      const card = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', input.cardId).first('c.id', 'i.issuer_id', 'i.user_id');
      // The API checked ownership before starting; checked again so no other path can revoke another issuer's (or owner's) card.
      if (!card || !ownsCard(card, input.requestedBy)) throw refuse('UnknownItem', `There is no card ${input.cardId} of this ${input.requestedBy.kind === 'owner' ? 'user' : 'issuer'}.`);
      const existing = await db('card_revocations').where({ card_id: input.cardId }).first('revoked_at_ms');
      if (existing) return { revokedAtMs: Number(existing.revoked_at_ms), alreadyRevoked: true };
      const revokedAtMs = now();
      try {
        await db('card_revocations').insert({
          card_id: input.cardId,
          issuer_id: card.issuer_id,
          reason: input.reason,
          requested_by_kind: input.requestedBy.kind,
          requested_by_id: input.requestedBy.kind === 'issuer' ? input.requestedBy.keyId : input.requestedBy.id,
          request_id: input.requestId,
          workflow_id: workflowId,
          revoked_at_ms: revokedAtMs,
        });
        return { revokedAtMs, alreadyRevoked: false };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const row = await db('card_revocations').where({ card_id: input.cardId }).first('revoked_at_ms');
        return { revokedAtMs: Number(row.revoked_at_ms), alreadyRevoked: true };
      }
    },

    async notifyCardRevoked(cardId: string): Promise<{ eventId: string; attempts: number }> {
      return deliverIssuerEvent(deps, await ensureRevokedEvent(cardId));
    },
  };
}

/** An issuer revokes only its own cards; an owner only the cards bought under their user ID. */
function ownsCard(card: { issuer_id: string; user_id: string | null }, by: RevocationRequester): boolean {
  if (by.kind === 'issuer') return card.issuer_id === by.id;
  if (by.kind === 'owner') return card.user_id !== null && card.user_id === by.id;
  return false;
}
