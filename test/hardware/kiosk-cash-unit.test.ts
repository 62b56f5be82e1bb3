/**
 * The kiosk's cash unit and receipt printer on real interfaces, in the running system: the emulated
 * kiosk hosts the ccTalk cash unit and ESC/POS receipt printer emulators on socat pty pairs; the
 * terminal worker (a separate process, configured with CASH_UNIT_PORT / RECEIPT_PRINTER_PORT)
 * drives them with the real drivers. Uses vpcd reader 1 (port 35964).
 *   - notes tapped on the kiosk page's slot go into the emulated acceptor; the driver's credits
 *     reach the workflow; change comes out of the changer; the receipt comes out of the printer;
 *     the unit's counters match the ledger;
 *   - the worker killed after a credit reached the workflow but before the driver was told: the
 *     restarted worker re-sends the same credit id and it is counted once;
 *   - a coin put in while the worker is dead is credited to its issuance after the restart;
 *   - the unit cannot pay the change (CASH_SHORT): the card is still made, the change is recorded
 *     as owed with a voucher (printed), and the books still match the unit;
 *   - the receipt printer out of paper (PAPER_OUT): no receipt, no retries, the issuance completes,
 *     the terminal is flagged;
 *   - a tampered counter: the ledger check names the terminal and the difference.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { checkLedger } from '../../activities/center/ledger-check';
import { readReceipts } from '../../terminal-worker/simulators/receipt-emulator/start';
import type { CashModelState } from '../../terminal-worker/simulators/cash-emulator/physical-model';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

const ROOT = path.resolve(__dirname, '../../..');
let stack: Stack;
let tid: string;

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
  stack = await startStack({ workers: 'processes', devices: 'emulated', emulatedCash: true, vpcdBasePort: 35964, timings: { payoutMs: 50, receiptMs: 50 } });
  tid = stack.terminalIds[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

const cashUnit = () => JSON.parse(fs.readFileSync(path.join(stack.kioskDir(tid), 'cash-unit-state.json'), 'utf8')) as CashModelState;
const total = (m: Record<string, number>) => Object.entries(m).reduce((s, [v, n]) => s + Number(v) * n, 0);
const receipts = () => readReceipts(path.join(stack.kioskDir(tid), 'receipts'));
const terminalProcs = () => stack.processes.filter((p) => p.role === `terminal:${tid}` && p.child.exitCode === null && p.child.signalCode === null);

async function failedChecks() {
  return (await checkLedger(stack.db)).filter((c) => !c.ok);
}

async function counts() {
  return stack.db('terminal_cash_counts').where({ terminal_id: tid }).first();
}

test('notes into the emulated acceptor: credited by the driver, change from the changer, receipt printed, counters = ledger', async () => {
  const seat = await freeSeat(stack.db);
  const unit0 = cashUnit();
  const receipts0 = receipts().length;
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);
  const done = await kiosk.waitForStage('completed', 90_000);
  const due = done.item!.quote.totalMinor;
  expect(done.cash).toMatchObject({ insertedMinor: 15000, dueMinor: due, changeMinor: 15000 - due });

  // The notes went through the emulated acceptor (stacked, counted), the change out of its changer.
  const unit = cashUnit();
  expect(unit.changer.moneyIn - unit0.changer.moneyIn).toBe(15000);
  expect(unit.changer.moneyOut - unit0.changer.moneyOut).toBe(15000 - due);
  expect(total(unit.tray) - total(unit0.tray)).toBe(15000 - due);
  expect(unit.bill.escrow).toBeNull();

  // The workflow history shows the credits as insertCash Updates sent by the terminal (credit ids).
  const history = await stack.temporal.workflow.getHandle(kiosk.issuanceId).fetchHistory();
  const updateIds = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).map((e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.meta!.updateId!);
  expect(updateIds.filter((id) => id.startsWith('note-'))).toHaveLength(2);

  // The receipt came out of the ESC/POS printer.
  const printed = receipts().slice(receipts0);
  expect(printed).toHaveLength(1);
  expect(printed[0]!.text.join('\n')).toContain(`Ref ${kiosk.issuanceId}`);

  // The unit's counters were reported, and they match the ledger.
  const c = await counts();
  expect(Number(c.money_in_minor) - Number(c.money_out_minor)).toBe(unit.changer.moneyIn - unit.changer.moneyOut);
  expect(await failedChecks()).toEqual([]);
});

test('killed after the credit reached the workflow, before the driver was told: the re-sent credit counts once', async () => {
  const seat = await freeSeat(stack.db);
  for (const p of terminalProcs()) await p.kill('SIGKILL');
  const worker = stack.startTerminal(tid, { FAULT_KILL_DURING: 'ack-credit' });
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  const unit0 = cashUnit();
  const answer = await kiosk.insertCash(10000);
  expect(answer.status).toBe(200);
  expect(await worker.exited).not.toBe(0); // died on the acknowledgement
  expect((await kiosk.progress()).cash!.insertedMinor).toBe(10000);

  stack.startTerminal(tid);
  // The restarted worker's acceptCash re-sends the pending credit (same id): still ¥10,000.
  await until('the pending credit acknowledged', () => {
    const j = JSON.parse(fs.readFileSync(path.join(stack.env.DATA_DIR!, 'terminals', tid, 'journals', 'cash-unit.json'), 'utf8'));
    return j.pending.length === 0;
  }, 60_000);
  expect((await kiosk.progress()).cash!.insertedMinor).toBe(10000);

  await kiosk.insertCash(5000);
  const done = await kiosk.waitForStage('completed', 90_000);
  expect(done.cash!.insertedMinor).toBe(15000);
  expect(cashUnit().changer.moneyIn - unit0.changer.moneyIn).toBe(15000);
  expect(await failedChecks()).toEqual([]);
});

test('a coin put in while the terminal worker is dead is credited to its issuance after the restart', async () => {
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  await kiosk.insertCash(10000);
  for (const p of terminalProcs()) await p.kill('SIGKILL');
  // Acceptance stays on in the unit (nobody turned it off); the coin is taken and held in its event buffer.
  expect(await stack.kiosk(tid).control('cash insert 500')).toMatch(/coin ¥500 accepted/);
  expect((await kiosk.progress()).cash!.insertedMinor).toBe(10000);

  stack.startTerminal(tid);
  await kiosk.waitFor((p) => p.cash!.insertedMinor === 10500, 60_000);
  await kiosk.insertCash(5000);
  const done = await kiosk.waitForStage('completed', 90_000);
  expect(done.cash!.insertedMinor).toBe(15500);
  expect(await failedChecks()).toEqual([]);
});

test('a coin its issuance can no longer take (cancelled meanwhile) is paid back, not credited to the next customer', async () => {
  const seatA = await freeSeat(stack.db);
  const a = new Kiosk(stack.apiUrl, tid);
  await a.start();
  await a.selectAndConfirm({ kind: 'seat', seatId: seatA.id });
  await until('acceptance on', async () => JSON.parse((await stack.kiosk(tid).control('cash status')).slice(3)).accepting, 30_000);
  for (const p of terminalProcs()) await p.kill('SIGKILL');
  expect(await stack.kiosk(tid).control('cash insert 500')).toMatch(/coin ¥500 accepted/); // nobody reads it yet
  expect((await a.cancel()).status).toBe(200);
  await a.waitForStage('cancelled', 60_000);
  const unit0 = cashUnit();

  stack.startTerminal(tid); // the driver reads the coin, owned by A, and keeps it pending
  const seatB = await freeSeat(stack.db);
  const b = new Kiosk(stack.apiUrl, tid);
  await b.start();
  await b.selectAndConfirm({ kind: 'seat', seatId: seatB.id });
  // B's notes go in once the restarted worker accepts for B (A's coin paid back first, then
  // acceptance on): a note pushed into the escrow while the driver is still opening the unit
  // (acceptance off) is handed back, as a real unit does.
  const journalFile = path.join(stack.env.DATA_DIR!, 'terminals', tid, 'journals', 'cash-unit.json');
  const unclaimedPaid = () => {
    try {
      return Object.keys(JSON.parse(fs.readFileSync(journalFile, 'utf8')).payouts ?? {}).some((t) => t.startsWith('unclaimed:'));
    } catch {
      return false; // not written yet
    }
  };
  await until('A\'s coin paid back', unclaimedPaid, 60_000);
  await until('acceptance on for B', async () => JSON.parse((await stack.kiosk(tid).control('cash status')).slice(3)).accepting, 60_000);
  for (const note of [10000, 5000]) expect((await b.insertCash(note)).status).toBe(200);
  const done = await b.waitForStage('completed', 90_000);
  expect(done.cash!.insertedMinor).toBe(15000); // not 15,500

  const unit = cashUnit();
  const change = 15000 - done.item!.quote.totalMinor;
  // The ¥500 went back to the tray (unclaimed), besides B's change.
  expect(total(unit.tray) - total(unit0.tray)).toBe(500 + change);
  const journal = JSON.parse(fs.readFileSync(path.join(stack.env.DATA_DIR!, 'terminals', tid, 'journals', 'cash-unit.json'), 'utf8'));
  expect(Object.keys(journal.payouts).filter((t) => t.startsWith('unclaimed:'))).toHaveLength(1);
  expect(journal.pending).toEqual([]);
  expect(await failedChecks()).toEqual([]);
});

test('cancelled after a note went into the acceptor: the unit pays it back, acceptance is off, counters = ledger', async () => {
  const seat = await freeSeat(stack.db);
  const unit0 = cashUnit();
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.start();
  await kiosk.selectAndConfirm({ kind: 'seat', seatId: seat.id });
  expect((await kiosk.insertCash(1000)).body).toMatchObject({ insertedMinor: 1000 });
  expect((await kiosk.cancel()).status).toBe(200);
  const end = await kiosk.waitForStage('cancelled', 60_000);
  expect(end.message).toMatch(/Your ¥1,000 has been returned/);
  const unit = cashUnit();
  expect(total(unit.tray) - total(unit0.tray)).toBe(1000);
  expect([unit.coin.masterInhibit, unit.bill.masterInhibit]).toEqual([true, true]); // acceptance off
  // A note put in now is handed back, not credited to anyone.
  expect(await stack.kiosk(tid).control('cash insert 1000')).toMatch(/not accepted/);
  const c = await counts();
  expect(Number(c.money_in_minor) - Number(c.money_out_minor)).toBe(unit.changer.moneyIn - unit.changer.moneyOut);
  expect(await failedChecks()).toEqual([]);
});

test('the changer cannot pay the change: the card is made, the change owed with a printed voucher, the books match the unit', async () => {
  const k = stack.kiosk(tid);
  for (const v of [10, 50, 100, 500, 1000, 5000]) await k.control(`cash refill ${v} 0`);
  try {
    const seat = await freeSeat(stack.db);
    const receipts0 = receipts().length;
    const unit0 = cashUnit();
    const kiosk = new Kiosk(stack.apiUrl, tid);
    await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);
    const done = await kiosk.waitForStage('completed', 90_000);
    const change = 15000 - done.item!.quote.totalMinor;

    const [shortfall] = await stack.db('cash_shortfalls').where({ issuance_id: kiosk.issuanceId });
    expect(shortfall).toMatchObject({ kind: 'change', reason: 'CASH_SHORT', tag: `change:${kiosk.issuanceId}`, status: 'owed' });
    expect([Number(shortfall.amount_minor), Number(shortfall.paid_minor), Number(shortfall.owed_minor)]).toEqual([change, 0, change]);
    expect(done.message).toContain(`voucher ${shortfall.voucher_number}`);
    expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(1);
    expect(cashUnit().changer.moneyOut).toBe(unit0.changer.moneyOut); // nothing paid

    // The voucher and the receipt came out of the printer.
    const texts = receipts().slice(receipts0).map((r) => r.text.join('\n'));
    expect(texts.find((t) => t.includes('CASH VOUCHER'))).toContain(shortfall.voucher_number);
    expect(texts.some((t) => t.includes(`Ref ${kiosk.issuanceId}`) && t.startsWith('RECEIPT'))).toBe(true);

    // The unpaid change stays in the unit and is owed: ledger cash = the unit's counters, refunds_due holds it.
    const c = await counts();
    const unit = cashUnit();
    expect(Number(c.money_in_minor) - Number(c.money_out_minor)).toBe(unit.changer.moneyIn - unit.changer.moneyOut);
    expect(await failedChecks()).toEqual([]);
  } finally {
    for (const [v, n] of [[10, 100], [50, 50], [100, 100], [500, 40], [1000, 30], [5000, 10]]) await k.control(`cash refill ${v} ${n}`);
  }
});

test('the receipt printer out of paper: no receipt and no retries, the issuance completes, the terminal is flagged', async () => {
  const k = stack.kiosk(tid);
  await k.control('receipt paper-out');
  try {
    const seat = await freeSeat(stack.db);
    const receipts0 = receipts().length;
    const kiosk = new Kiosk(stack.apiUrl, tid);
    await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);
    await kiosk.waitForStage('completed', 90_000);
    expect(receipts().length).toBe(receipts0);
    const faults = await stack.db('terminal_faults').where({ terminal_id: tid, issuance_id: kiosk.issuanceId });
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ device: 'receipt', code: 'PAPER_OUT' });

    // printReceipt failed once, final (PaperOut), not retried as a jam.
    const history = await stack.temporal.workflow.getHandle(kiosk.issuanceId).fetchHistory();
    const failed = (history.events ?? []).filter((e) => e.activityTaskFailedEventAttributes?.failure?.cause?.applicationFailureInfo?.type === 'PaperOut' || e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === 'PaperOut');
    expect(failed).toHaveLength(1);
    const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    const printStarts = started.filter((e) => {
      const scheduled = (history.events ?? []).find((s) => String(s.eventId) === String(e.activityTaskStartedEventAttributes!.scheduledEventId));
      return scheduled?.activityTaskScheduledEventAttributes?.activityType?.name === 'printReceipt';
    });
    expect(printStarts).toHaveLength(1);
    expect(printStarts[0]!.activityTaskStartedEventAttributes!.attempt).toBe(1);
  } finally {
    await k.control('receipt paper endless');
  }
});

test('a tampered counter: the ledger check reports the mismatch clearly', async () => {
  expect(await failedChecks()).toEqual([]);
  const before = await counts();
  await stack.db('terminal_cash_counts').where({ terminal_id: tid }).update({ money_in_minor: Number(before.money_in_minor) + 1000 });
  try {
    const failed = await failedChecks();
    expect(failed.map((f) => f.name)).toEqual(["cash per terminal = the cash unit's own counters"]);
    expect(failed[0]!.detail).toContain(tid);
    expect(failed[0]!.detail).toMatch(/off by 1000/);
  } finally {
    await stack.db('terminal_cash_counts').where({ terminal_id: tid }).update({ money_in_minor: before.money_in_minor });
  }
});
