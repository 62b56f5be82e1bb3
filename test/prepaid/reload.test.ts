/**
 * Reloading a used prepaid card at the kiosk, on the real stack: the card in the reload slot is
 * read, paid for in cash, its new balance written with the anti-tearing scheme and read back; the
 * center's balance is authoritative (a chip that disagrees is flagged and corrected), credited
 * once, and the reload is a sale against the issuer like any other.
 */
import { randomBytes } from 'node:crypto';
import { checkLedger } from '../../activities/center/ledger-check';
import { createReloadActivities } from '../../activities/center/reloads';
import { createSaleActivities } from '../../activities/center/sales';
import { parseCardRecord } from '../../domain/card-record';
import type { ReloadProgress } from '../../domain/reload';
import { applySlotWrite, planSlotWrite } from '../../domain/value-slots';
import { cardSigningKeys } from '../../lib/card-signing';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';
import { insertCustomerCard } from '../../terminal-worker/simulators/simulated-customer-slot';
import { call, Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';
import { stockValue } from './support';
import { manufactureStockCards } from '../../activities/center/stock-cards';

let stack: Stack;
let t1: string;
let t2: string;
beforeAll(async () => {
  stack = await startStack({ terminals: 2 });
  [t1, t2] = stack.terminalIds;
});
afterAll(async () => {
  await stack?.stop();
});

const rid = () => randomBytes(8).toString('hex');

/** A customer buys a ¥1,000 prepaid card (written on a blank card) and keeps its chip. */
async function buyPrepaidCard(): Promise<{ cardId: string; uid: string; chipBase64: string }> {
  const v = await stack.db('prepaid_values').where({ value_minor: 1000 }).first('id');
  const kiosk = new Kiosk(stack.apiUrl, t1);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: Number(v.id) }, [1000]);
  const done = await kiosk.waitForStage('completed');
  const card = stack.machine(t1).dispensed.find((c) => c.face?.cardId === done.cardId)!;
  return { cardId: done.cardId!, uid: card.uid, chipBase64: card.chipBase64 };
}

