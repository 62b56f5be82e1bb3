/**
 * Settlement computation on MariaDB, activity by activity: claims (each sale in exactly one
 * settlement, repeated and concurrent runs change nothing), late arrivals go into the next
 * settlement flagged late, refunds after settlement become negative items, a negative net is
 * carried forward once, the Zengin payout file, approval, payment and the ledger.
 */
import { checkLedger } from '../../activities/center/ledger-check';
import { approveSettlement, buildStatement, computeSettlement, computeSettlementWithPayout, confirmPayout, markPayoutSent, preparePayoutInstruction, settlementStatement, type PayoutSettings, type SettlementPeriodInput } from '../../activities/center/settlement';
import { periodForDate, settlementIdFor } from '../../domain/settlement-period';
import { decodeZenginTransfer } from '../../domain/zengin';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { startStack, type Stack } from '../support/stack';
import { BANK, giveBankAccounts, makeRefund, makeSale, n, payableBalance, salesWithSettlement, settlementOfSale } from './fixtures';

const SETTINGS: PayoutSettings = {
  header: { requesterCode: '0000000001', requesterName: 'ﾃﾞﾓｾﾝﾀ-', bankCode: '0001', bankName: 'ﾐｽﾞﾎ', branchCode: '001', branchName: 'ﾄｳｷﾖｳ', accountType: '1', accountNumber: '1234567' },
  payoutLagDays: 2,
};
const P = DEMO_ISSUERS.promoter;
const R = DEMO_ISSUERS.railway;
const HOUR = 3_600_000;

