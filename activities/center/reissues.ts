/**
 * The reissue as the item of a kiosk issuance (docs/issuance.md, "Reissue"). The issuer API opens
 * a reissue (a card_reissues row holding the pickup code's hash); the holder's issuance then moves
 * it on, each step a conditional update inside the issuance's own transactions:
 *
 *   pending ──holdItem (code)──▶ claimed by this issuance ──recordSale──▶ completed (new card linked)
 *      ▲                               │
 *      └──── releaseHold (cancelled, expired, refunded) ◀──┘
 *
 * One issuance claims a reissue at a time, so two kiosks entering the same code make one card:
 * the second is told the card is being collected elsewhere. The item is the revoked card's
 * content (same seat — it stays sold to the original issuance —, same pass, same prepaid value);
 * the price is 0 and the customer's fee is the reissue fee the issuer's fee rule set (or 0).
 */
import type { Knex } from 'knex';
import type { HeldItem } from '../../domain/issuance';
import { formatMoney } from '../../domain/money';
import { reissuedEventId, type StoredReissueSelection } from '../../domain/reissue';
import { refuse } from './errors';
import { issuedContent } from './issued-items';

export type ReissueItem = Omit<HeldItem, 'quote' | 'selection'> & { priceMinor: number; customerFeeMinor: number; currency: string; stored: StoredReissueSelection };

/** The reissue a pickup code opens, as an item the kiosk can confirm; refuses codes that cannot be collected now. */
export async function findReissueItem(trx: Knex, issuanceId: string, pickupCodeHash: string): Promise<ReissueItem> {
  const r = await trx('card_reissues as r')
    .join('issuances as i', 'i.id', 'r.original_issuance_id')
    .join('products as p', 'p.id', 'i.product_id')
    .join('issuers as s', 's.id', 'i.issuer_id')
    .leftJoin('card_revocations as v', 'v.card_id', 'r.original_card_id')
    .where('r.pickup_code_hash', pickupCodeHash)
    .first('r.original_card_id', 'r.status', 'r.claim_issuance_id', 'r.fee_minor', 'v.card_id as revoked', 'i.issuer_id', 's.name as issuer_name', 'i.product_id', 'i.product_type', 'i.title', 'i.selection', 'i.currency', 'p.face_image_id');
  if (!r) throw refuse('UnknownItem', 'This pickup code is not valid. Please check it and try again.');
  if (r.status === 'completed') throw refuse('ItemUnavailable', 'This replacement card has already been collected.');
  if (r.status === 'claimed' && r.claim_issuance_id !== issuanceId) throw refuse('ItemUnavailable', 'This replacement card is being collected at another kiosk right now.');
  if (!r.revoked) throw refuse('ItemUnavailable', 'The card to be replaced is still being revoked. Please try again in a moment.');
  const content = await issuedContent(trx, r.selection);
  if (!content) throw refuse('InvariantBroken', `the item of card ${r.original_card_id} is gone`);
  const lines = [r.title];
  if (content.kind === 'seat') {
    lines.push(`${content.performance.venue}, ${content.performance.startsAt.replace('T', ' ').slice(0, 16)}`, `${content.seat.section} row ${content.seat.row}, seat ${content.seat.number} (${content.seatClass.name})`);
  } else if (content.kind === 'fare') {
    lines.push(`${content.route.origin} ⇄ ${content.route.destination}`, `${content.months} month${content.months > 1 ? 's' : ''}`);
  } else {
    lines.push(`Value ${formatMoney(content.valueMinor, r.currency)}`);
  }
  lines.push(`Replacement for card ${r.original_card_id}`);
  return {
    issuerId: r.issuer_id,
    issuerName: r.issuer_name,
    productId: Number(r.product_id),
    productType: r.product_type,
    title: r.title,
    lines,
    faceImage: r.face_image_id ? `/api/images/${r.face_image_id}` : null,
    priceMinor: 0,
    customerFeeMinor: Number(r.fee_minor),
    currency: r.currency,
    stored: { kind: 'reissue', originalCardId: r.original_card_id },
  };
}

