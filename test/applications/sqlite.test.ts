/**
 * Applications on the embedded default database (SQLite): a pass issued with its product's
 * application, then a second application added at the kiosk; both recorded in card_applications.
 */
import { randomBytes } from 'node:crypto';
import { call, Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';
import { insertIssuedCard } from '../../terminal-worker/simulators/simulated-applications';
import { attach, commuterFare, storePackage } from './support';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ database: 'sqlite' });
});
afterAll(async () => {
  await stack?.stop();
});

test('install at issuance and add one later, on SQLite', async () => {
  const tid = stack.terminalIds[0];
  const { productId, fareId } = await commuterFare(stack.db);
  const gate = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B71', name: 'gate', productIds: [productId] });
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);
  const { cardId } = await kiosk.waitForStage('completed');
  const { uid } = await stack.db('cards').where({ id: cardId }).first('uid');

  const wallet = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B72', name: 'wallet' });
  await attach(stack.db, productId, wallet.id);
  const started = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/card-applications`, { requestId: randomBytes(8).toString('hex'), cardId, packageId: wallet.id });
  expect(started.status).toBe(201);
  await until('the kiosk to ask for the card', async () => (await call(stack.apiUrl, 'GET', `/api/card-applications/${cardId}`)).body.stage === 'waiting-for-card');
  insertIssuedCard(stack.machineFile(tid), uid);
  await until('the application to be added', async () => (await call(stack.apiUrl, 'GET', `/api/card-applications/${cardId}`)).body.stage === 'completed');

  const rows = await stack.db('card_applications').where({ card_id: cardId }).orderBy('aid');
  expect(rows.map((r) => [r.aid, Number(r.package_id), r.source])).toEqual([
    [gate.aid, gate.id, 'issuance'],
    [wallet.aid, wallet.id, 'added'],
  ]);
  expect(stack.machine(tid).dispensed.find((c) => c.uid === uid)!.applications?.map((a) => a.aid)).toEqual([gate.aid, wallet.aid]);
});
