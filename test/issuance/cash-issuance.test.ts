/**
 * Cash issuances on the real stack (Temporal dev server, MariaDB, workers, API, demo issuer).
 */
import { verifySignature } from '../../lib/webhook-signature';
import { operatorFee } from '../../domain/money';
import { freeSeat, seatStatus } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { IssuanceStageKey, IssuerIdKey, ProductTypeKey, TerminalIdKey } from '../../domain/search-attributes';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('a full cash issuance: one card, one sale, fee right, seat sold, one signed notification', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  const id = await kiosk.start();
  const sel = await kiosk.select({ kind: 'seat', seatId: seat.id });
  expect(sel.status).toBe(200);
  expect(sel.body.item.quote).toEqual({ currency: 'JPY', priceMinor: seat.price, customerFeeMinor: 330, totalMinor: seat.price + 330 });
  expect((await seatStatus(stack.db, seat.id)).status).toBe('held');
  expect((await kiosk.confirm()).body.stage).toBe('confirmed');
  expect((await kiosk.payment('cash')).body.stage).toBe('paying');
  const total = seat.price + 330;
  let inserted = 0;
  for (const note of [10000, 5000]) {
    if (inserted >= total) break;
    const r = await kiosk.insertCash(note);
    expect(r.status).toBe(200);
    inserted += note;
  }
  const done = await kiosk.waitForStage('completed');
  expect(done.cardId).toMatch(/^C[0-9A-F]{12}$/);
  expect(done.cash).toMatchObject({ insertedMinor: inserted, changeMinor: inserted - total, remainingMinor: 0 });

  const sales = await stack.db('sales').where({ issuance_id: id });
  expect(sales).toHaveLength(1);
  const fee = operatorFee(seat.price, { bps: 800, fixedMinor: 0 });
  expect(Number(sales[0].operator_fee_minor)).toBe(fee);
  expect(Number(sales[0].issuer_net_minor)).toBe(seat.price - fee);
  expect(sales[0].card_id).toBe(done.cardId);

  expect(await seatStatus(stack.db, seat.id)).toEqual({ status: 'sold', hold: null, sold: id });
  const cards = await stack.db('cards').where({ issuance_id: id });
  expect(cards.map((c) => c.status)).toEqual(['issued']);
  const payments = await stack.db('payments').where({ issuance_id: id });
  expect(payments).toHaveLength(1);
  expect(payments[0]).toMatchObject({ method: 'cash', status: 'collected' });
  expect(Number(payments[0].amount_minor)).toBe(total);

  // The terminal handed out exactly one card, and paid out the change once.
  const machine = stack.machine(stack.terminalIds[0]);
  expect(machine.dispensed.map((c) => c.uid)).toEqual([cards[0].uid]);
  expect(machine.payouts[`change:${id}`]).toBe(inserted - total);

  // The issuer received one notification, correctly signed, about this sale.
  const note = await stack.db('issuer_notifications').where({ issuance_id: id }).first();
  expect(note.status).toBe('delivered');
  const received = [...stack.issuer.events.values()].filter((e) => (e.payload as any).data.issuanceId === id);
  expect(received).toHaveLength(1);
  expect(received[0].deliveries).toBe(1);
  expect(received[0].payload).toMatchObject({ type: 'sale.recorded', data: { priceMinor: seat.price, operatorFeeMinor: fee, cardId: done.cardId } });
  expect(stack.issuer.rejected).toEqual([]);
  const issuerRow = await stack.db('issuers').where({ id: 'sunrise-promotions' }).first('webhook_secret');
  expect(verifySignature(issuerRow.webhook_secret, note.payload, 'v1=forged', Math.floor(Date.now() / 1000)).ok).toBe(false);

  // What the operator sees in the Web UI: type, search attributes, memo, and the steps in history.
  const handle = stack.temporal.workflow.getHandle(id);
  const desc = await handle.describe();
  expect(desc.type).toBe('issuance');
  expect(desc.status.name).toBe('COMPLETED');
  expect(desc.typedSearchAttributes.get(TerminalIdKey)).toBe(stack.terminalIds[0]);
  expect(desc.typedSearchAttributes.get(IssuerIdKey)).toBe('sunrise-promotions');
  expect(desc.typedSearchAttributes.get(ProductTypeKey)).toBe('concert');
  expect(desc.typedSearchAttributes.get(IssuanceStageKey)).toBe('completed');
  expect(desc.memo).toMatchObject({ total: `¥${(seat.price + 330).toLocaleString('en-US')}` });
  const history = await handle.fetchHistory();
  const activities = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
  expect(activities).toEqual(['holdItem', 'acceptCash', 'recordCashPayment', 'payoutCash', 'feedBlankCard', 'bindCard', 'prepareCardRecord', 'writeChip', 'verifyChip', 'setCardStatus', 'printFace', 'presentCard', 'setCardStatus', 'printReceipt', 'recordSale', 'notifyIssuer']);
});
