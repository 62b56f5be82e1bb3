/**
 * Property-based (fast-check): random days of sales across issuers, refunds of sold cards, fee
 * rule changes, late arrivals (a sale recorded after its day was settled) and repeated or
 * overlapping settlement runs, on a fresh SQLite database per case. After settling everything and
 * paying every payout: each sale and refund is in exactly one settlement, every statement's
 * totals are its items', late flags are right, the ledger's invariants hold, and each yen is paid
 * exactly once: Σ payouts + the debt still carried = Σ sales' net − Σ refunds' net, per issuer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { checkLedger } from '../../activities/center/ledger-check';
import { approveSettlement, buildStatement, computeSettlement, confirmPayout, markPayoutSent, preparePayoutInstruction, settlementStatement, type PayoutSettings } from '../../activities/center/settlement';
import { periodForDate, settlementIdFor } from '../../domain/settlement-period';
import { createDb, isUniqueViolation, type Db } from '../../lib/db';
import { migrateLatest } from '../../migrations';
import { DEMO_ISSUERS, seedDemo } from '../../migrations/seeds/demo';
import { giveBankAccounts, makeRefund, makeSale, n, salesWithSettlement, type MadeSale } from './fixtures';

const SETTINGS: PayoutSettings = {
  header: { requesterCode: '0000000001', requesterName: 'ﾃﾞﾓｾﾝﾀ-', bankCode: '0001', bankName: 'ﾐｽﾞﾎ', branchCode: '001', branchName: 'ﾄｳｷﾖｳ', accountType: '1', accountNumber: '1234567' },
  payoutLagDays: 2,
};
const ISSUERS = [DEMO_ISSUERS.promoter, DEMO_ISSUERS.railway, DEMO_ISSUERS.telco];
const DAYS = ['2025-06-02', '2025-06-03', '2025-06-04', '2025-06-05', '2025-06-06'];
const periods = DAYS.map((d) => periodForDate(d));
const DAY_MS = 86_400_000;

type Event =
  | { t: 'sale'; issuer: number; day: number; price: number; at: number }
  | { t: 'refund'; which: number; laterDays: number; at: number }
  | { t: 'fee'; issuer: number; day: number; bps: number; fixed: number; at: number }
  | { t: 'settle'; issuer: number; day: number; times: number };

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('sale' as const), issuer: fc.nat(2), day: fc.nat(3), price: fc.integer({ min: 0, max: 60000 }), at: fc.nat(DAY_MS - 1) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('refund' as const), which: fc.nat(), laterDays: fc.nat(2), at: fc.nat(DAY_MS - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fee' as const), issuer: fc.nat(2), day: fc.nat(3), bps: fc.integer({ min: 0, max: 3000 }), fixed: fc.integer({ min: 0, max: 200 }), at: fc.nat(DAY_MS - 1) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('settle' as const), issuer: fc.nat(2), day: fc.nat(3), times: fc.integer({ min: 1, max: 3 }) }) },
);

function settleInput(issuerId: string, day: number) {
  const p = periods[day];
  return { settlementId: settlementIdFor(issuerId, p), issuerId, periodStartMs: p.startMs, periodEndMs: p.endMs, periodLabel: p.label };
}

async function freshDb(dir: string, i: number): Promise<Db> {
  const db = createDb(`sqlite:${path.join(dir, `p${i}.sqlite`)}`, dir);
  await migrateLatest(db);
  await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/none', terminalIds: ['T-P'] });
  await giveBankAccounts(db);
  return db;
}

test('random days settle every yen exactly once', async () => {
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'settle-prop-'));
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 40 }), async (events) => {
      const db = await freshDb(dir, run++);
      try {
        const sales: MadeSale[] = [];
        const refunded = new Set<string>();
        const lateExpected = new Set<number>();
        const settled = new Set<string>(); // `${issuer}/${day}` settled so far
        for (const e of events) {
          if (e.t === 'sale') {
            const issuerId = ISSUERS[e.issuer];
            const s = await makeSale(db, { issuerId, priceMinor: e.price, soldAtMs: periods[e.day].startMs + e.at, terminalId: 'T-P' });
            sales.push(s);
            // Its own period already settled: it must land in a later one, flagged late.
            if (settled.has(`${issuerId}/${e.day}`)) lateExpected.add(s.saleId);
          } else if (e.t === 'refund' && sales.length > 0) {
            const s = sales[e.which % sales.length];
            const day = Math.min(periods.length - 1, DAYS.findIndex((_, i) => periods[i].startMs <= s.soldAtMs && s.soldAtMs < periods[i].endMs) + e.laterDays);
            const at = Math.max(s.soldAtMs, periods[day].startMs + e.at);
            await makeRefund(db, s.issuanceId, at);
            refunded.add(s.issuanceId);
          } else if (e.t === 'fee') {
            try {
              await db('fee_rules').insert({ issuer_id: ISSUERS[e.issuer], product_type: null, bps: e.bps, fixed_minor: e.fixed, reissue_fee_minor: 0, effective_from_ms: periods[e.day].startMs + e.at, created_at_ms: 0 });
            } catch (err) {
              if (!isUniqueViolation(err)) throw err;
            }
          } else if (e.t === 'settle') {
            const issuerId = ISSUERS[e.issuer];
            // Repeated and overlapping runs of the same period.
            const results = await Promise.all(Array.from({ length: e.times }, () => computeSettlement(db, settleInput(issuerId, e.day), 0)));
            for (const r of results) expect(r).toEqual(results[0]);
            settled.add(`${issuerId}/${e.day}`);
          }
        }
        // Settle everything through the last day (the last day catches every leftover), render, pay.
        for (const issuerId of ISSUERS) for (let d = 0; d < periods.length; d++) await computeSettlement(db, settleInput(issuerId, d), 0);
        const all = await db('settlements').select('*');
        for (const s of all) {
          await settlementStatement(db, s.id, 0);
          const st = await buildStatement(db, s.id);
          for (const it of st.items) expect(it.late).toBe(it.soldAtMs < st.periodStartMs);
          if (n(s.payout_minor) > 0) {
            await preparePayoutInstruction(db, s.id, SETTINGS, 0);
            await approveSettlement(db, s.id, 'prop', 0);
            await markPayoutSent(db, s.id, 0);
            await confirmPayout(db, s.id, { bankReference: `B-${s.id}`, confirmedBy: 'bank' }, 0);
          }
        }
        // Each sale and refund in exactly one settlement.
        expect(n((await salesWithSettlement(db).whereNull('b.settlement_id').count({ c: '*' }).first())?.c)).toBe(0);
        expect(n((await db('sale_refunds').whereNull('settlement_id').count({ c: '*' }).first())?.c)).toBe(0);
        expect(n((await db('sale_refunds').count({ c: '*' }).first())?.c)).toBe(refunded.size);
        for (const id of lateExpected) {
          const sale = await salesWithSettlement(db).join('settlements as t', 't.id', 'b.settlement_id').where('s.id', id).first('s.sold_at_ms', 't.period_start_ms');
          expect(n(sale.sold_at_ms)).toBeLessThan(n(sale.period_start_ms));
        }
        // Each yen exactly once, per issuer.
        for (const issuerId of ISSUERS) {
          const salesNet = n((await db('sales').where({ issuer_id: issuerId }).sum({ s: 'issuer_net_minor' }).first())?.s);
          const refundsNet = n((await db('sale_refunds').where({ issuer_id: issuerId }).sum({ s: 'issuer_net_minor' }).first())?.s);
          const mine = all.filter((s) => s.issuer_id === issuerId).map((s) => s.id);
          const rows = await db('settlements').whereIn('id', mine);
          const payouts = rows.reduce((x, r) => x + n(r.payout_minor), 0);
          const openDebt = rows.filter((r) => r.carried_to_settlement_id === null).reduce((x, r) => x + n(r.carried_out_minor), 0);
          expect(payouts + openDebt).toBe(salesNet - refundsNet);
          expect(rows.filter((r) => r.carried_to_settlement_id === null && n(r.carried_out_minor) < 0).length).toBeLessThanOrEqual(1);
          const paidInLedger = n((await db('ledger_entries as e').join('ledger_transactions as t', 't.id', 'e.transaction_id').where({ 't.kind': 'payout', 'e.account': `issuer_payable:${issuerId}` }).sum({ s: 'e.amount_minor' }).first())?.s);
          expect(paidInLedger).toBe(payouts);
          expect(n((await db('payout_instructions').where({ issuer_id: issuerId }).count({ c: '*' }).first())?.c)).toBe(rows.filter((r) => n(r.payout_minor) > 0).length);
        }
        expect((await checkLedger(db)).filter((c) => !c.ok)).toEqual([]);
      } finally {
        await db.destroy();
      }
    }),
    { numRuns: Number(process.env.SETTLEMENT_PROP_RUNS ?? 4), interruptAfterTimeLimit: 200_000, endOnFailure: process.env.SETTLEMENT_PROP_SHRINK !== "1" },
  );
  fs.rmSync(dir, { recursive: true, force: true });
}, 300_000);
