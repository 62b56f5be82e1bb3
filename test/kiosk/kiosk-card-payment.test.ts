/**
 * The kiosk page's payment choice in a real browser (Debian's Chromium, headless) on the real
 * stack: a credit card is declined (the message is shown and the choice comes back), then a debit
 * card with its PIN typed on the simulated PIN pad is approved and the card is made; and a
 * pay-at-register slip shows its number until the store's POS reports the payment.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DEMO_TEST_CARDS } from '../../demo/payment-hosts';
import { isValidSlipNumber } from '../../domain/payments';
import { newRequestId } from '../support/kiosk-client';
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
const text = async (id: string) => ((await byTestId(id).textContent()) ?? '').trim();

async function pickPrepaidValue() {
  await page.goto(`${stack.apiUrl}/kiosk/${stack.terminalIds[0]}`);
  await page.locator('[data-testid^="node-"]', { hasText: 'Prepaid cards' }).click();
  await page.locator('[data-testid^="node-"]', { hasText: 'Hikari Mobile' }).click();
  await page.locator('[data-testid^="value-"]').first().click();
  await byTestId('confirm').click();
  await byTestId('pay-credit').waitFor();
}

test('a declined credit card brings the choice back with the reason; a debit card with its PIN then pays', async () => {
  await pickPrepaidValue();
  await byTestId('pay-credit').click();
  await byTestId('card-reader').waitFor();
  await byTestId(`test-card-${DEMO_TEST_CARDS.creditDecline}`).click();
  expect(await byTestId('card-number').inputValue()).toBe(DEMO_TEST_CARDS.creditDecline);
  await byTestId('card-submit').click();
  // Declined (05): back on the choice screen with the customer's message.
  await page.waitForSelector('[data-screen="payment"]', { timeout: 20_000 });
  await page.waitForFunction(`!document.querySelector('[data-testid="error-banner"]').hidden`);
  expect(await text('error-banner')).toBe('Your card was declined. Please use another card or payment method.');
  expect(await text('screen')).toContain('Try 2 of 3');
  await page.screenshot({ path: path.join(SHOT_DIR, 'card-declined.png') });

  // Debit: the test card and PIN 1234 on the simulated PIN pad.
  await byTestId('pay-debit').click();
  await byTestId('pin-pad').waitFor();
  await byTestId(`test-card-${DEMO_TEST_CARDS.debit}`).click();
  for (const d of DEMO_TEST_CARDS.debitPin) await byTestId(`pin-${d}`).click();
  expect(await text('pin-display')).toBe('●●●●');
  await page.screenshot({ path: path.join(SHOT_DIR, 'pin-pad.png') });
  await byTestId('card-submit').click();
  await page.waitForSelector('[data-screen="done"][data-stage="completed"]', { timeout: 60_000 });
  const issuanceId = (await byTestId('issuance-ref').getAttribute('data-issuance-id')) ?? '';
  const payments = await stack.db('payments').where({ issuance_id: issuanceId }).orderBy('attempt');
  expect(payments.map((p) => [p.method, p.status])).toEqual([['credit', 'declined'], ['debit', 'captured']]);
  expect(pageErrors).toEqual([]);
});

test('pay at the register: the slip number is shown until the POS reports the payment, then the card is made', async () => {
  await pickPrepaidValue();
  await byTestId('pay-register').click();
  await byTestId('slip-number').waitFor();
  const slipNumber = (await text('slip-number')).replace(/\s/g, '');
  expect(isValidSlipNumber(slipNumber)).toBe(true);
  expect(await byTestId('countdown').isVisible()).toBe(true);
  // The slip holds the item for 30 minutes, not the 1-minute idle time.
  await page.waitForFunction(`/^(29|30):\\d\\d$/.test(document.querySelector('[data-testid="countdown-value"]').textContent)`, undefined, { timeout: 5_000 });
  await page.screenshot({ path: path.join(SHOT_DIR, 'register-slip.png') });
  const slip = await stack.db('register_slips').where({ slip_number: slipNumber }).first();
  const res = await fetch(`${stack.apiUrl}/api/pos/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.posToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ slipNumber, amountMinor: Number(slip.amount_minor), posTransactionId: `pos-${newRequestId()}`, registerId: 'REG-2' }),
  });
  expect(res.status).toBe(200);
  await page.waitForSelector('[data-screen="done"][data-stage="completed"]', { timeout: 60_000 });
  expect(pageErrors).toEqual([]);
});
