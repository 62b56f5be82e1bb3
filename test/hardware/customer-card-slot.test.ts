/**
 * The customer's own card on the real drivers: the emulated kiosk's customer card slot is vpcd's
 * second reader, driven by PcscCustomerCardSlot (pcsclite → pcscd); the cards are bought at the
 * same kiosk (serial printer emulator, contact station on vpcd's first reader) and inserted by
 * the kiosk page's "Insert my card" (api/routes/kiosk-customer-card.ts) or the kiosk's control
 * channel, with the chip image they left the printer with.
 *   - a reload on the kiosk page writes the new value slot over PC/SC and reads it back;
 *   - a card pulled out mid value-write keeps its old value, the customer's money comes back;
 *   - an application is added by the GlobalPlatform installer on the slot's reader, the card
 *     never entering the printer.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseCardRecord } from '../../domain/card-record';
import type { ReloadProgress } from '../../domain/reload';
import { commuterFare, storePackage } from '../applications/support';
import { openKioskBrowser } from '../support/kiosk-browser';
import { call, Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

const ROOT = path.resolve(__dirname, '../../..');
let stack: Stack;
let tid: string;

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
  stack = await startStack({ devices: 'emulated', customerSlot: true, timings: { payoutMs: 0, receiptMs: 0 } });
  tid = stack.terminalIds[0];
});
afterAll(async () => {
  await stack?.stop();
});

const rid = () => randomBytes(8).toString('hex');
const customer = (action: string) => stack.kiosk(tid).control(`customer ${action}`);

/** The chip's current value as the card carries it (its image in the kiosk's chips/). */
function chipValue(uid: string) {
  return parseCardRecord(fs.readFileSync(path.join(stack.kioskDir(tid), 'chips', `${uid}.bin`))).value!.state;
}

