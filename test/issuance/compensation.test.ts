/**
 * A failure after payment gives the money back: the kiosk runs out of blank cards mid-sale, so
 * the workflow refunds the cash, releases the seat and records no sale.
 */
import { freeSeat, seatStatus } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { IssuanceStageKey, TerminalIdKey } from '../../domain/search-attributes';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ initialStock: 0 });
});
afterAll(async () => {
  await stack?.stop();
});

test('no blank cards after payment: cash refunded, seat released, no sale, no card', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 10000]);
  const end = await kiosk.waitForStage('refunded');
  expect(end.message).toMatch(/could not be produced .*Out of blank cards.*money has been returned/);

  const total = seat.price + 330;
  const machine = stack.machine(stack.terminalIds[0]);
  expect(machine.payouts[`change:${kiosk.issuanceId}`]).toBe(20000 - total);
  expect(machine.payouts[`refund:${kiosk.issuanceId}`]).toBe(total);
  expect(machine.dispensed).toHaveLength(0);
  const payment = await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first();
  expect(payment.status).toBe('refunded');
  expect(await seatStatus(stack.db, seat.id)).toEqual({ status: 'available', hold: null, sold: null });
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  expect((await stack.db('issuances').where({ id: kiosk.issuanceId }).first()).status).toBe('refunded');

  // The operator sees the outcome in the workflow's search attributes.
  const desc = await stack.temporal.workflow.getHandle(kiosk.issuanceId).describe();
  expect(desc.typedSearchAttributes.get(IssuanceStageKey)).toBe('refunded');
  expect(desc.typedSearchAttributes.get(TerminalIdKey)).toBe(stack.terminalIds[0]);
});
