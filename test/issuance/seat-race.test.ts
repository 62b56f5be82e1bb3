/** Two kiosks race for the same seat, 50 times: exactly one wins each time. */
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ terminals: 2 });
});
afterAll(async () => {
  await stack?.stop();
});

test('50 races: one winner, one clear refusal, and the loser can pick another seat', async () => {
  const seats = await stack.db('seats').where({ performance_id: 2, status: 'available' }).orderBy('id').limit(100).pluck('id');
  const wins = [0, 0];
  for (let round = 0; round < 50; round++) {
    const contested = Number(seats[2 * round]);
    const other = Number(seats[2 * round + 1]);
    const kiosks = [new Kiosk(stack.apiUrl, stack.terminalIds[0]), new Kiosk(stack.apiUrl, stack.terminalIds[1])];
    await Promise.all(kiosks.map((k) => k.start()));
    const results = await Promise.all(kiosks.map((k) => k.select({ kind: 'seat', seatId: contested })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409]);
    const winner = results.findIndex((r) => r.status === 200);
    const loser = 1 - winner;
    wins[winner]++;
    expect(results[loser].body.error.code).toBe('item_unavailable');
    expect(results[loser].body.error.message).toMatch(/has just been taken\. Please pick another seat\./);
    const held = await stack.db('seats').where({ id: contested }).first('status', 'hold_issuance_id');
    expect(held).toEqual({ status: 'held', hold_issuance_id: kiosks[winner].issuanceId });
    // The loser is still in the selecting stage and can pick another seat.
    const retry = await kiosks[loser].select({ kind: 'seat', seatId: other });
    expect(retry.status).toBe(200);
    await Promise.all(kiosks.map((k) => k.cancel()));
    await Promise.all(kiosks.map((k) => k.waitForStage('cancelled')));
  }
  // Both kiosks won sometimes is likely but not guaranteed; what must hold is the total.
  expect(wins[0] + wins[1]).toBe(50);
  expect(await stack.db('seats').where({ status: 'held' })).toHaveLength(0);
  expect(await stack.db('sales')).toHaveLength(0);
});