function input(issuerId: string, label: string): SettlementPeriodInput {
  const p = periodForDate(label);
  return { settlementId: settlementIdFor(issuerId, p), issuerId, periodStartMs: p.startMs, periodEndMs: p.endMs, periodLabel: p.label };
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('a period: its sales claimed once, totals from the fee rules, repeated and concurrent runs change nothing', async () => {
  const db = stack.db;
  const d1 = input(P, '2025-01-10');
  const a = await makeSale(db, { issuerId: P, priceMinor: 12000, soldAtMs: d1.periodStartMs + 1 * HOUR });
  const b = await makeSale(db, { issuerId: P, priceMinor: 9800, soldAtMs: d1.periodStartMs + 2 * HOUR });
  const c = await makeSale(db, { issuerId: P, priceMinor: 7500, soldAtMs: d1.periodEndMs - 1 });
  const after = await makeSale(db, { issuerId: P, priceMinor: 7500, soldAtMs: d1.periodEndMs }); // next period
  const other = await makeSale(db, { issuerId: R, priceMinor: 14000, soldAtMs: d1.periodStartMs + HOUR }); // other issuer

  const runs = await Promise.all([1, 2, 3].map(() => computeSettlement(db, d1, Date.now())));
  const s = runs[0];
  expect(runs.map((r) => r.status)).toEqual(['computed', 'computed', 'computed']);
  expect(runs[1]).toEqual(s);
  expect(runs[2]).toEqual(s);
  const sales = [a, b, c];
  expect(s).toMatchObject({
    settlementId: 'settlement-sunrise-promotions-2025-01-10',
    saleCount: 3,
    refundCount: 0,
    lateCount: 0,
    grossMinor: 12000 + 9800 + 7500,
    feesMinor: sales.reduce((x, y) => x + y.operatorFeeMinor, 0),
    carriedInMinor: 0,
    netMinor: sales.reduce((x, y) => x + y.issuerNetMinor, 0),
    payoutMinor: sales.reduce((x, y) => x + y.issuerNetMinor, 0),
    carriedOutMinor: 0,
  });
  expect(a.operatorFeeMinor).toBe(960); // 8 %
  const claimed = await salesWithSettlement(db).where('b.settlement_id', s.settlementId).orderBy('s.id').pluck('s.id');
  expect(claimed.map(Number)).toEqual(sales.map((x) => x.saleId));
  expect(await settlementOfSale(db, after.saleId)).toBeNull();
  expect(await settlementOfSale(db, other.saleId)).toBeNull();
  // One batch claimed, whatever the number of sales in it.
  expect(await db('settlement_batches').where({ settlement_id: s.settlementId })).toHaveLength(1);
  // Again later: nothing moves.
  expect(await computeSettlement(db, d1, Date.now())).toEqual(s);
  expect(n((await db('settlements').where({ issuer_id: P }).count({ c: '*' }).first())?.c)).toBe(1);

  const r1 = await settlementStatement(db, s.settlementId, Date.now());
  const r2 = await settlementStatement(db, s.settlementId, Date.now());
  expect(r2).toEqual(r1);
  const row = await db('settlements').where({ id: s.settlementId }).first();
  expect(row.statement_csv).toContain('summary,payoutMinor,' + s.payoutMinor);
  expect(JSON.parse(row.statement_json).items).toHaveLength(3);
});

test('late arrivals, refunds after settlement, a negative net carried forward once', async () => {
  const db = stack.db;
  const d1 = input(P, '2025-01-10');
  const d2 = input(P, '2025-01-11');
  const d3 = input(P, '2025-01-12');
  const d4 = input(P, '2025-01-13');
  // A sale of day 1 recorded after day 1 was settled: it goes into day 2, flagged late.
  const late = await makeSale(db, { issuerId: P, priceMinor: 5000, soldAtMs: d1.periodStartMs + 5 * HOUR });
  const day1Sale = await salesWithSettlement(db).where('b.settlement_id', d1.settlementId).orderBy('s.id').first('s.*');
  // A day-1 (settled) sale refunded on day 2: a negative item of day 2.
  await makeRefund(db, day1Sale.issuance_id, d2.periodStartMs + HOUR);
  expect((await makeRefund(db, day1Sale.issuance_id, d2.periodStartMs + 2 * HOUR)).created).toBe(false); // once
  const s2 = await computeSettlement(db, d2, Date.now());
  const day2Expected = 7500 - 600 + late.issuerNetMinor - n(day1Sale.issuer_net_minor); // the sale made at d1's end belongs to day 2 too
  expect(s2).toMatchObject({ saleCount: 2, refundCount: 1, lateCount: 1, refundsMinor: n(day1Sale.price_minor), netMinor: day2Expected });
  const st2 = await buildStatement(db, s2.settlementId);
  expect(st2.items.filter((i) => i.late).map((i) => i.saleId)).toEqual([late.saleId]);
  const refundItem = st2.items.find((i) => i.kind === 'refund')!;
  expect(refundItem).toMatchObject({ saleId: n(day1Sale.id), priceMinor: -n(day1Sale.price_minor), issuerNetMinor: -n(day1Sale.issuer_net_minor) });

  // Day 3: only a refund of a big day-2 sale (sold on day 2, settled) → negative net, carried forward.
  const big = await makeSale(db, { issuerId: P, priceMinor: 90000, soldAtMs: d2.periodStartMs + 3 * HOUR }); // late into day 3? no: day 2 is settled, so it is claimed by day 3
  await makeRefund(db, big.issuanceId, d3.periodStartMs + HOUR);
  const other = await makeSale(db, { issuerId: P, priceMinor: 1000, soldAtMs: d3.periodStartMs + 2 * HOUR });
  const s3 = await computeSettlement(db, d3, Date.now());
  // The big sale (late) and its refund cancel out; the small sale remains: positive.
  expect(s3).toMatchObject({ saleCount: 2, refundCount: 1, lateCount: 1, netMinor: other.issuerNetMinor, status: 'computed' });

  // Day 4: a refund of the day-3 small sale and of a day-1 sale → negative → carried forward.
  await makeRefund(db, other.issuanceId, d4.periodStartMs + HOUR);
  const day1Second = await salesWithSettlement(db).where('b.settlement_id', d1.settlementId).orderBy('s.id').offset(1).first('s.*');
  await makeRefund(db, day1Second.issuance_id, d4.periodStartMs + 2 * HOUR);
  const s4 = await computeSettlement(db, d4, Date.now());
  const net4 = -other.issuerNetMinor - n(day1Second.issuer_net_minor);
  expect(s4).toMatchObject({ status: 'carried_forward', netMinor: net4, payoutMinor: 0, carriedOutMinor: net4 });
  expect(await preparePayoutInstruction(db, s4.settlementId, SETTINGS, Date.now())).toBeNull();
  await settlementStatement(db, s4.settlementId, Date.now());

  // Day 5: a sale bigger than the debt: the carry comes in once.
  const d5 = input(P, '2025-01-14');
  const s5sale = await makeSale(db, { issuerId: P, priceMinor: 50000, soldAtMs: d5.periodStartMs + HOUR });
  const s5 = await computeSettlement(db, d5, Date.now());
  expect(s5).toMatchObject({ carriedInMinor: net4, netMinor: s5sale.issuerNetMinor + net4, payoutMinor: s5sale.issuerNetMinor + net4 });
  expect((await db('settlements').where({ id: s4.settlementId }).first()).carried_to_settlement_id).toBe(s5.settlementId);
  const d6 = input(P, '2025-01-15');
  expect(await computeSettlement(db, d6, Date.now())).toMatchObject({ carriedInMinor: 0, netMinor: 0, status: 'closed' });
  expect((await buildStatement(db, s5.settlementId)).carriedInMinor).toBe(net4);
});

test('sales recorded while their batch is being claimed: each in exactly one settlement, the totals match the items', async () => {
  const db = stack.db;
  const d = input(R, '2025-02-03');
  const next = input(R, '2025-02-04');
  await makeSale(db, { issuerId: R, priceMinor: 1000, soldAtMs: d.periodStartMs + HOUR });
  // 60 sales of the same period, 8 at a time, race the claim, which starts once 20 are in: each
  // commits into the batch before the claim, or sees it claimed and goes into the next period's
  // batch (late).
  let done = 0;
  let claimStarted!: () => void;
  const twentyIn = new Promise<void>((r) => (claimStarted = r));
  const made: Awaited<ReturnType<typeof makeSale>>[] = [];
  const seller = async (w: number) => {
    for (let i = w; i < 60; i += 8) {
      made.push(await makeSale(db, { issuerId: R, priceMinor: 1000 + i, soldAtMs: d.periodStartMs + 2 * HOUR + i }));
      if (++done === 20) claimStarted();
    }
  };
  const [s] = await Promise.all([twentyIn.then(() => computeSettlement(db, d, Date.now())), ...Array.from({ length: 8 }, (_, w) => seller(w))]);
  const st = await buildStatement(db, s.settlementId); // throws if the stored totals and the items disagree
  const inFirst = new Set(st.items.map((i) => i.saleId));
  expect(s.saleCount).toBe(inFirst.size);
  const s2 = await computeSettlement(db, next, Date.now());
  const st2 = await buildStatement(db, s2.settlementId);
  const inSecond = new Set(st2.items.map((i) => i.saleId));
  for (const m of made) expect(inFirst.has(m.saleId) !== inSecond.has(m.saleId)).toBe(true);
  expect(st2.items.every((i) => i.late)).toBe(true);
  // Nothing of the railway sold before the second period's end is left unclaimed.
  const all = await db('sales').where({ issuer_id: R }).andWhere('sold_at_ms', '<', next.periodEndMs).pluck('id');
  expect(all.map(Number).sort((a, b) => a - b)).toEqual([...inFirst, ...inSecond].sort((a, b) => a - b));
});

test('payout: the Zengin file, approval, sent, bank confirmation, the ledger', async () => {
  const db = stack.db;
  const id = settlementIdFor(P, { label: '2025-01-10' });
  // No bank account (the demo seed gives one; take it away): retryable refusal, visible status.
  await db('issuers').where({ id: P }).update({ bank_code: null, account_number: null });
  await expect(preparePayoutInstruction(db, id, SETTINGS, Date.now())).rejects.toThrow(/no bank account/);
  expect((await db('settlements').where({ id }).first()).status).toBe('needs_bank_account');
  await giveBankAccounts(db);
  const ins = await preparePayoutInstruction(db, id, SETTINGS, Date.now());
  expect(await preparePayoutInstruction(db, id, SETTINGS, Date.now())).toEqual(ins);
  const s = (await db('settlements').where({ id }).first());
  expect(s.status).toBe('awaiting_approval');
  expect(ins).toMatchObject({ amountMinor: n(s.payout_minor), transferDate: '2025-01-14' }); // 2 business days after Fri 10th
  const rows = await db('payout_instructions').where({ settlement_id: id });
  expect(rows).toHaveLength(1);
  const decoded = decodeZenginTransfer(Buffer.from(rows[0].file));
  expect(decoded.header).toMatchObject({ transferDate: '0114', requesterCode: '0000000001' });
  expect(decoded.records).toHaveLength(1);
  expect(decoded.records[0]).toMatchObject({ bankCode: BANK.bank_code, branchCode: BANK.branch_code, accountNumber: BANK.account_number, payeeName: BANK.account_holder_kana, amountMinor: n(s.payout_minor) });
  expect(decoded.totalAmountMinor).toBe(n(s.payout_minor));

  // Not sent before approval; confirmation before sending changes nothing.
  expect((await markPayoutSent(db, id, Date.now())).status).toBe('awaiting_approval');
  expect((await confirmPayout(db, id, { bankReference: 'X', confirmedBy: 'bank' }, Date.now())).status).toBe('awaiting_approval');
  const approved = await approveSettlement(db, id, 'alice', Date.now());
  expect(approved).toMatchObject({ status: 'approved', approvedBy: 'alice' });
  expect((await approveSettlement(db, id, 'mallory', Date.now())).approvedBy).toBe('alice');
  expect((await markPayoutSent(db, id, Date.now())).status).toBe('sent');
  const before = await payableBalance(db, P);
  const paid = await confirmPayout(db, id, { bankReference: 'ZB-0001', confirmedBy: 'bob' }, Date.now());
  expect(paid).toMatchObject({ status: 'paid', bankReference: 'ZB-0001', confirmedBy: 'bob' });
  await confirmPayout(db, id, { bankReference: 'ZB-0002', confirmedBy: 'bob' }, Date.now());
  expect(await payableBalance(db, P)).toBe(before - n(s.payout_minor));
  expect(await db('ledger_transactions').where({ kind: 'payout' })).toHaveLength(1);
  expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);
});

