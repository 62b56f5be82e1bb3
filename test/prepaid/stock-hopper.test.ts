/**
 * Loading stock cards into a stopped emulated kiosk (what `npm run stock:manufacture -- --terminal`
 * does when the kiosk is not running): the chip images land in chips/, the UIDs in the printer
 * model's stock hopper; a bad batch changes nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadStockIntoEmulatedKiosk } from '../../terminal-worker/simulators/emulated-kiosk/stock-hopper';
import { PhysicalModel } from '../../terminal-worker/simulators/printer-emulator/physical-model';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'stock-hopper-'));
  new PhysicalModel(path.join(dir, 'printer-state.json'));
});

const hopper = () => new PhysicalModel(path.join(dir, 'printer-state.json')).s.stockHopper;
const record = (text: string) => Buffer.from(`ICR1${text}`).toString('base64');

test('a stopped kiosk: chip images in chips/, UIDs in the stock hopper in order', async () => {
  expect(await loadStockIntoEmulatedKiosk(dir, [{ uid: '05AA', recordBase64: record('one') }, { uid: '05BB', recordBase64: record('two') }])).toBe('stopped');
  expect(hopper()).toEqual(['05AA', '05BB']);
  const chip = fs.readFileSync(path.join(dir, 'chips', '05AA.bin'));
  expect(chip.length).toBe(2048);
  expect(chip.subarray(0, 7).toString()).toBe('ICR1one');
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'chips', '05AA.json'), 'utf8'))).toEqual({ atr: 't0', memorySize: 2048 });
});

test('a batch with a card known already, twice in it, a bad UID or a record too big is refused whole', async () => {
  await loadStockIntoEmulatedKiosk(dir, [{ uid: '05AA', recordBase64: record('one') }]);
  const files = fs.readdirSync(path.join(dir, 'chips')).sort();
  const bad = [
    [{ uid: '05CC', recordBase64: record('x') }, { uid: '05AA', recordBase64: record('again') }],
    [{ uid: '05DD', recordBase64: record('x') }, { uid: '05DD', recordBase64: record('x') }],
    [{ uid: '05ee', recordBase64: record('x') }],
    [{ uid: '05FF', recordBase64: Buffer.alloc(4096, 1).toString('base64') }],
  ];
  for (const batch of bad) await expect(loadStockIntoEmulatedKiosk(dir, batch)).rejects.toThrow(/already known|upper-case hex|does not fit/);
  expect(hopper()).toEqual(['05AA']);
  expect(fs.readdirSync(path.join(dir, 'chips')).sort()).toEqual(files);
});
