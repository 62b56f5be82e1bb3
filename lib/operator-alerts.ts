/**
 * What an operator must act on: cash a terminal owes customers (cash_shortfalls, each with a
 * voucher the customer shows the store staff) and device faults (terminal_faults, e.g. a receipt
 * printer out of paper). The operator API lists them and closes them: settling a voucher records
 * who paid the customer and posts the payment to the ledger in the same transaction; clearing a
 * fault records who cleared it. Both are idempotent per row: a second close answers "already".
 */
import type { Knex } from 'knex';
import { voucherSettled } from '../domain/ledger';
import { postTransaction } from '../activities/center/ledger';

export interface CashVoucher {
  voucherNumber: string;
  terminalId: string;
  issuanceId: string;
  kind: string;
  reason: string;
  owedMinor: number;
  currency: string;
  status: 'owed' | 'settled';
  createdAt: string;
  settledAt: string | null;
  settledBy: string | null;
}

export interface TerminalFault {
  id: number;
  terminalId: string;
  device: string;
  code: string;
  message: string;
  issuanceId: string | null;
  createdAt: string;
  clearedAt: string | null;
  clearedBy: string | null;
}

const iso = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

function toVoucher(r: Record<string, unknown>): CashVoucher {
  return {
    voucherNumber: String(r.voucher_number),
    terminalId: String(r.terminal_id),
    issuanceId: String(r.issuance_id),
    kind: String(r.kind),
    reason: String(r.reason),
    owedMinor: Number(r.owed_minor),
    currency: String(r.currency),
    status: r.status === 'settled' ? 'settled' : 'owed',
    createdAt: iso(r.created_at_ms)!,
    settledAt: iso(r.settled_at_ms),
    settledBy: (r.settled_by as string | null) ?? null,
  };
}

function toFault(r: Record<string, unknown>): TerminalFault {
  return {
    id: Number(r.id),
    terminalId: String(r.terminal_id),
    device: String(r.device),
    code: String(r.code),
    message: String(r.message),
    issuanceId: (r.issuance_id as string | null) ?? null,
    createdAt: iso(r.created_at_ms)!,
    clearedAt: iso(r.cleared_at_ms),
    clearedBy: (r.cleared_by as string | null) ?? null,
  };
}

/** Open alerts (owed vouchers, uncleared faults), oldest first; optionally for one terminal. */
export async function openAlerts(db: Knex, terminalId?: string): Promise<{ vouchers: CashVoucher[]; faults: TerminalFault[] }> {
  const v = db('cash_shortfalls').where({ status: 'owed' }).orderBy('id').limit(500);
  const f = db('terminal_faults').whereNull('cleared_at_ms').orderBy('id').limit(500);
  if (terminalId) {
    v.where({ terminal_id: terminalId });
    f.where({ terminal_id: terminalId });
  }
  return { vouchers: (await v).map(toVoucher), faults: (await f).map(toFault) };
}

export async function findVoucher(db: Knex, voucherNumber: string): Promise<CashVoucher | null> {
  const r = await db('cash_shortfalls').where({ voucher_number: voucherNumber }).first();
  return r ? toVoucher(r) : null;
}

/** Marks a voucher paid to the customer; `settled: false` when it already was (nothing changes). */
export async function settleVoucher(db: Knex, voucherNumber: string, operator: string, nowMs: number): Promise<{ voucher: CashVoucher; settled: boolean } | null> {
  return db.transaction(async (trx) => {
    const row = await trx('cash_shortfalls').where({ voucher_number: voucherNumber }).first();
    if (!row) return null;
    const n = await trx('cash_shortfalls').where({ id: row.id, status: 'owed' }).update({ status: 'settled', settled_at_ms: nowMs, settled_by: operator });
    if (n === 1) {
      await postTransaction(trx, {
        kind: 'voucher_settled',
        ref: voucherNumber,
        currency: row.currency,
        description: `Voucher ${voucherNumber} paid to the customer (${row.kind} owed by terminal ${row.terminal_id}), settled by ${operator}`,
        postings: voucherSettled(Number(row.owed_minor)),
        atMs: nowMs,
      });
    }
    const after = await trx('cash_shortfalls').where({ id: row.id }).first();
    return { voucher: toVoucher(after), settled: n === 1 };
  });
}

/** Marks a device fault cleared; `cleared: false` when it already was. */
export async function clearFault(db: Knex, id: number, operator: string, nowMs: number): Promise<{ fault: TerminalFault; cleared: boolean } | null> {
  const n = await db('terminal_faults').where({ id }).whereNull('cleared_at_ms').update({ cleared_at_ms: nowMs, cleared_by: operator });
  const row = await db('terminal_faults').where({ id }).first();
  return row ? { fault: toFault(row), cleared: n === 1 } : null;
}
