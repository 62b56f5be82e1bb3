/**
 * The kiosk page in a real browser for the page tests: Debian's Chromium, headless, driven by
 * playwright-core (no browser download). Screenshots go to SHOT_DIR for a person to look at
 * (KIOSK_SHOT_DIR keeps them where you like); they are not part of the repository.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export const SHOT_DIR = process.env.KIOSK_SHOT_DIR ?? path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'kiosk-screens');

/** A browser with one kiosk-sized page; uncaught page errors are pushed into `pageErrors`. */
export async function openKioskBrowser(pageErrors: string[] = []): Promise<{ browser: Browser; page: Page }> {
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  return { browser, page };
}
