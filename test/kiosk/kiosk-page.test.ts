/**
 * The kiosk page in a real browser (Debian's Chromium, headless, driven by playwright-core) on the
 * real stack: a customer buys one concert seat with cash through every screen, and the system of
 * record, the terminal and the issuer all see exactly one sale.
 */
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { freeSeat, seatStatus } from '../support/assertions';
import { openKioskBrowser, SHOT_DIR } from '../support/kiosk-browser';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  // Small but non-zero device timings, so the progress bar has steps to show.
  stack = await startStack({ timings: { feedMs: 400, chipWritePerKbMs: 2000, printMs: 800, presentMs: 400, payoutMs: 100, receiptMs: 300 } });
  ({ browser, page } = await openKioskBrowser(pageErrors));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const byTestId = (id: string) => page.locator(`[data-testid="${id}"]`);
const text = async (id: string) => ((await byTestId(id).textContent()) ?? '').trim();
const yen = (n: number) => `¥${n.toLocaleString('en-US')}`;

/** Waits until the element's text contains `expected`, and returns the text. */
async function waitForText(id: string, expected: string, timeout = 10_000): Promise<string> {
  const selector = JSON.stringify(`[data-testid="${id}"]`);
  await page.waitForFunction(`(document.querySelector(${selector})?.textContent ?? '').includes(${JSON.stringify(expected)})`, undefined, { timeout });
  return text(id);
}

/**
 * Samples the progress bar until the "take your card" screen replaces it. Returns every value
 * seen, in order.
 */
async function watchProgress(timeoutMs = 60_000): Promise<number[]> {
  const seen: number[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // One read of both, in the page: the bar may be replaced between two separate reads.
    const now = (await page.evaluate(`({
      screen: document.querySelector('[data-testid="screen"]').dataset.screen,
      value: document.querySelector('[data-testid="progress-bar"]')?.getAttribute('aria-valuenow') ?? null,
    })`)) as { screen: string; value: string | null };
    if (now.screen === 'done') return seen;
    if (now.screen === 'production' && now.value !== null && seen[seen.length - 1] !== Number(now.value)) seen.push(Number(now.value));
    await page.waitForTimeout(40);
  }
  throw new Error(`the card was not made within ${timeoutMs} ms; progress seen: ${seen.join(', ')}`);
}

