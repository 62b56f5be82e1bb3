/**
 * Adding an application to an issued card at a kiosk (real stack: Temporal, MariaDB, API,
 * workers, state-file kiosk): the kiosk API checks the request, the `addApplication` workflow
 * waits for the customer's card, checks it is the card named, installs on the terminal, records
 * it, hands the card back and sends the issuer a signed card.application_added event.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { addApplicationWorkflowId } from '../../domain/applications';
import { createCardApplicationActivities } from '../../activities/center/card-applications';
import { call } from '../support/kiosk-client';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';
import { insertIssuedCard, SIM_APPLICATION_SPACE } from '../../terminal-worker/simulators/simulated-applications';
import { attach, commuterFare, prepaidProduct, storePackage, type TestPackage } from './support';

let stack: Stack;
let tid: string;
let gate: TestPackage;
let wallet: TestPackage;
beforeAll(async () => {
  stack = await startStack();
  tid = stack.terminalIds[0];
  const { productId } = await commuterFare(stack.db);
  gate = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B21', name: 'ticket-gate', productIds: [productId] });
  // Offered for the product only after the first cards were sold (attached in the tests).
  wallet = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B22', name: 'station-wallet' });
});
afterAll(async () => {
  await stack?.stop();
});

const rid = () => randomBytes(8).toString('hex');

/** A commuter pass issued with the gate application only (the wallet is not offered while it is made). */
async function issuedPass(): Promise<{ cardId: string; uid: string }> {
  await stack.db('product_applications').where({ package_id: wallet.id }).del();
  const { fareId } = await commuterFare(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);
  const done = await kiosk.waitForStage('completed');
  const card = await stack.db('cards').where({ id: done.cardId }).first('uid');
  return { cardId: done.cardId!, uid: card.uid };
}

