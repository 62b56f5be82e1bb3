/**
 * The serial card printer driver against the printer emulator over a real pseudo-terminal pair
 * (socat), the emulator a separate process: feed, print (the PNG is checked), present and take,
 * reject, every fault as a typed DeviceError, a card not taken pulled back to the reject bin, and
 * a driver process SIGKILLed mid-print (the card stays at the print head, print interrupted).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PNG } from 'pngjs';
import { DeviceError } from '../../terminal-worker/devices/types';
import { PrinterFaultError, SerialCardPrinter } from '../../terminal-worker/drivers/serial-card-printer';
import { HEADER_COLOR, TITLE_BOX } from '../../terminal-worker/drivers/face-renderer';
import type { ModelState } from '../../terminal-worker/simulators/printer-emulator/physical-model';

const DIST = path.resolve(__dirname, '..', '..');
const BEZEL_MS = 1500;

let dir: string;
let socat: ChildProcess;
let emulator: ChildProcess;
let emulatorOut = '';
let printer: SerialCardPrinter;

const ptyA = () => path.join(dir, 'printer-side');
const ptyB = () => path.join(dir, 'host-side');
const model = (): ModelState => JSON.parse(fs.readFileSync(path.join(dir, 'printer-state.json'), 'utf8'));

async function until<T>(what: string, fn: () => T | undefined | false, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; emulator output:\n${emulatorOut}`);
    await sleep(25);
  }
}

/** Sends an operator/customer action to the emulator's stdin and waits for its answer. */
async function control(line: string): Promise<void> {
  const before = emulatorOut.split(`control ${line}:`).length;
  emulator.stdin!.write(`${line}\n`);
  await until(`control "${line}"`, () => emulatorOut.split(`control ${line}:`).length > before);
}

