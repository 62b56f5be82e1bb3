/**
 * Card payments on the real stack (Temporal dev server, MariaDB, workers, API, the three payment
 * host simulators — the bank's in the packed-BCD dialect):
 * - each card method approved: one charge, one card, one sale, the right payment states and ledger;
 * - every decline code mapped to its outcome and message, back on the choice screen;
 * - debit: a wrong PIN (55) and a low balance (51) as the host checks them;
 * - a decline followed by another method that succeeds; too many declines end the issuance;
 * - no answer → reversal (0400, and 0420/0421 repeats until acknowledged), a dropped connection,
 *   a slow answer within the deadline;
 * - production failing after approval → the payment is voided; a cancel during authorization too.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { describeResponseCode } from '../../domain/iso8583';
import { hostOutcomes } from '../../demo/payment-host-simulator';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';
import { freeSeat, seatStatus } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

let stack: Stack;
let panCounter = 0;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  // Whatever a test did, the books still balance and no money is left hanging.
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

/** A fresh test card number per test, so outcomes set on the simulators never leak between tests. */
function newPan(prefix = '4111'): string {
  return `${prefix}${String(Date.now() % 1e8).padStart(8, '0')}${String(++panCounter).padStart(4, '0')}`;
}

const prepaidValue = async (i = 0) => Number((await stack.db('prepaid_values').orderBy('value_minor').select('id'))[i].id);
const paymentsOf = (issuanceId: string) => stack.db('payments').where({ issuance_id: issuanceId }).orderBy('attempt');
const transitionsOf = (paymentId: number) => stack.db('payment_transitions').where({ payment_id: paymentId }).orderBy('id').pluck('to_status');
const kiosk = () => new Kiosk(stack.apiUrl, stack.terminalIds[0]);

async function reversalDone(paymentId: number) {
  return until(`reversal of payment ${paymentId}`, async () => {
    const r = await stack.db('payment_reversals').where({ payment_id: paymentId, status: 'acknowledged' }).first();
    return r ?? null;
  }, 30_000);
}

describe('approvals', () => {
  test('credit: authorized (0100), card made, then captured; one charge, one sale, receivable posted', async () => {
    const pan = newPan();
    const seat = await freeSeat(stack.db);
    const k = kiosk();
    const charges = stack.paymentHosts.card.chargeCount();
    await k.buyWithCard({ kind: 'seat', seatId: seat.id }, 'credit', pan);
    const done = await k.waitForStage('completed');
    expect(done.payment).toMatchObject({ method: 'credit', state: 'paid', last4: pan.slice(-4), tries: 1 });
    expect(done.payment?.approvalCode).toMatch(/^A\d{5}$/);
    expect(stack.paymentHosts.card.chargeCount()).toBe(charges + 1);
    const [payment, ...others] = await paymentsOf(k.issuanceId);
    expect(others).toEqual([]);
    expect(payment).toMatchObject({ method: 'credit', status: 'captured', card_last4: pan.slice(-4), request_mti: '0100', response_code: '00', host_id: 'sakura-card' });
    expect(payment.card_token).toMatch(/^tok_/);
    expect(await transitionsOf(payment.id)).toEqual(['pending', 'authorized', 'captured']);
    // The host saw the identity stored with the attempt (STAN, terminal, transmission time).
    const sent = stack.paymentHosts.card.received.filter((m) => m.mti === '0100' && m.fields[2] === pan);
    expect(sent).toHaveLength(1);
    expect(sent[0].fields).toMatchObject({ 11: payment.stan, 41: payment.terminal_ref, 37: payment.rrn, 4: String(seat.price + 330).padStart(12, '0') });
    expect(await stack.db('sales').where({ issuance_id: k.issuanceId })).toHaveLength(1);
    expect(await seatStatus(stack.db, seat.id)).toMatchObject({ status: 'sold' });
    const kinds = await stack.db('ledger_transactions').where('ref', 'like', `${k.issuanceId}%`).orderBy('id').pluck('kind');
    expect(kinds).toEqual(['card_captured', 'sale']);
    // The receipt names the card by its last four digits only.
    const receipt = stack.machine(stack.terminalIds[0]).receipts[`receipt:${k.issuanceId}`].join('\n');
    expect(receipt).toContain(`Credit card ****${pan.slice(-4)}`);
    expect(receipt).not.toContain(pan);
  });

  test('debit with PIN: 0200 with field 52 to the bank (BCD dialect), money moves at once', async () => {
    const pan = newPan('4902');
    stack.paymentHosts.bank.setAccount(pan, { pin: '4821', balance: 20_000 });
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(1) }, 'debit', pan, '4821');
    await k.waitForStage('completed');
    expect(stack.paymentHosts.bank.balanceOf(pan)).toBe(17_000);
    const [payment] = await paymentsOf(k.issuanceId);
    expect(payment).toMatchObject({ method: 'debit', status: 'captured', request_mti: '0200', host_id: 'midori-bank' });
    expect(await transitionsOf(payment.id)).toEqual(['pending', 'captured']);
    const sent = stack.paymentHosts.bank.received.find((m) => m.mti === '0200' && m.fields[2] === pan)!;
    expect(sent.fields[52]).toMatch(/^[0-9A-F]{16}$/);
  });

  test('prepaid company card: 0200 deducts the balance', async () => {
    const pan = newPan('6370');
    stack.paymentHosts.prepaid.setAccount(pan, { balance: 4_000 });
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'prepaid', pan);
    await k.waitForStage('completed');
    expect(stack.paymentHosts.prepaid.balanceOf(pan)).toBe(3_000);
    const [payment] = await paymentsOf(k.issuanceId);
    expect(payment).toMatchObject({ method: 'prepaid', status: 'captured', request_mti: '0200', host_id: 'hoshi-prepaid' });
  });
});

