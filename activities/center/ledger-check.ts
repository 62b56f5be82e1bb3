/**
 * The ledger's invariants, checked against the business records they mirror. Used by
 * `npm run ledger:check` and the tests; each check says what it compared and what it found.
 */
import type { Knex } from 'knex';
import { Accounts } from '../../domain/ledger';

export interface LedgerCheck {
  name: string;
  ok: boolean;
  detail: string;
}

const n = (v: unknown) => Number(v ?? 0);

async function sumAccount(db: Knex, account: string): Promise<number> {
  const r = await db('ledger_entries').where({ account }).sum({ s: 'amount_minor' }).first();
  return n(r?.s);
}

export async function checkLedger(db: Knex): Promise<LedgerCheck[]> {
  const checks: LedgerCheck[] = [];
  const add = (name: string, mismatches: string[], total: number) =>
    checks.push({ name, ok: mismatches.length === 0, detail: mismatches.length === 0 ? `${total} checked` : mismatches.slice(0, 10).join('; ') + (mismatches.length > 10 ? `; … ${mismatches.length - 10} more` : '') });

  // 1. Every transaction balances.
  const unbalanced = await db('ledger_entries').select('transaction_id').sum({ s: 'amount_minor' }).groupBy('transaction_id').havingRaw('sum(amount_minor) <> 0');
  const txCount = n((await db('ledger_transactions').count({ c: '*' }).first())?.c);
  add('every transaction balances', unbalanced.map((u: Record<string, unknown>) => `transaction ${u.transaction_id} is off by ${u.s}`), txCount);

  // 2. Per issuer: payable = sales net − refunds (net of refunded sales) − payouts.
  const issuers = await db('issuers').pluck('id');
  const mismatches: string[] = [];
  for (const issuerId of issuers) {
    const account = Accounts.issuerPayable(issuerId);
    const ledgerPayable = -(await sumAccount(db, account));
    const salesNet = n((await db('sales').where({ issuer_id: issuerId }).sum({ s: 'issuer_net_minor' }).first())?.s);
    const refunds = n((await db('sale_refunds').where({ issuer_id: issuerId }).sum({ s: 'issuer_net_minor' }).first())?.s);
    const payouts = n((await db('ledger_entries as e').join('ledger_transactions as t', 't.id', 'e.transaction_id').where({ 'e.account': account, 't.kind': 'payout' }).sum({ s: 'e.amount_minor' }).first())?.s);
    const expected = salesNet - refunds - payouts;
    if (ledgerPayable !== expected) mismatches.push(`${issuerId}: ledger owes ${ledgerPayable}, sales net ${salesNet} − refunds ${refunds} − payouts ${payouts} = ${expected}`);
  }
  add('issuer payable = sales net − refunds − payouts', mismatches, issuers.length);

  // 3. Revenue accounts match the fees on the sales (a refunded sale gives its operator fee back).
  const fees = await db('sales').sum({ op: 'operator_fee_minor', cust: 'customer_fee_minor' }).first();
  const refundedFees = n((await db('sale_refunds').sum({ s: 'operator_fee_minor' }).first())?.s);
  const feeMismatch: string[] = [];
  const opRev = -(await sumAccount(db, Accounts.operatorFeeRevenue));
  const custRev = -(await sumAccount(db, Accounts.issuanceFeeRevenue));
  const opFees = n(fees?.op) - refundedFees;
  if (opRev !== opFees) feeMismatch.push(`operator fee revenue ${opRev} ≠ sales' operator fees ${n(fees?.op)} − refunded ${refundedFees}`);
  if (custRev !== n(fees?.cust)) feeMismatch.push(`issuance fee revenue ${custRev} ≠ sales' issuance fees ${n(fees?.cust)}`);
  add('fee revenue = fees on sales', feeMismatch, 2);

  // 4. Every sale was paid in full by its payment.
  const unpaid = await db('sales as s')
    .leftJoin('payments as p', function () {
      this.on('p.issuance_id', 's.issuance_id').andOnVal('p.status', 'collected');
    })
    .whereRaw('coalesce(p.amount_minor, 0) <> s.price_minor + s.customer_fee_minor')
    .select('s.issuance_id', 'p.amount_minor', 's.price_minor', 's.customer_fee_minor');
  const saleCount = n((await db('sales').count({ c: '*' }).first())?.c);
  add('collected payments = the sales they paid for', unpaid.map((u) => `${u.issuance_id}: paid ${n(u.amount_minor)} for ${n(u.price_minor) + n(u.customer_fee_minor)}`), saleCount);

  // 5. Cash per terminal = cash kept for its payments (returned refunds take it back out).
  const terminals = await db('terminals').pluck('id');
  const cashMismatch: string[] = [];
  for (const tid of terminals) {
    const inLedger = await sumAccount(db, Accounts.terminalCash(tid));
    const kept = n((await db('payments as p').join('issuances as i', 'i.id', 'p.issuance_id').where({ 'i.terminal_id': tid, 'p.method': 'cash' }).whereIn('p.status', ['collected', 'refund_due']).sum({ s: 'p.amount_minor' }).first())?.s);
    if (inLedger !== kept) cashMismatch.push(`${tid}: ledger ${inLedger} ≠ payments kept ${kept}`);
  }
  add('cash per terminal = cash payments kept', cashMismatch, terminals.length);

  // 6. Prepayments held = payments collected for issuances not yet sold.
  const held = -(await sumAccount(db, Accounts.customerPrepayments));
  const pending = n((await db('payments as p').leftJoin('sales as s', 's.issuance_id', 'p.issuance_id').where('p.status', 'collected').whereNull('s.id').sum({ s: 'p.amount_minor' }).first())?.s);
  add('prepayments held = payments awaiting their sale', held === pending ? [] : [`ledger holds ${held}, unsold collected payments ${pending}`], 1);

  return checks;
}
