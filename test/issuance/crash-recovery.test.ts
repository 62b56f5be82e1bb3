/**
 * Crashes on the real stack with workers as separate processes:
 * - the terminal worker is SIGKILLed mid-print and restarted: exactly one card is handed out and
 *   one sale recorded (the half-printed card goes to the reject bin, counted);
 * - the center worker dies after the sale is recorded and before the issuer is notified:
 *   after a restart exactly one notification is delivered.
 */
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 'processes', timings: { printMs: 3000, feedMs: 50, presentMs: 50 } });
});
afterAll(async () => {
  await stack?.stop();
});


test('terminal worker killed while printing: one card, one sale', async () => {
  const tid = stack.terminalIds[0];
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);

  const printing = await until('printing to start', () => {
    const card = stack.machine(tid).transport;
    return card?.printState === 'printing' ? card : null;
  });
  await killTerminal(tid); // SIGKILL: no shutdown, no cleanup
  expect(stack.machine(tid).transport).toMatchObject({ uid: printing.uid, printState: 'printing' });
  stack.startTerminal(tid);

  const done = await kiosk.waitForStage('completed', 90_000);
  const sales = await stack.db('sales').where({ issuance_id: kiosk.issuanceId });
  expect(sales).toHaveLength(1);
  const cards = await stack.db('cards').where({ issuance_id: kiosk.issuanceId }).orderBy('created_at_ms');
  expect(cards.filter((c) => c.status === 'issued').map((c) => c.id)).toEqual([done.cardId]);
  expect(cards.filter((c) => c.status === 'spoiled').map((c) => c.uid)).toEqual([printing.uid]);
  const machine = stack.machine(tid);
  const issued = cards.find((c) => c.status === 'issued');
  expect(machine.dispensed.map((c) => c.uid)).toEqual([issued.uid]);
  expect(machine.dispensed[0].printState).toBe('printed');
  expect(machine.rejectBin.map((c) => c.uid)).toEqual([printing.uid]);
  expect((await stack.db('seats').where({ id: seat.id }).first()).status).toBe('sold');
});

test('center worker killed between recording the sale and notifying: exactly one notification', async () => {
  await killCenter();
  const faulty = stack.startCenter({ FAULT_KILL_BEFORE_ACTIVITY: 'notifyIssuer' });
  const tid = stack.terminalIds[0];
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 10000]);

  await faulty.exited; // it died by SIGKILL at the notifyIssuer step
  expect(faulty.child.signalCode).toBe('SIGKILL');
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(1);
  const eventsFor = () => [...stack.issuer.events.values()].filter((e) => (e.payload as any).data.issuanceId === kiosk.issuanceId);
  expect(eventsFor()).toHaveLength(0);

  stack.startCenter();
  await kiosk.waitForStage('completed', 90_000);
  const received = eventsFor();
  expect(received).toHaveLength(1);
  expect(received[0].deliveries).toBe(1);
  const row = await stack.db('issuer_notifications').where({ issuance_id: kiosk.issuanceId });
  expect(row).toHaveLength(1);
  expect(row[0].status).toBe('delivered');
  expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId })).toHaveLength(1);
});

async function killTerminal(tid: string) {
  await Promise.all(stack.processes.filter((p) => p.role === `terminal:${tid}`).map((p) => p.kill('SIGKILL')));
}

async function killCenter() {
  await Promise.all(stack.processes.filter((p) => p.role === 'center').map((p) => p.kill('SIGKILL')));
}
