/**
 * The ccTalk cash unit driver against the cash unit emulator over a real pseudo-terminal pair
 * (socat), the emulator a separate process with a physical model of every yen: credits read
 * exactly once; a driver SIGKILLed between polls loses and doubles nothing; a credit recorded but
 * not delivered comes back with the same id; exact change; a lost reply and a lost command to
 * "Pay money out" still pay once; a driver killed mid-dispense is settled from the changer's
 * counters; short change and a hopper jam are typed outcomes with the amount paid, an operator
 * alert and a customer message; a jammed note is an alert, not a credit. At the end the
 * emulator's books balance: nothing created, nothing lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceError } from '../../terminal-worker/devices/types';
import { CashUnitError, CcTalkCashUnit, createCcTalkCashUnit, type CashCredit, type OperatorAlert } from '../../terminal-worker/drivers/cctalk-cash-unit';
import { startCashEmulator, type CashEmulatorProcess } from '../../terminal-worker/simulators/cash-emulator/start';

const DIST = path.resolve(__dirname, '..', '..');
const CHILD = path.join(DIST, 'test/hardware/cash-driver-child.js');

let dir: string;
let emu: CashEmulatorProcess;
let unit: CcTalkCashUnit | null = null;
let alerts: OperatorAlert[] = [];
const journal = () => path.join(dir, 'cash-journal.json');

async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 10000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; emulator output:\n${emu.output().split('\n').slice(-30).join('\n')}`);
    await sleep(25);
  }
}

async function openDriver(): Promise<CcTalkCashUnit> {
  unit = await createCcTalkCashUnit({ path: emu.hostPath, journalFile: journal(), pollMs: 0, resendGuardMs: 400, onAlert: (a) => alerts.push(a), log: () => {} });
  return unit;
}

async function closeDriver(): Promise<void> {
  await unit?.close();
  unit = null;
}

/** Polls until `n` credits have come (notes need two polls: escrow, then stacked). */
async function credits(u: CcTalkCashUnit, n: number): Promise<CashCredit[]> {
  const got: CashCredit[] = [];
  await until(`${n} credits`, async () => {
    got.push(...(await u.poll()));
    return got.length >= n;
  });
  return got;
}

const tray = () => emu.state().tray;
const trayTotal = () => Object.entries(tray()).reduce((s, [v, n]) => s + Number(v) * n, 0);

function child(mode: string[]): { proc: ChildProcess; out: () => string } {
  let out = '';
  const proc = spawn(process.execPath, [CHILD, emu.hostPath, journal(), ...mode], { stdio: ['ignore', 'pipe', 'pipe'] });
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

async function expectCashError(p: Promise<unknown>, code: string, paid: number, unpaid: number): Promise<CashUnitError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceError);
  expect(err).toBeInstanceOf(CashUnitError);
  const e = err as CashUnitError;
  expect({ code: e.cashCode, paid: e.paidMinor, unpaid: e.unpaidMinor }).toEqual({ code, paid, unpaid });
  return e;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'cash-'));
  emu = await startCashEmulator({ dir, payItemMs: 80, escrowTimeoutMs: 8000 });
  await openDriver();
});

afterEach(() => {
  alerts = [];
});

afterAll(async () => {
  await closeDriver();
  await emu?.stop();
});

test('the bus: coin acceptor, bill validator and changer identified; floats per denomination', async () => {
  const c = await unit!.counters();
  expect(c.floats.map((f) => [f.denomination, f.valueMinor, f.count])).toEqual([
    ['JP010A', 10, 100],
    ['JP050A', 50, 50],
    ['JP100A', 100, 100],
    ['JP500A', 500, 40],
    ['JP1K0A', 1000, 30],
    ['JP5K0A', 5000, 10],
  ]);
  expect(c.moneyOutMinor).toBe(0);
});

