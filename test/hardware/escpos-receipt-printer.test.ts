/**
 * The ESC/POS receipt printer driver against the receipt printer emulator over a real
 * pseudo-terminal pair (socat), the emulator a separate process: the bytes receiptline produced
 * decode back to the lines, Japanese included, and render to a PNG; at most once per tag; paper
 * out before and during a receipt and an open cover are typed errors; a driver SIGKILLed while
 * the printer prints finds the receipt done; a driver SIGKILLed mid-transmission leaves a torn
 * piece, which the restarted driver cuts off before printing the receipt again, marked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PNG } from 'pngjs';
import { DeviceError } from '../../terminal-worker/devices/types';
import { EscPosReceiptPrinter, ReceiptPrinterError, createEscPosReceiptPrinter, type ReceiptAlert } from '../../terminal-worker/drivers/escpos-receipt-printer';
import { decodeEscPos } from '../../terminal-worker/simulators/receipt-emulator/escpos-interpreter';
import { startReceiptEmulator, type ReceiptEmulatorProcess } from '../../terminal-worker/simulators/receipt-emulator/start';
import { receiptLines } from './receipt-driver-child';

const DIST = path.resolve(__dirname, '..', '..');
const CHILD = path.join(DIST, 'test/hardware/receipt-driver-child.js');

let dir: string;
let emu: ReceiptEmulatorProcess;
let printer: EscPosReceiptPrinter | null = null;
let alerts: ReceiptAlert[] = [];
const journal = () => path.join(dir, 'receipt-journal.json');

const LINES = ['RECEIPT', 'The Neon Harbors: Tide Tour 2027', 'ザ・ネオン・ハーバーズ 日本武道館', 'S席 アリーナ A 12列 34番', 'Card CARD-7Q2K', 'Price ¥9,800', 'Issuance fee ¥330', 'Total ¥10,130', 'Cash ¥11,000', 'Change ¥870', 'Ref iss_01J|x{y}-z=_"`^'];

async function until<T>(what: string, fn: () => T | null | undefined | false, ms = 15000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; emulator output:\n${emu.output().split('\n').slice(-20).join('\n')}`);
    await sleep(20);
  }
}

async function openDriver(): Promise<EscPosReceiptPrinter> {
  printer = await createEscPosReceiptPrinter({ path: emu.hostPath, journalFile: journal(), pollMs: 50, onAlert: (a) => alerts.push(a), log: () => {} });
  return printer;
}

async function closeDriver(): Promise<void> {
  await printer?.close();
  printer = null;
}

async function expectReceiptError(p: Promise<unknown>, code: string, partial: boolean): Promise<ReceiptPrinterError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceError);
  expect(err).toBeInstanceOf(ReceiptPrinterError);
  expect({ code: (err as ReceiptPrinterError).receiptCode, partial: (err as ReceiptPrinterError).partial }).toEqual({ code, partial });
  if (code === 'PAPER_OUT') expect((err as ReceiptPrinterError).code).toBe('PAPER_OUT'); // final, not a retryable JAM
  return err as ReceiptPrinterError;
}

function child(args: string[]): { proc: ChildProcess; out: () => string } {
  let out = '';
  const proc = spawn(process.execPath, [CHILD, emu.hostPath, journal(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return { proc, out: () => out };
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

const journalState = (tag: string) => (fs.existsSync(journal()) ? JSON.parse(fs.readFileSync(journal(), 'utf8')).receipts?.[tag]?.state : undefined);
const currentLines = () => {
  const f = path.join(emu.receiptsDir, 'current.txt');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'receipt-'));
  emu = await startReceiptEmulator({ dir, lineMs: 15, cutMs: 50 });
  await openDriver();
});

afterEach(() => {
  alerts = [];
});

afterAll(async () => {
  await closeDriver();
  await emu?.stop();
});

test('a receipt: the ESC/POS bytes decode back to the lines (Japanese too), and it renders to a PNG', async () => {
  expect(await printer!.print('receipt:iss-1', LINES)).toEqual({ alreadyPrinted: false });
  const receipts = emu.receipts();
  expect(receipts).toHaveLength(1);
  const r = receipts[0]!;
  expect(r.text.map((l) => l.trimEnd()).filter(Boolean)).toEqual(LINES);
  // The raw bytes decode to the same lines on their own.
  expect(decodeEscPos(r.bytes).pieces[0]!.filter(Boolean)).toEqual(LINES);
  // Shift_JIS in the bytes: ザ is 0x83 0x55.
  expect(r.bytes.includes(Buffer.from([0x83, 0x55]))).toBe(true);
  // Kanji glyphs occupy two columns: the row is laid out on the printer's grid.
  expect(r.lines.find((l) => l.text.startsWith('ザ'))!.glyphs[0]!.w).toBe(24);
  const png = PNG.sync.read(fs.readFileSync(r.png!));
  expect(png.width).toBe(576);
  let ink = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i]! < 128) ink++;
  expect(ink).toBeGreaterThan(2000);
  expect(emu.state().counters['178']).toBe(1);
});

test('at most once per tag: the same tag again prints nothing', async () => {
  expect(await printer!.print('receipt:iss-1', LINES)).toEqual({ alreadyPrinted: true });
  expect(emu.receipts()).toHaveLength(1);
});

test('paper out before printing: a typed error, nothing printed; after loading paper it prints', async () => {
  await emu.control('paper-out');
  const e = await expectReceiptError(printer!.print('receipt:iss-2', LINES), 'PAPER_OUT', false);
  expect(e.customerMessage).toMatch(/no receipt can be printed/);
  expect(alerts.map((a) => a.code)).toContain('PAPER_OUT');
  expect(emu.receipts()).toHaveLength(1);
  expect(printer!.record('receipt:iss-2')).toBeUndefined(); // nothing was sent
  await emu.control('paper 500');
  expect(await printer!.print('receipt:iss-2', LINES)).toEqual({ alreadyPrinted: false });
  expect(emu.receipts()).toHaveLength(2);
});

test('paper runs out mid-receipt: a typed error; the rest prints when paper is loaded, and the tag is then done', async () => {
  await emu.control('paper 4');
  await expectReceiptError(printer!.print('receipt:iss-3', LINES), 'PAPER_OUT', true);
  expect(emu.receipts()).toHaveLength(2);
  expect(currentLines()).toBe(4);
  await emu.control('paper 500');
  expect(await printer!.print('receipt:iss-3', LINES)).toEqual({ alreadyPrinted: true });
  const receipts = emu.receipts();
  expect(receipts).toHaveLength(3);
  expect(receipts[2]!.text.filter(Boolean)).toEqual(LINES);
});

test('cover open: a typed error', async () => {
  await emu.control('cover open');
  await expectReceiptError(printer!.print('receipt:iss-4', LINES), 'COVER_OPEN', false);
  await emu.control('cover closed');
  await printer!.print('receipt:iss-4', LINES);
  expect(emu.receipts()).toHaveLength(4);
});

test('a driver SIGKILLed while the printer prints: the restarted driver finds the receipt done, printed once', async () => {
  await closeDriver();
  const before = emu.receipts().length;
  const c = child(['receipt:iss-5', '60']); // 60 lines at 15 ms a line
  await until('receipt sent and printing', () => journalState('receipt:iss-5') === 'sending' && currentLines() >= 3);
  await kill(c.proc);
  expect(c.out()).not.toMatch(/printed/);
  await openDriver();
  expect(await printer!.print('receipt:iss-5', receiptLines(60))).toEqual({ alreadyPrinted: true });
  const receipts = emu.receipts();
  expect(receipts).toHaveLength(before + 1);
  expect(receipts.at(-1)!.text.filter(Boolean)).toEqual(receiptLines(60));
});

test('a driver SIGKILLed mid-transmission: the torn piece is cut off and the receipt printed again, marked as a reprint', async () => {
  await closeDriver();
  const before = emu.receipts().length;
  const c = child(['receipt:iss-6', '40', '800']); // a slow line: ~2.5 s to send
  await until('part of the receipt printed', () => journalState('receipt:iss-6') === 'sending' && currentLines() >= 5);
  await kill(c.proc);
  await openDriver();
  expect(await printer!.print('receipt:iss-6', receiptLines(40))).toEqual({ alreadyPrinted: false });
  expect(alerts.map((a) => a.code)).toContain('TORN_RECEIPT');
  const receipts = emu.receipts().slice(before);
  expect(receipts).toHaveLength(2);
  const [torn, full] = receipts as [typeof receipts[0], typeof receipts[0]];
  const tornText = torn!.text.filter(Boolean);
  expect(tornText.length).toBeGreaterThanOrEqual(5);
  expect(tornText.length).toBeLessThan(40);
  expect(receiptLines(40).slice(0, tornText.length - 1)).toEqual(tornText.slice(0, -1)); // the last torn line may be cut mid-way
  expect(full!.text.filter(Boolean)).toEqual(['** REPRINT / 再発行 **', ...receiptLines(40)]);
  expect(await printer!.print('receipt:iss-6', receiptLines(40))).toEqual({ alreadyPrinted: true });
});
