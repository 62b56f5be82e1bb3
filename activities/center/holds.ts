/**
 * Selecting an item: price it and, for seats, hold it for this issuance with a conditional update
 * so two kiosks can never hold the same seat. Releasing puts a held seat back on sale.
 */
import type { Knex } from 'knex';
import type { HeldItem, Selection } from '../../domain/issuance';
import type { IssuanceHolder } from '../../domain/users';
import { formatMoney } from '../../domain/money';
import type { StoredSelection } from '../../domain/reissue';
import type { CenterDeps } from './deps';
import { productApplications } from './card-applications';
import { refuse } from './errors';
import { checkHolder } from './holders';
import { claimReissue, findReissueItem, releaseReissueClaim } from './reissues';

type ItemRow = Omit<HeldItem, 'quote' | 'selection'> & { priceMinor: number; customerFeeMinor: number; currency: string };

async function loadSeat(trx: Knex, seatId: number): Promise<(ItemRow & { seatLabel: string }) | undefined> {
  const r = await trx('seats as s')
    .join('seat_classes as c', 'c.id', 's.class_id')
    .join('performances as pf', 'pf.id', 's.performance_id')
    .join('products as p', 'p.id', 'pf.product_id')
    .join('issuers as i', 'i.id', 'p.issuer_id')
    .where('s.id', seatId)
    .where('p.active', true)
    .first('s.section', 's.row_label', 's.number', 'c.name as class_name', 'c.price_minor', 'pf.starts_at', 'pf.venue', 'p.id as product_id', 'p.name as product_name', 'p.type', 'p.currency', 'p.issuance_fee_minor', 'p.face_image_id', 'i.id as issuer_id', 'i.name as issuer_name');
  if (!r) return undefined;
  const seatLabel = `${r.section} row ${r.row_label}, seat ${r.number}`;
  return {
    issuerId: r.issuer_id,
    issuerName: r.issuer_name,
    productId: Number(r.product_id),
    productType: 'concert',
    title: r.product_name,
    lines: [r.product_name, `${r.venue}, ${formatStart(r.starts_at)}`, `${seatLabel} (${r.class_name})`],
    faceImage: r.face_image_id ? `/api/images/${r.face_image_id}` : null,
    priceMinor: Number(r.price_minor),
    customerFeeMinor: Number(r.issuance_fee_minor),
    currency: r.currency,
    seatLabel,
  };
}

async function loadFare(trx: Knex, fareId: number): Promise<ItemRow | undefined> {
  const r = await trx('commuter_fares as f')
    .join('commuter_routes as r', 'r.id', 'f.route_id')
    .join('products as p', 'p.id', 'r.product_id')
    .join('issuers as i', 'i.id', 'p.issuer_id')
    .where('f.id', fareId)
    .where('p.active', true)
    .first('f.months', 'f.price_minor', 'r.origin', 'r.destination', 'p.id as product_id', 'p.name as product_name', 'p.currency', 'p.issuance_fee_minor', 'p.face_image_id', 'i.id as issuer_id', 'i.name as issuer_name');
  if (!r) return undefined;
  return {
    issuerId: r.issuer_id,
    issuerName: r.issuer_name,
    productId: Number(r.product_id),
    productType: 'commuter',
    title: r.product_name,
    lines: [r.product_name, `${r.origin} ⇄ ${r.destination}`, `${r.months} month${r.months > 1 ? 's' : ''}`],
    faceImage: r.face_image_id ? `/api/images/${r.face_image_id}` : null,
    priceMinor: Number(r.price_minor),
    customerFeeMinor: Number(r.issuance_fee_minor),
    currency: r.currency,
  };
}

async function loadPrepaid(trx: Knex, valueId: number): Promise<ItemRow | undefined> {
  const r = await trx('prepaid_values as v')
    .join('products as p', 'p.id', 'v.product_id')
    .join('issuers as i', 'i.id', 'p.issuer_id')
    .where('v.id', valueId)
    .where('p.active', true)
    .first('v.value_minor', 'v.price_minor', 'v.sold_from_stock', 'p.id as product_id', 'p.name as product_name', 'p.currency', 'p.issuance_fee_minor', 'p.face_image_id', 'i.id as issuer_id', 'i.name as issuer_name');
  if (!r) return undefined;
  return {
    issuerId: r.issuer_id,
    issuerName: r.issuer_name,
    productId: Number(r.product_id),
    productType: 'prepaid',
    title: r.product_name,
    lines: [r.product_name, `Value ${formatMoney(Number(r.value_minor), r.currency)}`],
    faceImage: r.face_image_id ? `/api/images/${r.face_image_id}` : null,
    priceMinor: Number(r.price_minor),
    customerFeeMinor: Number(r.issuance_fee_minor),
    currency: r.currency,
    ...(r.sold_from_stock ? { fromStock: true } : {}),
  };
}

