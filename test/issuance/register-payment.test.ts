/**
 * Pay at the register on the real stack: the kiosk prints a slip with a number, the seat stays
 * held for the slip's time, the store's POS register reports the payment through the API
 * (authenticated per store) and the card is made; a slip that lapses frees the seat and a late
 * POS report is refused.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { Accounts } from '../../domain/ledger';
import { isValidSlipNumber } from '../../domain/payments';
import { freeSeat, seatStatus } from '../support/assertions';
import { hashPosToken } from '../../api/routes/pos';
import { Kiosk, newRequestId } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  // Register slips hold for 3 s here (30 minutes in the demo), the idle timer for 1.5 s.
  stack = await startStack({ holdTtlMs: 1_500, issuanceDefaults: { payment: { registerHoldMs: 3_000 } } });
});
afterAll(async () => {
  await stack?.stop();
});

async function pos(method: string, path: string, body?: unknown, token = stack.posToken) {
  const res = await fetch(`${stack.apiUrl}/api/pos${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function slipFor(selection: { kind: 'seat'; seatId: number }) {
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.start();
  await kiosk.select(selection);
  await kiosk.confirm();
  const chosen = await kiosk.payment('register');
  expect(chosen.status).toBe(200);
  return { kiosk, progress: chosen.body };
}

test('paid at the register in time: the slip is printed, the POS reports it, the card is made', async () => {
  const seat = await freeSeat(stack.db);
  const { kiosk, progress } = await slipFor({ kind: 'seat', seatId: seat.id });
  const slip = progress.payment.slip;
  expect(isValidSlipNumber(slip.slipNumber)).toBe(true);
  expect(progress.stage).toBe('paying');
  expect(progress.message).toContain(slip.slipNumber);
  expect(progress.customerDeadline).toBe(slip.expiresAt);
  const printed = stack.machine(stack.terminalIds[0]).receipts[`receipt:slip-${kiosk.issuanceId}`];
  expect(printed).toContain(`Slip ${slip.slipNumber}`);

  // The idle timer (1.5 s) does not apply while the slip is open.
  await new Promise((r) => setTimeout(r, 1_800));
  expect((await kiosk.progress()).stage).toBe('paying');

  // The register looks the slip up, then reports the payment (twice: a retry is answered once).
  const total = seat.price + 330;
  expect((await pos('GET', `/slips/${slip.slipNumber}`)).body).toMatchObject({ amountMinor: total, status: 'open' });
  const report = { slipNumber: slip.slipNumber, amountMinor: total, posTransactionId: `pos-${newRequestId()}`, registerId: 'REG-1' };
  const paid = await pos('POST', '/payments', report);
  expect(paid.status).toBe(200);
  expect(paid.body).toMatchObject({ status: 'paid', issuanceId: kiosk.issuanceId });
  expect((await pos('POST', '/payments', report)).status).toBe(200);
  // Another transaction for the same slip is refused: it must not be paid twice.
  expect((await pos('POST', '/payments', { ...report, posTransactionId: `pos-${newRequestId()}` })).body.error.code).toBe('slip_paid');

  const done = await kiosk.waitForStage('completed');
  expect(done.payment).toMatchObject({ method: 'register', state: 'paid' });
  const payments = await stack.db('payments').where({ issuance_id: kiosk.issuanceId });
  expect(payments.map((p) => [p.method, p.status, Number(p.amount_minor)])).toEqual([['register', 'collected', total]]);
  expect(await seatStatus(stack.db, seat.id)).toMatchObject({ status: 'sold' });
  const storeCash = Number((await stack.db('ledger_entries').where({ account: Accounts.storeCash(stack.storeId) }).sum({ s: 'amount_minor' }).first())?.s);
  expect(storeCash).toBe(total);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

test('the slip lapses: the seat is free again, and a late POS report is refused', async () => {
  const seat = await freeSeat(stack.db);
  const { kiosk, progress } = await slipFor({ kind: 'seat', seatId: seat.id });
  const ended = await kiosk.waitForStage('expired', 20_000);
  expect(ended.message).toMatch(/time to pay at the register ran out/);
  expect(await seatStatus(stack.db, seat.id)).toEqual({ status: 'available', hold: null, sold: null });
  expect((await stack.db('register_slips').where({ slip_number: progress.payment.slip.slipNumber }).first()).status).toBe('expired');
  const late = await pos('POST', '/payments', { slipNumber: progress.payment.slip.slipNumber, amountMinor: seat.price + 330, posTransactionId: `pos-${newRequestId()}`, registerId: 'REG-1' });
  expect(late.status).toBe(409);
  expect(late.body.error.code).toBe('slip_closed');
  expect(await stack.db('payments').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
});

test('POS authentication is per store; bad input is refused clearly', async () => {
  const seat = await freeSeat(stack.db);
  const { kiosk, progress } = await slipFor({ kind: 'seat', seatId: seat.id });
  const slipNumber = progress.payment.slip.slipNumber;
  expect((await fetch(`${stack.apiUrl}/api/pos/slips/${slipNumber}`)).status).toBe(401);
  expect((await pos('GET', `/slips/${slipNumber}`, undefined, 'not-a-store-token')).status).toBe(403);
  // Another store's register does not see this store's slips.
  await stack.db('stores').insert({ id: 'store-other', name: 'Other store', pos_token_sha256: hashPosToken('other-store-token'), active: true, created_at_ms: Date.now() });
  expect((await pos('GET', `/slips/${slipNumber}`, undefined, 'other-store-token')).status).toBe(404);
  expect((await pos('POST', '/payments', { slipNumber: '1234567890123', amountMinor: 1, posTransactionId: 'abcd', registerId: 'R' })).status).toBe(400);
  expect((await pos('POST', '/payments', { slipNumber, amountMinor: 1, posTransactionId: 'abcd', registerId: 'R' })).body.error.code).toBe('wrong_amount');
  // A kiosk without a store cannot offer the register.
  await stack.db('terminals').where({ id: stack.terminalIds[0] }).update({ store_id: null });
  try {
    const other = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
    await other.start();
    await other.select({ kind: 'prepaid', valueId: 1 });
    await other.confirm();
    const refused = await other.payment('register');
    expect(refused.status).toBe(422);
    expect(refused.body.error.message).toMatch(/not in a store with a register/);
    expect((await other.progress()).stage).toBe('confirmed');
    await other.cancel();
  } finally {
    await stack.db('terminals').where({ id: stack.terminalIds[0] }).update({ store_id: stack.storeId });
  }
  await kiosk.cancel();
  await kiosk.waitForStage('cancelled');
  expect((await stack.db('register_slips').where({ slip_number: slipNumber }).first()).status).toBe('cancelled');
});
