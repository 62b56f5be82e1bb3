/**
 * Activation at sale on the real drivers (docs/prepaid.md): pre-loaded prepaid cards are loaded
 * into the emulated card printer's stock hopper (emulated-kiosk/stock-hopper.ts, as
 * `npm run stock:manufacture -- --terminal <id>` does), fed with `Sih` by the serial driver, their
 * records read at the contact station over PC/SC (vpcd), activated by the issuer and handed out
 * unchanged; no blank card is used.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { manufactureStockCards } from '../../activities/center/stock-cards';
import { cardSigningKeys } from '../../lib/card-signing';
import { loadStockIntoEmulatedKiosk } from '../../terminal-worker/simulators/emulated-kiosk/stock-hopper';
import { stockValue, verifyChip } from '../prepaid/support';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

const ROOT = path.resolve(__dirname, '../../..');
let stack: Stack;

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
  stack = await startStack({ devices: 'emulated', timings: { payoutMs: 0, receiptMs: 0 } });
});
afterAll(async () => {
  await stack?.stop();
});

test('a stock card sale on the emulated kiosk: fed from the stock hopper, read over PC/SC, activated, handed out unchanged', async () => {
  const tid = stack.terminalIds[0];
  const value = await stockValue(stack);
  const { cards } = await manufactureStockCards(stack.db, cardSigningKeys(process.env, stack.env.DATA_DIR!), { valueId: value.valueId, count: 2 });
  expect(await loadStockIntoEmulatedKiosk(stack.kioskDir(tid), cards)).toBe('running');
  expect(stack.printerModel(tid).stockHopper).toEqual(cards.map((c) => c.uid));
  const blanks = stack.printerModel(tid).stocker;
  // Loaded once: the same card again is refused and the hopper is unchanged.
  await expect(loadStockIntoEmulatedKiosk(stack.kioskDir(tid), cards.slice(0, 1))).rejects.toThrow(/already known/);
  expect(stack.printerModel(tid).stockHopper).toHaveLength(2);

  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: value.valueId }, [1000, 1000, 1000]);
  const done = await kiosk.waitForStage('completed', 90_000);
  expect(done.cardId).toBe(cards[0].cardId);

  const model = stack.printerModel(tid);
  expect(model.dispensed.map((d) => d.uid)).toEqual([cards[0].uid]);
  expect(model.stockHopper).toEqual([cards[1].uid]);
  expect(model.stocker).toBe(blanks);
  expect(model.rejectBin).toEqual([]);
  const record = Buffer.from(cards[0].recordBase64, 'base64');
  const chip = fs.readFileSync(path.join(stack.kioskDir(tid), 'chips', `${cards[0].uid}.bin`));
  expect(chip.subarray(0, record.length).equals(record)).toBe(true);
  expect(await stack.db('stock_cards').where({ id: cards[0].cardId }).first()).toMatchObject({ status: 'activated', sale_issuance_id: kiosk.issuanceId });
  expect(await verifyChip(stack, cards[0].recordBase64)).toMatchObject({ valid: true });
  expect(await verifyChip(stack, cards[1].recordBase64)).toMatchObject({ valid: false, reason: 'not_issued' });
});