/** Claims the reissue for this issuance (after its row exists); a repeat by the same issuance is a no-op. */
export async function claimReissue(trx: Knex, issuanceId: string, originalCardId: string, at: number): Promise<void> {
  const n = await trx('card_reissues')
    .where({ original_card_id: originalCardId })
    .andWhere((w) => w.where('status', 'pending').orWhere((o) => o.where('status', 'claimed').andWhere('claim_issuance_id', issuanceId)))
    .update({ status: 'claimed', claim_issuance_id: issuanceId, updated_at_ms: at });
  if (n !== 1) throw refuse('ItemUnavailable', 'This replacement card is being collected at another kiosk right now.');
}

/** The issuance ended without a card (or picked something else): its reissue can be collected again. */
export async function releaseReissueClaim(trx: Knex, issuanceId: string, at: number, exceptOriginalCardId?: string): Promise<number> {
  // A plain read first, then updates by primary key: an UPDATE on a claim that does not exist would
  // take a gap lock in MySQL and deadlock against another kiosk claiming the same reissue.
  const held: string[] = (await trx('card_reissues').where({ claim_issuance_id: issuanceId, status: 'claimed' }).pluck('original_card_id')).filter((id: string) => id !== exceptOriginalCardId);
  if (held.length === 0) return 0;
  return trx('card_reissues').whereIn('original_card_id', held).where({ claim_issuance_id: issuanceId, status: 'claimed' }).update({ status: 'pending', claim_issuance_id: null, updated_at_ms: at });
}

/** The replacement was handed out and its sale recorded: the reissue names its new card (linked both ways). */
export async function completeReissue(trx: Knex, issuanceId: string, originalCardId: string, newCardId: string, at: number): Promise<void> {
  await trx('card_reissues').where({ original_card_id: originalCardId, claim_issuance_id: issuanceId, status: 'claimed' }).update({ status: 'completed', new_card_id: newCardId, completed_at_ms: at, updated_at_ms: at });
  const row = await trx('card_reissues').where({ original_card_id: originalCardId }).first('status', 'new_card_id');
  if (row?.status !== 'completed' || row.new_card_id !== newCardId) throw refuse('InvariantBroken', `the reissue of ${originalCardId} is not claimed by ${issuanceId}; refusing to record the sale`);
}

/** The signed event the issuer gets for a collected replacement (instead of a sale.recorded). */
export async function reissuedEvent(db: Knex, issuanceId: string, sale: Record<string, unknown>, createdAtMs: number): Promise<{ eventId: string; type: string; payload: string }> {
  const r = await db('card_reissues').where({ claim_issuance_id: issuanceId }).first();
  if (!r || r.status !== 'completed') throw refuse('InvariantBroken', `no completed reissue for ${issuanceId}`);
  const eventId = reissuedEventId(issuanceId);
  const payload = JSON.stringify({
    id: eventId,
    type: 'card.reissued',
    created: Math.floor(createdAtMs / 1000),
    data: {
      originalCardId: r.original_card_id,
      cardId: r.new_card_id,
      originalIssuanceId: r.original_issuance_id,
      issuanceId,
      terminalId: sale.terminal_id,
      productId: Number(sale.product_id),
      productType: sale.product_type,
      reissueFeeMinor: Number(r.fee_minor),
      feeWaived: Boolean(r.fee_waived),
      currency: sale.currency,
      requestedBy: { kind: r.requested_by_kind, apiKeyId: r.requested_by_id },
      requestId: r.request_id,
      reissuedAt: new Date(Number(r.completed_at_ms)).toISOString(),
    },
  });
  return { eventId, type: 'card.reissued', payload };
}

/** A card's reissue links, both ways: the card it replaces, and the card that replaced it. */
export async function cardLinks(db: Knex, cardId: string): Promise<{ replacementFor: string | null; replacedBy: string | null }> {
  const rows = await db('card_reissues').where({ new_card_id: cardId }).orWhere((w) => w.where({ original_card_id: cardId, status: 'completed' })).select('original_card_id', 'new_card_id');
  return {
    replacementFor: rows.find((r) => r.new_card_id === cardId)?.original_card_id ?? null,
    replacedBy: rows.find((r) => r.original_card_id === cardId)?.new_card_id ?? null,
  };
}