test('inserted coins and notes are credited exactly once; notes only once stacked from escrow', async () => {
  const u = unit!;
  await u.enableAcceptance();
  await emu.insert(100);
  await emu.insert(500);
  await emu.insert(1000);
  expect(emu.state().bill.escrow?.value).toBe(1000); // held until the driver routes it
  const got = await credits(u, 3);
  expect(got.map((c) => [c.source, c.valueMinor, c.denomination])).toEqual([
    ['coin', 100, 'JP100A'],
    ['coin', 500, 'JP500A'],
    ['note', 1000, 'JP0001A'],
  ]);
  expect(new Set(got.map((c) => c.id)).size).toBe(3);
  expect(emu.state().bill.escrow).toBeNull();
  expect(await u.poll()).toEqual([]); // read again: nothing new
  expect(await u.poll()).toEqual([]);
  expect(u.pendingCredits().map((c) => c.id)).toEqual(got.map((c) => c.id));
  for (const c of got) u.ackCredit(c.id);
  expect(u.pendingCredits()).toEqual([]);
  const c = await u.counters();
  expect(c.accepted[100]).toBe(1);
  expect(c.accepted[1000]).toBe(1);
  expect(c.moneyInMinor).toBe(1600);
});

test('acceptance off: coins and notes are handed back and not credited', async () => {
  const u = unit!;
  await u.disableAcceptance();
  await emu.insert(100);
  await emu.insert(5000);
  expect(await u.poll()).toEqual([]);
  expect(emu.state().returned).toMatchObject({ 100: 1, 5000: 1 });
  await u.enableAcceptance();
});

test('a driver SIGKILLed and restarted between polls loses no credit and doubles none', async () => {
  await closeDriver();
  const first = child(['accept']);
  await until('child ready', () => first.out().includes('ready') || (first.proc.exitCode !== null && (() => { throw new Error(first.out()); })()));
  await emu.insert(100);
  const firstId = (await until('child credited ¥100', () => /acked (coin-\S+)/.exec(first.out())))[1]!;
  await kill(first.proc);

  // While no driver runs, the customer goes on inserting.
  await emu.insert(10);
  await emu.insert(500);
  await emu.insert(1000); // waits in escrow for a driver
  await emu.insert(50);

  const u = await openDriver(); // open() reads what happened while it was down
  // The note needs one more poll after open(): the route out of escrow, then the stacked event.
  const all = await until('four credits recorded', async () => {
    await u.poll();
    return u.pendingCredits().length >= 4 && u.pendingCredits();
  });
  expect(all.map((c) => c.valueMinor).sort((a, b) => a - b)).toEqual([10, 50, 500, 1000]);
  expect(all.map((c) => c.id)).not.toContain(firstId);
  expect(new Set(all.map((c) => c.id)).size).toBe(4);
  expect(await u.poll()).toEqual([]);
  for (const c of u.pendingCredits()) u.ackCredit(c.id);
});

test('a credit recorded but not yet delivered comes back after a restart, with the same id', async () => {
  await closeDriver();
  const c1 = child(['accept-noack']);
  await until('child ready', () => c1.out().includes('ready'));
  await emu.insert(50);
  const [, id, value] = await until('child credited ¥50', () => /credit (coin-\S+) (\d+)/.exec(c1.out()));
  await kill(c1.proc); // before anyone acknowledged it
  const u = await openDriver();
  expect(u.pendingCredits().map((c) => [c.id, c.valueMinor])).toEqual([[id, Number(value)]]);
  expect(await u.poll()).toEqual([]); // and it is not read from the acceptor a second time
  u.ackCredit(id!);
  expect(u.pendingCredits()).toEqual([]);
});

test("acceptanceOnOpen 'off': a driver that died accepting leaves a note in escrow: handed back; a coin taken: credited to its owner", async () => {
  await unit!.enableAcceptance('iss-owner-1');
  await closeDriver(); // "dies" with acceptance on
  expect(await emu.insert(100)).toMatch(/accepted/);
  expect(await emu.insert(1000)).toMatch(/in escrow/);
  const returned0 = emu.state().returned['1000'] ?? 0;
  unit = await createCcTalkCashUnit({ path: emu.hostPath, journalFile: journal(), pollMs: 0, resendGuardMs: 400, acceptanceOnOpen: 'off', onAlert: (a) => alerts.push(a), log: () => {} });
  await until('the note handed back', async () => {
    await unit!.poll();
    return (emu.state().returned['1000'] ?? 0) === returned0 + 1;
  });
  const pending = unit.pendingCredits();
  expect(pending.map((c) => [c.valueMinor, c.owner])).toEqual([[100, 'iss-owner-1']]);
  expect([emu.state().coin.masterInhibit, emu.state().bill.masterInhibit]).toEqual([true, true]);
  unit.ackCredit(pending[0]!.id);
  await unit.enableAcceptance(); // as the tests below expect
});

