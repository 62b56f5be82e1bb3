/**
 * Money exactly once across a crash: the center worker (a separate process) SIGKILLs itself right
 * after an authorization request went out and before its answer is processed. After a restart,
 * the retried activity resends the very same request (same STAN, terminal, transmission time):
 * - the host approved it: its duplicate detection answers again, and there is exactly one charge
 *   and one card;
 * - the host never answers: the outcome is unknown, the charge it placed is reversed, no card.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { hostOutcomes } from '../../demo/payment-host-simulator';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 'processes', issuanceDefaults: { payment: { authorizeTimeoutMs: 4_000, reversalMaxIntervalMs: 2_000 } } });
});
afterAll(async () => {
  await stack?.stop();
});

async function killCenter() {
  await Promise.all(stack.processes.filter((p) => p.role === 'center').map((p) => p.kill('SIGKILL')));
}

const prepaidValue = async () => Number((await stack.db('prepaid_values').orderBy('value_minor').first('id')).id);

test('killed after sending, the host approves: after a restart exactly one charge and one card', async () => {
  const pan = '4111000011112222';
  const sim = stack.paymentHosts.card;
  sim.setOutcome(pan, hostOutcomes.slow(1_000, hostOutcomes.approve())); // the answer comes after the worker is dead
  await killCenter();
  const faulty = stack.startCenter({ FAULT_KILL_AFTER_PAYMENT_SEND: '0100' });
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue() }, 'credit', pan);

  await faulty.exited;
  expect(faulty.child.signalCode).toBe('SIGKILL');
  const before = await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first();
  expect(before).toMatchObject({ status: 'pending', sent_count: 1 });
  await until('the host to charge the first request', () => sim.transactions().find((t) => t.pan === pan && t.charged));

  stack.startCenter();
  const done = await kiosk.waitForStage('completed', 90_000);
  expect(done.cardId).toBeTruthy();
  const mine = sim.transactions().filter((t) => t.pan === pan);
  expect(mine).toHaveLength(1); // one transaction at the host…
  expect(mine[0]).toMatchObject({ charged: true, released: false });
  expect(mine[0].duplicatesReceived).toBeGreaterThanOrEqual(1); // …which saw the resend as a duplicate
  expect(sim.received.filter((m) => m.mti === '0100' && m.fields[2] === pan).every((m) => m.fields[11] === before.stan && m.fields[7] === sim.received.find((x) => x.fields[2] === pan)!.fields[7])).toBe(true);
  const payments = await stack.db('payments').where({ issuance_id: kiosk.issuanceId });
  expect(payments).toHaveLength(1);
  expect(payments[0]).toMatchObject({ status: 'captured', sent_count: 2 });
  expect((await stack.db('cards').where({ issuance_id: kiosk.issuanceId, status: 'issued' })).length).toBe(1);
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(1);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

test('killed after sending, the host never answers: after a restart a reversal and no card', async () => {
  const pan = '4111000033334444';
  const sim = stack.paymentHosts.card;
  sim.setOutcome(pan, hostOutcomes.silent());
  await killCenter();
  const faulty = stack.startCenter({ FAULT_KILL_AFTER_PAYMENT_SEND: '0100' });
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue() }, 'credit', pan);
  await faulty.exited;
  expect(faulty.child.signalCode).toBe('SIGKILL');

  stack.startCenter();
  const back = await kiosk.waitForPaymentResult(90_000);
  expect(back.stage).toBe('confirmed');
  expect(back.message).toMatch(/could not get an answer/);
  const payment = await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first();
  await until('the reversal to be acknowledged', async () => (await stack.db('payment_reversals').where({ payment_id: payment.id, status: 'acknowledged' }).first()) ?? null, 30_000);
  expect((await stack.db('payments').where({ id: payment.id }).first()).status).toBe('reversed');
  const mine = sim.transactions().filter((t) => t.pan === pan);
  expect(mine).toHaveLength(1);
  expect(mine[0]).toMatchObject({ charged: true, released: true });
  expect(await stack.db('cards').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
  await kiosk.cancel();
  await kiosk.waitForStage('cancelled');
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});

test('debit (0200, money moves at once) killed after sending: after a restart exactly one debit', async () => {
  const pan = '4902000055556666';
  const sim = stack.paymentHosts.bank;
  sim.setAccount(pan, { pin: '4711', balance: 10_000 });
  sim.setOutcome(pan, hostOutcomes.slow(1_000, hostOutcomes.approve()));
  await killCenter();
  const faulty = stack.startCenter({ FAULT_KILL_AFTER_PAYMENT_SEND: '0200' });
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCard({ kind: 'prepaid', valueId: await prepaidValue() }, 'debit', pan, '4711');
  await faulty.exited;
  expect(faulty.child.signalCode).toBe('SIGKILL');
  stack.startCenter();
  await kiosk.waitForStage('completed', 90_000);
  expect(sim.balanceOf(pan)).toBe(9_000); // debited once
  expect(sim.transactions().filter((t) => t.pan === pan)).toHaveLength(1);
  const payments = await stack.db('payments').where({ issuance_id: kiosk.issuanceId });
  expect(payments.map((p) => [p.status, p.sent_count])).toEqual([['captured', 2]]);
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
});
