/**
 * The kiosk page in Chromium (as test/kiosk/kiosk-page does): a holder collects a replacement card
 * with the pickup code their issuer gave them. A wrong code is refused on the page; the right one
 * shows the card's item at ¥0 (fee waived), and Confirm goes straight to making the card.
 */
import type { Browser, Page } from 'playwright-core';
import { createIssuerApiKey } from '../../api/issuer-auth';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { openKioskBrowser } from '../support/kiosk-browser';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  stack = await startStack();
  ({ browser, page } = await openKioskBrowser(pageErrors));
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const byTestId = (id: string) => page.locator(`[data-testid="${id}"]`);
const text = async (id: string) => ((await byTestId(id).textContent()) ?? '').trim();

test('a holder collects a replacement card on the kiosk page with the pickup code', async () => {
  const tid = stack.terminalIds[0];
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithNotes({ kind: 'seat', seatId: (await freeSeat(stack.db)).id });
  const originalCardId = (await kiosk.waitForStage('completed')).cardId!;

  const apiKey = (await createIssuerApiKey(stack.db, { issuerId: DEMO_ISSUERS.promoter, label: 'test', createdBy: 'test' })).apiKey;
  const res = await fetch(`${stack.apiUrl}/api/issuer/cards/${originalCardId}/reissue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ reason: 'lost', requestId: 'page-1', waiveFee: true }),
  });
  expect(res.status).toBe(201);
  const { pickupCode } = (await res.json()) as { pickupCode: string };

  await page.goto(`${stack.apiUrl}/kiosk/${tid}`);
  await byTestId('collect-replacement').click();
  await byTestId('pickup-code').fill('ZZZZ-ZZZZ-ZZZZ');
  await byTestId('pickup-submit').click();
  await byTestId('error-banner').waitFor({ state: 'visible' });
  expect(await text('error-banner')).toMatch(/pickup code is not valid/);

  await byTestId('pickup-code').fill(pickupCode.toLowerCase());
  await byTestId('pickup-submit').click();
  await byTestId('confirm').waitFor();
  expect(await text('item-lines')).toContain(`Replacement for card ${originalCardId}`);
  expect(await text('total')).toBe('¥0');
  expect(await page.locator('.price-table').textContent()).toContain('Reissue fee');
  await byTestId('confirm').click();

  await byTestId('done-title').waitFor({ timeout: 60_000 });
  const newCardId = await text('card-id');
  expect(newCardId).toMatch(/^C[0-9A-F]{12}$/);
  expect(newCardId).not.toBe(originalCardId);
  expect(await stack.db('card_reissues').where({ original_card_id: originalCardId }).first('status', 'new_card_id')).toEqual({ status: 'completed', new_card_id: newCardId });
  expect(stack.machine(tid).dispensed).toHaveLength(2);
  expect(pageErrors).toEqual([]);
});