async function reload(amountMinor: number, beforeCash: () => Promise<void> = async () => {}): Promise<ReloadProgress> {
  const res = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/reloads`, { requestId: rid(), amountMinor });
  expect(res.status).toBe(201);
  const id: string = res.body.reloadId;
  const stageIn = (stages: string[]) => until(`reload ${id} in ${stages.join('/')}`, async () => {
    const p: ReloadProgress = (await call(stack.apiUrl, 'GET', `/api/reloads/${id}`)).body;
    return stages.includes(p.stage) ? p : null;
  }, 60_000);
  await stageIn(['paying']);
  await beforeCash();
  expect((await call(stack.apiUrl, 'POST', `/api/reloads/${id}/cash`, { requestId: rid(), amountMinor })).status).toBe(200);
  return stageIn(['completed', 'refunded', 'refused']);
}

let prepaid: { cardId: string; uid: string };

test('the kiosk page reloads a prepaid card bought here: "Insert my card" puts it in the customer slot; the new value is on the chip (PC/SC) and at the center', async () => {
  const v = await stack.db('prepaid_values').where({ value_minor: 1000 }).first('id');
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: Number(v.id) }, [1000]);
  const bought = await kiosk.waitForStage('completed', 90_000);
  const row = await stack.db('cards').where({ id: bought.cardId }).first('uid');
  prepaid = { cardId: bought.cardId!, uid: row.uid };
  expect(chipValue(prepaid.uid)).toEqual({ seq: 1, balanceMinor: 1000, flags: 0 });

  const pageErrors: string[] = [];
  const { browser, page } = await openKioskBrowser(pageErrors);
  try {
    const byTestId = (id: string) => page.locator(`[data-testid="${id}"]`);
    await page.goto(`${stack.apiUrl}/kiosk/${tid}`);
    await byTestId('reload-card').click();
    await byTestId('reload-2000').click();
    await page.locator('[data-screen="reload-reading"]').waitFor({ timeout: 30_000 });
    await byTestId('insert-card-id').fill(prepaid.cardId);
    await byTestId('insert-my-card').click();
    await page.locator('[data-screen="reload-cash"]').waitFor({ timeout: 30_000 });
    await byTestId('insert-1000').click();
    await page.waitForFunction(`(document.querySelector('[data-testid="reload-cash-message"]')?.textContent ?? '').includes('¥1,000 more')`, undefined, { timeout: 10_000 });
    await byTestId('insert-1000').click();
    await byTestId('reload-title').waitFor({ timeout: 60_000 });
    expect(await byTestId('reload-title').textContent()).toBe('Your card has been reloaded');
    expect(pageErrors).toEqual([]);
  } finally {
    await browser.close();
  }
  expect(chipValue(prepaid.uid)).toEqual({ seq: 2, balanceMinor: 3000, flags: 0 });
  expect(Number((await stack.db('card_balances').where({ card_id: prepaid.cardId }).first()).balance_minor)).toBe(3000);

  // The customer pulls the card out (the route the page's slot uses); a card made elsewhere cannot go in.
  expect((await call(stack.apiUrl, 'DELETE', `/api/kiosk/${tid}/customer-card`)).body).toEqual({ removed: true });
  const foreign = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/customer-card`, { cardId: 'C000000000000' });
  expect([foreign.status, foreign.body.error.code]).toEqual([404, 'card_not_here']);
  expect((await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/customer-card`, { cardId: 'not a card' })).status).toBe(400);
  expect((await stack.kiosk(tid).status()).customerSlot).toMatchObject({ uid: null });
});

test('the card pulled out mid value-write keeps its old value; the customer is refunded and the center balance is unchanged', async () => {
  expect(await customer(`insert card ${prepaid.cardId}`)).toBe(`ok inserted ${prepaid.uid}`);
  // Armed once paid for and before the write: the card leaves after 3 of the slot's 16 bytes.
  const done = await reload(1000, async () => void (await customer('tear-after 3')));
  expect(done.stage).toBe('refunded');
  const status = await stack.kiosk(tid).status();
  expect(status.customerSlot).toMatchObject({ uid: null, inserted: false });
  expect(chipValue(prepaid.uid)).toEqual({ seq: 2, balanceMinor: 3000, flags: 0 });
  expect(Number((await stack.db('card_balances').where({ card_id: prepaid.cardId }).first()).balance_minor)).toBe(3000);

  // Back in the slot, the torn card reloads normally: the torn slot is simply written again.
  expect(await customer(`insert card ${prepaid.cardId}`)).toBe(`ok inserted ${prepaid.uid}`);
  expect(await reload(1000)).toMatchObject({ stage: 'completed', balanceBeforeMinor: 3000, balanceAfterMinor: 4000 });
  expect(chipValue(prepaid.uid)).toEqual({ seq: 3, balanceMinor: 4000, flags: 0 });
  await customer('remove');
});

test('an application is added to an issued pass in the customer slot by the GlobalPlatform installer on its reader', async () => {
  const { fareId, productId } = await commuterFare(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);
  const pass = await kiosk.waitForStage('completed', 90_000);
  const wallet = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B31', name: 'station-wallet', bodyBytes: 3000, productIds: [productId] });

  expect(await customer(`insert card ${pass.cardId}`)).toMatch(/^ok inserted /);
  const started = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/card-applications`, { requestId: rid(), cardId: pass.cardId, packageId: wallet.id });
  expect(started.status).toBe(201);
  const done = await until('the application to be added', async () => {
    const p = (await call(stack.apiUrl, 'GET', `/api/card-applications/${pass.cardId}`)).body;
    return ['completed', 'refused', 'failed'].includes(p.stage) ? p : null;
  }, 90_000);
  expect(done).toMatchObject({ stage: 'completed', installed: true });
  expect(await stack.db('card_applications').where({ card_id: pass.cardId, aid: wallet.aid, source: 'added' })).toHaveLength(1);
  // The card stayed in the customer slot: the printer's transport never took it.
  expect(stack.printerModel(tid).card).toBeNull();
  expect((await stack.kiosk(tid).status()).customerSlot).toMatchObject({ inserted: true });
  await customer('remove');
});
