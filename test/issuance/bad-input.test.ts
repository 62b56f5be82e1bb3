/**
 * Bad input gets a 4xx with a clear message in one JSON shape, and the database is unchanged.
 */
import { freeSeat, snapshot } from '../support/assertions';
import { call, Kiosk, newRequestId } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let soldSeatId: number;
beforeAll(async () => {
  stack = await startStack();
  // One real sale, so there is a sold seat to try to buy again.
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 10000]);
  await kiosk.waitForStage('completed');
  soldSeatId = seat.id;
});
afterAll(async () => {
  await stack?.stop();
});

function expectError(res: { status: number; body: any }, status: number, code: string, message?: RegExp) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  if (message) expect(res.body.error.message).toMatch(message);
}

test('every kind of bad request is refused clearly and changes nothing', async () => {
  const before = await snapshot(stack.db);
  const api = stack.apiUrl;
  const k = new Kiosk(api, stack.terminalIds[0]);
  await k.start();

  // Unknown things.
  expectError(await call(api, 'GET', '/api/products/999999'), 404, 'unknown_product', /no product 999999/);
  expectError(await k.select({ kind: 'seat', seatId: 999999 }), 404, 'unknown_item', /no seat 999999/);
  expectError(await k.select({ kind: 'prepaid', valueId: 424242 }), 404, 'unknown_item');
  expectError(await call(api, 'POST', '/api/kiosk/NO-SUCH/issuances', { requestId: newRequestId() }), 404, 'unknown_terminal');
  expectError(await call(api, 'GET', `/api/issuances/iss-${stack.terminalIds[0]}-doesnotexist`), 404, 'unknown_issuance');
  expectError(await call(api, 'GET', '/api/catalogue?parentId=99999'), 404, 'unknown_node');

  // A sold seat.
  expectError(await k.select({ kind: 'seat', seatId: soldSeatId }), 409, 'item_unavailable', /taken/);

  // Malformed and ill-typed bodies.
  expectError(await call(api, 'POST', `/api/issuances/${k.issuanceId}/select`, undefined, '{"requestId": "abc'), 400, 'malformed_json');
  expectError(await call(api, 'POST', `/api/issuances/${k.issuanceId}/select`, { requestId: newRequestId(), selection: { kind: 'seat', seatId: -3 } }), 400, 'invalid_input', /seatId/);
  expectError(await call(api, 'POST', `/api/issuances/${k.issuanceId}/select`, { requestId: newRequestId(), selection: { kind: 'lottery' } }), 400, 'invalid_input');
  expectError(await call(api, 'POST', `/api/issuances/${k.issuanceId}/select`, { requestId: 'x', selection: { kind: 'seat', seatId: 1 } }), 400, 'invalid_input', /requestId/);
  expectError(await call(api, 'POST', `/api/kiosk/${stack.terminalIds[0]}/issuances`, { requestId: newRequestId(), admin: true }), 400, 'invalid_input');

  // Updates at the wrong stage.
  expectError(await k.confirm(), 409, 'wrong_stage', /Cannot confirm now: the issuance is selecting/);
  expectError(await k.insertCash(1000), 409, 'wrong_stage', /Cannot insert cash now/);
  expectError(await k.payment('cash'), 409, 'wrong_stage');

  // Negative and absurd amounts (checked by the API, and by the workflow's validator).
  const seat = await freeSeat(stack.db);
  const before2 = await snapshot(stack.db);
  expect((await k.select({ kind: 'seat', seatId: seat.id })).status).toBe(200);
  expect((await k.confirm()).status).toBe(200);
  expect((await k.payment('cash')).status).toBe(200);
  expectError(await k.insertCash(-1000), 400, 'invalid_input', /amountMinor/);
  expectError(await k.insertCash(1e9), 400, 'invalid_input', /amountMinor/);
  expectError(await k.insertCash(1234), 422, 'invalid_request', /accepts only/);
  expectError(await k.insertCash(0.5), 400, 'invalid_input');
  expectError(await k.payment('bitcoin'), 400, 'invalid_input');
  const progress = await k.progress();
  expect(progress.cash).toEqual({ insertedMinor: 0, dueMinor: seat.price + 330, remainingMinor: seat.price + 330, changeMinor: 0 });

  // Cancel: the hold goes, and the DB is back where it was before the selection.
  await k.cancel();
  await k.waitForStage('cancelled');
  const after = await snapshot(stack.db);
  expect({ ...after, issuances: before2.issuances }).toEqual(before2);
  expect(after.issuances).toBe(before.issuances + 1); // the cancelled issuance is on record
  expect(after.sales).toBe(before.sales);
  expect(after.seats_sold).toBe(before.seats_sold);
});

test('an unknown route answers JSON 404', async () => {
  expectError(await call(stack.apiUrl, 'GET', '/api/nothing-here'), 404, 'not_found');
});
