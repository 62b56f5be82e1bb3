/**
 * "Reload my card" on the kiosk page in a real browser (Debian's Chromium, headless, via
 * playwright-core) on the real stack: the customer picks an amount, their card is in the reload
 * slot, they pay in cash, and the chip and the center both hold the new balance.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parseCardRecord } from '../../domain/card-record';
import { insertCustomerCard } from '../../terminal-worker/simulators/simulated-customer-slot';
import { call, Kiosk } from '../support/kiosk-client';
import { openKioskBrowser, SHOT_DIR } from '../support/kiosk-browser';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  ({ browser, page } = await openKioskBrowser(pageErrors));
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const byTestId = (id: string) => page.locator(`[data-testid="${id}"]`);

test('a customer reloads their prepaid card with cash on the kiosk page', async () => {
  const tid = stack.terminalIds[0];
  const v = await stack.db('prepaid_values').where({ value_minor: 1000 }).first('id');
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: Number(v.id) }, [1000]);
  const bought = await kiosk.waitForStage('completed');
  const card = stack.machine(tid).dispensed.find((c) => c.face?.cardId === bought.cardId)!;
  insertCustomerCard(stack.machineFile(tid), { uid: card.uid, chipBase64: card.chipBase64 });

  await page.goto(`${stack.apiUrl}/kiosk/${tid}`);
  await byTestId('reload-card').click();
  await byTestId('reload-2000').click();
  await page.locator('[data-screen="reload-cash"]').waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(SHOT_DIR, 'reload-cash.png') });
  await byTestId('insert-1000').click();
  await page.waitForFunction(`(document.querySelector('[data-testid="reload-cash-message"]')?.textContent ?? '').includes('¥1,000 more')`, undefined, { timeout: 10_000 });
  await byTestId('insert-1000').click();
  await byTestId('reload-title').waitFor({ timeout: 60_000 });
  expect(await byTestId('reload-title').textContent()).toBe('Your card has been reloaded');
  expect(await byTestId('reload-message').textContent()).toContain('¥3,000');
  await page.screenshot({ path: path.join(SHOT_DIR, 'reload-done.png') });

  const back = stack.machine(tid).returnedCards!.at(-1)!;
  expect(back.uid).toBe(card.uid);
  expect(parseCardRecord(Buffer.from(back.chipBase64, 'base64')).value!.state).toEqual({ seq: 2, balanceMinor: 3000, flags: 0 });
  expect(Number((await stack.db('card_balances').where({ card_id: bought.cardId }).first()).balance_minor)).toBe(3000);
  expect(pageErrors).toEqual([]);
});

test('"Insert my card" on a kiosk without an emulated customer slot says the card goes in by hand; nothing is inserted', async () => {
  const tid = stack.terminalIds[0];
  const before = stack.machine(tid).customerSlot ?? null;
  const r = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/customer-card`, { cardId: 'C0123456789AB' });
  expect([r.status, r.body.error.code]).toEqual([409, 'no_emulated_slot']);
  expect(r.body.error.message).toMatch(/by hand/);
  expect((await call(stack.apiUrl, 'DELETE', `/api/kiosk/${tid}/customer-card`)).status).toBe(409);
  expect((await call(stack.apiUrl, 'POST', '/api/kiosk/NO-SUCH-KIOSK/customer-card', { cardId: 'C0123456789AB' })).status).toBe(404);
  expect((await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/customer-card`, { cardId: 'C0123456789AB', extra: 1 })).status).toBe(400);
  expect(stack.machine(tid).customerSlot ?? null).toEqual(before);
});
