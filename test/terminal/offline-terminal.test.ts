/**
 * A terminal whose worker is gone (nobody polls its task queue): its steps wait in vain for
 * scheduleToStartTimeout (3 s here), and the issuance must still end with every yen accounted for.
 *   - cash paid, then the terminal offline: the change and the refund cannot be paid out, so both
 *     are recorded as owed (vouchers), the payment is refund_due, the hold released, the customer
 *     told; the ledger balances;
 *   - a card payment approved, then the terminal offline: the payment is voided, the hold released;
 *   - before payment, cash inserted and the purchase cancelled while offline: the cash is owed, the
 *     hold released.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { DEMO_TEST_CARDS } from '../../demo/payment-hosts';
import { Accounts } from '../../domain/ledger';
import { freeSeat, seatStatus } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let tid: string;

beforeAll(async () => {
  stack = await startStack({ workers: 'processes', issuanceDefaults: { terminal: { heartbeatMs: 2_000, scheduleToStartMs: 3_000 } } });
  tid = stack.terminalIds[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

const alive = () => stack.processes.filter((p) => p.role === `terminal:${tid}` && p.child.exitCode === null && p.child.signalCode === null);
async function terminalOffline(): Promise<void> {
  for (const p of alive()) await p.kill('SIGKILL');
}
function terminalOnline(): void {
  if (alive().length === 0) stack.startTerminal(tid);
}
const balance = async (account: string) => Number((await stack.db('ledger_entries').where({ account }).sum({ s: 'amount_minor' }).first())?.s ?? 0);

afterEach(() => terminalOnline());

test('cash paid, then the terminal offline: change and refund owed with vouchers, hold released, books balance', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  await terminalOffline();
  const due0 = await balance(Accounts.refundsDue);
  for (const note of [10000, 5000]) expect((await kiosk.insertCash(note)).status).toBe(200);

  const end = await kiosk.waitForStage('refunded', 60_000);
  const due = end.item!.quote.totalMinor;
  const shortfalls = await stack.db('cash_shortfalls').where({ issuance_id: kiosk.issuanceId }).orderBy('id');
  expect(shortfalls.map((s) => [s.kind, s.reason, Number(s.paid_minor), Number(s.owed_minor)])).toEqual([
    ['change', 'TERMINAL_OFFLINE', 0, 15000 - due],
    ['refund', 'TERMINAL_OFFLINE', 0, due],
  ]);
  expect(end.message).toMatch(/the kiosk is not responding/);
  for (const s of shortfalls) expect(end.message).toContain(`voucher ${s.voucher_number}`);
  expect(end.message).not.toMatch(/has been returned/);

  expect(await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).pluck('status')).toEqual(['refund_due']);
  expect(await seatStatus(stack.db, seat.id)).toMatchObject({ status: 'available', hold: null, sold: null });
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  // All 15,000 is owed to the customer, and stays in the terminal's cash.
  expect((await balance(Accounts.refundsDue)) - due0).toBe(-15000);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

test('a card payment approved, then the terminal offline: voided, hold released', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.start();
  expect((await kiosk.select({ kind: 'seat', seatId: seat.id })).status).toBe(200);
  expect((await kiosk.confirm()).status).toBe(200);
  expect((await kiosk.payment('credit')).status).toBe(200);
  await terminalOffline();
  expect((await kiosk.card(DEMO_TEST_CARDS.creditApprove)).status).toBe(200);

  const end = await kiosk.waitForStage('refunded', 60_000);
  expect(end.message).toMatch(/the kiosk is not responding.*card payment has been cancelled; nothing will be charged/);
  const [payment] = await stack.db('payments').where({ issuance_id: kiosk.issuanceId });
  expect(payment.status).not.toBe('captured');
  expect(await stack.db('payment_reversals').where({ payment_id: payment.id })).toHaveLength(1);
  expect(await seatStatus(stack.db, seat.id)).toMatchObject({ status: 'available', hold: null, sold: null });
  expect(await stack.db('cash_shortfalls').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
});

test('before payment, cash inserted and cancelled while offline: the cash is owed, the hold released', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.start();
  await terminalOffline();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  expect((await kiosk.insertCash(1000)).status).toBe(200);
  expect((await kiosk.cancel()).status).toBe(200);

  const end = await kiosk.waitForStage('cancelled', 60_000);
  const [s] = await stack.db('cash_shortfalls').where({ issuance_id: kiosk.issuanceId });
  expect(s).toMatchObject({ kind: 'return', reason: 'TERMINAL_OFFLINE', tag: `return:${kiosk.issuanceId}` });
  expect(Number(s.owed_minor)).toBe(1000);
  expect(end.message).toContain(`voucher ${s.voucher_number}`);
  expect(await seatStatus(stack.db, seat.id)).toMatchObject({ status: 'available', hold: null, sold: null });
  expect(await stack.db('payments').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});
