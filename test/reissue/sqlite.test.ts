/**
 * Reissue on the embedded default (SQLite, as `npm start` runs): the migration, the issuer's
 * request, two kiosks entering the code at once (one card), the collection with the reissue fee
 * paid in cash, the links and the ledger.
 */
import { createIssuerApiKey } from '../../api/issuer-auth';
import { checkLedger } from '../../activities/center/ledger-check';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ database: 'sqlite', terminals: 2 });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

test('a commuter pass reissued on SQLite: one card for two kiosks, the fee paid in cash, linked both ways', async () => {
  const fare = await stack.db('commuter_fares').orderBy('id').first('id');
  const buyer = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await buyer.buyWithNotes({ kind: 'fare', fareId: Number(fare.id) });
  const originalCardId = (await buyer.waitForStage('completed')).cardId!;

  const apiKey = (await createIssuerApiKey(stack.db, { issuerId: DEMO_ISSUERS.railway, label: 'test', createdBy: 'test' })).apiKey;
  const res = await fetch(`${stack.apiUrl}/api/issuer/cards/${originalCardId}/reissue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ reason: 'lost', requestId: 'sq-1' }),
  });
  const reissue = (await res.json()) as { pickupCode: string; feeMinor: number; revoked: boolean };
  expect(res.status).toBe(201);
  expect(reissue).toMatchObject({ feeMinor: 520, revoked: true }); // the demo railway's reissue fee

  const [a, b] = stack.terminalIds.map((t) => new Kiosk(stack.apiUrl, t));
  const answers = await Promise.all([a.enterPickupCode(reissue.pickupCode), b.enterPickupCode(reissue.pickupCode)]);
  expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
  const winner = answers[0].status === 200 ? a : b;
  await (winner === a ? b : a).cancel();
  expect(answers.find((r) => r.status === 200)!.body.item.quote).toMatchObject({ priceMinor: 0, customerFeeMinor: 520, totalMinor: 520 });
  await winner.confirm();
  await winner.payment('cash');
  await winner.insertCash(1000);
  const done = await winner.waitForStage('completed');
  expect(stack.machine(winner.terminalId).payouts[`change:${winner.issuanceId}`]).toBe(480);

  expect(await stack.db('card_reissues').where({ original_card_id: originalCardId }).first('status', 'new_card_id', 'claim_issuance_id')).toEqual({ status: 'completed', new_card_id: done.cardId, claim_issuance_id: winner.issuanceId });
  expect(await stack.db('sales').where({ issuance_id: winner.issuanceId }).first('price_minor', 'customer_fee_minor', 'operator_fee_minor')).toEqual({ price_minor: 0, customer_fee_minor: 520, operator_fee_minor: 0 });
  const card = await fetch(`${stack.apiUrl}/api/issuer/cards/${done.cardId}`, { headers: { authorization: `Bearer ${apiKey}` } });
  expect(await card.json()).toMatchObject({ replacementFor: originalCardId, content: { kind: 'fare', fareId: Number(fare.id) } });
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});
