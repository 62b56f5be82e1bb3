/**
 * The kiosk page's registered-user screens in a real browser (Debian's Chromium, headless,
 * driven by playwright-core) on the real stack: register with a photo (converted to PNG in the
 * page), log in on the PIN pad, buy a pass with the holder filled in from the registration and the
 * registered route listed first, renew it from "my purchases" with one touch, report a card lost
 * from "my cards", log out. A wrong PIN shows the tries left.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parseCardRecord } from '../../domain/card-record';
import { openKioskBrowser, SHOT_DIR } from '../support/kiosk-browser';
import { startStack, type Stack } from '../support/stack';
import { photoPng } from './support';

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
const shot = (name: string) => page.screenshot({ path: path.join(SHOT_DIR, `${name}.png`) });

async function typePin(prefix: string, pin: string) {
  for (const d of pin) await byTestId(`${prefix}-${d}`).click();
}

async function payCash(total: number) {
  await byTestId('confirm').click();
  await byTestId('pay-cash').click();
  for (let paid = 0; paid < total; paid += 10_000) await byTestId('insert-10000').click();
  await byTestId('screen').and(page.locator('[data-screen="done"]')).waitFor({ timeout: 60_000 });
  await page.waitForFunction(`document.querySelector('[data-testid="screen"]').dataset.stage === 'completed'`, undefined, { timeout: 60_000 });
}

test('register, log in, buy a pass with the holder filled in, renew it, report a card lost, log out', async () => {
  const tid = stack.terminalIds[0];
  await page.goto(`${stack.apiUrl}/kiosk/${tid}`);
  await byTestId('member-register').click();
  await byTestId('register-form').waitFor();
  await shot('register-form');

  // Registration with a photo file (the page converts it to PNG before upload).
  const photoFile = path.join(SHOT_DIR, 'photo.png');
  fs.writeFileSync(photoFile, photoPng([40, 120, 210], 90, 120));
  await byTestId('reg-name').fill('Taro Suzuki');
  await byTestId('reg-nameKana').fill('スズキ タロウ');
  await byTestId('reg-birthDate').fill('1985-07-20');
  await byTestId('reg-address').fill('Tachikawa 2-2-2, Tokyo');
  await byTestId('reg-phone').fill('080-5555-0101');
  await byTestId('reg-commuteFrom').fill('Tachikawa');
  await byTestId('reg-commuteTo').fill('Shinjuku');
  await byTestId('reg-pin').fill('2580');
  await byTestId('reg-pin-again').fill('2581');
  await byTestId('reg-photo').setInputFiles(photoFile);
  await byTestId('register-submit').click();
  await page.waitForFunction(`!document.querySelector('[data-testid="error-banner"]').hidden`);
  expect(await text('error-banner')).toMatch(/two PINs differ/);
  await byTestId('reg-pin-again').fill('2580');
  await byTestId('register-submit').click();
  await byTestId('new-user-id').waitFor();
  const userId = await text('new-user-id');
  expect(userId).toMatch(/^U\d{9}$/);
  const photo = await stack.db('user_photos').where({ user_id: userId }).first('content_type', 'width', 'height');
  expect(photo).toMatchObject({ content_type: 'image/png', width: 90, height: 120 });
  await shot('registered');

  // A wrong PIN says how many tries are left; the right one logs in.
  await byTestId('registered-login').click();
  await byTestId('login-user-id').fill(userId);
  await typePin('login-pin', '1357');
  await byTestId('login-submit').click();
  await page.waitForFunction(`(document.querySelector('[data-testid="error-banner"]').textContent || '').includes('tries left')`);
  expect(await text('error-banner')).toBe('The user ID or PIN is wrong. 4 tries left before the account is locked.');
  await typePin('login-pin', '2580');
  await byTestId('login-submit').click();
  await byTestId('member-name').waitFor();
  expect(await text('member-name')).toBe(`Logged in: Taro Suzuki (${userId})`);
  await shot('home-logged-in');

  // Commuter pass: the registered route comes first; the holder is filled in from the registration.
  await page.locator('[data-testid^="node-"]', { hasText: 'Commuter passes' }).click();
  await page.locator('[data-testid^="node-"]', { hasText: 'Kanto Railway' }).click();
  const firstRoute = page.locator('[data-testid^="route-"]').first();
  await firstRoute.waitFor();
  expect(await firstRoute.textContent()).toContain('Shinjuku ⇄ Tachikawa');
  expect(await firstRoute.textContent()).toContain('Your registered route');
  await firstRoute.click();
  await page.locator('[data-testid^="fare-"]', { hasText: '1 month' }).click();
  await byTestId('holder-panel').waitFor();
  expect(await text('holder-name')).toBe('Taro Suzuki');
  expect(await text('holder-address')).toBe('Tachikawa 2-2-2, Tokyo');
  expect(await text('holder-panel')).toContain(`Your user ID ${userId} is written on the card's chip`);
  await shot('confirm-with-holder');
  const total = Number((await text('total')).replace(/[¥,]/g, ''));
  await payCash(total);
  const first = await stack.db('issuances as i').join('cards as c', 'c.issuance_id', 'i.id').where('i.user_id', userId).first('i.id', 'c.id as card_id', 'c.uid', 'c.valid_until_ms');
  const dispensed = stack.machine(tid).dispensed.find((c) => c.uid === first.uid)!;
  expect(parseCardRecord(Buffer.from(dispensed.chipBase64, 'base64')).record.userId).toBe(userId);
  expect(dispensed.face!.lines).toContain('Holder: Taro Suzuki');

  // Renew from "my purchases": one touch → the confirm screen of the same pass.
  await byTestId('done').click();
  await byTestId('my-purchases').click();
  await byTestId(`purchase-${first.id}`).click();
  await byTestId('confirm').waitFor();
  expect(await text('item-lines')).toContain('Shinjuku ⇄ Tachikawa');
  await payCash(total);
  const renewed = await stack.db('issuances as i').join('cards as c', 'c.issuance_id', 'i.id').where('i.renews_card_id', first.card_id).first('c.id', 'c.valid_from_ms');
  expect(Number(renewed.valid_from_ms)).toBe(Number(first.valid_until_ms));

  // Report the first card lost from "my cards".
  await byTestId('done').click();
  await byTestId('my-cards').click();
  await byTestId(`my-card-${first.card_id}`).click();
  await byTestId('report-lost').click();
  await byTestId('reported-card').waitFor();
  expect(await text('reported-card')).toBe(`Card ${first.card_id} · lost`);
  await shot('reported-lost');
  expect((await fetch(`${stack.apiUrl}/api/verify/cards/${first.card_id}`).then((r) => r.json())) as { valid: boolean }).toMatchObject({ valid: false, reason: 'revoked' });
  // The renewal is untouched: not revoked, just not valid before the old pass would have ended.
  expect((await fetch(`${stack.apiUrl}/api/verify/cards/${renewed.id}`).then((r) => r.json())) as { valid: boolean }).toMatchObject({ valid: false, reason: 'not_yet_valid' });

  // Log out: the member bar offers to log in again, and the session is ended on the server.
  await page.locator('button', { hasText: 'Done' }).click();
  await byTestId('member-logout').click();
  await byTestId('member-login').waitFor();
  const open = await stack.db('user_sessions').where({ user_id: userId }).whereNull('ended_at_ms');
  expect(open).toHaveLength(0);
  expect(pageErrors).toEqual([]);
});
