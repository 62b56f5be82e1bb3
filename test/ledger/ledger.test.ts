/**
 * The ledger after real issuances (a sale, a refund after a failed production, an expired hold)
 * on MariaDB: every invariant holds; entries cannot be changed; and a tampered ledger is caught.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { Accounts, balanced, cashCollected, isBalanced, saleRecognised } from '../../domain/ledger';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';

describe('postings', () => {
  test('each kind of movement balances', () => {
    expect(isBalanced(cashCollected('T-1', 12330))).toBe(true);
    const sale = saleRecognised({ issuerId: 'x', priceMinor: 12000, operatorFeeMinor: 960, customerFeeMinor: 330 });
    expect(isBalanced(sale)).toBe(true);
    expect(sale).toEqual([
      { account: 'customer_prepayments', amountMinor: 12330 },
      { account: 'issuer_payable:x', amountMinor: -11040 },
      { account: 'operator_fee_revenue', amountMinor: -960 },
      { account: 'issuance_fee_revenue', amountMinor: -330 },
    ]);
    expect(() => balanced([{ account: 'a', amountMinor: 1 }])).toThrow(/unbalanced/);
    expect(isBalanced([{ account: 'a', amountMinor: 0.5 }, { account: 'b', amountMinor: -0.5 }])).toBe(false);
  });
});

describe('on the real stack', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ holdTtlMs: 1_500 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('after a sale, a refund and an expired hold, every invariant holds', async () => {
    const tid = stack.terminalIds[0];
    // A sale.
    const seat = await freeSeat(stack.db);
    const sold = new Kiosk(stack.apiUrl, tid);
    await sold.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);
    await sold.waitForStage('completed');
    // A refund: the stocker is emptied behind the workflow's back.
    new MachineStateFile(stack.machineFile(tid)).update((s) => {
      s.stockerCount = 0;
    });
    const refunded = new Kiosk(stack.apiUrl, tid);
    await refunded.buyWithCash({ kind: 'prepaid', valueId: 1 }, [1000]);
    await refunded.waitForStage('refunded');
    // An expired hold with no payment.
    const expired = new Kiosk(stack.apiUrl, tid);
    await expired.start();
    await expired.selectAndConfirm({ kind: 'seat', seatId: (await freeSeat(stack.db)).id });
    await expired.waitForStage('expired', 20_000);

    const checks = await checkLedger(stack.db);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.name)).toHaveLength(11);

    const balance = async (account: string) => Number((await stack.db('ledger_entries').where({ account }).sum({ s: 'amount_minor' }).first())?.s ?? 0);
    expect(await balance(Accounts.terminalCash(tid))).toBe(seat.price + 330); // the refunded ¥1,000 went back out
    expect(await balance(Accounts.issuerPayable('sunrise-promotions'))).toBe(-(seat.price - Math.floor((seat.price * 800 + 5000) / 10000)));
    expect(await balance(Accounts.customerPrepayments)).toBe(0);
    const kinds = await stack.db('ledger_transactions').orderBy('id').pluck('kind');
    expect(kinds).toEqual(['cash_collected', 'sale', 'cash_collected', 'refund']);
  });

  test('entries and transactions are append-only', async () => {
    await expect(stack.db('ledger_entries').update({ amount_minor: 1 })).rejects.toThrow(/append-only/);
    await expect(stack.db('ledger_entries').del()).rejects.toThrow(/append-only/);
    await expect(stack.db('ledger_transactions').update({ description: 'x' })).rejects.toThrow(/append-only/);
  });

  test('a tampered ledger is caught', async () => {
    const [id] = await stack.db('ledger_transactions').insert({ kind: 'payout', ref: 'tamper', currency: 'JPY', description: 'tamper', created_at_ms: Date.now() });
    await stack.db('ledger_entries').insert({ transaction_id: id, account: Accounts.issuerPayable('sunrise-promotions'), amount_minor: 500, currency: 'JPY' });
    const failed = (await checkLedger(stack.db)).filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual(['every transaction balances']);
  });
});