describe('declines', () => {
  const CODES = ['05', '14', '51', '54', '55', '61', '75', '91', '94', '96'];
  const METHODS = [
    { method: 'credit' as const, prefix: '4111', pin: undefined, host: () => stack.paymentHosts.card },
    { method: 'prepaid' as const, prefix: '6370', pin: undefined, host: () => stack.paymentHosts.prepaid },
    { method: 'debit' as const, prefix: '4902', pin: '2580', host: () => stack.paymentHosts.bank },
  ];
  test.each(METHODS.flatMap((m) => CODES.map((code) => [m.method, code, m] as const)))('%s, response code %s: its outcome and message, back to the choice screen, nothing charged', async (_name, code, m) => {
    const pan = newPan(m.prefix);
    m.host().setOutcome(pan, hostOutcomes.decline(code));
    const charges = m.host().chargeCount();
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, m.method, pan, m.pin);
    const back = await k.waitForPaymentResult();
    const meaning = describeResponseCode(code);
    expect(back.stage).toBe('confirmed');
    expect(back.payment).toMatchObject({ state: 'choosing', tries: 1, lastDecline: { method: m.method, code } });
    const [payment] = await paymentsOf(k.issuanceId);
    if (meaning.outcome === 'unknown') {
      // 94 (duplicate transmission) does not settle whether money moved: reverse it.
      expect(back.message).toMatch(/could not get an answer/);
      await reversalDone(payment.id);
      expect((await stack.db('payments').where({ id: payment.id }).first()).status).toBe('reversed');
    } else {
      expect(back.message).toBe(meaning.customerMessage);
      expect(payment.status).toBe('declined');
      expect(await stack.db('payment_reversals').where({ payment_id: payment.id })).toHaveLength(0);
    }
    expect(m.host().chargeCount()).toBe(charges);
    expect(await stack.db('cards').where({ issuance_id: k.issuanceId })).toHaveLength(0);
    expect((await k.cancel()).status).toBe(200);
    await k.waitForStage('cancelled');
  });

  test('debit: a wrong PIN is 55 ("The PIN is incorrect"), a low balance is 51, both as the bank checks them', async () => {
    const pan = newPan('4902');
    stack.paymentHosts.bank.setAccount(pan, { pin: '7305', balance: 2_000 });
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(1) }, 'debit', pan, '1111');
    let back = await k.waitForPaymentResult();
    expect(back.message).toBe('The PIN is incorrect. Please try again.');
    expect(back.payment?.lastDecline?.code).toBe('55');
    await k.retryWithCard('debit', pan, '7305');
    back = await k.waitForPaymentResult();
    expect(back.payment?.lastDecline?.code).toBe('51');
    expect(back.message).toMatch(/^Insufficient funds/);
    expect(stack.paymentHosts.bank.balanceOf(pan)).toBe(2_000);
    await k.cancel();
    await k.waitForStage('cancelled');
  });

  test('a decline, then another method that succeeds', async () => {
    const declined = newPan();
    stack.paymentHosts.card.setOutcome(declined, hostOutcomes.decline('05'));
    const debit = newPan('4902');
    stack.paymentHosts.bank.setAccount(debit, { pin: '2468', balance: 50_000 });
    const seat = await freeSeat(stack.db);
    const k = kiosk();
    await k.buyWithCard({ kind: 'seat', seatId: seat.id }, 'credit', declined);
    expect((await k.waitForPaymentResult()).stage).toBe('confirmed');
    expect((await seatStatus(stack.db, seat.id)).status).toBe('held');
    await k.retryWithCard('debit', debit, '2468');
    const done = await k.waitForStage('completed');
    expect(done.payment).toMatchObject({ method: 'debit', tries: 2, last4: debit.slice(-4) });
    const payments = await paymentsOf(k.issuanceId);
    expect(payments.map((p) => [p.attempt, p.method, p.status])).toEqual([[1, 'credit', 'declined'], [2, 'debit', 'captured']]);
    expect(await stack.db('sales').where({ issuance_id: k.issuanceId })).toHaveLength(1);
  });

  test('a decline, then cash', async () => {
    const declined = newPan();
    stack.paymentHosts.card.setOutcome(declined, hostOutcomes.decline('51'));
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'credit', declined);
    await k.waitForPaymentResult();
    expect((await k.payment('cash')).status).toBe(200);
    expect((await k.insertCash(1000)).status).toBe(200);
    await k.waitForStage('completed');
    const payments = await paymentsOf(k.issuanceId);
    expect(payments.map((p) => [p.attempt, p.method, p.status])).toEqual([[1, 'credit', 'declined'], [2, 'cash', 'collected']]);
  });

  test('three declines end the issuance and release the seat', async () => {
    const pan = newPan();
    stack.paymentHosts.card.setOutcome(pan, hostOutcomes.decline('05'));
    const seat = await freeSeat(stack.db);
    const k = kiosk();
    await k.buyWithCard({ kind: 'seat', seatId: seat.id }, 'credit', pan);
    await k.waitForPaymentResult();
    await k.retryWithCard('credit', pan);
    await k.waitForPaymentResult();
    await k.retryWithCard('credit', pan);
    const ended = await k.waitForStage('cancelled');
    expect(ended.message).toMatch(/could not be completed after 3 tries/);
    expect(await seatStatus(stack.db, seat.id)).toEqual({ status: 'available', hold: null, sold: null });
  });
});

