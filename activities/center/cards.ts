/**
 * Cards exist in the center before they exist physically: a blank card's chip UID is bound to the
 * issuance first (unique UID), then the chip is written with the record built here.
 */
import { randomBytes } from 'node:crypto';
import { encodeCardRecord, type CardRecord } from '../../domain/card-record';
import { isUniqueViolation } from '../../lib/db';
import type { CenterDeps } from './deps';
import { refuse } from './errors';

export function createCardActivities({ db, now = Date.now }: CenterDeps) {
  return {
    async bindCard(issuanceId: string, uid: string): Promise<{ cardId: string }> {
      const existing = await db('cards').where({ uid }).first('id', 'issuance_id', 'status');
      if (existing) {
        if (existing.issuance_id !== issuanceId) throw refuse('CardAlreadyBound', `Card UID ${uid} already belongs to another issuance; it goes to the reject bin.`);
        return { cardId: existing.id };
      }
      const cardId = `C${randomBytes(6).toString('hex').toUpperCase()}`;
      try {
        await db('cards').insert({ id: cardId, issuance_id: issuanceId, uid, status: 'bound', created_at_ms: now(), updated_at_ms: now() });
        return { cardId };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const row = await db('cards').where({ uid }).first('id', 'issuance_id');
        if (row?.issuance_id !== issuanceId) throw refuse('CardAlreadyBound', `Card UID ${uid} already belongs to another issuance.`);
        return { cardId: row.id };
      }
    },

    /** The bytes to write on the chip, base64 (workflow payloads carry JSON, not binary). */
    async prepareCardRecord(issuanceId: string, cardId: string): Promise<{ recordBase64: string }> {
      const card = await db('cards').where({ id: cardId, issuance_id: issuanceId }).first('created_at_ms');
      const iss = await db('issuances').where({ id: issuanceId }).first();
      if (!card || !iss) throw refuse('InvariantBroken', `card ${cardId} is not bound to ${issuanceId}`);
      const selection = JSON.parse(iss.selection);
      const record: CardRecord = {
        issuanceId,
        cardId,
        issuerId: iss.issuer_id,
        productType: iss.product_type,
        product: { productId: Number(iss.product_id), title: iss.title, ...selection },
        userId: null,
        issuedAt: new Date(Number(card.created_at_ms)).toISOString(),
      };
      return { recordBase64: Buffer.from(encodeCardRecord(record)).toString('base64') };
    },

    async setCardStatus(cardId: string, status: 'written' | 'issued' | 'spoiled', reason?: string): Promise<void> {
      // Forward-only: an issued or spoiled card never changes again.
      await db('cards')
        .where({ id: cardId })
        .whereNotIn('status', ['issued', 'spoiled'])
        .update({ status, spoil_reason: reason ?? null, updated_at_ms: now() });
    },
  };
}