test('payout: exact change, and at most once per tag', async () => {
  const u = unit!;
  const before = { ...tray() };
  const total0 = trayTotal();
  expect(await u.payout('change:t1', 9590)).toEqual({ paidMinor: 9590, alreadyPaid: false });
  expect(trayTotal() - total0).toBe(9590);
  const diff = Object.fromEntries(Object.entries(tray()).map(([v, n]) => [v, n - (before[v] ?? 0)]).filter(([, n]) => n));
  expect(diff).toEqual({ 5000: 1, 1000: 4, 500: 1, 50: 1, 10: 4 });
  expect(await u.payout('change:t1', 9590)).toEqual({ paidMinor: 9590, alreadyPaid: true });
  expect(trayTotal() - total0).toBe(9590);
  await expect(u.payout('change:t1', 100)).rejects.toThrow(/was used for 9590/);
});

test('a lost reply to Pay money out: the changer paid, the driver finds out, nothing is paid twice', async () => {
  const total0 = trayTotal();
  await emu.control('lose-reply 125');
  expect(await unit!.payout('change:lost-reply', 1230)).toEqual({ paidMinor: 1230, alreadyPaid: false });
  expect(trayTotal() - total0).toBe(1230);
  expect(emu.output()).toMatch(/executed; reply lost/);
});

test('a lost Pay money out command: the driver sees nothing happened and sends it again, paid once', async () => {
  const total0 = trayTotal();
  await emu.control('lose-command 125');
  expect(await unit!.payout('change:lost-command', 660)).toEqual({ paidMinor: 660, alreadyPaid: false });
  expect(trayTotal() - total0).toBe(660);
  expect(emu.output()).toMatch(/command lost on the line/);
});

test('a driver SIGKILLed mid-dispense: the restarted driver settles the tag from the counters, paid once', async () => {
  await closeDriver();
  const total0 = trayTotal();
  const c = child(['payout', 'change:killed', '4870']); // 4×¥1000, ¥500, 3×¥100, ¥50, 2×¥10: 11 items × 80 ms
  await until('dispensing under way', () => trayTotal() - total0 >= 1000 || (c.proc.exitCode !== null && (() => { throw new Error(c.out()); })()));
  await kill(c.proc);
  expect(c.out()).not.toMatch(/^paid /m);
  expect(trayTotal() - total0).toBeLessThan(4870); // it was killed mid-way; the changer carries on by itself
  const u = await openDriver();
  expect(await u.payout('change:killed', 4870)).toEqual({ paidMinor: 4870, alreadyPaid: true });
  expect(trayTotal() - total0).toBe(4870);
  expect(u.payoutRecord('change:killed')).toMatchObject({ state: 'done', outcome: 'paid', paidMinor: 4870, unpaidMinor: 0 });
});

test('short change: a typed outcome with the amount paid, an operator alert and a customer message; never paid twice', async () => {
  const u = unit!;
  await emu.control('refill 10 0');
  await emu.control('refill 50 0');
  await emu.control('refill 100 2');
  const total0 = trayTotal();
  const e = await expectCashError(u.payout('change:short', 480), 'SHORT_CHANGE', 200, 280);
  expect(e.customerMessage).toMatch(/¥200 was paid and ¥280 is still owed/);
  expect(e.customerMessage).toMatch(/係員/);
  expect(trayTotal() - total0).toBe(200);
  expect(alerts).toContainEqual(expect.objectContaining({ level: 'critical', code: 'SHORT_CHANGE', customerMessage: e.customerMessage }));
  expect(alerts.find((a) => a.code === 'SHORT_CHANGE')!.message).toMatch(/hopper \d: hopper empty.*Hand the customer ¥280/);
  // Asked again (an activity retry): the same outcome, nothing more paid.
  await expectCashError(u.payout('change:short', 480), 'SHORT_CHANGE', 200, 280);
  expect(trayTotal() - total0).toBe(200);
  for (const [v, n] of [[10, 100], [50, 50], [100, 100]]) await emu.control(`refill ${v} ${n}`);
});

