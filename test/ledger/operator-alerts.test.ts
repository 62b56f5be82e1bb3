/**
 * Operator alerts over the operator API (on SQLite, so migration 015 runs there too): owed cash
 * vouchers and device faults are listed; settling a voucher records who paid the customer and
 * posts it (refunds_due back to zero, the money from the operator's bank, the terminal's cash box
 * untouched so its counters still agree); a second settle is refused and pays nothing twice; bad
 * input and callers without an operator token change nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createCashShortfallActivities } from '../../activities/center/cash-shortfalls';
import { checkLedger } from '../../activities/center/ledger-check';
import { createPaymentActivities } from '../../activities/center/payments';
import { errorHandler } from '../../api/errors';
import { operatorAuth } from '../../api/operator-auth';
import { operatorAlertRoutes } from '../../api/routes/operator-alerts';
import { Accounts } from '../../domain/ledger';
import type { Db } from '../../lib/db';
import { sqliteCenter } from '../support/sqlite-center';

const TID = 'T-ALERT-1';
const ISS = 'iss-T-ALERT-1-abcdefgh';
const TOKEN = 'operator-token-for-alert-tests-0123456789';

let db: Db;
let server: http.Server;
let base: string;

beforeAll(async () => {
  db = await sqliteCenter('alerts', TID, ISS);
  const app = express();
  app.use('/api/operator/alerts', operatorAlertRoutes(db, operatorAuth([{ name: 'store.tanaka', token: TOKEN }])));
  app.use(errorHandler);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/operator/alerts`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await db?.destroy();
});

async function call(method: string, p: string, token: string | null = TOKEN) {
  const res = await fetch(`${base}${p}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}
const balance = async (account: string) => Number((await db('ledger_entries').where({ account }).sum({ s: 'amount_minor' }).first())?.s ?? 0);
const counts = async () => [await db('cash_shortfalls').where({ status: 'owed' }).count({ n: '*' }).first(), await db('ledger_transactions').count({ n: '*' }).first(), await db('terminal_faults').whereNull('cleared_at_ms').count({ n: '*' }).first()];

test('short change: the voucher is listed, settled once by the operator, and the books still balance', async () => {
  const center = createCashShortfallActivities({ db });
  await createPaymentActivities({ db }).recordCashPayment(ISS, { amountMinor: 1000, tenderedMinor: 5000, changeMinor: 4000, currency: 'JPY' });
  const { voucherNumber } = await center.recordCashShortfall(ISS, { tag: `change:${ISS}`, kind: 'change', amountMinor: 4000, paidMinor: 1500, currency: 'JPY', reason: 'CASH_SHORT' });
  await center.recordCashCounters(TID, { moneyInMinor: 5000, moneyOutMinor: 1500, at: 2000 });
  await center.recordTerminalFault(TID, { device: 'receipt', code: 'PAPER_OUT', message: 'receipt printer out of paper', issuanceId: ISS });

  const open = await call('GET', `/?terminalId=${TID}`);
  expect(open.status).toBe(200);
  expect(open.body.vouchers).toEqual([expect.objectContaining({ voucherNumber, terminalId: TID, owedMinor: 2500, status: 'owed', reason: 'CASH_SHORT', settledBy: null })]);
  expect(open.body.faults).toEqual([expect.objectContaining({ terminalId: TID, device: 'receipt', code: 'PAPER_OUT', clearedAt: null })]);
  expect(await balance(Accounts.refundsDue)).toBe(-2500);
  const bankBefore = await balance(Accounts.operatorBank);

  const settled = await call('POST', `/vouchers/${voucherNumber}/settle`);
  expect(settled.status).toBe(200);
  expect(settled.body).toMatchObject({ voucherNumber, status: 'settled', settledBy: 'store.tanaka' });
  expect(await balance(Accounts.refundsDue)).toBe(0);
  expect(await balance(Accounts.operatorBank)).toBe(bankBefore - 2500);
  expect(await balance(Accounts.terminalCash(TID))).toBe(1000 + 2500); // the unit still holds it: counters agree
  expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);

  // A second settle (another staff member, a double click) pays nothing twice.
  const before = await counts();
  const again = await call('POST', `/vouchers/${voucherNumber}/settle`);
  expect(again.status).toBe(409);
  expect(again.body.error.code).toBe('already_settled');
  expect(again.body.error.message).toContain('store.tanaka');
  expect(await counts()).toEqual(before);
  expect(await balance(Accounts.refundsDue)).toBe(0);

  const fault = open.body.faults[0];
  const cleared = await call('POST', `/faults/${fault.id}/clear`);
  expect(cleared.status).toBe(200);
  expect(cleared.body).toMatchObject({ id: fault.id, clearedBy: 'store.tanaka' });
  expect((await call('POST', `/faults/${fault.id}/clear`)).status).toBe(409);
  expect(await call('GET', '/')).toMatchObject({ status: 200, body: { vouchers: [], faults: [] } });
});

test('no operator token, bad voucher numbers and unknown ids: clear errors, nothing changes', async () => {
  const center = createCashShortfallActivities({ db });
  const { voucherNumber } = await center.recordCashShortfall(ISS, { tag: `return:${ISS}`, kind: 'return', amountMinor: 500, paidMinor: 0, currency: 'JPY', reason: 'TERMINAL_OFFLINE' });
  const before = await counts();
  expect((await call('POST', `/vouchers/${voucherNumber}/settle`, null)).status).toBe(401);
  expect((await call('POST', `/vouchers/${voucherNumber}/settle`, 'not-an-operator-token-at-all')).status).toBe(403);
  const malformed = await call('POST', '/vouchers/12345/settle');
  expect(malformed.status).toBe(400);
  expect(malformed.body.error.message).toMatch(/voucher number/);
  expect((await call('POST', '/vouchers/CV-999999/settle')).status).toBe(404);
  expect((await call('POST', '/faults/999999/clear')).status).toBe(404);
  expect((await call('GET', '/?terminalId=not a terminal')).status).toBe(400);
  expect(await counts()).toEqual(before);
  expect((await call('GET', `/vouchers/${voucherNumber}`)).body).toMatchObject({ voucherNumber, status: 'owed', owedMinor: 500 });
});
