/**
 * What an issued card *is*, and which catalogue rows cards depend on.
 *
 * An issuance snapshots the title, the price, the customer's fee and the currency
 * (activities/center/holds.ts), but its item is a reference: `selection` names a seat, a fare or a
 * prepaid value by id, and the card's content (seat position, performance date and venue, seat
 * class; route and months; prepaid value) is read through that id. So the catalogue rows an
 * issuance references are frozen in those fields: the issuer API refuses to change or delete them
 * (409) once any issuance that was not abandoned references them. Prices stay editable: what a
 * card was sold for is its issuance's and sale's record, never the live price.
 */
import type { Knex } from 'knex';

/** Issuances that hold or held an item for a customer (abandoned ones never made a card). */
export const ABANDONED_ISSUANCE_STATUSES = ['expired', 'cancelled', 'failed'] as const;

export type IssuedContent =
  | {
      kind: 'seat';
      seatId: number;
      performance: { id: number; startsAt: string; venue: string };
      seat: { section: string; row: string; number: number };
      seatClass: { code: string; name: string };
    }
  | { kind: 'fare'; fareId: number; route: { id: number; origin: string; destination: string; via: string | null }; months: number }
  | { kind: 'prepaid'; valueId: number; valueMinor: number };

/** The content of an issued item, read through its selection; null if the rows are gone. */
export async function issuedContent(db: Knex, selectionJson: string): Promise<IssuedContent | null> {
  const sel = JSON.parse(selectionJson) as { kind: string; seatId?: number; fareId?: number; valueId?: number; originalCardId?: string };
  if (sel.kind === 'reissue') {
    // A replacement card carries the item of the card it replaces.
    const original = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', sel.originalCardId!).first('i.selection');
    return original ? issuedContent(db, original.selection) : null;
  }
  if (sel.kind === 'seat') {
    const r = await db('seats as s')
      .join('seat_classes as c', 'c.id', 's.class_id')
      .join('performances as pf', 'pf.id', 's.performance_id')
      .where('s.id', sel.seatId!)
      .first('s.section', 's.row_label', 's.number', 'c.code', 'c.name as class_name', 'pf.id as performance_id', 'pf.starts_at', 'pf.venue');
    if (!r) return null;
    return {
      kind: 'seat',
      seatId: sel.seatId!,
      performance: { id: Number(r.performance_id), startsAt: r.starts_at, venue: r.venue },
      seat: { section: r.section, row: r.row_label, number: Number(r.number) },
      seatClass: { code: r.code, name: r.class_name },
    };
  }
  if (sel.kind === 'fare') {
    const r = await db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').where('f.id', sel.fareId!).first('f.months', 'r.id as route_id', 'r.origin', 'r.destination', 'r.via');
    if (!r) return null;
    return { kind: 'fare', fareId: sel.fareId!, route: { id: Number(r.route_id), origin: r.origin, destination: r.destination, via: r.via ?? null }, months: Number(r.months) };
  }
  if (sel.kind === 'prepaid') {
    const r = await db('prepaid_values').where({ id: sel.valueId! }).first('value_minor');
    if (!r) return null;
    return { kind: 'prepaid', valueId: sel.valueId!, valueMinor: Number(r.value_minor) };
  }
  return null;
}

/**
 * Of the given fare or prepaid value ids of a product, those that a live (not abandoned) issuance
 * references. json_extract reads the selection on both MySQL/MariaDB and SQLite.
 */
export async function referencedItemIds(db: Knex, productId: number, key: 'fareId' | 'valueId', ids: number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const rows = await db('issuances')
    .where('product_id', productId)
    .whereNotIn('status', ABANDONED_ISSUANCE_STATUSES as unknown as string[])
    .whereRaw(`json_extract(selection, '$.${key}') IN (${ids.map(() => '?').join(',')})`, ids)
    .distinct(db.raw(`json_extract(selection, '$.${key}') as ref`));
  return new Set(rows.map((r: { ref: unknown }) => Number(r.ref)));
}