function start(cardId: string, packageId: number) {
  return call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/card-applications`, { requestId: rid(), cardId, packageId });
}

async function progressOf(cardId: string) {
  return (await call(stack.apiUrl, 'GET', `/api/card-applications/${cardId}`)).body;
}

async function revoke(cardId: string) {
  await stack.db('card_revocations').insert({ card_id: cardId, issuer_id: 'kanto-railway', reason: 'lost', requested_by_kind: 'issuer', requested_by_id: 'key-test', request_id: rid(), workflow_id: `revocation-${cardId}`, revoked_at_ms: Date.now() });
}

/** Offers the wallet for the commuter product from now on (cards issued after this carry it from the start). */
async function offerWallet(): Promise<void> {
  const { productId } = await commuterFare(stack.db);
  if (!(await stack.db('product_applications').where({ product_id: productId, package_id: wallet.id }).first())) await attach(stack.db, productId, wallet.id);
}

async function noWorkflow(cardId: string): Promise<boolean> {
  return stack.temporal.workflow.getHandle(addApplicationWorkflowId(cardId)).describe().then(
    () => false,
    (e) => e instanceof WorkflowNotFoundError,
  );
}

test('an issued pass gets a second application: installed on the card, recorded, card handed back, issuer told (signed)', async () => {
  const { cardId, uid } = await issuedPass();
  await offerWallet();

  const offers = await call(stack.apiUrl, 'GET', `/api/cards/${cardId}/application-offers`);
  expect(offers.body.offers).toEqual([
    { packageId: gate.id, name: 'ticket-gate', version: '1.0.0', aid: gate.aid, installed: true },
    { packageId: wallet.id, name: 'station-wallet', version: '1.0.0', aid: wallet.aid, installed: false },
  ]);

  const started = await start(cardId, wallet.id);
  expect(started.status).toBe(201);
  expect(started.body.workflowId).toBe(`add-application-${cardId}`);
  // The same request again finds the running one; another package for the card meanwhile is refused.
  expect((await start(cardId, wallet.id)).status).toBe(200);
  expect((await start(cardId, gate.id)).status).toBe(409);

  const waiting = await until('the kiosk to ask for the card', async () => ((await progressOf(cardId)).stage === 'waiting-for-card' ? progressOf(cardId) : null));
  expect(waiting).toMatchObject({ application: { aid: wallet.aid, name: 'station-wallet' }, message: 'Please insert your card.' });
  insertIssuedCard(stack.machineFile(tid), uid);

  const done = await until('the application to be added', async () => {
    const p = await progressOf(cardId);
    return ['completed', 'refused', 'failed'].includes(p.stage) ? p : null;
  });
  expect(done).toMatchObject({ stage: 'completed', installed: true, message: 'station-wallet is now on your card.' });

  const machine = stack.machine(tid);
  expect(machine.transport).toBeNull();
  const card = machine.dispensed.find((c) => c.uid === uid)!;
  expect(card.applications?.map((a) => [a.aid, a.packageId])).toEqual([
    [gate.aid, gate.id],
    [wallet.aid, wallet.id],
  ]);
  const rows = await stack.db('card_applications').where({ card_id: cardId }).orderBy('aid');
  expect(rows.map((r) => [r.aid, Number(r.package_id), r.source, r.workflow_id])).toEqual([
    [gate.aid, gate.id, 'issuance', expect.stringMatching(/^iss-/)],
    [wallet.aid, wallet.id, 'added', `add-application-${cardId}`],
  ]);
  expect(rows[1].package_sha256).toBe(wallet.sha256);

  const event = await until('the issuer to receive the event', () => [...stack.issuer.events.values()].find((e) => e.type === 'card.application_added' && (e.payload as any).data.cardId === cardId));
  expect(event.payload).toMatchObject({ type: 'card.application_added', data: { cardId, application: { packageId: wallet.id, aid: wallet.aid, name: 'station-wallet', sha256: wallet.sha256 } } });
  expect(event.deliveries).toBe(1);
  expect(stack.issuer.rejected).toEqual([]); // the demo issuer checks every signature
  expect((await stack.db('issuer_notifications').where({ event_id: event.eventId }).first()).status).toBe('delivered');

  // Asking again: already on the card, answered at once, nothing started or changed.
  const again = await start(cardId, wallet.id);
  expect([again.status, again.body.error?.code ?? again.body.code]).toEqual([409, 'already_installed']);
  expect(await stack.db('card_applications').where({ card_id: cardId })).toHaveLength(2);
});

test('a revoked card is refused before anything starts; nothing changes', async () => {
  const { cardId } = await issuedPass();
  await revoke(cardId);
  const r = await start(cardId, wallet.id);
  expect(r.status).toBe(409);
  expect(JSON.stringify(r.body)).toMatch(/revoked/);
  expect(await noWorkflow(cardId)).toBe(true);
  expect(await stack.db('card_applications').where({ card_id: cardId })).toHaveLength(1);
});

test('a card revoked while the customer walks to the slot: refused at the insertion, card handed back unchanged', async () => {
  const { cardId, uid } = await issuedPass();
  await offerWallet();
  expect((await start(cardId, wallet.id)).status).toBe(201);
  await until('the kiosk to ask for the card', async () => (await progressOf(cardId)).stage === 'waiting-for-card');
  await revoke(cardId);
  insertIssuedCard(stack.machineFile(tid), uid);
  const done = await until('the request to end', async () => {
    const p = await progressOf(cardId);
    return ['completed', 'refused', 'failed'].includes(p.stage) ? p : null;
  });
  expect(done.stage).toBe('refused');
  expect(done.message).toMatch(/revoked.*returned unchanged/);
  const machine = stack.machine(tid);
  expect(machine.transport).toBeNull();
  expect(machine.dispensed.find((c) => c.uid === uid)!.applications?.map((a) => a.aid)).toEqual([gate.aid]);
  expect(await stack.db('card_applications').where({ card_id: cardId })).toHaveLength(1);
});

test('another card inserted than the one named: refused and handed back', async () => {
  const named = await issuedPass();
  const other = await issuedPass();
  await offerWallet();
  expect((await start(named.cardId, wallet.id)).status).toBe(201);
  await until('the kiosk to ask for the card', async () => (await progressOf(named.cardId)).stage === 'waiting-for-card');
  insertIssuedCard(stack.machineFile(tid), other.uid);
  const done = await until('the request to end', async () => {
    const p = await progressOf(named.cardId);
    return ['completed', 'refused', 'failed'].includes(p.stage) ? p : null;
  });
  expect(done).toMatchObject({ stage: 'refused' });
  expect(done.message).toMatch(new RegExp(`not card ${named.cardId}`));
  expect(stack.machine(tid).dispensed.find((c) => c.uid === other.uid)!.applications?.map((a) => a.aid)).toEqual([gate.aid]);
  expect(await stack.db('card_applications').whereIn('card_id', [named.cardId, other.cardId])).toHaveLength(2);
});

test('a card that refuses the install (no room): failed, the card handed back as it was, nothing recorded or sent', async () => {
  const { cardId, uid } = await issuedPass();
  const { productId } = await commuterFare(stack.db);
  const huge = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B23', name: 'huge', bodyBytes: SIM_APPLICATION_SPACE, productIds: [productId] });
  try {
    expect((await start(cardId, huge.id)).status).toBe(201);
    await until('the kiosk to ask for the card', async () => (await progressOf(cardId)).stage === 'waiting-for-card');
    insertIssuedCard(stack.machineFile(tid), uid);
    const done = await until('the request to end', async () => {
      const p = await progressOf(cardId);
      return ['completed', 'refused', 'failed'].includes(p.stage) ? p : null;
    });
    expect(done.stage).toBe('failed');
    expect(done.message).toMatch(/your card refused the application.*Your card has been returned; nothing was charged/);
    const machine = stack.machine(tid);
    expect(machine.transport).toBeNull();
    expect(machine.rejectBin.map((c) => c.uid)).not.toContain(uid);
    expect(machine.dispensed.find((c) => c.uid === uid)!.applications?.map((a) => a.aid)).toEqual([gate.aid]);
    expect((await stack.db('cards').where({ id: cardId }).first('status')).status).toBe('issued');
    expect(await stack.db('card_applications').where({ card_id: cardId })).toHaveLength(1);
    expect(await stack.db('issuer_notifications').where({ type: 'card.application_added' }).where('event_id', 'like', `%${cardId}%`)).toEqual([]);
  } finally {
    await stack.db('product_applications').where({ package_id: huge.id }).del();
  }
});

test('another issuer\'s package is refused, even if linked to the card\'s product behind the API\'s back', async () => {
  const { cardId } = await issuedPass();
  const telco = await storePackage(stack.db, 'hikari-mobile', { aid: 'A000000476544B31', name: 'telco-sim', productIds: [await prepaidProduct(stack.db)] });
  const r = await start(cardId, telco.id);
  expect([r.status, JSON.stringify(r.body)]).toEqual([404, expect.stringMatching(/not offered for this card's product/)]);
  const { productId } = await commuterFare(stack.db);
  await attach(stack.db, productId, telco.id);
  expect((await start(cardId, telco.id)).status).toBe(404);
  expect((await call(stack.apiUrl, 'GET', `/api/cards/${cardId}/application-offers`)).body.offers.map((o: { packageId: number }) => o.packageId)).not.toContain(telco.id);
  expect(await noWorkflow(cardId)).toBe(true);
});

test('recording is idempotent: a repeated record keeps one row; another package under the same AID is refused', async () => {
  const { cardId } = await issuedPass();
  const acts = createCardApplicationActivities({ db: stack.db });
  const app = { packageId: wallet.id, aid: wallet.aid, sha256: wallet.sha256 };
  expect(await acts.recordCardApplications(cardId, [app], 'added', 'wf-1')).toEqual({ recorded: 1 });
  expect(await acts.recordCardApplications(cardId, [app], 'added', 'wf-1')).toEqual({ recorded: 0 });
  await expect(acts.recordCardApplications(cardId, [{ ...app, packageId: gate.id }], 'added', 'wf-2')).rejects.toThrow(/already records package/);
  expect(await stack.db('card_applications').where({ card_id: cardId, aid: wallet.aid })).toHaveLength(1);
});

test('bad input: malformed ids, unknown card, unknown terminal: 4xx with a reason, nothing started', async () => {
  expect((await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/card-applications`, { requestId: rid(), cardId: 'nope', packageId: 1 })).status).toBe(400);
  expect((await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/card-applications`, { requestId: rid(), cardId: 'C000000000000', packageId: -1 })).status).toBe(400);
  const unknown = await start('C0000000000AB', wallet.id);
  expect([unknown.status, JSON.stringify(unknown.body)]).toEqual([404, expect.stringMatching(/no card C0000000000AB/)]);
  expect((await call(stack.apiUrl, 'POST', '/api/kiosk/NOPE/card-applications', { requestId: rid(), cardId: 'C0000000000AB', packageId: wallet.id })).status).toBe(404);
  expect(await noWorkflow('C0000000000AB')).toBe(true);
});

test('package bytes for terminals: only registered terminals, only packages offered on cards, SHA-256 in the ETag', async () => {
  const lone = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B41', name: 'unattached' });
  const ok = await fetch(`${stack.apiUrl}/api/terminals/${tid}/application-packages/${gate.id}`);
  expect(ok.status).toBe(200);
  expect(ok.headers.get('etag')).toBe(`"${gate.sha256}"`);
  expect(Buffer.from(await ok.arrayBuffer()).equals(gate.bytes)).toBe(true);
  expect((await fetch(`${stack.apiUrl}/api/terminals/${tid}/application-packages/${lone.id}`)).status).toBe(404);
  expect((await fetch(`${stack.apiUrl}/api/terminals/UNKNOWN/application-packages/${gate.id}`)).status).toBe(404);
});
