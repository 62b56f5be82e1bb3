/**
 * Issuance of a CPU card product installs its application packages on the card (real stack:
 * Temporal, MariaDB, API, workers, state-file kiosk): after verifyChip and before printFace the
 * terminal fetches the package by id from the center, checks its SHA-256 and installs it.
 */
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { SIM_APPLICATION_SPACE } from '../../terminal-worker/simulators/simulated-applications';
import { commuterFare, storePackage } from './support';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  // Each test attaches its own packages to the commuter product.
  await stack.db('product_applications').del();
});

async function buyPass(): Promise<{ issuanceId: string; kiosk: Kiosk }> {
  const { fareId } = await commuterFare(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  const issuanceId = await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);
  return { issuanceId, kiosk };
}

test('a commuter pass whose product carries an application: the dispensed card holds it, card_applications records it, history carries no bytes', async () => {
  const { productId } = await commuterFare(stack.db);
  const pkg = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B01', name: 'ticket-gate', bodyBytes: 20_000, productIds: [productId] });
  const { issuanceId, kiosk } = await buyPass();
  const done = await kiosk.waitForStage('completed');

  const card = await stack.db('cards').where({ id: done.cardId }).first();
  const dispensed = stack.machine(stack.terminalIds[0]).dispensed.find((c) => c.uid === card.uid)!;
  expect(dispensed.applications).toEqual([{ aid: pkg.aid, packageId: pkg.id, sha256: pkg.sha256, bytes: pkg.bytes.length }]);
  const rows = await stack.db('card_applications').where({ card_id: done.cardId });
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ aid: pkg.aid, package_id: pkg.id, package_sha256: pkg.sha256, source: 'issuance', workflow_id: issuanceId });
  expect(card.status).toBe('issued');

  // The install ran between verifying the chip and printing the face, and its input is the package's
  // id and checksum: no activity input comes near the package's 20 kB.
  const history = await stack.temporal.workflow.getHandle(issuanceId).fetchHistory();
  const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
  const order = scheduled.map((a) => a.activityType?.name);
  expect(order.indexOf('installApplication')).toBeGreaterThan(order.indexOf('verifyChip'));
  expect(order.indexOf('installApplication')).toBeLessThan(order.indexOf('printFace'));
  for (const a of scheduled) {
    const size = (a.input?.payloads ?? []).reduce((n, p) => n + (p.data?.length ?? 0), 0);
    expect(size).toBeLessThan(4096);
  }
});

test('a product without packages installs nothing (no installApplication step)', async () => {
  const { issuanceId, kiosk } = await buyPass();
  const done = await kiosk.waitForStage('completed');
  expect(await stack.db('card_applications').where({ card_id: done.cardId })).toEqual([]);
  const card = await stack.db('cards').where({ id: done.cardId }).first('uid');
  expect(stack.machine(stack.terminalIds[0]).dispensed.find((c) => c.uid === card.uid)!.applications).toBeUndefined();
  const history = await stack.temporal.workflow.getHandle(issuanceId).fetchHistory();
  expect((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'installApplication')).toBe(false);
});

test('package bytes damaged at the center: refused with a clear reason before the card is touched; the card is spoiled and the customer refunded', async () => {
  const { productId } = await commuterFare(stack.db);
  const pkg = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B02', name: 'damaged', productIds: [productId] });
  // Storage corruption: the stored bytes no longer match the SHA-256 the issuer API verified.
  const damaged = Buffer.from(pkg.bytes);
  damaged[damaged.length - 1] ^= 0xff;
  await stack.db('application_packages').where({ id: pkg.id }).update({ bytes: damaged });
  const rejectedBefore = stack.machine(stack.terminalIds[0]).rejectBin.length;

  const { issuanceId, kiosk } = await buyPass();
  const done = await kiosk.waitForStage('refunded');
  expect(done.message).toMatch(/SHA-256 .* not the issuer's .*nothing was sent to the card/);
  expect(done.message).toMatch(/Your money has been returned/);

  const cards = await stack.db('cards').where({ issuance_id: issuanceId });
  expect(cards).toHaveLength(1); // production stopped: no second card is wasted on the same bytes
  expect(cards[0].status).toBe('spoiled');
  const machine = stack.machine(stack.terminalIds[0]);
  expect(machine.rejectBin.length).toBe(rejectedBefore + 1);
  expect(machine.rejectBin[machine.rejectBin.length - 1]).toMatchObject({ uid: cards[0].uid });
  expect(machine.rejectBin[machine.rejectBin.length - 1].applications).toBeUndefined();
  expect(await stack.db('card_applications').where({ card_id: cards[0].id })).toEqual([]);
  expect(await stack.db('sales').where({ issuance_id: issuanceId })).toEqual([]);
  const payment = await stack.db('payments').where({ issuance_id: issuanceId }).first();
  expect(payment.status).toBe('refunded');
  expect(machine.payouts[`refund:${issuanceId}`]).toBe(Number(payment.amount_minor));
});

test('cards that refuse the application (no room on the chip) are spoiled one after another, then the customer is refunded', async () => {
  const { productId } = await commuterFare(stack.db);
  await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B03', name: 'too-big', bodyBytes: SIM_APPLICATION_SPACE + 1, productIds: [productId] });
  const { issuanceId, kiosk } = await buyPass();
  const done = await kiosk.waitForStage('refunded');
  expect(done.message).toMatch(/No good card after 3 tries/);
  const cards = await stack.db('cards').where({ issuance_id: issuanceId }).orderBy('created_at_ms');
  expect(cards.map((c) => c.status)).toEqual(['spoiled', 'spoiled', 'spoiled']);
  expect(cards[0].spoil_reason).toMatch(/no room for package/);
  const rejected = stack.machine(stack.terminalIds[0]).rejectBin.map((c) => c.uid);
  for (const c of cards) expect(rejected).toContain(c.uid);
  expect(await stack.db('sales').where({ issuance_id: issuanceId })).toEqual([]);
  expect((await stack.db('payments').where({ issuance_id: issuanceId }).first()).status).toBe('refunded');
});
