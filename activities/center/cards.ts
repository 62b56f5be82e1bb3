/**
 * Cards exist in the center before they exist physically: a blank card's chip UID is bound to the
 * issuance first (unique UID), then the chip is written with the record built here.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { type CardRecord } from '../../domain/card-record';
import { commuterValidity, concertValidUntilMs, type Validity } from '../../domain/card-validity';
import type { Selection } from '../../domain/issuance';
import type { StoredSelection } from '../../domain/reissue';
import { initialValueArea } from '../../domain/value-slots';
import { cardSigningKeys, signCardRecord } from '../../lib/card-signing';
import { loadConfig } from '../../lib/config';
import { isUniqueViolation } from '../../lib/db';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { renewalValidity } from './holders';

export function createCardActivities({ db, now = Date.now, cardKeys }: CenterDeps) {
  const signingKeys = () => cardKeys ?? cardSigningKeys(process.env, loadConfig().DATA_DIR);
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

    /**
     * The bytes to write on the chip, base64 (workflow payloads carry JSON, not binary): a v2
     * record signed by the center (lib/card-signing.ts) with its value area initialised. The
     * card's validity window is stored on its row too, so the online check agrees with the chip.
     */
    async prepareCardRecord(issuanceId: string, cardId: string): Promise<{ recordBase64: string }> {
      const card = await db('cards').where({ id: cardId, issuance_id: issuanceId }).first('created_at_ms');
      const iss = await db('issuances').where({ id: issuanceId }).first();
      if (!card || !iss) throw refuse('InvariantBroken', `card ${cardId} is not bound to ${issuanceId}`);
      const issuedAtMs = Number(card.created_at_ms);
      const stored = JSON.parse(iss.selection) as StoredSelection;
      // A replacement card (domain/reissue.ts) carries the revoked card's item and validity window.
      const { selection, item, replaces } = stored.kind === 'reissue' ? await reissuedItem(db, stored.originalCardId) : { selection: stored, item: await cardItem(db, stored, issuedAtMs), replaces: {} };
      if (stored.kind !== 'reissue') item.validity = (await renewalValidity(db, iss, issuedAtMs)) ?? item.validity; // "renew my pass" continues the old one
      const record: CardRecord = {
        issuanceId,
        cardId,
        issuerId: iss.issuer_id,
        productType: iss.product_type,
        product: { productId: Number(iss.product_id), title: iss.title, ...selection, ...item.details, ...replaces },
        userId: iss.user_id ?? null,
        issuedAt: new Date(issuedAtMs).toISOString(),
        validFrom: new Date(item.validity.validFromMs).toISOString(),
        validUntil: item.validity.validUntilMs === null ? null : new Date(item.validity.validUntilMs).toISOString(),
      };
      await db('cards').where({ id: cardId }).update({ valid_from_ms: item.validity.validFromMs, valid_until_ms: item.validity.validUntilMs });
      // A prepaid replacement starts from the lost card's balance: the center records it for the new card too.
      if (stored.kind === 'reissue' && selection.kind === 'prepaid') {
        await db('card_balances').insert({ card_id: cardId, balance_minor: item.balanceMinor, updated_at_ms: issuedAtMs }).onConflict('card_id').merge(['balance_minor', 'updated_at_ms']);
      }
      const bytes = signCardRecord(signingKeys(), record, initialValueArea(item.balanceMinor));
      return { recordBase64: Buffer.from(bytes).toString('base64') };
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

interface CardItem {
  /** What the chip carries beyond the selection: the event, venue and seat; the route; the value. */
  details: Record<string, string | number>;
  validity: Validity;
  /** The value area's starting balance (a prepaid card's value; 0 otherwise). */
  balanceMinor: number;
}

/**
 * What a replacement card carries: the revoked card's item as the center recorded it (a prepaid
 * card's balance from the center's record, carriedBalance; the lost chip is not trusted), and the
 * revoked card's validity window (recomputed from its issue time if not stored).
 */
async function reissuedItem(db: Knex, originalCardId: string): Promise<{ selection: Selection; item: CardItem; replaces: { replacesCardId: string } }> {
  const original = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', originalCardId).first('c.created_at_ms', 'c.valid_from_ms', 'c.valid_until_ms', 'i.selection');
  if (!original) throw refuse('InvariantBroken', `card ${originalCardId} to be replaced is gone`);
  // A replacement of a replacement: the item is the first card's.
  let selection = JSON.parse(original.selection) as StoredSelection;
  while (selection.kind === 'reissue') {
    const earlier = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', selection.originalCardId).first('i.selection');
    if (!earlier) throw refuse('InvariantBroken', `card ${selection.originalCardId} replaced by ${originalCardId} is gone`);
    selection = JSON.parse(earlier.selection) as StoredSelection;
  }
  const item = await cardItem(db, selection, Number(original.created_at_ms));
  if (selection.kind === 'prepaid') item.balanceMinor = await carriedBalance(db, originalCardId, item.balanceMinor);
  if (original.valid_from_ms !== null && original.valid_from_ms !== undefined) {
    item.validity = { validFromMs: Number(original.valid_from_ms), validUntilMs: original.valid_until_ms === null ? null : Number(original.valid_until_ms) };
  }
  return { selection, item, replaces: { replacesCardId: originalCardId } };
}

/**
 * A prepaid replacement's balance: the center's record of the lost card (card_balances, kept by
 * reloads), never the lost chip. A card without a row holds what it was issued with, which for a
 * replacement is its own predecessor's balance, so the chain is walked back to the first row.
 */
async function carriedBalance(db: Knex, cardId: string, soldMinor: number): Promise<number> {
  for (let id: string | undefined = cardId; id; ) {
    const row = await db('card_balances').where({ card_id: id }).first('balance_minor');
    if (row) return Number(row.balance_minor);
    const iss: { selection: string } | undefined = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', id).first('i.selection');
    const sel: StoredSelection | null = iss ? (JSON.parse(iss.selection) as StoredSelection) : null;
    id = sel?.kind === 'reissue' ? sel.originalCardId : undefined;
  }
  return soldMinor;
}

async function cardItem(db: Knex, selection: Selection, issuedAtMs: number): Promise<CardItem> {
  if (selection.kind === 'seat') {
    const s = await db('seats as s').join('performances as pf', 'pf.id', 's.performance_id').join('seat_classes as c', 'c.id', 's.class_id').where('s.id', selection.seatId).first('s.section', 's.row_label', 's.number', 'c.name as class_name', 'pf.starts_at', 'pf.venue');
    if (!s) throw refuse('InvariantBroken', `seat ${selection.seatId} is gone`);
    return {
      details: { startsAt: s.starts_at, venue: s.venue, section: s.section, row: s.row_label, seat: Number(s.number), seatClass: s.class_name },
      validity: { validFromMs: issuedAtMs, validUntilMs: concertValidUntilMs(s.starts_at) },
      balanceMinor: 0,
    };
  }
  if (selection.kind === 'fare') {
    const f = await db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').where('f.id', selection.fareId).first('f.months', 'r.origin', 'r.destination', 'r.via');
    if (!f) throw refuse('InvariantBroken', `commuter fare ${selection.fareId} is gone`);
    return {
      details: { origin: f.origin, destination: f.destination, ...(f.via ? { via: f.via } : {}), months: Number(f.months) },
      validity: commuterValidity(issuedAtMs, Number(f.months)),
      balanceMinor: 0,
    };
  }
  if (selection.kind !== 'prepaid') throw refuse('InvariantBroken', `a ${selection.kind} selection has no card item of its own`);
  const v = await db('prepaid_values').where({ id: selection.valueId }).first('value_minor');
  if (!v) throw refuse('InvariantBroken', `prepaid value ${selection.valueId} is gone`);
  return { details: { valueMinor: Number(v.value_minor) }, validity: { validFromMs: issuedAtMs, validUntilMs: null }, balanceMinor: Number(v.value_minor) };
}