async function expectFault(p: Promise<unknown>, printerCode: string, code: DeviceError['code'], message: RegExp): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceError);
  expect(err).toBeInstanceOf(PrinterFaultError);
  expect((err as PrinterFaultError).printerCode).toBe(printerCode);
  expect((err as PrinterFaultError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'printer-'));
  socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${ptyA()}`, `pty,raw,echo=0,link=${ptyB()}`], { stdio: 'ignore' });
  await until('socat pty links', () => fs.existsSync(ptyA()) && fs.existsSync(ptyB()));
  emulator = spawn(process.execPath, [path.join(DIST, 'terminal-worker/simulators/printer-emulator/main.js'), '--pty', ptyA(), '--state', path.join(dir, 'printer-state.json'), '--out-dir', path.join(dir, 'faces'), '--feed-ms', '100', '--band-ms', '150', '--eject-ms', '100'], { stdio: ['pipe', 'pipe', 'pipe'] });
  emulator.stdout!.on('data', (d) => (emulatorOut += d));
  emulator.stderr!.on('data', (d) => (emulatorOut += d));
  await until('emulator READY', () => emulatorOut.includes('READY'));
  printer = await SerialCardPrinter.open({ path: ptyB(), bezelDelayMs: BEZEL_MS, pollMs: 50 });
});

afterAll(async () => {
  await printer?.close();
  for (const child of [emulator, socat]) if (child && child.exitCode === null) child.kill('SIGTERM');
});

test('feed: a blank card stops at the contact station and reports its UID', async () => {
  const uid = await printer.feed();
  expect(uid).toMatch(/^04[0-9A-F]{12}$/);
  expect((await printer.status()).transport).toEqual({ uid, printState: 'blank' });
  expect((await printer.printerStatus()).card).toMatchObject({ uid, pos: 'CONTACT' });
});

test('print: the face is rendered, downloaded in bands and written as a 1016x648 PNG with the title', async () => {
  const { transport } = await printer.status();
  const progress: number[] = [];
  await printer.print({ title: 'The Neon Harbors — Tide Tour 2027', lines: ['Budokan · 2027-05-14 18:30', 'Arena A  Row 12  Seat 34', 'S席 ¥9,800'], imageUrl: null, cardId: 'CARD-TEST-1' }, (f) => progress.push(f));
  expect(progress).toHaveLength(8);
  expect(progress.at(-1)).toBe(1);
  expect((await printer.status()).transport).toEqual({ uid: transport!.uid, printState: 'printed' });

  const png = PNG.sync.read(fs.readFileSync(path.join(dir, 'faces', `${transport!.uid}.png`)));
  expect([png.width, png.height]).toEqual([1016, 648]);
  // The title is white text on the header colour: count pixels in the title box that are not header.
  let text = 0;
  for (let y = TITLE_BOX.y; y < TITLE_BOX.y + TITLE_BOX.height; y++)
    for (let x = TITLE_BOX.x; x < TITLE_BOX.x + TITLE_BOX.width; x++) {
      const o = (y * png.width + x) * 4;
      if (Math.abs(png.data[o]! - HEADER_COLOR[0]) + Math.abs(png.data[o + 1]! - HEADER_COLOR[1]) + Math.abs(png.data[o + 2]! - HEADER_COLOR[2]) > 60) text++;
    }
  expect(text).toBeGreaterThan(5000);
  expect(text).toBeLessThan(TITLE_BOX.width * TITLE_BOX.height * 0.5);
});

test('present: the card is ejected to the customer, taken, and counted as dispensed', async () => {
  const { transport } = await printer.status();
  const presenting = printer.present(() => {});
  await until('card in the bezel', () => model().card?.pos === 'BEZEL');
  await control('take');
  await presenting;
  expect(await printer.dispensedUids()).toContain(transport!.uid);
  expect((await printer.status()).transport).toBeNull();
});

test('reject: the card in the transport goes to the reject bin with the reason', async () => {
  const before = (await printer.status()).rejectBinCount;
  const uid = await printer.feed();
  await printer.reject('chip verify failed');
  expect(await printer.status()).toMatchObject({ transport: null, rejectBinCount: before + 1 });
  expect(model().rejectBin.at(-1)).toMatchObject({ uid, reason: 'chip verify failed', print: 'blank' });
  await printer.reject('nothing there'); // no card: a no-op, as the CardPath contract allows
});

test('stock hopper (Sih): empty is STOCKER_EMPTY; loaded, its cards come to the contact station in order, the blank stocker untouched', async () => {
  await expectFault(printer.feedStock(), 'FEEDER_EMPTY', 'STOCKER_EMPTY', /stock hopper is empty/);
  expect((await printer.status()).transport).toBeNull();
  const blanks = (await printer.status()).stockerCount;
  await control('stock-hopper 05AABBCCDDEEFF,05112233445566');
  expect(await printer.feedStock()).toBe('05AABBCCDDEEFF');
  expect((await printer.status()).transport).toEqual({ uid: '05AABBCCDDEEFF', printState: 'blank' });
  await expectFault(printer.feedStock(), 'CARD_PRESENT', 'JAM', /already in the transport/);
  await printer.reject('test');
  expect(await printer.feedStock()).toBe('05112233445566');
  await printer.reject('test');
  expect(model().stockHopper).toEqual([]);
  expect((await printer.status()).stockerCount).toBe(blanks);
});

test('a card not taken within the bezel delay is pulled back into the reject bin and recorded', async () => {
  const uid = await printer.feed();
  const started = Date.now();
  await expectFault(printer.present(() => {}), 'NOT_TAKEN', 'NOT_TAKEN', /not taken within 1500 ms.*reject bin/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(BEZEL_MS);
  expect((await printer.status()).transport).toBeNull();
  expect(model().rejectBin.at(-1)).toMatchObject({ uid, reason: `not taken within ${BEZEL_MS} ms` });
  expect(model().lastPresented).toEqual({ uid, outcome: 'retracted' });
  expect(await printer.dispensedUids()).not.toContain(uid);
});

test('every printer fault is a typed DeviceError with a clear message', async () => {
  await control('stocker 0');
  await expectFault(printer.feed(), 'FEEDER_EMPTY', 'STOCKER_EMPTY', /FEEDER_EMPTY.*feeder \(stocker\) is empty/);
  expect((await printer.printerStatus()).faults).toContain('FEEDER_EMPTY');
  await control('stocker 100');

  await control('cover open');
  await expectFault(printer.feed(), 'COVER_OPEN', 'JAM', /COVER_OPEN.*cover is open/);
  await control('cover closed');

  await control('jam-next');
  await expectFault(printer.feed(), 'JAM', 'JAM', /JAM.*jammed/);
  expect((await printer.printerStatus()).faults).toEqual(['JAM']);
  await expectFault(printer.feed(), 'JAM', 'JAM', /JAM/); // stays jammed until cleared
  await control('clear-jam');

  await printer.feed();
  await control('ribbon 0');
  await expectFault(printer.print({ title: 'x', lines: [], imageUrl: null, cardId: 'c' }, () => {}), 'RIBBON_OUT', 'JAM', /RIBBON_OUT.*ribbon is used up/);
  expect((await printer.status()).transport?.printState).toBe('blank');
  await control('ribbon 200');

  await control(`bin-capacity ${(await printer.status()).rejectBinCount}`);
  await expectFault(printer.reject('test'), 'REJECT_BIN_FULL', 'JAM', /REJECT_BIN_FULL.*reject bin is full/);
  expect((await printer.status()).transport).not.toBeNull();
  await control('bin-capacity 50');
  await printer.reject('fault test');
  expect((await printer.printerStatus()).state).toBe('READY');
});

test('a driver killed mid-print leaves the card at the print head with the print interrupted', async () => {
  const uid = await printer.feed();
  await printer.close(); // the child process is the driver now
  const child = spawn(process.execPath, [path.join(DIST, 'test/hardware/printer-driver-child.js'), ptyB()], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await until('three bands printed', () => /progress 0\.375/.test(out) || (child.exitCode !== null && (() => { throw new Error(out); })()));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  expect(out).not.toMatch(/done/);
  expect(socat.exitCode).toBeNull(); // the pty pair outlives its host side

  printer = await SerialCardPrinter.open({ path: ptyB(), bezelDelayMs: BEZEL_MS, pollMs: 50 });
  expect((await printer.status()).transport).toEqual({ uid, printState: 'printing' });
  const card = (await printer.printerStatus()).card!;
  expect(card).toMatchObject({ uid, pos: 'PRINT_HEAD', print: 'printing', interrupted: true });
  expect(card.bandsPrinted).toBeGreaterThanOrEqual(3);
  expect(card.bandsPrinted).toBeLessThan(8);
  expect(fs.existsSync(path.join(dir, 'faces', `${uid}.png`))).toBe(true); // the half-printed face
  await printer.reject('print interrupted');
  expect(model().rejectBin.at(-1)).toMatchObject({ uid, print: 'printing', reason: 'print interrupted' });
});

test('a printer that stops answering: the command times out, and its late answer is never taken for the next command', async () => {
  await printer.close();
  printer = await SerialCardPrinter.open({ path: ptyB(), bezelDelayMs: BEZEL_MS, pollMs: 50, commandTimeoutMs: 400 });
  const dispensedBefore = await printer.dispensedUids();
  emulator.kill('SIGSTOP'); // frozen: reads nothing, answers nothing
  try {
    await expectFault(printer.status(), 'TIMEOUT', 'UNAVAILABLE', /did not answer "Rst\\r" within 400 ms/);
    // The next command is sent while the status request is still unanswered; the printer wakes up
    // meanwhile and answers the status request first.
    const next = printer.dispensedUids();
    await sleep(150);
    emulator.kill('SIGCONT');
    expect(await next).toEqual(dispensedBefore); // its own answer, not the late status line
  } finally {
    emulator.kill('SIGCONT');
  }
  expect((await printer.printerStatus()).state).toBe('READY');
});
