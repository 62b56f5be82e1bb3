/** Reads of the system of record that tests assert on. */
import type { Db } from '../../lib/db';

export async function seatStatus(db: Db, seatId: number): Promise<{ status: string; hold: string | null; sold: string | null }> {
  const s = await db('seats').where({ id: seatId }).first('status', 'hold_issuance_id', 'sold_issuance_id');
  return { status: s.status, hold: s.hold_issuance_id, sold: s.sold_issuance_id };
}

/** Counts of every table a purchase touches: equal before and after means nothing changed. */
export async function snapshot(db: Db): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ['issuances', 'payments', 'cards', 'sales', 'issuer_notifications']) {
    out[t] = Number((await db(t).count({ n: '*' }))[0].n);
  }
  for (const status of ['available', 'held', 'sold']) {
    out[`seats_${status}`] = Number((await db('seats').where({ status }).count({ n: '*' }))[0].n);
  }
  return out;
}

/** The first available seat of the first performance (or of the given one). */
export async function freeSeat(db: Db, performanceId = 1, skip = 0): Promise<{ id: number; price: number }> {
  const s = await db('seats as s').join('seat_classes as c', 'c.id', 's.class_id').where({ 's.performance_id': performanceId, 's.status': 'available' }).orderBy('s.id').offset(skip).first('s.id', 'c.price_minor');
  return { id: Number(s.id), price: Number(s.price_minor) };
}