function formatStart(iso: string): string {
  // "2027-03-14T18:00:00+09:00" → "2027-03-14 18:00" (the venue's local time as published)
  return iso.replace('T', ' ').slice(0, 16);
}

/** Frees any seat this issuance holds (optionally except one). Returns how many were freed. */
async function freeHeldSeats(trx: Knex, issuanceId: string, exceptSeatId?: number): Promise<number> {
  const q = trx('seats').where({ hold_issuance_id: issuanceId, status: 'held' });
  if (exceptSeatId !== undefined) q.whereNot('id', exceptSeatId);
  return q.update({ status: 'available', hold_issuance_id: null, held_until_ms: null });
}

export function createHoldActivities({ db, now = Date.now }: CenterDeps) {
  return {
    /** `holder`: the registered user logged in at the kiosk, if any (activities/center/holders.ts). */
    async holdItem(issuanceId: string, terminalId: string, selection: Selection, holdTtlMs: number, holder?: IssuanceHolder): Promise<HeldItem> {
      return db.transaction(async (trx) => {
        const terminal = await trx('terminals').where({ id: terminalId, active: true }).first('id');
        if (!terminal) throw refuse('UnknownTerminal', `Terminal ${terminalId} is not registered or not active.`);
        let item: ItemRow | undefined;
        let stored: StoredSelection = selection as StoredSelection;
        if (selection.kind === 'reissue') {
          const reissue = await findReissueItem(trx, issuanceId, selection.pickupCodeHash);
          item = reissue;
          stored = reissue.stored;
        } else if (selection.kind === 'seat') {
          const seat = await loadSeat(trx, selection.seatId);
          if (!seat) throw refuse('UnknownItem', `There is no seat ${selection.seatId} on sale.`);
          const held = await trx('seats')
            .where('id', selection.seatId)
            .andWhere((w) => w.where('status', 'available').orWhere((o) => o.where('status', 'held').andWhere('hold_issuance_id', issuanceId)))
            .update({ status: 'held', hold_issuance_id: issuanceId, held_until_ms: now() + holdTtlMs });
          if (held !== 1) throw refuse('ItemUnavailable', `${seat.seatLabel} has just been taken. Please pick another seat.`);
          item = seat;
        } else if (selection.kind === 'fare') {
          item = await loadFare(trx, selection.fareId);
          if (!item) throw refuse('UnknownItem', `There is no commuter fare ${selection.fareId} on sale.`);
        } else {
          item = await loadPrepaid(trx, selection.valueId);
          if (!item) throw refuse('UnknownItem', `There is no prepaid value ${selection.valueId} on sale.`);
        }
        const registered = await checkHolder(trx, item, selection, holder);
        await freeHeldSeats(trx, issuanceId, selection.kind === 'seat' ? selection.seatId : undefined);
        const applications = await productApplications(trx, item.productId, item.issuerId);
        await releaseReissueClaim(trx, issuanceId, now(), stored.kind === 'reissue' ? stored.originalCardId : undefined);

        const quote = { currency: item.currency, priceMinor: item.priceMinor, customerFeeMinor: item.customerFeeMinor, totalMinor: item.priceMinor + item.customerFeeMinor };
        const row = {
          terminal_id: terminalId,
          issuer_id: item.issuerId,
          product_id: item.productId,
          product_type: item.productType,
          selection: JSON.stringify(stored),
          title: item.title,
          price_minor: quote.priceMinor,
          customer_fee_minor: quote.customerFeeMinor,
          total_minor: quote.totalMinor,
          currency: quote.currency,
          status: 'held',
          updated_at_ms: now(),
          ...(holder ? registered.row : {}),
        };
        // One upsert statement: an UPDATE of a missing row followed by an INSERT takes a gap lock
        // in MySQL and deadlocks against other kiosks doing the same.
        await trx('issuances')
          .insert({ ...row, id: issuanceId, created_at_ms: now() })
          .onConflict('id')
          .merge(Object.keys(row));
        if (stored.kind === 'reissue') await claimReissue(trx, issuanceId, stored.originalCardId, now());
        return {
          issuerId: item.issuerId,
          issuerName: item.issuerName,
          productId: item.productId,
          productType: item.productType,
          title: item.title,
          lines: item.lines,
          faceImage: item.faceImage,
          quote,
          selection,
          ...(registered.face ? { holderFace: registered.face } : {}),
          ...(item.fromStock ? { fromStock: true } : {}),
          ...(applications.length > 0 ? { applications } : {}),
        };
      });
    },

    /** Puts the issuance's held seat back on sale and records why the issuance ended. */
    async releaseHold(issuanceId: string, status: 'expired' | 'cancelled' | 'refunded' | 'failed'): Promise<{ released: number }> {
      return db.transaction(async (trx) => {
        const released = await freeHeldSeats(trx, issuanceId);
        await releaseReissueClaim(trx, issuanceId, now());
        await trx('issuances').where({ id: issuanceId }).whereNot('status', 'sold').update({ status, updated_at_ms: now() });
        return { released };
      });
    },
  };
}