test('a customer buys a concert seat with cash through the kiosk page', async () => {
  const tid = stack.terminalIds[0];
  const seat = await freeSeat(stack.db);
  const total = seat.price + 330; // the concert's issuance fee
  const short = 10_000;
  const topUp = 5_000;
  expect(short).toBeLessThan(total);
  expect(short + topUp).toBeGreaterThan(total);

  await page.goto(`${stack.apiUrl}/kiosk/${tid}`);
  expect(await text('terminal-id')).toBe(`Terminal ${tid}`);

  // Card type → genre → artist → performance (date, venue) → seat.
  await page.locator('[data-testid^="node-"]', { hasText: 'Concert tickets' }).click();
  await page.locator('[data-testid^="node-"]', { hasText: 'Rock & Pop' }).click();
  await page.locator('[data-testid^="node-"]', { hasText: 'The Neon Harbors' }).click();
  const performance = page.locator('[data-testid^="performance-"]', { hasText: 'Tokyo Garden Theater' });
  expect(await performance.textContent()).toContain('14 Mar 2027');
  await performance.click();
  await byTestId('seat-map').waitFor();
  expect(await page.locator('[data-testid="seat-map"] button.seat').count()).toBe(500);
  expect(await text('breadcrumb')).toContain('The Neon Harbors');
  const seatButton = byTestId(`seat-${seat.id}`);
  expect(await seatButton.getAttribute('data-available')).toBe('true');
  expect(await byTestId('countdown').isVisible()).toBe(false); // nothing held yet
  await seatButton.click();

  // Confirm: item lines, card face, price, issuance fee, total. The seat is now held.
  await byTestId('confirm').waitFor();
  const seatRow = await stack.db('seats').where({ id: seat.id }).first('row_label', 'number');
  expect(await text('item-lines')).toContain(`row ${seatRow.row_label}, seat ${seatRow.number}`);
  expect(await text('price')).toBe(yen(seat.price));
  expect(await text('fee')).toBe('¥330');
  expect(await text('total')).toBe(yen(total));
  await page.waitForFunction(`(() => { const img = document.querySelector('[data-testid="face-image"]'); return img && img.complete && img.naturalWidth > 0; })()`);
  expect(await byTestId('countdown').isVisible()).toBe(true);
  expect(await text('countdown-value')).toMatch(/^\d+:\d\d$/);
  expect((await seatStatus(stack.db, seat.id)).status).toBe('held');
  await page.screenshot({ path: path.join(SHOT_DIR, 'confirm.png') });
  await byTestId('confirm').click();

  // Payment type: cash, the card methods and pay-at-register are offered (test/kiosk/kiosk-card-payment covers the others).
  await byTestId('pay-cash').waitFor();
  for (const m of ['credit', 'debit', 'prepaid', 'register']) expect(await byTestId(`pay-${m}`).isDisabled()).toBe(false);
  expect(await byTestId('back').isVisible()).toBe(false);
  expect(await byTestId('cancel').isVisible()).toBe(true);
  await byTestId('pay-cash').click();

  // Cash: too little first, and the page asks for the rest …
  await byTestId('insert-10000').waitFor();
  expect(await text('cash-due')).toBe(yen(total));
  await byTestId('insert-10000').click();
  expect(await waitForText('cash-message', 'more')).toBe(`Inserted ${yen(short)}. Please insert ${yen(total - short)} more.`);
  expect(await text('cash-inserted')).toBe(yen(short));
  expect(await text('cash-remaining')).toBe(yen(total - short));
  expect(await byTestId('cash-change').isVisible()).toBe(false);

  // … then more than enough, and it shows the change to be returned.
  await byTestId('insert-5000').click();
  const change = short + topUp - total;
  await waitForText('cash-message', 'change');
  // Read in one go: the page moves on to production about a second after the payment.
  const paidScreen = await page.evaluate(`(() => {
    const el = (id) => document.querySelector('[data-testid="' + id + '"]');
    return {
      message: el('cash-message').textContent,
      change: el('cash-change').textContent,
      changeShown: el('cash-change').checkVisibility(),
      remaining: el('cash-remaining').textContent,
      coinDisabled: el('insert-100').disabled,
      cancelShown: el('cancel').checkVisibility(),
    };
  })()`);
  expect(paidScreen).toEqual({
    message: `Thank you. Please take your change of ${yen(change)}.`,
    change: yen(change),
    changeShown: true,
    remaining: '¥0',
    coinDisabled: true,
    cancelShown: false, // paid: no way out but the card
  });

  // Production: the bar climbs step by step to the end.
  await page.waitForSelector('[data-screen="production"]', { timeout: 15_000 });
  const progress = await watchProgress();
  expect(progress.length).toBeGreaterThanOrEqual(3);
  expect(progress.some((v) => v > 0 && v < 100)).toBe(true);
  expect(progress[progress.length - 1]).toBe(100);
  expect([...progress].sort((a, b) => a - b)).toEqual(progress);

  // "Take your card and receipt", with the card id and the change.
  await page.waitForSelector('[data-screen="done"][data-stage="completed"]', { timeout: 30_000 });
  expect(await text('done-title')).toBe('Please take your card and receipt');
  const cardId = await text('card-id');
  expect(cardId).toMatch(/^C[0-9A-F]{12}$/);
  expect(await text('done-change')).toContain(yen(change));
  const issuanceId = (await byTestId('issuance-ref').getAttribute('data-issuance-id')) ?? '';
  expect(issuanceId).toMatch(new RegExp(`^iss-${tid}-`));
  await page.screenshot({ path: path.join(SHOT_DIR, 'done.png') });

  // The system of record: the seat is sold to this issuance, one sale, one cash payment.
  expect(await seatStatus(stack.db, seat.id)).toEqual({ status: 'sold', hold: null, sold: issuanceId });
  const sales = await stack.db('sales').where({ issuance_id: issuanceId });
  expect(sales).toHaveLength(1);
  expect(sales[0].card_id).toBe(cardId);
  const payments = await stack.db('payments').where({ issuance_id: issuanceId });
  expect(payments).toHaveLength(1);
  expect(Number(payments[0].tendered_minor)).toBe(short + topUp);
  expect(Number(payments[0].change_minor)).toBe(change);

  // The terminal handed out one card and paid out the change; the issuer heard of the sale once.
  const machine = stack.machine(tid);
  const cards = await stack.db('cards').where({ issuance_id: issuanceId });
  expect(machine.dispensed.map((c) => c.uid)).toEqual(cards.map((c) => c.uid));
  expect(machine.payouts[`change:${issuanceId}`]).toBe(change);
  const received = [...stack.issuer.events.values()].filter((e) => (e.payload as { data?: { issuanceId?: string } }).data?.issuanceId === issuanceId);
  expect(received).toHaveLength(1);
  expect(received[0].payload).toMatchObject({ type: 'sale.recorded', data: { cardId } });

  // "Done" starts over for the next customer.
  await byTestId('done').click();
  await page.locator('[data-testid^="node-"]', { hasText: 'Concert tickets' }).waitFor();
  expect(await byTestId('countdown').isVisible()).toBe(false);
  expect(pageErrors).toEqual([]);
});
