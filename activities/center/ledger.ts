/**
 * Writing to the ledger. Always called inside the DB transaction of the business record it
 * belongs to, so the two commit or fail together. (kind, ref) identifies the movement: posting
 * it again (an activity retry) finds the first one and writes nothing.
 */
import type { Knex } from 'knex';
import { balanced, type Posting } from '../../domain/ledger';

export type LedgerKind = 'cash_collected' | 'sale' | 'refund' | 'payout' | 'card_captured' | 'card_released' | 'register_collected' | 'cash_shortfall' | 'voucher_settled';

export interface LedgerTransaction {
  kind: LedgerKind;
  ref: string;
  currency: string;
  description: string;
  postings: Posting[];
  atMs: number;
}

export async function postTransaction(trx: Knex.Transaction, tx: LedgerTransaction): Promise<{ id: number; posted: boolean }> {
  const lines = balanced(tx.postings);
  const existing = await trx('ledger_transactions').where({ kind: tx.kind, ref: tx.ref }).first('id');
  if (existing) return { id: Number(existing.id), posted: false };
  const [id] = await trx('ledger_transactions').insert({ kind: tx.kind, ref: tx.ref, currency: tx.currency, description: tx.description.slice(0, 300), created_at_ms: tx.atMs });
  if (lines.length > 0) {
    await trx('ledger_entries').insert(lines.map((l) => ({ transaction_id: id, account: l.account, amount_minor: l.amountMinor, currency: tx.currency })));
  }
  return { id: Number(id), posted: true };
}