test('compute with the payout in one step: the same file as the separate step, once under concurrent runs; no bank account falls back', async () => {
  const db = stack.db;
  // Railway: computed and instructed in one transaction, three runs at once.
  const d = input(R, '2025-02-14');
  await makeSale(db, { issuerId: R, priceMinor: 30000, soldAtMs: d.periodStartMs + HOUR });
  await makeSale(db, { issuerId: R, priceMinor: 12000, soldAtMs: d.periodStartMs + 2 * HOUR });
  const runs = await Promise.all([1, 2, 3].map(() => computeSettlementWithPayout(db, d, SETTINGS, Date.now())));
  const row = await db('settlements').where({ id: d.settlementId }).first();
  expect(row.status).toBe('awaiting_approval');
  const files = await db('payout_instructions').where({ settlement_id: d.settlementId });
  expect(files).toHaveLength(1);
  for (const r of runs) {
    expect(r.summary).toMatchObject({ status: 'awaiting_approval', payoutMinor: n(row.payout_minor), netMinor: n(row.net_minor) });
    expect(r.payoutInstruction).toEqual({ settlementId: d.settlementId, amountMinor: n(row.payout_minor), transferDate: '2025-02-18', format: 'zengin', fileSha256: files[0].file_sha256 });
  }
  // The file is the one the separate step makes for the same settlement (decoded: payee, amount, date).
  const decoded = decodeZenginTransfer(Buffer.from(files[0].file));
  expect(decoded.header).toMatchObject({ transferDate: '0218', requesterCode: '0000000001' });
  expect(decoded.records[0]).toMatchObject({ bankCode: BANK.bank_code, accountNumber: BANK.account_number, amountMinor: n(row.payout_minor) });
  expect(await preparePayoutInstruction(db, d.settlementId, SETTINGS, Date.now())).toEqual(runs[0].payoutInstruction);
  // Run again later: found, nothing new.
  expect(await computeSettlementWithPayout(db, d, SETTINGS, Date.now())).toEqual(runs[0]);
  expect(await db('payout_instructions').where({ settlement_id: d.settlementId })).toHaveLength(1);

  // Promoter without a bank account: computed, no file, needs_bank_account; once entered, the next run writes it.
  const e = input(P, '2025-02-14');
  await makeSale(db, { issuerId: P, priceMinor: 8000, soldAtMs: e.periodStartMs + HOUR });
  await db('issuers').where({ id: P }).update({ account_number: null });
  const waiting = await computeSettlementWithPayout(db, e, SETTINGS, Date.now());
  expect(waiting).toMatchObject({ summary: { status: 'needs_bank_account' }, payoutInstruction: null });
  expect((await db('settlements').where({ id: e.settlementId }).first()).status).toBe('needs_bank_account');
  expect(await db('payout_instructions').where({ settlement_id: e.settlementId })).toHaveLength(0);
  await giveBankAccounts(db);
  const done = await computeSettlementWithPayout(db, e, SETTINGS, Date.now());
  expect(done.summary.status).toBe('awaiting_approval');
  expect(done.payoutInstruction).toMatchObject({ amountMinor: waiting.summary.payoutMinor });
  expect((await db('settlements').where({ id: e.settlementId }).first()).status).toBe('awaiting_approval');
  expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);
});