describe('no answer and other unknown outcomes', () => {
  test.each(['credit', 'prepaid', 'debit'] as const)('%s: no answer → unknown → reversal acknowledged; no card; the customer can pay another way', async (method) => {
    const m = { credit: { prefix: '4111', pin: undefined, host: stack.paymentHosts.card, mti: '0100' }, prepaid: { prefix: '6370', pin: undefined, host: stack.paymentHosts.prepaid, mti: '0200' }, debit: { prefix: '4902', pin: '3690', host: stack.paymentHosts.bank, mti: '0200' } }[method];
    const pan = newPan(m.prefix);
    m.host.setOutcome(pan, hostOutcomes.silent()); // processed (the money held or moved), never answered
    const releases = m.host.releaseCount();
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, method, pan, m.pin);
    const back = await k.waitForPaymentResult();
    expect(back.stage).toBe('confirmed');
    expect(back.message).toMatch(/could not get an answer from the card company/);
    const [payment] = await paymentsOf(k.issuanceId);
    await reversalDone(payment.id);
    expect(await transitionsOf(payment.id)).toEqual(['pending', 'unknown', 'reversed']);
    expect(m.host.releaseCount()).toBe(releases + 1);
    const reversal = m.host.received.filter((msg) => msg.mti === '0400' && msg.fields[90]?.slice(4, 10) === payment.stan);
    expect(reversal).toHaveLength(1);
    expect(reversal[0].fields[90]!.slice(0, 4)).toBe(m.mti);
    expect(await stack.db('cards').where({ issuance_id: k.issuanceId })).toHaveLength(0);
    // Paying another way still works.
    await k.retryWithCard('credit', newPan());
    await k.waitForStage('completed');
  });

  test('a reversal nobody answers is repeated as 0420, then 0421, until acknowledged', async () => {
    const pan = newPan();
    stack.paymentHosts.card.setOutcome(pan, hostOutcomes.silent());
    stack.paymentHosts.card.setReversalSilence(2);
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'credit', pan);
    await k.waitForPaymentResult();
    const [payment] = await paymentsOf(k.issuanceId);
    const rev = await reversalDone(payment.id);
    expect(Number(rev.sends)).toBe(3);
    expect(rev.last_mti).toBe('0421');
    const sent = stack.paymentHosts.card.received.filter((m) => ['0400', '0420', '0421'].includes(m.mti) && m.fields[90]?.slice(4, 10) === payment.stan).map((m) => m.mti);
    expect(sent).toEqual(['0400', '0420', '0421']);
    expect(stack.paymentHosts.card.transactions().find((t) => t.key.startsWith(`${payment.stan}|`))).toMatchObject({ charged: true, released: true });
    await k.cancel();
    await k.waitForStage('cancelled');
  });

  test('a dropped connection after sending is an unknown outcome too (reversal answered 25: nothing to undo)', async () => {
    const pan = newPan();
    stack.paymentHosts.card.setOutcome(pan, hostOutcomes.drop());
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'credit', pan);
    expect((await k.waitForPaymentResult()).stage).toBe('confirmed');
    const [payment] = await paymentsOf(k.issuanceId);
    const rev = await reversalDone(payment.id);
    expect(rev.last_response_code).toBe('25');
    expect((await stack.db('payments').where({ id: payment.id }).first()).status).toBe('reversed');
    await k.cancel();
    await k.waitForStage('cancelled');
  });

  test('a slow answer within the deadline is just an answer', async () => {
    const pan = newPan();
    stack.paymentHosts.card.setOutcome(pan, hostOutcomes.slow(600, hostOutcomes.approve()));
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'credit', pan);
    await k.waitForStage('completed');
    expect((await paymentsOf(k.issuanceId))[0].status).toBe('captured');
  });
});

