/**
 * The settlement workflow on the real stack with the center worker as a separate process that is
 * SIGKILLed twice mid-settlement (after the step that computes it and writes the payout file, before
 * the workflow hears of it; and after approval before the payout is marked sent): the statement is
 * the same as before the crash, there is one payout instruction, the approver is recorded, the
 * bank's confirmation marks it paid and posts the payout once; starting the same settlement again
 * finds the first. And an issuer without a bank account: the settlement waits for one.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { checkLedger } from '../../activities/center/ledger-check';
import { buildStatement, settlementStatement } from '../../activities/center/settlement';
import { periodForDate } from '../../domain/settlement-period';
import { renderStatementCsv } from '../../domain/settlement-statement';
import { decodeZenginTransfer } from '../../domain/zengin';
import { startSettlement } from '../../lib/settlement-schedule';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { approveSettlementUpdate, confirmPayoutUpdate, settlementStateQuery } from '../../workflows/settlement';
import { startStack, type Stack } from '../support/stack';
import { giveBankAccounts, makeSale, n, salesWithSettlement } from './fixtures';
import { until } from '../support/until';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 'processes' });
  await giveBankAccounts(stack.db);
});
afterAll(async () => {
  await stack?.stop();
});


async function killCenter() {
  await Promise.all(stack.processes.filter((p) => p.role === 'center').map((p) => p.kill('SIGKILL')));
}

test('center worker killed mid-settlement, twice: same statement, one payout instruction, paid once', async () => {
  const db = stack.db;
  const issuerId = DEMO_ISSUERS.railway;
  const period = periodForDate('2025-02-03');
  const sales = [];
  for (let i = 0; i < 5; i++) sales.push(await makeSale(db, { issuerId, priceMinor: 10000 + i * 1000, soldAtMs: period.startMs + i * 3_600_000 }));
  const expectedNet = sales.reduce((s, x) => s + x.issuerNetMinor, 0);

  await killCenter();
  const faulty = stack.startCenter({ FAULT_KILL_AFTER_ACTIVITY: 'computeSettlementWithPayout' });
  const scheduling = { client: stack.temporal, taskQueue: stack.centerTaskQueue, period: { closeTime: '00:00', timeZone: 'Asia/Tokyo' } };
  const { handle } = await startSettlement(scheduling, issuerId, period);
  expect(handle.workflowId).toBe('settlement-kanto-railway-2025-02-03');
  await faulty.exited;
  expect(faulty.child.signalCode).toBe('SIGKILL');
  // The step's work is done in the database; the workflow never heard (its local activity reruns).
  const computed = await db('settlements').where({ id: handle.workflowId }).first();
  expect(computed).toMatchObject({ status: 'awaiting_approval' });
  expect(n(computed.net_minor)).toBe(expectedNet);
  expect(computed.statement_sha256).toBeNull(); // rendered when first asked for
  const firstFile = await db('payout_instructions').where({ settlement_id: handle.workflowId });
  expect(firstFile).toHaveLength(1);

  // A second start while it is running finds the same run.
  const again = await startSettlement(scheduling, issuerId, period);
  expect(again.handle.workflowId).toBe(handle.workflowId);

  const second = stack.startCenter({ FAULT_KILL_BEFORE_ACTIVITY: 'markPayoutSent' });
  await until('awaiting approval', async () => (await handle.query(settlementStateQuery)).status === 'awaiting_approval');
  // A confirmation before approval is refused by the validator.
  await expect(handle.executeUpdate(confirmPayoutUpdate, { args: [{ bankReference: 'EARLY', confirmedBy: 'bank' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  const approved = await handle.executeUpdate(approveSettlementUpdate, { args: [{ approver: 'finance.alice' }], updateId: 'approve-req-1' });
  expect(approved.status).toBe('approved');
  await second.exited; // died before marking the payout sent
  expect(second.child.signalCode).toBe('SIGKILL');
  stack.startCenter();
  await until('sent', async () => (await handle.query(settlementStateQuery)).status === 'sent');
  const paid = await handle.executeUpdate(confirmPayoutUpdate, { args: [{ bankReference: 'ZB-20250205-1', confirmedBy: 'finance.bob' }], updateId: 'confirm-req-1' });
  expect(paid.status).toBe('paid');
  const result = await handle.result();
  expect(result.summary).toMatchObject({ status: 'paid', approvedBy: 'finance.alice', bankReference: 'ZB-20250205-1', payoutMinor: expectedNet });

  // The statement: the same whenever asked, and the one its claimed sales give.
  const statement = await settlementStatement(db, handle.workflowId, Date.now());
  expect(statement.csv).toBe(renderStatementCsv(await buildStatement(db, handle.workflowId)));
  expect(statement.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(await settlementStatement(db, handle.workflowId, Date.now())).toEqual(statement);
  expect((await db('settlements').where({ id: handle.workflowId }).first()).statement_sha256).toBe(statement.sha256);
  const instructions = await db('payout_instructions').where({ settlement_id: handle.workflowId });
  expect(instructions).toHaveLength(1);
  expect(instructions[0].file_sha256).toBe(firstFile[0].file_sha256); // the rerun step wrote no second file
  expect(decodeZenginTransfer(Buffer.from(instructions[0].file)).totalAmountMinor).toBe(expectedNet);
  expect(await db('ledger_transactions').where({ kind: 'payout', ref: handle.workflowId })).toHaveLength(1);
  expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);

  // Started again after it finished: found, not rerun; nothing changes.
  const third = await startSettlement(scheduling, issuerId, period);
  expect(third.started).toBe(false);
  expect(await db('settlements').where({ issuer_id: issuerId })).toHaveLength(1);
  expect(n((await salesWithSettlement(db).where('b.settlement_id', handle.workflowId).count({ c: '*' }).first())?.c)).toBe(5);
});

test('an issuer without a bank account: the settlement waits in needs_bank_account, then goes on once finance enters it', async () => {
  const db = stack.db;
  const issuerId = DEMO_ISSUERS.telco;
  const period = periodForDate('2025-03-04');
  const sale = await makeSale(db, { issuerId, priceMinor: 20000, soldAtMs: period.startMs + 3_600_000 });
  const account = await db('issuers').where({ id: issuerId }).first('account_number');
  await db('issuers').where({ id: issuerId }).update({ account_number: null });
  const scheduling = { client: stack.temporal, taskQueue: stack.centerTaskQueue, period: { closeTime: '00:00', timeZone: 'Asia/Tokyo' } };
  const { handle } = await startSettlement(scheduling, issuerId, period);

  await until('needs a bank account', async () => (await db('settlements').where({ id: handle.workflowId }).first())?.status === 'needs_bank_account');
  expect((await handle.query(settlementStateQuery)).status).toBe('needs_bank_account');
  expect(await db('payout_instructions').where({ settlement_id: handle.workflowId })).toHaveLength(0);
  // Approving before there is a payout file is refused.
  await expect(handle.executeUpdate(approveSettlementUpdate, { args: [{ approver: 'finance.alice' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);

  await db('issuers').where({ id: issuerId }).update({ account_number: account.account_number });
  await until('awaiting approval', async () => (await handle.query(settlementStateQuery)).status === 'awaiting_approval', 60_000);
  const state = await handle.query(settlementStateQuery);
  expect(state.payoutInstruction).toMatchObject({ amountMinor: sale.issuerNetMinor });
  const files = await db('payout_instructions').where({ settlement_id: handle.workflowId });
  expect(files).toHaveLength(1);
  expect(decodeZenginTransfer(Buffer.from(files[0].file)).totalAmountMinor).toBe(sale.issuerNetMinor);
  await handle.terminate('test finished');
});
