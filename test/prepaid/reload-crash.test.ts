/**
 * Reloads survive crashes, with workers as separate processes: the terminal worker killed after
 * writing the new value (before Temporal hears) and the center worker killed after crediting
 * (before the sale is recorded) both resume to one credit, one value write, one sale.
 */
import { randomBytes } from 'node:crypto';
import { checkLedger } from '../../activities/center/ledger-check';
import { parseCardRecord } from '../../domain/card-record';
import type { ReloadProgress } from '../../domain/reload';
import { insertCustomerCard } from '../../terminal-worker/simulators/simulated-customer-slot';
import { call, Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

let stack: Stack;
let tid: string;
beforeAll(async () => {
  stack = await startStack({ workers: 'processes' });
  tid = stack.terminalIds[0];
});
afterAll(async () => {
  await stack?.stop();
});

const rid = () => randomBytes(8).toString('hex');
const progress = async (id: string): Promise<ReloadProgress> => (await call(stack.apiUrl, 'GET', `/api/reloads/${id}`)).body;
const waitStage = (id: string, stages: string[], ms = 90_000) => until(`reload ${id} in ${stages.join('/')}`, async () => {
  const p = await progress(id);
  return stages.includes(p.stage) ? p : null;
}, ms);
const chipValue = (base64: string) => parseCardRecord(Buffer.from(base64, 'base64')).value!.state;
const kill = (role: string) => Promise.all(stack.processes.filter((p) => p.role === role && p.child.exitCode === null && p.child.signalCode === null).map((p) => p.kill('SIGKILL')));

async function reloadPaid(card: { uid: string; chipBase64: string }, amountMinor: number): Promise<string> {
  insertCustomerCard(stack.machineFile(tid), card);
  const res = await call(stack.apiUrl, 'POST', `/api/kiosk/${tid}/reloads`, { requestId: rid(), amountMinor });
  expect(res.status).toBe(201);
  await waitStage(res.body.reloadId, ['paying']);
  expect((await call(stack.apiUrl, 'POST', `/api/reloads/${res.body.reloadId}/cash`, { requestId: rid(), amountMinor })).status).toBe(200);
  return res.body.reloadId;
}

test('killed after the value write and after the credit: one write, one credit, one sale', async () => {
  const v = await stack.db('prepaid_values').where({ value_minor: 1000 }).first('id');
  const kiosk = new Kiosk(stack.apiUrl, tid);
  await kiosk.buyWithCash({ kind: 'prepaid', valueId: Number(v.id) }, [1000]);
  const bought = await kiosk.waitForStage('completed', 90_000);
  const dispensed = stack.machine(tid).dispensed.find((c) => c.face?.cardId === bought.cardId)!;

  // 1. The terminal dies right after its device wrote the new value.
  await kill(`terminal:${tid}`);
  const faultyTerminal = stack.startTerminal(tid, { FAULT_KILL_AFTER_ACTIVITY: 'writeCardValue' });
  const first = await reloadPaid({ uid: dispensed.uid, chipBase64: dispensed.chipBase64 }, 2000);
  await faultyTerminal.exited;
  expect(faultyTerminal.child.signalCode).toBe('SIGKILL');
  expect(chipValue(stack.machine(tid).customerSlot!.chipBase64)).toEqual({ seq: 2, balanceMinor: 3000, flags: 0 });
  expect(await stack.db('card_reloads').where({ id: first }).first()).toMatchObject({ status: 'open' });
  stack.startTerminal(tid);
  expect((await waitStage(first, ['completed', 'refunded'])).stage).toBe('completed');
  const back = stack.machine(tid).returnedCards!.at(-1)!;
  expect(chipValue(back.chipBase64)).toEqual({ seq: 2, balanceMinor: 3000, flags: 0 }); // written once: seq 2, not 3

  // 2. The center dies after crediting, before the sale is recorded.
  await kill('center');
  const faultyCenter = stack.startCenter({ FAULT_KILL_BEFORE_ACTIVITY: 'recordSale' });
  const second = await reloadPaid({ uid: back.uid, chipBase64: back.chipBase64 }, 1000);
  await faultyCenter.exited;
  expect(faultyCenter.child.signalCode).toBe('SIGKILL');
  expect(await stack.db('card_reloads').where({ id: second }).first()).toMatchObject({ status: 'credited' });
  expect(await stack.db('sales').where({ issuance_id: second })).toHaveLength(0);
  stack.startCenter();
  expect((await waitStage(second, ['completed', 'refunded'])).stage).toBe('completed');

  expect(Number((await stack.db('card_balances').where({ card_id: bought.cardId }).first()).balance_minor)).toBe(4000);
  expect(chipValue(stack.machine(tid).returnedCards!.at(-1)!.chipBase64)).toEqual({ seq: 3, balanceMinor: 4000, flags: 0 });
  for (const id of [first, second]) {
    expect(await stack.db('sales').where({ issuance_id: id })).toHaveLength(1);
    expect(await stack.db('payments').where({ issuance_id: id, status: 'collected' })).toHaveLength(1);
  }
  expect((await checkLedger(stack.db)).filter((c) => !c.ok)).toEqual([]);
}, 240_000);
