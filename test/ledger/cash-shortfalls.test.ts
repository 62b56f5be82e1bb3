/**
 * Cash shortfalls, cash unit counters and device faults in the center (on SQLite, so migration 012
 * runs there too), and the terminal's fault codes:
 *   - a shortfall is recorded once per payout tag, with a voucher and a balanced ledger entry that
 *     keeps the terminal's cash equal to what is in the unit; bad input is refused and changes nothing;
 *   - counters: an older reading never overwrites a newer one; a mismatch is reported by the check;
 *   - CASH_SHORT and PAPER_OUT from a device are final failures (not a retryable jam), and a short
 *     payout carries what was paid and what is owed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createCashShortfallActivities } from '../../activities/center/cash-shortfalls';
import { checkLedger } from '../../activities/center/ledger-check';
import { createPaymentActivities } from '../../activities/center/payments';
import { createTerminalActivities } from '../../activities/terminal';
import { Accounts } from '../../domain/ledger';
import type { Db } from '../../lib/db';
import { sqliteCenter } from '../support/sqlite-center';
import { DeviceError, type TerminalDevices } from '../../terminal-worker/devices/types';

let db: Db;
const TID = 'T-SHORT-1';
const ISS = 'iss-T-SHORT-1-abcdefgh';

beforeAll(async () => {
  db = await sqliteCenter('shortfalls', TID, ISS);
});
afterAll(async () => {
  await db?.destroy();
});

const balance = async (account: string) => Number((await db('ledger_entries').where({ account }).sum({ s: 'amount_minor' }).first())?.s ?? 0);
const a = () => createCashShortfallActivities({ db });

test('a change shortfall: recorded once per tag with a voucher; the unpaid change stays in the terminal, owed', async () => {
  await createPaymentActivities({ db }).recordCashPayment(ISS, { amountMinor: 1000, tenderedMinor: 5000, changeMinor: 4000, currency: 'JPY' });
  const first = await a().recordCashShortfall(ISS, { tag: `change:${ISS}`, kind: 'change', amountMinor: 4000, paidMinor: 1500, currency: 'JPY', reason: 'CASH_SHORT', detail: 'hopper empty' });
  expect(first).toEqual({ voucherNumber: expect.stringMatching(/^CV-\d{6}$/), owedMinor: 2500 });
  // A retried activity finds the same row and posts nothing more.
  expect(await a().recordCashShortfall(ISS, { tag: `change:${ISS}`, kind: 'change', amountMinor: 4000, paidMinor: 1500, currency: 'JPY', reason: 'CASH_SHORT' })).toEqual(first);
  expect(await db('cash_shortfalls').where({ issuance_id: ISS })).toHaveLength(1);
  expect(await balance(Accounts.terminalCash(TID))).toBe(1000 + 2500);
  expect(await balance(Accounts.refundsDue)).toBe(-2500);
  // The unit took 5000 and paid 1500 out: its counters agree with the ledger.
  await a().recordCashCounters(TID, { moneyInMinor: 5000, moneyOutMinor: 1500, at: 2000 });
  expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);
});

test('a short refund: the paid part leaves the terminal and refunds_due; the rest stays owed', async () => {
  await createPaymentActivities({ db }).markPaymentRefunded(ISS, false);
  await a().recordCashShortfall(ISS, { tag: `refund:${ISS}`, kind: 'refund', amountMinor: 1000, paidMinor: 600, currency: 'JPY', reason: 'CASH_SHORT' });
  expect(await balance(Accounts.terminalCash(TID))).toBe(1000 + 2500 - 600);
  expect(await balance(Accounts.refundsDue)).toBe(-2500 - 400);
  await a().recordCashCounters(TID, { moneyInMinor: 5000, moneyOutMinor: 2100, at: 3000 });
  expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);
});

test('bad shortfalls are refused clearly and change nothing', async () => {
  const before = [await db('cash_shortfalls').count({ n: '*' }).first(), await db('ledger_transactions').count({ n: '*' }).first()];
  const bad = [
    { tag: 'x1', kind: 'change', amountMinor: 100, paidMinor: 100, currency: 'JPY', reason: 'CASH_SHORT' }, // nothing owed
    { tag: 'x2', kind: 'tip', amountMinor: 100, paidMinor: 0, currency: 'JPY', reason: 'CASH_SHORT' },
    { tag: 'x3', kind: 'change', amountMinor: -5, paidMinor: 0, currency: 'JPY', reason: 'CASH_SHORT' },
    { tag: 'x4', kind: 'change', amountMinor: 100, paidMinor: 0, currency: 'yen', reason: 'CASH_SHORT' },
    { tag: 'x5', kind: 'change', amountMinor: 100, paidMinor: 0, currency: 'JPY', reason: 'BECAUSE' },
  ];
  for (const s of bad) await expect(a().recordCashShortfall(ISS, s as never)).rejects.toThrow(/bad cash shortfall/);
  await expect(a().recordCashShortfall('iss-nope-abcdefgh', { tag: 'x6', kind: 'change', amountMinor: 100, paidMinor: 0, currency: 'JPY', reason: 'CASH_SHORT' })).rejects.toThrow(/no issuance/);
  expect([await db('cash_shortfalls').count({ n: '*' }).first(), await db('ledger_transactions').count({ n: '*' }).first()]).toEqual(before);
});

test('counters: an older reading never replaces a newer one; a mismatch names the terminal and the difference', async () => {
  await a().recordCashCounters(TID, { moneyInMinor: 1, moneyOutMinor: 0, at: 1000 }); // older: ignored
  expect(await db('terminal_cash_counts').where({ terminal_id: TID }).first()).toMatchObject({ reported_at_ms: 3000 });
  await expect(a().recordCashCounters(TID, { moneyInMinor: -1, moneyOutMinor: 0, at: 4000 })).rejects.toThrow(/bad cash counters/);
  await a().recordCashCounters(TID, { moneyInMinor: 5100, moneyOutMinor: 2100, at: 5000 });
  const failed = (await checkLedger(db)).filter((c) => !c.ok);
  expect(failed.map((c) => c.name)).toEqual(["cash per terminal = the cash unit's own counters"]);
  expect(failed[0]!.detail).toMatch(new RegExp(`${TID}: ledger cash 2900 ≠ cash unit's counters 3000 .*off by 100`));
});

test('device faults: CASH_SHORT and PAPER_OUT are final, a short payout carries what is owed, a jam is retried', async () => {
  const unused = {} as never;
  const devices = (cash: TerminalDevices['cash'], receipt: TerminalDevices['receipt']): TerminalDevices => ({ cardPath: unused, chip: unused, cash, receipt });
  const short = createTerminalActivities(devices({ payout: async () => Promise.reject(new DeviceError('CASH_SHORT', 'hoppers empty', { paidMinor: 300, unpaidMinor: 200 })) }, { print: async () => Promise.reject(new DeviceError('PAPER_OUT', 'out of paper')) }));
  const e1 = (await short.payoutCash('change:x', 500).catch((e) => e)) as ApplicationFailure;
  expect(e1).toBeInstanceOf(ApplicationFailure);
  expect({ type: e1.type, nonRetryable: e1.nonRetryable, details: e1.details }).toEqual({ type: 'CashShort', nonRetryable: true, details: [{ paidMinor: 300, unpaidMinor: 200 }] });
  const e2 = (await short.printReceipt('iss-x', ['x']).catch((e) => e)) as ApplicationFailure;
  expect({ type: e2.type, nonRetryable: e2.nonRetryable }).toEqual({ type: 'PaperOut', nonRetryable: true });
  const jam = createTerminalActivities(devices({ payout: async () => Promise.reject(new DeviceError('JAM', 'no answer')) }, { print: async () => ({ alreadyPrinted: false }) }));
  const e3 = (await jam.payoutCash('change:y', 500).catch((e) => e)) as ApplicationFailure;
  expect({ type: e3.type, nonRetryable: e3.nonRetryable }).toEqual({ type: 'DeviceFault', nonRetryable: false });
  // A terminal without a cash unit that counts has no counters, and no acceptor to take cash.
  expect(await jam.readCashCounters()).toBeNull();
});
