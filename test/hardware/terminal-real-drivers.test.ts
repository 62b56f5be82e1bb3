/**
 * The whole system with the terminal worker on its real drivers: the serial card printer driver
 * over a socat pty pair to the printer emulator, and the PC/SC chip encoder through the real pcscd
 * and vpcd to the virtual card the emulated kiosk inserts when the printer feeds a card. Workers
 * are separate processes (the terminal worker configured as on a real kiosk: CARD_PRINTER_PORT and
 * CARD_READER), cash and receipt simulated.
 *   - a cash issuance: one card dispensed, its chip holds the verified record, its face PNG is
 *     written, one sale, the change paid once;
 *   - SIGTERM while the card waits in the bezel: the worker hands the card back and exits at once;
 *     the next worker sees the card taken and completes;
 *   - a card not taken in time: pulled into the reject bin and recorded, the money returned.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { decodeCardRecord } from '../../domain/card-record';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

const ROOT = path.resolve(__dirname, '../../..');
let stack: Stack;

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
  stack = await startStack({ workers: 'processes', devices: 'emulated', terminalEnv: { CARD_TAKE_TIMEOUT_MS: '4000' }, timings: { payoutMs: 50, receiptMs: 50 } });
});
afterAll(async () => {
  await stack?.stop();
});

const terminalProcs = (tid: string) => stack.processes.filter((p) => p.role === `terminal:${tid}` && p.child.exitCode === null && p.child.signalCode === null);

test('a cash issuance on the real drivers: one card, chip verified, face printed, one sale', async () => {
  const tid = stack.terminalIds[0];
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);
  const done = await kiosk.waitForStage('completed', 90_000);

  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(1);
  const cards = await stack.db('cards').where({ issuance_id: kiosk.issuanceId });
  expect(cards).toHaveLength(1);
  expect(cards[0]).toMatchObject({ id: done.cardId, status: 'issued' });
  const uid = cards[0].uid as string;

  // The printer handed out exactly that card, and nothing was rejected.
  const model = stack.printerModel(tid);
  expect(model.dispensed.map((d) => d.uid)).toEqual([uid]);
  expect(model.rejectBin).toEqual([]);
  expect(model.card).toBeNull();

  // Its chip (as the card itself holds it) carries the record for this issuance and card.
  const chip = fs.readFileSync(path.join(stack.kioskDir(tid), 'chips', `${uid}.bin`));
  const record = decodeCardRecord(chip.subarray(0, 9 + chip.readUInt32BE(5) + 4));
  expect(record).toMatchObject({ issuanceId: kiosk.issuanceId, cardId: done.cardId });

  // Its face was printed: a 1016x648 PNG with ink on it.
  const png = PNG.sync.read(fs.readFileSync(path.join(stack.kioskDir(tid), 'faces', `${uid}.png`)));
  expect([png.width, png.height]).toEqual([1016, 648]);
  let ink = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i]! < 200) ink++;
  expect(ink).toBeGreaterThan(10_000);

  // Change paid once (simulated cash unit), receipt printed once.
  const machine = stack.machine(tid);
  expect(machine.payouts[`change:${kiosk.issuanceId}`]).toBe(15000 - done.item!.quote.totalMinor);
  expect(Object.keys(machine.receipts)).toEqual([`receipt:${kiosk.issuanceId}`]);
});

test('SIGTERM while the card waits in the bezel: handed back at once, the next worker completes', async () => {
  const tid = stack.terminalIds[0];
  const k = stack.kiosk(tid);
  await k.control('auto-take off');
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 10000]);
  await until('the card in the bezel', () => stack.printerModel(tid).card?.pos === 'BEZEL', 60_000);

  const [worker] = terminalProcs(tid);
  const t0 = Date.now();
  worker!.child.kill('SIGTERM');
  expect(await worker!.exited).toBe(0);
  expect(Date.now() - t0).toBeLessThan(3000); // not the 30 s shutdown grace: the waiting card was handed back
  expect(worker!.output()).toMatch(/waits in the bezel; handed back/);

  await k.control('take');
  await k.control('auto-take 200');
  stack.startTerminal(tid);
  const done = await kiosk.waitForStage('completed', 60_000);
  const cards = await stack.db('cards').where({ issuance_id: kiosk.issuanceId });
  expect(cards.map((c) => c.status)).toEqual(['issued']);
  expect(stack.printerModel(tid).dispensed.at(-1)!.uid).toBe(cards[0].uid);
  expect(done.cardId).toBe(cards[0].id);
});

test('a card not taken in time goes to the reject bin, is recorded, and the money is returned', async () => {
  const tid = stack.terminalIds[0];
  const k = stack.kiosk(tid);
  await k.control('auto-take off');
  try {
    const seat = await freeSeat(stack.db);
    const kiosk = new Kiosk(stack.apiUrl, tid);
    await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 10000]);
    const end = await kiosk.waitForStage('refunded', 60_000);
    expect(end.message).toMatch(/not taken/);
    const cards = await stack.db('cards').where({ issuance_id: kiosk.issuanceId });
    expect(cards).toHaveLength(1);
    expect(cards[0].status).toBe('spoiled');
    expect(cards[0].spoil_reason).toMatch(/not taken/);
    expect(stack.printerModel(tid).rejectBin.at(-1)).toMatchObject({ uid: cards[0].uid, reason: 'not taken within 4000 ms', print: 'printed' });
    expect(stack.machine(tid).payouts[`refund:${kiosk.issuanceId}`]).toBe(end.item!.quote.totalMinor);
    expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  } finally {
    await k.control('auto-take 200');
  }
});
