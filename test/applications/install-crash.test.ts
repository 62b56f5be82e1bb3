/**
 * The terminal worker dies right after installing the application, before Temporal hears of it
 * (SIGKILL, worker processes on the real stack): the restarted worker's retry finds the
 * application on the card and does not install it again; the same card is finished and handed
 * out, with the application recorded once.
 */
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { commuterFare, storePackage } from './support';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 'processes' });
});
afterAll(async () => {
  await stack?.stop();
});

test('killed after the install: the retry finds it on the card, one card, one application, one row', async () => {
  const tid = stack.terminalIds[0];
  await Promise.all(stack.processes.filter((p) => p.role === `terminal:${tid}`).map((p) => p.kill('SIGKILL')));
  const faulty = stack.startTerminal(tid, { FAULT_KILL_AFTER_ACTIVITY: 'installApplication' });

  const { productId, fareId } = await commuterFare(stack.db);
  const pkg = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B11', name: 'gate', productIds: [productId] });
  const kiosk = new Kiosk(stack.apiUrl, tid);
  const issuanceId = await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);

  await faulty.exited;
  expect(faulty.child.signalCode).toBe('SIGKILL');
  // The card in the transport has the application; the center has not recorded it yet.
  const inTransport = stack.machine(tid).transport!;
  expect(inTransport.applications?.map((a) => a.aid)).toEqual([pkg.aid]);
  expect(await stack.db('card_applications').where({ aid: pkg.aid })).toEqual([]);

  stack.startTerminal(tid);
  const done = await kiosk.waitForStage('completed', 90_000);
  const cards = await stack.db('cards').where({ issuance_id: issuanceId });
  expect(cards.map((c) => [c.uid, c.status])).toEqual([[inTransport.uid, 'issued']]);
  const machine = stack.machine(tid);
  expect(machine.dispensed.map((c) => c.uid)).toEqual([inTransport.uid]);
  expect(machine.dispensed[0].applications).toEqual([{ aid: pkg.aid, packageId: pkg.id, sha256: pkg.sha256, bytes: pkg.bytes.length }]);
  expect(await stack.db('card_applications').where({ card_id: done.cardId })).toHaveLength(1);

  // Temporal ran the install twice: the first attempt's worker died before reporting.
  const history = await stack.temporal.workflow.getHandle(issuanceId).fetchHistory();
  const events = history.events ?? [];
  const scheduledId = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'installApplication')!.eventId!;
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduledId));
  expect(started?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThanOrEqual(2);
});
