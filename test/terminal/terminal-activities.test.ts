/**
 * The terminal's device activities against the simulated kiosk: each checks physical state first,
 * so a repeat after a crash does the right thing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createTerminalActivities } from '../../activities/terminal';
import { createSimulatedDevices } from '../../terminal-worker/simulators/simulated-devices';
import { ZERO_TIMINGS } from '../../terminal-worker/simulators/timings';
import { DeviceError } from '../../terminal-worker/devices/types';

function setup(stock = 10) {
  const file = path.join(fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'term-')), 'machine.json');
  const devices = createSimulatedDevices(file, ZERO_TIMINGS, stock);
  return { devices, acts: createTerminalActivities(devices), machine: devices.machine };
}

const record = Buffer.from('ICR1 some record bytes').toString('base64');
const face = { title: 'T', lines: ['a'], imageUrl: null, cardId: 'C1' };

test('a full card path hands out exactly one printed card with the chip written', async () => {
  const { acts, machine } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  expect(await acts.writeChip(uid, record)).toEqual({ written: true });
  expect(await acts.writeChip(uid, record)).toEqual({ written: false }); // repeat: nothing to do
  await acts.verifyChip(uid, record);
  expect(await acts.printFace(uid, face)).toEqual({ printed: true });
  expect(await acts.printFace(uid, face)).toEqual({ printed: false });
  expect(await acts.presentCard(uid)).toEqual({ presented: true });
  expect(await acts.presentCard(uid)).toEqual({ presented: false });
  const s = machine.read();
  expect(s.dispensed.map((c) => c.uid)).toEqual([uid]);
  expect(s.stockerCount).toBe(9);
  expect(Buffer.from(s.dispensed[0].chipBase64, 'base64').toString('base64')).toBe(record);
});

test('a blank card left in the transport by a crash is adopted, not wasted', async () => {
  const { acts, machine } = setup();
  const first = await acts.feedBlankCard('iss-1');
  const again = await acts.feedBlankCard('iss-1');
  expect(again.uid).toBe(first.uid);
  expect(machine.read().stockerCount).toBe(9);
});

test('a used card left in the transport goes to the reject bin before a new one is fed', async () => {
  const { acts, machine } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  await acts.writeChip(uid, record);
  const next = await acts.feedBlankCard('iss-2');
  expect(next.uid).not.toBe(uid);
  expect(machine.read().rejectBin.map((c) => c.uid)).toEqual([uid]);
});

test('a print interrupted by a crash spoils the card instead of handing it out', async () => {
  const { acts, machine } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  machine.update((s) => {
    s.transport!.printState = 'printing'; // the state a killed worker leaves behind
  });
  const err = await acts.printFace(uid, face).catch((e) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err.type).toBe('CardSpoiled');
  expect(err.nonRetryable).toBe(true);
  const s = machine.read();
  expect(s.transport).toBeNull();
  expect(s.rejectBin[0]).toMatchObject({ uid, reason: 'printing was interrupted' });
  await expect(acts.presentCard(uid)).rejects.toMatchObject({ type: 'CardSpoiled' });
});

test('a torn chip write is detected by verification', async () => {
  const { acts, machine } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  await acts.writeChip(uid, record);
  machine.update((s) => {
    s.transport!.chipBase64 = Buffer.from(Buffer.from(record, 'base64').subarray(0, 5)).toString('base64');
  });
  await expect(acts.verifyChip(uid, record)).rejects.toMatchObject({ type: 'CardSpoiled' });
  expect(await acts.writeChip(uid, record)).toEqual({ written: true }); // rewriting repairs it
  await acts.verifyChip(uid, record);
});

test('an empty stocker is a clear, non-retryable failure', async () => {
  const { acts } = setup(0);
  await expect(acts.feedBlankCard('iss-1')).rejects.toMatchObject({ type: 'StockerEmpty', nonRetryable: true });
});

test('payouts and receipts happen at most once per tag', async () => {
  const { acts, machine } = setup();
  expect(await acts.payoutCash('change:iss-1', 2670)).toEqual({ paidMinor: 2670 });
  expect(await acts.payoutCash('change:iss-1', 2670)).toEqual({ paidMinor: 2670 });
  expect(await acts.payoutCash('change:iss-2', 0)).toEqual({ paidMinor: 0 });
  await acts.printReceipt('iss-1', ['x']);
  await acts.printReceipt('iss-1', ['x']);
  const s = machine.read();
  expect(s.payouts).toEqual({ 'change:iss-1': 2670 });
  expect(Object.keys(s.receipts)).toEqual(['receipt:iss-1']);
});

// ── behaviour the real drivers bring (the devices' answers are given here by the simulator, edited) ──

test('a card from the stocker that is not blank is rejected and another fed; the result lists it', async () => {
  const { devices, machine } = setup();
  let fed = 0;
  const feed = devices.cardPath.feed.bind(devices.cardPath);
  devices.cardPath.feed = async () => {
    const uid = await feed();
    if (++fed === 1) machine.update((s) => void (s.transport!.chipBase64 = Buffer.from('USED').toString('base64')));
    return uid;
  };
  const acts = createTerminalActivities(devices);
  const { uid, rejected } = await acts.feedBlankCard('iss-1');
  const s = machine.read();
  expect(rejected).toHaveLength(1);
  expect(rejected[0]!.reason).toMatch(/not blank \(4 bytes on its chip\)/);
  expect(s.rejectBin.map((c) => c.uid)).toEqual([rejected[0]!.uid]);
  expect(s.transport?.uid).toBe(uid);
});

test('three unusable cards in a row: the feed gives up, each of them in the reject bin', async () => {
  const { devices, machine } = setup();
  const acts = createTerminalActivities({ ...devices, chip: { ...devices.chip, read: async () => { throw new DeviceError('WRONG_CARD', 'not an ICR1 card'); }, write: devices.chip.write } });
  await expect(acts.feedBlankCard('iss-1')).rejects.toMatchObject({ type: 'CardSpoiled', message: expect.stringMatching(/3 cards in a row/) });
  expect(machine.read().rejectBin).toHaveLength(3);
  expect(machine.read().transport).toBeNull();
});

test('a reader that is gone is a retryable device fault, not a spoiled card', async () => {
  const { devices, machine } = setup();
  const { uid } = await createTerminalActivities(devices).feedBlankCard('iss-1');
  const gone = async () => { throw new DeviceError('UNAVAILABLE', 'the IC reader is gone'); };
  const acts = createTerminalActivities({ ...devices, chip: { read: gone, write: gone } });
  await expect(acts.writeChip(uid, record)).rejects.toMatchObject({ type: 'DeviceFault', nonRetryable: false });
  await expect(acts.feedBlankCard('iss-1')).rejects.toMatchObject({ type: 'DeviceFault' });
  expect(machine.read().rejectBin).toHaveLength(0);
  expect(machine.read().transport?.uid).toBe(uid);
});

test('a card not taken (retracted by the printer) ends the production: CardNotTaken, not another card', async () => {
  const { devices } = setup();
  const acts0 = createTerminalActivities(devices);
  const { uid } = await acts0.feedBlankCard('iss-1');
  await acts0.printFace(uid, face);
  const notTaken = createTerminalActivities({ ...devices, cardPath: Object.assign(Object.create(devices.cardPath), { present: async () => { throw new DeviceError('NOT_TAKEN', `card ${uid} was not taken`); } }) });
  await expect(notTaken.presentCard(uid)).rejects.toMatchObject({ type: 'CardNotTaken', nonRetryable: true });
  // Seen after a restart: the printer says the card was retracted.
  const after = createTerminalActivities({ ...devices, cardPath: Object.assign(Object.create(devices.cardPath), { status: async () => ({ transport: null, stockerCount: 9, rejectBinCount: 1, lastPresented: { uid, outcome: 'retracted' } }) }) });
  await expect(after.presentCard(uid)).rejects.toMatchObject({ type: 'CardNotTaken' });
});

test('a terminal shutting down hands back a card waiting for the customer', async () => {
  const { devices } = setup();
  const acts0 = createTerminalActivities(devices);
  const { uid } = await acts0.feedBlankCard('iss-1');
  await acts0.printFace(uid, face);
  let stopping = false;
  const waiting = Object.assign(Object.create(devices.cardPath), {
    present: async (onProgress: (f: number) => void) => {
      for (;;) {
        onProgress(0.1);
        stopping = true;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  });
  const acts = createTerminalActivities({ ...devices, cardPath: waiting }, { stopping: () => stopping });
  await expect(acts.presentCard(uid)).rejects.toMatchObject({ type: 'HandedBack', nonRetryable: false });
});
