/**
 * Activation at sale (patent claim 7) on the real stack: pre-loaded prepaid cards in the kiosk's
 * stock stocker are worth nothing until sold; at sale the terminal reads the card's identity, the
 * center asks the issuer's server to activate it, and only then does it verify as valid.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { createStockCardActivities } from '../../activities/center/stock-cards';
import { createHoldActivities } from '../../activities/center/holds';
import { requestActivation } from '../../activities/center/issuer-activation';
import { cardSigningKeys } from '../../lib/card-signing';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { stockCardsInKiosk, stockValue, verifyChip } from './support';

let stack: Stack;
let tid: string;
let value: Awaited<ReturnType<typeof stockValue>>;
beforeAll(async () => {
  stack = await startStack();
  tid = stack.terminalIds[0];
  value = await stockValue(stack);
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(() => {
  stack.issuer.activation.answer = 'approve';
  stack.issuer.activation.delayMs = 0;
});

async function buyStockCard(): Promise<Kiosk> {
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: value.valueId }, [1000, 1000, 1000]);
  return kiosk;
}

test('a stock card is not issued until sold; at sale the issuer activates it and it verifies valid', async () => {
  const [card, other] = await stockCardsInKiosk(stack, tid, value.valueId, 2);
  // Stolen from the stocker before any sale: a genuine signature, but not issued.
  expect(await verifyChip(stack, card.recordBase64)).toMatchObject({ valid: false, reason: 'not_issued' });

  const kiosk = await buyStockCard();
  const done = await kiosk.waitForStage('completed');
  expect(done.cardId).toBe(card.cardId);

  // The issuer got exactly one activation request for this card and sale.
  const activations = [...stack.issuer.activations.values()].filter((a) => a.cardId === card.cardId);
  expect(activations).toHaveLength(1);
  expect(activations[0]).toMatchObject({ issuanceId: kiosk.issuanceId, requests: 1 });
  const stock = await stack.db('stock_cards').where({ id: card.cardId }).first();
  expect(stock).toMatchObject({ status: 'activated', sale_issuance_id: kiosk.issuanceId, activation_ref: activations[0].activationRef });

  // The card handed out is the pre-loaded one, unchanged (no blank card used), and now verifies.
  const machine = stack.machine(tid);
  expect(machine.dispensed.map((c) => c.uid)).toEqual([card.uid]);
  expect(machine.dispensed[0].chipBase64).toBe(card.recordBase64);
  expect(machine.stockerCount).toBe(500);
  expect(await verifyChip(stack, card.recordBase64)).toMatchObject({ valid: true, reason: null });
  expect(await verifyChip(stack, other.recordBase64)).toMatchObject({ valid: false, reason: 'not_issued' });

  // Sold like any prepaid card: one sale, the cash kept, the issuer notified; the ledger holds.
  const sales = await stack.db('sales').where({ issuance_id: kiosk.issuanceId });
  expect(sales).toHaveLength(1);
  expect(sales[0].card_id).toBe(card.cardId);
  expect(Number(sales[0].price_minor)).toBe(value.priceMinor);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);

  // What is left in the stocker is sold next.
  const second = await buyStockCard();
  expect((await second.waitForStage('completed')).cardId).toBe(other.cardId);
});

test('the issuer denies the activation: money back, card to the reject bin, still only stock', async () => {
  const [card] = await stockCardsInKiosk(stack, tid, value.valueId, 1);
  stack.issuer.activation.answer = 'deny';
  const kiosk = await buyStockCard();
  const end = await kiosk.waitForStage('refunded');
  expect(end.message).toMatch(/did not activate/);
  const machine = stack.machine(tid);
  expect(machine.payouts[`refund:${kiosk.issuanceId}`]).toBe(3000);
  expect(machine.rejectBin.map((c) => c.uid)).toContain(card.uid);
  expect(machine.dispensed.map((c) => c.uid)).not.toContain(card.uid);
  expect(await stack.db('stock_cards').where({ id: card.cardId }).first()).toMatchObject({ status: 'stock', sale_issuance_id: null, activation_ref: null });
  expect(await stack.db('cards').where({ id: card.cardId }).first()).toBeUndefined();
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  expect((await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first()).status).toBe('refunded');
  expect(await verifyChip(stack, card.recordBase64)).toMatchObject({ valid: false, reason: 'not_issued' });
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

test('the issuer does not answer by the deadline: refunded, the card is not activated', async () => {
  const [card] = await stockCardsInKiosk(stack, tid, value.valueId, 1);
  stack.issuer.activation.delayMs = 7_000; // the center waits 5 s
  const kiosk = await buyStockCard();
  const end = await kiosk.waitForStage('refunded', 90_000);
  expect(end.message).toMatch(/gave no activation answer in time \(no answer within 5000 ms\)/);
  expect(stack.machine(tid).payouts[`refund:${kiosk.issuanceId}`]).toBe(3000);
  expect(await stack.db('stock_cards').where({ id: card.cardId }).first()).toMatchObject({ status: 'stock', sale_issuance_id: null });
  expect(await verifyChip(stack, card.recordBase64)).toMatchObject({ valid: false, reason: 'not_issued' });
}, 120_000);

test('a retried activation activates once; a card of another value or a forged one is refused', async () => {
  const deps = { db: stack.db, cardKeys: cardSigningKeys(process.env, stack.env.DATA_DIR!) };
  const stockActs = createStockCardActivities(deps);
  const issuanceId = `iss-${tid}-retrytest01`;
  await createHoldActivities(deps).holdItem(issuanceId, tid, { kind: 'prepaid', valueId: value.valueId }, 60_000);
  const [card] = await stockCardsInKiosk(stack, tid, value.valueId, 1);
  const { cardId } = await stockActs.claimStockCard(issuanceId, card.uid, card.recordBase64);
  expect(await stockActs.claimStockCard(issuanceId, card.uid, card.recordBase64)).toEqual({ cardId });

  // The first attempt reached the issuer, then its worker died before the center recorded it.
  const issuer = await stack.db('issuers').where({ id: 'hikari-mobile' }).first('activation_url', 'webhook_secret');
  const lost = await requestActivation({ activationUrl: issuer.activation_url, webhookSecret: issuer.webhook_secret }, { cardId, issuanceId, terminalId: tid, valueMinor: 3000, currency: 'JPY' }, { timeoutMs: 5000, nowMs: Date.now() });
  expect(lost.approved).toBe(true);
  const first = await stockActs.activateStockCard(issuanceId, cardId);
  const again = await stockActs.activateStockCard(issuanceId, cardId);
  expect(again).toEqual(first);
  const acts = [...stack.issuer.activations.values()].filter((a) => a.cardId === cardId);
  expect(acts).toHaveLength(1);
  expect(acts[0].requests).toBe(2); // the lost one and the retry; the center's repeat did not ask again
  expect(first.activationRef).toBe(acts[0].activationRef);
  expect(await stack.db('cards').where({ id: cardId })).toHaveLength(1);

  // Another sale cannot take it; a tampered record is refused before anything changes.
  const otherSale = `iss-${tid}-retrytest02`;
  await createHoldActivities(deps).holdItem(otherSale, tid, { kind: 'prepaid', valueId: value.valueId }, 60_000);
  await expect(stockActs.claimStockCard(otherSale, card.uid, card.recordBase64)).rejects.toMatchObject({ type: 'StockCardUnusable' });
  const [fresh] = await stockCardsInKiosk(stack, tid, value.valueId, 1);
  const forged = Buffer.from(fresh.recordBase64, 'base64');
  forged[40] ^= 0x01;
  await expect(stockActs.claimStockCard(otherSale, fresh.uid, forged.toString('base64'))).rejects.toMatchObject({ type: 'StockCardUnusable' });
  expect(await stack.db('stock_cards').where({ id: fresh.cardId }).first()).toMatchObject({ status: 'stock', sale_issuance_id: null });
});
