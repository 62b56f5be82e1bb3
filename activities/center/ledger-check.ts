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

/** Payment states in which the operator holds the customer's money for an issuance. */
const HOLDING = ['collected', 'captured'];

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

  // 4. Every sale was paid in full by its payment (cash or register money kept, or a captured card payment).
  const unpaid = await db('sales as s')
    .leftJoin('payments as p', function () {
      this.on('p.issuance_id', 's.issuance_id').andOnIn('p.status', HOLDING);
    })
    .whereRaw('coalesce(p.amount_minor, 0) <> s.price_minor + s.customer_fee_minor')
    .select('s.issuance_id', 'p.amount_minor', 's.price_minor', 's.customer_fee_minor');
  const saleCount = n((await db('sales').count({ c: '*' }).first())?.c);
  add('collected payments = the sales they paid for', unpaid.map((u) => `${u.issuance_id}: paid ${n(u.amount_minor)} for ${n(u.price_minor) + n(u.customer_fee_minor)}`), saleCount);

  // 5. Cash per terminal = cash kept for its payments (returned refunds take it back out), plus
  // change/returns it could not pay out (owed, still in the unit), minus what it paid of short refunds.
  const terminals = await db('terminals').pluck('id');
  const cashMismatch: string[] = [];
  const terminalCash = new Map<string, number>();
  for (const tid of terminals) {
    const inLedger = await sumAccount(db, Accounts.terminalCash(tid));
    terminalCash.set(tid, inLedger);
    const kept = n((await db('payments as p').join('issuances as i', 'i.id', 'p.issuance_id').where({ 'i.terminal_id': tid, 'p.method': 'cash' }).whereIn('p.status', ['collected', 'refund_due']).sum({ s: 'p.amount_minor' }).first())?.s);
    const unpaidOut = n((await db('cash_shortfalls').where({ terminal_id: tid }).whereIn('kind', ['change', 'return']).sum({ s: 'owed_minor' }).first())?.s);
    const refundsPaid = n((await db('cash_shortfalls').where({ terminal_id: tid, kind: 'refund' }).sum({ s: 'paid_minor' }).first())?.s);
    const expected = kept + unpaidOut - refundsPaid;
    if (inLedger !== expected) cashMismatch.push(`${tid}: ledger ${inLedger} ≠ payments kept ${kept} + unpaid change/returns ${unpaidOut} − paid of short refunds ${refundsPaid}`);
  }
  add('cash per terminal = cash payments kept', cashMismatch, terminals.length);

  // 5b. Cash per terminal = what its cash unit counts (money in − money out, its own counters, as last
  // reported). Checked for terminals whose unit counts; meaningful while the terminal is idle.
  const counts = await db('terminal_cash_counts').select('terminal_id', 'money_in_minor', 'money_out_minor', 'reported_at_ms');
  const countMismatch: string[] = [];
  for (const c of counts) {
    const inUnit = n(c.money_in_minor) - n(c.money_out_minor);
    const inLedger = terminalCash.get(c.terminal_id) ?? (await sumAccount(db, Accounts.terminalCash(c.terminal_id)));
    if (inUnit !== inLedger) {
      countMismatch.push(`${c.terminal_id}: ledger cash ${inLedger} ≠ cash unit's counters ${inUnit} (money in ${n(c.money_in_minor)} − money out ${n(c.money_out_minor)}, reported ${new Date(n(c.reported_at_ms)).toISOString()}); off by ${inUnit - inLedger}`);
    }
  }
  add("cash per terminal = the cash unit's own counters", countMismatch, counts.length);

  // 6. Prepayments held = payments collected for issuances not yet sold.
  const held = -(await sumAccount(db, Accounts.customerPrepayments));
  const pending = n((await db('payments as p').leftJoin('sales as s', 's.issuance_id', 'p.issuance_id').whereIn('p.status', HOLDING).whereNull('s.id').sum({ s: 'p.amount_minor' }).first())?.s);
  add('prepayments held = payments awaiting their sale', held === pending ? [] : [`ledger holds ${held}, unsold collected payments ${pending}`], 1);

  // 7. Captured card payments + kept cash (kiosk cash and register slips) = the sales they paid for.
  const salesTotal = n((await db('sales').sum({ s: db.raw('price_minor + customer_fee_minor') }).first())?.s);
  const sold = db('sales').select('issuance_id');
  const sumPaid = async (methods: string[], statuses: string[]) =>
    n((await db('payments').whereIn('method', methods).whereIn('status', statuses).whereIn('issuance_id', sold.clone()).sum({ s: 'amount_minor' }).first())?.s);
  const cardCaptured = await sumPaid(['credit', 'prepaid', 'debit'], ['captured']);
  const cashKept = await sumPaid(['cash', 'register'], ['collected']);
  add(
    'captured card payments + kept cash = sales',
    cardCaptured + cashKept === salesTotal ? [] : [`captured card ${cardCaptured} + kept cash ${cashKept} = ${cardCaptured + cashKept} ≠ sales ${salesTotal}`],
    saleCount,
  );

  // 8. Per payment company: the receivable = its captured card payments (voided and refunded ones gave it back).
  const hosts: string[] = await db('payment_hosts').pluck('id');
  const receivableMismatch: string[] = [];
  for (const hostId of hosts) {
    const inLedger = await sumAccount(db, Accounts.paymentReceivable(hostId));
    const captured = n((await db('payments').where({ host_id: hostId, status: 'captured' }).sum({ s: 'amount_minor' }).first())?.s);
    if (inLedger !== captured) receivableMismatch.push(`${hostId}: ledger ${inLedger} ≠ captured payments ${captured}`);
  }
  add('receivable per payment company = captured card payments', receivableMismatch, hosts.length);

  // 9. Per store: register cash = slips paid at its registers (refunds owed go through refunds_due).
  const stores: string[] = await db('stores').pluck('id');
  const storeMismatch: string[] = [];
  for (const storeId of stores) {
    const inLedger = await sumAccount(db, Accounts.storeCash(storeId));
    const taken = n((await db('payments as p').join('register_slips as r', 'r.issuance_id', 'p.issuance_id').where({ 'r.store_id': storeId, 'p.method': 'register' }).whereIn('p.status', ['collected', 'refunded', 'refund_due']).sum({ s: 'p.amount_minor' }).first())?.s);
    if (inLedger !== taken) storeMismatch.push(`${storeId}: ledger ${inLedger} ≠ register payments ${taken}`);
  }
  add('register cash per store = register payments', storeMismatch, stores.length);

  // 10. No money left hanging: an unknown outcome, or an approval whose issuance ended without a
  // sale, has a reversal queued (and nothing is left pending once its issuance is over).
  const hanging = await db('payments as p')
    .join('issuances as i', 'i.id', 'p.issuance_id')
    .leftJoin('payment_reversals as r', 'r.payment_id', 'p.id')
    .whereNull('r.id')
    .where((w) =>
      w.where('p.status', 'unknown').orWhere((o) => o.whereIn('p.status', ['authorized', 'captured', 'pending']).whereIn('i.status', ['expired', 'cancelled', 'refunded', 'failed'])),
    )
    .select('p.id', 'p.issuance_id', 'p.status');
  const cardCount = n((await db('payments').whereIn('method', ['credit', 'prepaid', 'debit']).count({ c: '*' }).first())?.c);
  add('every unknown or unused card approval has a reversal queued', hanging.map((h) => `payment ${h.id} of ${h.issuance_id} is ${h.status} with no reversal`), cardCount);

  return checks;
}