async function startReload(terminalId: string, amountMinor: number): Promise<string> {
  const res = await call(stack.apiUrl, 'POST', `/api/kiosk/${terminalId}/reloads`, { requestId: rid(), amountMinor });
  if (res.status !== 201) throw new Error(`reload start answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.reloadId;
}
const progress = async (id: string): Promise<ReloadProgress> => (await call(stack.apiUrl, 'GET', `/api/reloads/${id}`)).body;
const waitStage = (id: string, stages: string[]) => until(`reload ${id} in ${stages.join('/')}`, async () => {
  const p = await progress(id);
  return stages.includes(p.stage) ? p : null;
});
const cash = (id: string, amountMinor: number) => call(stack.apiUrl, 'POST', `/api/reloads/${id}/cash`, { requestId: rid(), amountMinor });

/** The card the slot handed back last, and its chip's current value. */
function returned(terminalId: string, uid: string) {
  const card = [...(stack.machine(terminalId).returnedCards ?? [])].reverse().find((c) => c.uid === uid)!;
  return { chipBase64: card.chipBase64, value: parseCardRecord(Buffer.from(card.chipBase64, 'base64')).value!.state };
}

let card: { cardId: string; uid: string; chipBase64: string };

test('a reload adds value on the chip and in the center, once; sale, cash and ledger agree', async () => {
  card = await buyPrepaidCard();
  insertCustomerCard(stack.machineFile(t1), card);
  const id = await startReload(t1, 2000);
  const paying = await waitStage(id, ['paying']);
  expect(paying).toMatchObject({ cardId: card.cardId, balanceBeforeMinor: 1000, balanceAfterMinor: 3000, chipMismatch: false });
  expect((await cash(id, 5000)).status).toBe(200);
  const done = await waitStage(id, ['completed', 'refunded', 'refused']);
  expect(done.stage).toBe('completed');

  expect(returned(t1, card.uid).value).toEqual({ seq: 2, balanceMinor: 3000, flags: 0 });
  expect(Number((await stack.db('card_balances').where({ card_id: card.cardId }).first()).balance_minor)).toBe(3000);
  expect(await stack.db('card_reloads').where({ id }).first()).toMatchObject({ status: 'completed', open_card_id: null });
  const sales = await stack.db('sales').where({ issuance_id: id });
  expect(sales).toHaveLength(1);
  expect(sales[0]).toMatchObject({ card_id: card.cardId, issuer_id: 'hikari-mobile' });
  expect(Number(sales[0].price_minor)).toBe(2000);
  const machine = stack.machine(t1);
  expect(machine.payouts[`change:${id}`]).toBe(3000);
  expect(machine.receipts[`receipt:${id}`]).toEqual(expect.arrayContaining(['Added ¥2,000', 'Balance ¥3,000']));
  const events = [...stack.issuer.events.values()].filter((e) => (e.payload as any).data.issuanceId === id);
  expect(events.map((e) => e.type)).toEqual(['sale.recorded']);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);

  // The same card again: from the new balance.
  insertCustomerCard(stack.machineFile(t1), { uid: card.uid, chipBase64: returned(t1, card.uid).chipBase64 });
  const next = await startReload(t1, 1000);
  await waitStage(next, ['paying']);
  await cash(next, 1000);
  expect((await waitStage(next, ['completed', 'refunded', 'refused'])).stage).toBe('completed');
  expect(returned(t1, card.uid).value).toEqual({ seq: 3, balanceMinor: 4000, flags: 0 });
  card.chipBase64 = returned(t1, card.uid).chipBase64;
});

test('a chip that disagrees with the center is flagged and corrected from the center balance', async () => {
  // Someone wrote ¥99,000 into the chip's value area (it is not signed); the center says ¥4,000.
  const bytes = Buffer.from(card.chipBase64, 'base64');
  const parsed = parseCardRecord(bytes);
  const rogue = applySlotWrite(parsed.valueArea!, planSlotWrite(parsed.valueArea!, { balanceMinor: 99_000, flags: 0 }));
  bytes.set(rogue, parsed.valueAreaOffset!);
  insertCustomerCard(stack.machineFile(t1), { uid: card.uid, chipBase64: bytes.toString('base64') });
  const id = await startReload(t1, 1000);
  expect(await waitStage(id, ['paying'])).toMatchObject({ chipMismatch: true, balanceBeforeMinor: 4000, balanceAfterMinor: 5000 });
  await cash(id, 1000);
  expect((await waitStage(id, ['completed', 'refunded', 'refused'])).stage).toBe('completed');
  expect(await stack.db('card_reloads').where({ id }).first()).toMatchObject({ chip_mismatch: expect.anything(), status: 'completed' });
  expect(Boolean((await stack.db('card_reloads').where({ id }).first()).chip_mismatch)).toBe(true);
  expect(Number((await stack.db('card_reloads').where({ id }).first()).chip_balance_minor)).toBe(99_000);
  expect(returned(t1, card.uid).value.balanceMinor).toBe(5000);
  expect(Number((await stack.db('card_balances').where({ card_id: card.cardId }).first()).balance_minor)).toBe(5000);
  card.chipBase64 = returned(t1, card.uid).chipBase64;
});

test('the card pulled mid-write: the chip keeps its old value, the money comes back, nothing is credited', async () => {
  const before = returned(t1, card.uid).value;
  insertCustomerCard(stack.machineFile(t1), card);
  new MachineStateFile(stack.machineFile(t1)).update((st) => {
    st.tearCustomerWriteAfterBytes = 7;
  });
  const id = await startReload(t1, 3000);
  await waitStage(id, ['paying']);
  await cash(id, 1000);
  await cash(id, 2000);
  const end = await waitStage(id, ['completed', 'refunded', 'refused']);
  expect(end.stage).toBe('refunded');
  // The torn slot is invalid, so the chip's current value is exactly the old one.
  expect(returned(t1, card.uid).value).toEqual(before);
  expect(returned(t1, card.uid).chipBase64).not.toBe(card.chipBase64); // bytes were written, and ignored
  expect(stack.machine(t1).payouts[`refund:${id}`]).toBe(3000);
  expect(Number((await stack.db('card_balances').where({ card_id: card.cardId }).first()).balance_minor)).toBe(5000);
  expect(await stack.db('card_reloads').where({ id }).first()).toMatchObject({ status: 'refunded', open_card_id: null });
  expect(await stack.db('sales').where({ issuance_id: id })).toHaveLength(0);
  expect((await stack.db('payments').where({ issuance_id: id }).first()).status).toBe('refunded');
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
  card.chipBase64 = returned(t1, card.uid).chipBase64;
});

test('one reload of a card at a time; a stock card never sold and an unknown amount are refused', async () => {
  insertCustomerCard(stack.machineFile(t1), card);
  insertCustomerCard(stack.machineFile(t2), card); // a cloned card at the next kiosk
  const first = await startReload(t1, 1000);
  await waitStage(first, ['paying']);
  const second = await startReload(t2, 1000);
  const refused = await waitStage(second, ['refused']);
  expect(refused.message).toMatch(/Another reload of this card is in progress/);
  expect((stack.machine(t2).returnedCards ?? []).map((c) => c.uid)).toContain(card.uid);
  expect(await stack.db('issuances').where({ id: second })).toHaveLength(0);
  expect((await call(stack.apiUrl, 'POST', `/api/reloads/${first}/cancel`, { requestId: rid() })).status).toBe(200);
  expect((await waitStage(first, ['cancelled'])).stage).toBe('cancelled');
  expect(await stack.db('card_reloads').where({ id: first }).first()).toMatchObject({ status: 'cancelled', open_card_id: null });

  const value = await stockValue(stack);
  const { cards } = await manufactureStockCards(stack.db, cardSigningKeys(process.env, stack.env.DATA_DIR!), { valueId: value.valueId, count: 1 });
  insertCustomerCard(stack.machineFile(t1), { uid: cards[0].uid, chipBase64: cards[0].recordBase64 });
  const stolen = await startReload(t1, 1000);
  expect((await waitStage(stolen, ['refused'])).message).toMatch(/not_issued/);

  const bad = await call(stack.apiUrl, 'POST', `/api/kiosk/${t1}/reloads`, { requestId: rid(), amountMinor: 1500 });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toMatch(/steps of ¥1,000/);
  expect((await call(stack.apiUrl, 'POST', `/api/kiosk/${t1}/reloads`, { requestId: rid(), amountMinor: 1000, cardId: 'C1' })).status).toBe(400);
  expect((await call(stack.apiUrl, 'POST', '/api/kiosk/T-nowhere/reloads', { requestId: rid(), amountMinor: 1000 })).status).toBe(404);
  expect((await call(stack.apiUrl, 'GET', '/api/reloads/iss-T-1-abcdefgh')).status).toBe(400);
  expect((await call(stack.apiUrl, 'POST', `/api/reloads/${first}/cash`, { requestId: rid(), amountMinor: 1000 })).status).toBe(409);
});

test('crediting and recording a reload twice (a retried activity) counts once', async () => {
  const [row] = await stack.db('card_reloads').where({ card_id: card.cardId, status: 'completed' }).orderBy('created_at_ms', 'desc').limit(1);
  const acts = createReloadActivities({ db: stack.db });
  const balance = Number((await stack.db('card_balances').where({ card_id: card.cardId }).first()).balance_minor);
  expect(await acts.creditReload(row.id)).toEqual({ balanceMinor: Number(row.balance_after_minor), credited: false });
  await createSaleActivities({ db: stack.db, periodConfig: { closeTime: '00:00', timeZone: 'Asia/Tokyo' } }).recordSale(row.id, card.cardId);
  expect(Number((await stack.db('card_balances').where({ card_id: card.cardId }).first()).balance_minor)).toBe(balance);
  expect(await stack.db('sales').where({ issuance_id: row.id })).toHaveLength(1);
  // A refunded reload can never be credited.
  const [refunded] = await stack.db('card_reloads').where({ card_id: card.cardId, status: 'refunded' });
  await expect(acts.creditReload(refunded.id)).rejects.toMatchObject({ type: 'InvariantBroken' });
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

test('cancelled while waiting for the card: ends at once and the terminal is free for the next customer', async () => {
  const id = await startReload(t2, 1000);
  await waitStage(id, ['reading']);
  const started = Date.now();
  expect((await call(stack.apiUrl, 'POST', `/api/reloads/${id}/cancel`, { requestId: rid() })).status).toBe(200);
  const end = await waitStage(id, ['cancelled', 'refused']);
  expect(end.stage).toBe('cancelled');
  expect(Date.now() - started).toBeLessThan(30_000); // the wait for the card is 60 s
  expect(await stack.db('issuances').where({ id })).toHaveLength(0);

  // The terminal's one-at-a-time activity slot is free: the next reload there runs through.
  insertCustomerCard(stack.machineFile(t2), card);
  const next = await startReload(t2, 1000);
  await waitStage(next, ['paying']);
  await cash(next, 1000);
  expect((await waitStage(next, ['completed', 'refunded', 'refused'])).stage).toBe('completed');
});
