/**
 * The start command on its embedded defaults (SQLite, its own Temporal dev server with the Web
 * UI, the demo issuer, the workers, the API): it comes up, prints its URLs, sells a card, and
 * stops cleanly.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../lib/free-port';
import { Kiosk } from '../support/kiosk-client';
import { startNodeProcess, type ManagedProcess } from '../support/processes';

let proc: ManagedProcess | undefined;
afterAll(async () => {
  await proc?.kill('SIGTERM');
});

test('npm start brings up the whole system on SQLite and a kiosk can buy a commuter pass', async () => {
  const dataDir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'start-'));
  const [api, temporal, ui, issuer] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = {
    DATA_DIR: dataDir,
    API_PORT: String(api),
    TEMPORAL_PORT: String(temporal),
    TEMPORAL_UI_PORT: String(ui),
    DEMO_ISSUER_PORT: String(issuer),
    PAYMENT_SIM_PORT: '0',
    DATABASE_URL: '',
    TEMPORAL_ADDRESS: '',
    SIM_FEED_MS: '0', SIM_CHIP_WRITE_PER_KB_MS: '0', SIM_PRINT_MS: '0', SIM_PRESENT_MS: '0', SIM_PAYOUT_MS: '0', SIM_RECEIPT_MS: '0',
  };
  proc = startNodeProcess('start', 'scripts/start.js', [], env);
  const deadline = Date.now() + 90_000;
  while (!proc.output().includes('READY')) {
    if (proc.child.exitCode !== null) throw new Error(`start exited early:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`start did not become ready:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const out = proc.output();
  expect(out).toContain(`Kiosk page (terminal T-001): http://localhost:${api}/kiosk/T-001`);
  expect(out).toContain(`Temporal Web UI:                  http://localhost:${ui}`);
  expect(fs.existsSync(path.join(dataDir, 'center.sqlite'))).toBe(true);
  expect(fs.existsSync(path.join(dataDir, 'temporal.db'))).toBe(true);
  expect((await fetch(`http://localhost:${ui}/`)).ok).toBe(true);

  // The kiosk page is served, and a commuter pass can be bought through the API.
  const page = await fetch(`http://localhost:${api}/kiosk/T-001`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<html');
  const kiosk = new Kiosk(`http://localhost:${api}`, 'T-001');
  await kiosk.start();
  const product = (await (await fetch(`http://localhost:${api}/api/products/3`)).json()) as any;
  expect(product.type).toBe('commuter');
  const fare = product.routes[0].fares[2]; // 6 months
  await kiosk.selectAndConfirm({ kind: 'fare', fareId: fare.id });
  for (let paid = 0; paid < fare.priceMinor; paid += 10000) await kiosk.insertCash(10000);
  const done = await kiosk.waitForStage('completed', 60_000);
  expect(done.item?.lines).toContain('6 months');
  // T-001 ran its real drivers on the emulated kiosk when pcscd and socat are here (CI has them),
  // else the state-file simulators, and the start command said which.
  if (out.includes('Terminal T-001: real drivers on the emulated kiosk')) {
    const faces = fs.readdirSync(path.join(dataDir, 'terminals', 'T-001', 'kiosk', 'faces'));
    expect(faces).toHaveLength(1);
    // The notes went into the emulated acceptor (ccTalk) and the change came out of its changer,
    // except the part below its smallest coin (¥10), which is owed with a voucher.
    const tendered = Math.ceil(fare.priceMinor / 10000) * 10000;
    const change = tendered - fare.priceMinor;
    const unit = JSON.parse(fs.readFileSync(path.join(dataDir, 'terminals', 'T-001', 'kiosk', 'cash-unit-state.json'), 'utf8'));
    expect([unit.changer.moneyIn, unit.changer.moneyOut]).toEqual([tendered, change - (change % 10)]);
    // The receipt (and any voucher) came out of the ESC/POS printer.
    const printed = fs.readdirSync(path.join(dataDir, 'terminals', 'T-001', 'kiosk', 'receipts')).filter((f) => f.endsWith('.txt'));
    const texts = printed.map((f) => fs.readFileSync(path.join(dataDir, 'terminals', 'T-001', 'kiosk', 'receipts', f), 'utf8'));
    expect(texts.filter((t) => t.startsWith('RECEIPT') && t.includes(`Ref ${kiosk.issuanceId}`))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith('CASH VOUCHER'))).toHaveLength(change % 10 === 0 ? 0 : 1);
  } else {
    expect(out).toMatch(/Terminal T-001: state-file simulators, not the real drivers \(.+\)\./);
  }

  const events = (await (await fetch(`http://localhost:${issuer}/events`)).json()) as any;
  expect(events.events).toHaveLength(1);
  expect(events.events[0].payload.data).toMatchObject({ issuanceId: kiosk.issuanceId, priceMinor: fare.priceMinor, operatorFeeMinor: Math.floor((fare.priceMinor * 300 + 5000) / 10000) });

  // A prepaid card paid by credit card: the start command's card company simulator approves the demo test card.
  const byCard = new Kiosk(`http://localhost:${api}`, 'T-001');
  await byCard.buyWithCard({ kind: 'prepaid', valueId: 1 }, 'credit', '4111111111111111');
  expect((await byCard.waitForStage('completed', 60_000)).payment).toMatchObject({ method: 'credit', last4: '1111' });
  expect(proc.output()).toMatch(/Payment hosts \(simulators\): +card http:\/\/127\.0\.0\.1:\d+\/state/);

  // `npm run ledger:check` on the same embedded database finds the books consistent.
  const check = startNodeProcess('ledger-check', 'scripts/ledger-check.js', [], env);
  expect(await check.exited).toBe(0);
  expect(check.output()).toMatch(/Ledger consistent: 11 checks passed\./);

  await proc.kill('SIGTERM');
  expect(proc.output()).not.toMatch(/exited \(1\)|Start failed/);
}, 180_000);