describe('giving an approval back', () => {
  test('credit approved, then no card can be made: the authorization is voided by a reversal; nothing captured', async () => {
    const pan = newPan();
    const tid = stack.terminalIds[0];
    const releases = stack.paymentHosts.card.releaseCount();
    const stock = stack.machine(tid).stockerCount;
    new MachineStateFile(stack.machineFile(tid)).update((s) => {
      s.stockerCount = 0;
    });
    try {
      const k = kiosk();
      await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'credit', pan);
      const ended = await k.waitForStage('refunded');
      expect(ended.message).toMatch(/Your card payment has been cancelled; nothing will be charged\.$/);
      const [payment] = await paymentsOf(k.issuanceId);
      await reversalDone(payment.id);
      expect(await transitionsOf(payment.id)).toEqual(['pending', 'authorized', 'voided']);
      expect(stack.paymentHosts.card.releaseCount()).toBe(releases + 1);
      expect(await stack.db('ledger_transactions').where('ref', 'like', `${k.issuanceId}%`).pluck('kind')).toEqual([]);
    } finally {
      new MachineStateFile(stack.machineFile(tid)).update((s) => {
        s.stockerCount = stock;
      });
    }
  });

  test('debit approved (money moved), then no card: voided, the balance is back, the receivable released', async () => {
    const pan = newPan('4902');
    stack.paymentHosts.bank.setAccount(pan, { pin: '1357', balance: 9_000 });
    const tid = stack.terminalIds[0];
    const stock = stack.machine(tid).stockerCount;
    new MachineStateFile(stack.machineFile(tid)).update((s) => {
      s.stockerCount = 0;
    });
    try {
      const k = kiosk();
      await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(1) }, 'debit', pan, '1357');
      await k.waitForStage('refunded');
      const [payment] = await paymentsOf(k.issuanceId);
      await reversalDone(payment.id);
      expect(await transitionsOf(payment.id)).toEqual(['pending', 'captured', 'voided']);
      expect(stack.paymentHosts.bank.balanceOf(pan)).toBe(9_000);
      expect(await stack.db('ledger_transactions').where('ref', 'like', `${k.issuanceId}%`).orderBy('id').pluck('kind')).toEqual(['card_captured', 'card_released']);
    } finally {
      new MachineStateFile(stack.machineFile(tid)).update((s) => {
        s.stockerCount = stock;
      });
    }
  });

  test('cancelled while the card is being checked: the approval that comes back is released', async () => {
    const pan = newPan();
    stack.paymentHosts.card.setOutcome(pan, hostOutcomes.slow(800, hostOutcomes.approve()));
    const k = kiosk();
    await k.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue(0) }, 'credit', pan);
    expect((await k.cancel()).status).toBe(200);
    const ended = await k.waitForStage('cancelled');
    expect(ended.message).toMatch(/card payment has been cancelled/);
    const [payment] = await paymentsOf(k.issuanceId);
    await reversalDone(payment.id);
    expect((await stack.db('payments').where({ id: payment.id }).first()).status).toBe('voided');
    expect(await stack.db('cards').where({ issuance_id: k.issuanceId })).toHaveLength(0);
  });
});