test('an amount below the smallest coin: the rest is paid, that part is a SHORT_CHANGE owed, never paid twice', async () => {
  const u = unit!;
  const total0 = trayTotal();
  const e = await expectCashError(u.payout('change:odd', 485), 'SHORT_CHANGE', 480, 5);
  expect({ code: e.code, details: e.details }).toEqual({ code: 'CASH_SHORT', details: { paidMinor: 480, unpaidMinor: 5 } });
  expect(e.customerMessage).toMatch(/¥480 was paid and ¥5 is still owed/);
  await expectCashError(u.payout('change:odd', 485), 'SHORT_CHANGE', 480, 5); // a retry pays nothing more
  expect(trayTotal() - total0).toBe(480);
  await expectCashError(u.payout('change:tiny', 7), 'SHORT_CHANGE', 0, 7);
  expect(trayTotal() - total0).toBe(480);
});

test('a hopper jam mid-payout: a typed outcome with the amount paid', async () => {
  const u = unit!;
  await emu.control('jam-hopper 100 after 1');
  const total0 = trayTotal();
  const e = await expectCashError(u.payout('change:jam', 300), 'PAYOUT_JAM', 100, 200);
  // A known shortfall is final (CASH_SHORT, not a retryable JAM) and carries what is still owed.
  expect({ code: e.code, details: e.details }).toEqual({ code: 'CASH_SHORT', details: { paidMinor: 100, unpaidMinor: 200 } });
  expect(trayTotal() - total0).toBe(100);
  expect(alerts.find((a) => a.code === 'PAYOUT_JAM')!.message).toMatch(/hopper 3: hopper jam.*clear the jam/);
  await emu.control('clear-jams');
  expect(await u.payout('change:after-jam', 300)).toEqual({ paidMinor: 300, alreadyPaid: false });
});

test('a note that jams in the validator is an operator alert and a customer message, not a credit', async () => {
  const u = unit!;
  await emu.control('jam-note');
  await emu.insert(5000);
  expect(await u.poll()).toEqual([]);
  const a = alerts.find((x) => x.code === 'BILL_FAULT')!;
  expect(a.level).toBe('critical');
  expect(a.message).toMatch(/jammed in transport/);
  expect(a.customerMessage).toMatch(/held in the machine/);
  expect(emu.state().bill.jammed).toEqual({ value: 5000 });
  await emu.control('clear-jams');
});

test('a power cycle of the acceptors is noticed; acceptance is re-applied and credits go on', async () => {
  const u = unit!;
  await emu.control('power-cycle');
  expect(await u.poll()).toEqual([]);
  expect(alerts.map((a) => a.code)).toContain('ACCEPTOR_RESET');
  await emu.insert(100);
  const got = await credits(u, 1);
  expect(got.map((c) => c.valueMinor)).toEqual([100]);
  u.ackCredit(got[0]!.id);
});

test("the emulator's books balance: every yen inserted or loaded is in the machine or back with the customer", () => {
  const s = emu.state();
  const total = (m: Record<string, number>) => Object.entries(m).reduce((t, [v, n]) => t + Number(v) * n, 0);
  const inMachine = s.changer.hoppers.reduce((t, h) => t + h.value * h.count, 0) + total(s.cashbox) + (s.bill.escrow?.value ?? 0) + (s.bill.jammed?.value ?? 0);
  expect(inMachine + total(s.tray) + total(s.returned)).toBe(total(s.inserted) + total(s.loaded));
});
