/** Short cash, top-ups and overpayment, and a customer who walks away, on the real stack. */
import { freeSeat, seatStatus } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ holdTtlMs: 2_000 });
});
afterAll(async () => {
  await stack?.stop();
});

async function buyPrepaid(valueIndex: number) {
  const values = await stack.db('prepaid_values').orderBy('value_minor').select('id', 'price_minor');
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'prepaid', valueId: Number(values[valueIndex].id) });
  return { kiosk, price: Number(values[valueIndex].price_minor) };
}

test('short cash asks for the rest; a top-up completes it with no change', async () => {
  const { kiosk, price } = await buyPrepaid(1); // ¥3,000, no issuance fee
  expect(price).toBe(3000);
  const first = await kiosk.insertCash(1000);
  expect(first.body).toEqual({ insertedMinor: 1000, dueMinor: 3000, remainingMinor: 2000, changeMinor: 0 });
  const asked = await kiosk.progress();
  expect(asked.stage).toBe('paying');
  expect(asked.message).toBe('Inserted ¥1,000. Please insert ¥2,000 more.');
  expect((await kiosk.insertCash(2000)).body).toEqual({ insertedMinor: 3000, dueMinor: 3000, remainingMinor: 0, changeMinor: 0 });
  const done = await kiosk.waitForStage('completed');
  expect(done.cash?.changeMinor).toBe(0);
  const payment = await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first();
  expect(Number(payment.tendered_minor)).toBe(3000);
  expect(Number(payment.change_minor)).toBe(0);
  expect(stack.machine(stack.terminalIds[0]).payouts[`change:${kiosk.issuanceId}`]).toBeUndefined();
});

test('overpayment returns exact change, once', async () => {
  const { kiosk } = await buyPrepaid(0); // ¥1,000
  expect((await kiosk.insertCash(500)).body.remainingMinor).toBe(500);
  expect((await kiosk.insertCash(10000)).body).toEqual({ insertedMinor: 10500, dueMinor: 1000, remainingMinor: 0, changeMinor: 9500 });
  // Cash after the price is paid is refused, and nothing changes.
  const late = await kiosk.insertCash(100);
  expect(late.status).toBe(409);
  const done = await kiosk.waitForStage('completed');
  expect(done.cash).toEqual({ insertedMinor: 10500, dueMinor: 1000, remainingMinor: 0, changeMinor: 9500 });
  expect(stack.machine(stack.terminalIds[0]).payouts[`change:${kiosk.issuanceId}`]).toBe(9500);
  const payment = await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first();
  expect(Number(payment.amount_minor)).toBe(1000);
  expect(Number(payment.tendered_minor) - Number(payment.change_minor)).toBe(1000);
});

test('a customer who walks away: the hold expires, the seat is free again, no sale', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  expect((await seatStatus(stack.db, seat.id)).status).toBe('held');
  const ended = await kiosk.waitForStage('expired', 20_000);
  expect(ended.message).toMatch(/ran out/);
  expect(await seatStatus(stack.db, seat.id)).toEqual({ status: 'available', hold: null, sold: null });
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  expect((await stack.db('issuances').where({ id: kiosk.issuanceId }).first()).status).toBe('expired');
  // Too late to act on it now.
  const late = await kiosk.confirm();
  expect(late.status).toBe(409);
  expect(late.body.error.code).toBe('issuance_finished');
});

test('walking away after inserting some cash gives the cash back', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  await kiosk.insertCash(5000);
  const ended = await kiosk.waitForStage('expired', 20_000);
  expect(ended.message).toMatch(/Your ¥5,000 has been returned\./);
  expect(stack.machine(stack.terminalIds[0]).payouts[`return:${kiosk.issuanceId}`]).toBe(5000);
  expect((await seatStatus(stack.db, seat.id)).status).toBe('available');
  expect(await stack.db('payments').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
});

test('cancelling before paying releases the seat', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  expect((await kiosk.cancel()).status).toBe(200);
  await kiosk.waitForStage('cancelled');
  expect((await seatStatus(stack.db, seat.id)).status).toBe('available');
});
