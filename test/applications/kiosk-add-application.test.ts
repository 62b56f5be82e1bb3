/**
 * The kiosk page in Chromium (playwright-core) on the real stack: a customer with an issued
 * commuter pass adds an application to it — types the card number, picks the application, is
 * asked for the card, inserts it (the simulated customer's hand), and sees it done.
 */
import type { Browser, Page } from 'playwright-core';
import { insertIssuedCard } from '../../terminal-worker/simulators/simulated-applications';
import { Kiosk } from '../support/kiosk-client';
import { openKioskBrowser } from '../support/kiosk-browser';
import { startStack, type Stack } from '../support/stack';
import { attach, commuterFare, storePackage } from './support';

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

test('add an application to my card from the kiosk page', async () => {
  const tid = stack.terminalIds[0];
  const { productId, fareId } = await commuterFare(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);
  const { cardId } = await kiosk.waitForStage('completed');
  const { uid } = await stack.db('cards').where({ id: cardId }).first('uid');
  const wallet = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B61', name: 'station-wallet' });
  await attach(stack.db, productId, wallet.id);

  await page.goto(`${stack.apiUrl}/kiosk/${tid}`);
  await byTestId('my-card').click();
  await byTestId('my-card-id').fill(cardId!);
  await byTestId('my-card-show').click();
  await byTestId(`offer-${wallet.id}`).click();
  await page.waitForFunction(`document.querySelector('[data-testid="application-message"]')?.textContent === 'Please insert your card.'`, undefined, { timeout: 20_000 });

  insertIssuedCard(stack.machineFile(tid), uid);
  await page.waitForFunction(`document.querySelector('[data-testid="screen"]')?.dataset.stage === 'completed'`, undefined, { timeout: 30_000 });
  expect(await byTestId('application-message').textContent()).toBe('station-wallet is now on your card.');
  expect(await byTestId('restart').isVisible()).toBe(true);

  expect(stack.machine(tid).dispensed.find((c) => c.uid === uid)!.applications?.map((a) => a.aid)).toEqual([wallet.aid]);
  expect(await stack.db('card_applications').where({ card_id: cardId, aid: wallet.aid, source: 'added' })).toHaveLength(1);

  // The offer list now says it is on the card.
  await byTestId('restart').click();
  await byTestId('my-card').click();
  await byTestId('my-card-id').fill(cardId!);
  await byTestId('my-card-show').click();
  await page.waitForFunction(`document.querySelector('[data-testid="offer-${wallet.id}"]')?.disabled === true`, undefined, { timeout: 10_000 });
  expect(await byTestId(`offer-${wallet.id}`).textContent()).toContain('Already on your card');
  expect(pageErrors).toEqual([]);
});

test('the confirm screen names the applications the card will carry', async () => {
  const { fareId } = await commuterFare(stack.db);
  const route = await stack.db('commuter_fares').where({ id: fareId }).first('route_id');
  await page.goto(`${stack.apiUrl}/kiosk/${stack.terminalIds[0]}`);
  await page.locator('[data-testid^="node-"]', { hasText: 'Commuter passes' }).click();
  await page.locator('[data-testid^="node-"]', { hasText: 'Kanto Railway' }).click();
  await byTestId(`route-${route.route_id}`).click();
  await byTestId(`fare-${fareId}`).click();
  await byTestId('item-applications').waitFor({ timeout: 20_000 });
  expect(await byTestId('item-applications').textContent()).toBe('Chip applications: station-wallet');
  await byTestId('cancel').click();
  expect(pageErrors).toEqual([]);
});
