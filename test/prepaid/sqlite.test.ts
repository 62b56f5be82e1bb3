/**
 * Activation at sale and a reload on the embedded SQLite database (npm start's default): the
 * migration, the stock card lookup of verification and the reload's credit run there too.
 */
import { randomBytes } from 'node:crypto';
import { parseCardRecord } from '../../domain/card-record';
import { insertCustomerCard } from '../../terminal-worker/simulators/simulated-customer-slot';
import { call, Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';
import { stockCardsInKiosk, stockValue, verifyChip } from './support';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ database: 'sqlite' });
});
afterAll(async () => {
  await stack?.stop();
});

test('on SQLite: a stock card is activated at sale, verifies, and is reloaded', async () => {
  const tid = stack.terminalIds[0];
  const value = await stockValue(stack);
  const [card, spare] = await stockCardsInKiosk(stack, tid, value.valueId, 2);
  expect(await verifyChip(stack, spare.recordBase64)).toMatchObject({ valid: false, reason: 'not_issued' });
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: value.valueId }, [5000]);
  expect((await kiosk.waitForStage('completed')).cardId).toBe(card.cardId);
  expect(await verifyChip(stack, card.recordBase64)).toMatchObject({ valid: true });

  insertCustomerCard(stack.machineFile(tid), { uid: card.uid, chipBase64: card.recordBase64 });
  const started = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/reloads`, { requestId: randomBytes(8).toString('hex'), amountMinor: 2000 });
  expect(started.status).toBe(201);
  const id = started.body.reloadId;
  await until('paying', async () => (await call(stack.apiUrl, 'GET', `/api/reloads/${id}`)).body.stage === 'paying');
  await call(stack.apiUrl, 'POST', `/api/reloads/${id}/cash`, { requestId: randomBytes(8).toString('hex'), amountMinor: 2000 });
  const done = await until('reload over', async () => {
    const p = (await call(stack.apiUrl, 'GET', `/api/reloads/${id}`)).body;
    return ['completed', 'refunded', 'refused'].includes(p.stage) ? p : null;
  });
  expect(done).toMatchObject({ stage: 'completed', balanceBeforeMinor: 3000, balanceAfterMinor: 5000 });
  const back = stack.machine(tid).returnedCards!.at(-1)!;
  expect(parseCardRecord(Buffer.from(back.chipBase64, 'base64')).value!.state).toEqual({ seq: 2, balanceMinor: 5000, flags: 0 });
  expect(Number((await stack.db('card_balances').where({ card_id: card.cardId }).first()).balance_minor)).toBe(5000);
});
