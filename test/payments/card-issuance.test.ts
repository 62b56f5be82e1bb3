/**
 * Card payments on the real stack (Temporal dev server, MariaDB, workers, API, the three payment
 * host simulators): for each card method an approval that ends in one card, one sale and one
 * charge, with the ledger right.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('credit: authorized (0100), card made, then captured; one charge, one sale, receivable posted', async () => {
  const pan = '4111111111111111';
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  const charges = stack.paymentHosts.card.chargeCount();
  await kiosk.buyWithCard({ kind: 'seat', seatId: seat.id }, 'credit', pan);
  const done = await kiosk.waitForStage('completed');
  expect(done.payment).toMatchObject({ method: 'credit', state: 'paid', last4: '1111', tries: 1 });
  expect(stack.paymentHosts.card.chargeCount()).toBe(charges + 1);
  const payments = await stack.db('payments').where({ issuance_id: kiosk.issuanceId });
  expect(payments).toHaveLength(1);
  expect(payments[0]).toMatchObject({ method: 'credit', status: 'captured', card_last4: '1111', request_mti: '0100', response_code: '00', host_id: 'sakura-card' });
  expect(payments[0].card_token).toMatch(/^tok_/);
  const transitions = await stack.db('payment_transitions').where({ payment_id: payments[0].id }).orderBy('id').pluck('to_status');
  expect(transitions).toEqual(['pending', 'authorized', 'captured']);
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(1);
  const kinds = await stack.db('ledger_transactions').where('ref', 'like', `${kiosk.issuanceId}%`).orderBy('id').pluck('kind');
  expect(kinds).toEqual(['card_captured', 'sale']);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});
