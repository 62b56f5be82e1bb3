/**
 * Settlement activities: what the settlement workflow does to the database, each step idempotent.
 *
 * computeSettlement — one DB transaction: the settlement row (unique per issuer and period start;
 *   a retry or a second run finds it and changes nothing), then set-based claims: every open
 *   settlement batch of the issuer whose period ended by the period's end (`UPDATE
 *   settlement_batches SET settlement_id = ? WHERE issuer_id = ? AND settlement_id IS NULL AND
 *   period_end_ms <= ?`; each sale went into its batch when it was recorded, see
 *   settlement-batches.ts), every unsettled refund (`UPDATE sale_refunds …`, row by row: few),
 *   and every negative balance of the issuer's earlier settlements not yet carried anywhere. A sale recorded after its own period was
 *   settled went into a later batch and is flagged late (sold before this period's start). Totals
 *   are SQL sums over what was claimed. net = Σ sales' issuer net − Σ refunds' issuer net + carried
 *   in; a negative net is carried forward instead of paid.
 * settlementStatement — the statement (CSV and JSON) from the claimed rows, checked against the
 *   stored totals, rendered on demand and stored once (written only while `statement_sha256` is
 *   null). Not a workflow step: the items are fixed by the claim, so it is the same whenever asked.
 * preparePayoutInstruction — the Zengin transfer file for a positive payout, one per settlement
 *   (`payout_instructions.settlement_id` unique). Retried while the issuer has no bank account.
 * computeSettlementWithPayout — the two above as one workflow step (one local activity, one
 *   workflow activation fewer per settlement); without a bank account it returns no instruction
 *   and the workflow falls back to retrying preparePayoutInstruction.
 * approveSettlement / markPayoutSent / confirmPayout — conditional status updates
 *   (awaiting_approval → approved → sent → paid); the payout's ledger transaction
 *   (issuer payable → operator bank, kind 'payout', ref = settlement id) is posted with `paid`.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { issuerPaidOut } from '../../domain/ledger';
import { businessDayAfter } from '../../domain/settlement-period';
import { renderStatementCsv, renderStatementJson, statementTotals, type SettlementItem, type SettlementStatement } from '../../domain/settlement-statement';
import { encodeZenginTransfer, type ZenginHeader, type ZenginRecord } from '../../domain/zengin';
import { loadConfig, type Config } from '../../lib/config';
import { isMysql, isUniqueViolation, rawRows } from '../../lib/db';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { postTransaction } from './ledger';

export type SettlementStatus = 'computing' | 'computed' | 'needs_bank_account' | 'awaiting_approval' | 'approved' | 'sent' | 'paid' | 'carried_forward' | 'closed';

export interface SettlementPeriodInput {
  settlementId: string;
  issuerId: string;
  periodStartMs: number;
  periodEndMs: number;
  /** Local date of the period's start (YYYY-MM-DD). */
  periodLabel: string;
}

export interface SettlementSummary {
  settlementId: string;
  issuerId: string;
  currency: string;
  periodStartMs: number;
  periodEndMs: number;
  periodLabel: string;
  status: SettlementStatus;
  saleCount: number;
  refundCount: number;
  lateCount: number;
  grossMinor: number;
  feesMinor: number;
  refundsMinor: number;
  carriedInMinor: number;
  netMinor: number;
  payoutMinor: number;
  carriedOutMinor: number;
  carriedToSettlementId: string | null;
  statementSha256: string | null;
  approvedBy: string | null;
  approvedAtMs: number | null;
  sentAtMs: number | null;
  bankReference: string | null;
  confirmedBy: string | null;
  paidAtMs: number | null;
  createdAtMs: number;
}

export interface PayoutInstructionInfo {
  settlementId: string;
  amountMinor: number;
  transferDate: string;
  format: 'zengin';
  fileSha256: string;
}

/** The payout's settings: the operator's account (Zengin header) and the transfer date lag. */
export interface PayoutSettings {
  header: Omit<ZenginHeader, 'transferDate'>;
  payoutLagDays: number;
}

export function payoutSettingsFrom(config: Config): PayoutSettings {
  return {
    header: {
      requesterCode: config.PAYOUT_REQUESTER_CODE,
      requesterName: config.PAYOUT_REQUESTER_NAME,
      bankCode: config.PAYOUT_BANK_CODE,
      bankName: config.PAYOUT_BANK_NAME,
      branchCode: config.PAYOUT_BRANCH_CODE,
      branchName: config.PAYOUT_BRANCH_NAME,
      accountType: config.PAYOUT_ACCOUNT_TYPE,
      accountNumber: config.PAYOUT_ACCOUNT_NUMBER,
    },
    payoutLagDays: config.SETTLEMENT_PAYOUT_LAG_DAYS,
  };
}

const n = (v: unknown) => Number(v ?? 0);
const nOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export function toSummary(r: Record<string, unknown>): SettlementSummary {
  return {
    settlementId: String(r.id),
    issuerId: String(r.issuer_id),
    currency: String(r.currency),
    periodStartMs: n(r.period_start_ms),
    periodEndMs: n(r.period_end_ms),
    periodLabel: String(r.period_label),
    status: r.status as SettlementStatus,
    saleCount: n(r.sale_count),
    refundCount: n(r.refund_count),
    lateCount: n(r.late_count),
    grossMinor: n(r.gross_minor),
    feesMinor: n(r.fees_minor),
    refundsMinor: n(r.refunds_minor),
    carriedInMinor: n(r.carried_in_minor),
    netMinor: n(r.net_minor),
    payoutMinor: n(r.payout_minor),
    carriedOutMinor: n(r.carried_out_minor),
    carriedToSettlementId: (r.carried_to_settlement_id as string | null) ?? null,
    statementSha256: (r.statement_sha256 as string | null) ?? null,
    approvedBy: (r.approved_by as string | null) ?? null,
    approvedAtMs: nOrNull(r.approved_at_ms),
    sentAtMs: nOrNull(r.sent_at_ms),
    bankReference: (r.bank_reference as string | null) ?? null,
    confirmedBy: (r.confirmed_by as string | null) ?? null,
    paidAtMs: nOrNull(r.paid_at_ms),
    createdAtMs: n(r.created_at_ms),
  };
}

/**
 * READ COMMITTED on MySQL: the claim's UPDATE waits for the sales still going into the batches it
 * claims (their shared locks), and the sums that follow must then see those sales; a REPEATABLE
 * READ snapshot taken before the wait would not. It also takes no gap locks, so one issuer's
 * claim never waits on another's.
 */
function claimIsolation(db: Knex): Knex.TransactionConfig | undefined {
  return isMysql(db) ? { isolationLevel: 'read committed' } : undefined;
}

/**
 * Computes and stores the settlement of one issuer and period (see the file header). Safe to run
 * any number of times, concurrently too: the first run's result is returned to every later one.
 */
export async function computeSettlement(db: Knex, input: SettlementPeriodInput, nowMs: number): Promise<SettlementSummary> {
  return (await computeInOneTransaction(db, input, nowMs, null)).summary;
}

/**
 * The computation; with payout settings, a fresh settlement with a positive payout whose issuer
 * has a bank account also gets its payout instruction in the same transaction (status
 * awaiting_approval at once). A settlement that already existed is returned as it is.
 */
async function computeInOneTransaction(db: Knex, input: SettlementPeriodInput, nowMs: number, settings: PayoutSettings | null): Promise<ComputedSettlement> {
  if (!(input.periodStartMs < input.periodEndMs)) throw refuse('InvariantBroken', `settlement ${input.settlementId}: empty period`);
  const id = input.settlementId;
  // Few round trips: this runs once per issuer and period, many at once at the closing time. A
  // settlement that already exists makes the insert fail (unique id), and is read back below.
  const run = () =>
    db.transaction(async (trx) => {
      const issuer = await trx('issuers').where({ id: input.issuerId }).first('id', 'currency', ...BANK_ACCOUNT_COLUMNS);
      if (!issuer) throw refuse('UnknownItem', `no issuer ${input.issuerId}`);
      const inserted = {
        id,
        issuer_id: input.issuerId,
        currency: issuer.currency,
        period_start_ms: input.periodStartMs,
        period_end_ms: input.periodEndMs,
        period_label: input.periodLabel,
        status: 'computing',
        created_at_ms: nowMs,
        updated_at_ms: nowMs,
      };
      await trx('settlements').insert(inserted);
      // Claims: whole batches of sales (a few rows, whatever the volume), then refunds row by row
      // (few). A batch is claimed once its period has ended by this period's end, so no sale sold
      // after the period is ever claimed; each batch, and so each sale, to exactly one settlement.
      await trx('settlement_batches').where({ issuer_id: input.issuerId }).whereNull('settlement_id').andWhere('period_end_ms', '<=', input.periodEndMs).update({ settlement_id: id });
      await trx('sale_refunds').where({ issuer_id: input.issuerId }).whereNull('settlement_id').andWhere('refunded_at_ms', '<', input.periodEndMs).update({ settlement_id: id });
      await trx('settlements')
        .where({ issuer_id: input.issuerId })
        .whereNot({ id })
        .whereNull('carried_to_settlement_id')
        .andWhere('carried_out_minor', '<', 0)
        .update({ carried_to_settlement_id: id });

      // The sums over what was claimed, in one query: sales (through their batches), refunds, carried in.
      const [t] = rawRows(
        trx,
        await trx.raw(
          `SELECT s.c AS sc, s.gross, s.fees AS sfees, s.net AS snet, s.late AS slate, r.c AS rc, r.price AS rprice, r.fees AS rfees, r.net AS rnet, r.late AS rlate, k.carried
           FROM (SELECT count(*) AS c, coalesce(sum(price_minor), 0) AS gross, coalesce(sum(operator_fee_minor), 0) AS fees, coalesce(sum(issuer_net_minor), 0) AS net,
                        coalesce(sum(case when sold_at_ms < ? then 1 else 0 end), 0) AS late
                 FROM sales WHERE batch_id IN (SELECT id FROM settlement_batches WHERE settlement_id = ?)) s
           CROSS JOIN (SELECT count(*) AS c, coalesce(sum(price_minor), 0) AS price, coalesce(sum(operator_fee_minor), 0) AS fees, coalesce(sum(issuer_net_minor), 0) AS net,
                        coalesce(sum(case when refunded_at_ms < ? then 1 else 0 end), 0) AS late
                 FROM sale_refunds WHERE settlement_id = ?) r
           CROSS JOIN (SELECT coalesce(sum(carried_out_minor), 0) AS carried FROM settlements WHERE carried_to_settlement_id = ?) k`,
          [input.periodStartMs, id, input.periodStartMs, id, id],
        ),
      );
      const carriedIn = n(t.carried);
      const net = n(t.snet) - n(t.rnet) + carriedIn;
      const payout = Math.max(net, 0);
      let status: SettlementStatus = payout > 0 ? 'computed' : net < 0 ? 'carried_forward' : 'closed';
      let payoutInstruction: PayoutInstructionInfo | null = null;
      if (payout > 0 && settings && hasBankAccount(issuer)) {
        const file = payoutFile(issuer, payout, input.periodLabel, settings);
        await trx('payout_instructions').insert({ settlement_id: id, issuer_id: input.issuerId, amount_minor: payout, currency: issuer.currency, transfer_date: file.transferDate, format: 'zengin', file: file.bytes, file_sha256: file.sha256, created_at_ms: nowMs });
        payoutInstruction = { settlementId: id, amountMinor: payout, transferDate: file.transferDate, format: 'zengin', fileSha256: file.sha256 };
        status = 'awaiting_approval';
      }
      const totals = {
        status,
        sale_count: n(t.sc),
        refund_count: n(t.rc),
        late_count: n(t.slate) + n(t.rlate),
        gross_minor: n(t.gross),
        fees_minor: n(t.sfees) - n(t.rfees),
        refunds_minor: n(t.rprice),
        carried_in_minor: carriedIn,
        net_minor: net,
        payout_minor: payout,
        carried_out_minor: Math.min(net, 0),
        updated_at_ms: nowMs,
      };
      await trx('settlements').where({ id }).update(totals);
      // The row as it now stands (the columns a fresh settlement has not set yet are null).
      return { summary: toSummary({ ...inserted, ...totals }), payoutInstruction };
    }, claimIsolation(db));
  try {
    return await run();
  } catch (err) {
    // This settlement was computed before (a retry, a second run), or a concurrent run committed
    // first: return that result.
    if (isUniqueViolation(err)) {
      const row = await db('settlements').where({ id }).first();
      if (row) return { summary: toSummary(row), payoutInstruction: null };
      const other = await db('settlements').where({ issuer_id: input.issuerId, period_start_ms: input.periodStartMs }).first('id');
      if (other) throw refuse('InvariantBroken', `issuer ${input.issuerId}'s period starting ${input.periodStartMs} is already settled as ${other.id}`);
    }
    throw err;
  }
}

/** A settlement's items, in statement order: sales, then refunds, each by time and sale id. */
export async function settlementItems(db: Knex, settlementId: string, periodStartMs: number): Promise<SettlementItem[]> {
  const sales = await db('sales as s')
    .whereIn('s.batch_id', db('settlement_batches').select('id').where({ settlement_id: settlementId }))
    .orderBy([{ column: 's.sold_at_ms' }, { column: 's.id' }])
    .select('s.id', 's.issuance_id', 's.card_id', 's.title', 's.sold_at_ms', 's.price_minor', 's.operator_fee_minor', 's.issuer_net_minor');
  const refunds = await db('sale_refunds as r')
    .join('issuances as i', 'i.id', 'r.issuance_id')
    .where('r.settlement_id', settlementId)
    .orderBy([{ column: 'r.refunded_at_ms' }, { column: 'r.sale_id' }])
    .select('r.sale_id', 'r.issuance_id', 'r.card_id', 'i.title', 'r.refunded_at_ms', 'r.price_minor', 'r.operator_fee_minor', 'r.issuer_net_minor');
  return [
    ...sales.map((x): SettlementItem => ({
      kind: 'sale',
      saleId: n(x.id),
      issuanceId: x.issuance_id,
      cardId: x.card_id,
      title: x.title,
      soldAtMs: n(x.sold_at_ms),
      priceMinor: n(x.price_minor),
      operatorFeeMinor: n(x.operator_fee_minor),
      issuerNetMinor: n(x.issuer_net_minor),
      late: n(x.sold_at_ms) < periodStartMs,
    })),
    ...refunds.map((x): SettlementItem => ({
      kind: 'refund',
      saleId: n(x.sale_id),
      issuanceId: x.issuance_id,
      cardId: x.card_id,
      title: x.title,
      soldAtMs: n(x.refunded_at_ms),
      priceMinor: -n(x.price_minor),
      operatorFeeMinor: -n(x.operator_fee_minor),
      issuerNetMinor: -n(x.issuer_net_minor),
      late: n(x.refunded_at_ms) < periodStartMs,
    })),
  ];
}

/** The full statement of a computed settlement, checked against its stored totals. */
export async function buildStatement(db: Knex, settlementId: string): Promise<SettlementStatement> {
  const row = await db('settlements as s').join('issuers as i', 'i.id', 's.issuer_id').where('s.id', settlementId).first('s.*', 'i.name as issuer_name');
  if (!row) throw refuse('UnknownItem', `no settlement ${settlementId}`);
  const sum = toSummary(row);
  if (sum.status === 'computing') throw refuse('InvariantBroken', `settlement ${settlementId} is still being computed`);
  const items = await settlementItems(db, settlementId, sum.periodStartMs);
  const totals = statementTotals(items, sum.carriedInMinor);
  const stored = { grossMinor: sum.grossMinor, feesMinor: sum.feesMinor, refundsMinor: sum.refundsMinor, netMinor: sum.netMinor, payoutMinor: sum.payoutMinor, carriedOutMinor: sum.carriedOutMinor };
  for (const k of Object.keys(stored) as (keyof typeof stored)[]) {
    if (stored[k] !== totals[k]) throw refuse('InvariantBroken', `settlement ${settlementId}: stored ${k} ${stored[k]} ≠ ${totals[k]} from its items`);
  }
  return {
    settlementId,
    issuerId: sum.issuerId,
    issuerName: row.issuer_name,
    currency: sum.currency,
    periodStartMs: sum.periodStartMs,
    periodEndMs: sum.periodEndMs,
    items,
    carriedInMinor: sum.carriedInMinor,
    ...totals,
  };
}

/** A settlement's statement documents; the first rendering is stored and every later one is that. */
export interface StatementDocuments {
  csv: string;
  json: string;
  sha256: string;
}

/**
 * The statement of a computed settlement, rendered on demand (finance and issuer APIs) rather
 * than by the settlement workflow: its items are fixed once the settlement has claimed its
 * batches, so every rendering is the same, and a big period's statement (10,000s of items) stays
 * off the path that settles the money. The first rendering is stored with its SHA-256 (written
 * only while `statement_sha256` is null) and returned from then on.
 */
export async function settlementStatement(db: Knex, settlementId: string, nowMs: number): Promise<StatementDocuments> {
  const done = await db('settlements').where({ id: settlementId }).first('statement_sha256', 'statement_csv', 'statement_json');
  if (done?.statement_sha256) return { csv: done.statement_csv, json: done.statement_json, sha256: done.statement_sha256 };
  const statement = await buildStatement(db, settlementId);
  const csv = renderStatementCsv(statement);
  const json = renderStatementJson(statement);
  const sha256 = createHash('sha256').update(csv).digest('hex');
  await db('settlements').where({ id: settlementId }).whereNull('statement_sha256').update({ statement_csv: csv, statement_json: json, statement_sha256: sha256, updated_at_ms: nowMs });
  const stored = await db('settlements').where({ id: settlementId }).first('statement_sha256', 'statement_csv', 'statement_json');
  return { csv: stored.statement_csv, json: stored.statement_json, sha256: stored.statement_sha256 };
}

function mmdd(isoDate: string): string {
  return isoDate.slice(5, 7) + isoDate.slice(8, 10);
}

/** The issuer columns a payout needs (the payee's account). */
const BANK_ACCOUNT_COLUMNS = ['bank_code', 'bank_name', 'branch_code', 'branch_name', 'account_type', 'account_number', 'account_holder_kana'] as const;
type BankAccountRow = Partial<Record<(typeof BANK_ACCOUNT_COLUMNS)[number], string | null>>;

function hasBankAccount(r: BankAccountRow): boolean {
  return !!(r.bank_code && r.branch_code && r.account_number && r.account_holder_kana && r.account_type);
}

/** The Zengin transfer file paying `amountMinor` to the issuer's account, on the period's payout date. */
function payoutFile(r: BankAccountRow, amountMinor: number, periodLabel: string, settings: PayoutSettings): { transferDate: string; bytes: Buffer; sha256: string } {
  const transferDate = businessDayAfter(periodLabel, settings.payoutLagDays);
  const bytes = encodeZenginTransfer({ ...settings.header, transferDate: mmdd(transferDate) }, [
    {
      bankCode: r.bank_code!,
      bankName: r.bank_name ?? '',
      branchCode: r.branch_code!,
      branchName: r.branch_name ?? '',
      accountType: r.account_type as ZenginRecord['accountType'], // checked by the encoder
      accountNumber: r.account_number!,
      payeeName: r.account_holder_kana!,
      amountMinor,
    },
  ]);
  return { transferDate, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export async function preparePayoutInstruction(db: Knex, settlementId: string, settings: PayoutSettings, nowMs: number): Promise<PayoutInstructionInfo | null> {
  const existing = await db('payout_instructions').where({ settlement_id: settlementId }).first();
  if (existing) return { settlementId, amountMinor: n(existing.amount_minor), transferDate: existing.transfer_date, format: 'zengin', fileSha256: existing.file_sha256 };
  const row = await db('settlements as s').join('issuers as i', 'i.id', 's.issuer_id').where('s.id', settlementId).first('s.*', ...BANK_ACCOUNT_COLUMNS.map((c) => `i.${c}`));
  if (!row) throw refuse('UnknownItem', `no settlement ${settlementId}`);
  const sum = toSummary(row);
  if (sum.payoutMinor <= 0) return null;
  if (!hasBankAccount(row)) {
    await db('settlements').where({ id: settlementId }).whereIn('status', ['computed']).update({ status: 'needs_bank_account', updated_at_ms: nowMs });
    // Retryable: the workflow keeps trying (with backoff) until finance enters the account.
    throw ApplicationFailure.retryable(`issuer ${sum.issuerId} has no bank account for payouts; enter it and the settlement continues`, 'MissingBankAccount');
  }
  const { transferDate, bytes: file, sha256: fileSha256 } = payoutFile(row, sum.payoutMinor, sum.periodLabel, settings);
  try {
    await db.transaction(async (trx) => {
      await trx('payout_instructions').insert({ settlement_id: settlementId, issuer_id: sum.issuerId, amount_minor: sum.payoutMinor, currency: sum.currency, transfer_date: transferDate, format: 'zengin', file, file_sha256: fileSha256, created_at_ms: nowMs });
      await trx('settlements').where({ id: settlementId }).whereIn('status', ['computed', 'needs_bank_account']).update({ status: 'awaiting_approval', updated_at_ms: nowMs });
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  const stored = await db('payout_instructions').where({ settlement_id: settlementId }).first();
  return { settlementId, amountMinor: n(stored.amount_minor), transferDate: stored.transfer_date, format: 'zengin', fileSha256: stored.file_sha256 };
}

export interface ComputedSettlement {
  summary: SettlementSummary;
  /** The payout's transfer file, or null: no payout, or the issuer has no bank account yet. */
  payoutInstruction: PayoutInstructionInfo | null;
}

/**
 * computeSettlement, writing the payout instruction in the same transaction when it can; a
 * settlement that already existed (a rerun) or an issuer without a bank account goes through
 * preparePayoutInstruction (each idempotent on its own).
 */
export async function computeSettlementWithPayout(db: Knex, input: SettlementPeriodInput, settings: PayoutSettings, nowMs: number): Promise<ComputedSettlement> {
  const computed = await computeInOneTransaction(db, input, nowMs, settings);
  const { summary } = computed;
  if (computed.payoutInstruction || summary.payoutMinor <= 0) return computed;
  try {
    const payoutInstruction = await preparePayoutInstruction(db, input.settlementId, settings, nowMs);
    // The instruction's transaction moved a computed settlement on, as it did in the database.
    return { summary: summary.status === 'computed' || summary.status === 'needs_bank_account' ? { ...summary, status: 'awaiting_approval' } : summary, payoutInstruction };
  } catch (err) {
    if (!(err instanceof ApplicationFailure && err.type === 'MissingBankAccount')) throw err;
    return { summary: summary.status === 'computed' ? { ...summary, status: 'needs_bank_account' } : summary, payoutInstruction: null };
  }
}

async function summaryOf(db: Knex, settlementId: string): Promise<SettlementSummary> {
  const row = await db('settlements').where({ id: settlementId }).first();
  if (!row) throw refuse('UnknownItem', `no settlement ${settlementId}`);
  return toSummary(row);
}

export async function approveSettlement(db: Knex, settlementId: string, approver: string, nowMs: number): Promise<SettlementSummary> {
  await db('settlements').where({ id: settlementId, status: 'awaiting_approval' }).update({ status: 'approved', approved_by: approver.slice(0, 100), approved_at_ms: nowMs, updated_at_ms: nowMs });
  return summaryOf(db, settlementId);
}

export async function markPayoutSent(db: Knex, settlementId: string, nowMs: number): Promise<SettlementSummary> {
  await db('settlements').where({ id: settlementId, status: 'approved' }).update({ status: 'sent', sent_at_ms: nowMs, updated_at_ms: nowMs });
  return summaryOf(db, settlementId);
}

export async function confirmPayout(db: Knex, settlementId: string, confirmation: { bankReference: string; confirmedBy: string }, nowMs: number): Promise<SettlementSummary> {
  return db.transaction(async (trx) => {
    const row = await trx('settlements').where({ id: settlementId }).first();
    if (!row) throw refuse('UnknownItem', `no settlement ${settlementId}`);
    const changed = await trx('settlements')
      .where({ id: settlementId, status: 'sent' })
      .update({ status: 'paid', bank_reference: confirmation.bankReference.slice(0, 100), confirmed_by: confirmation.confirmedBy.slice(0, 100), paid_at_ms: nowMs, updated_at_ms: nowMs });
    if (changed !== 1) return toSummary(await trx('settlements').where({ id: settlementId }).first());
    await postTransaction(trx, {
      kind: 'payout',
      ref: settlementId,
      currency: row.currency,
      description: `Payout of settlement ${settlementId} (bank reference ${confirmation.bankReference})`,
      postings: issuerPaidOut(row.issuer_id, n(row.payout_minor)),
      atMs: nowMs,
    });
    return toSummary(await trx('settlements').where({ id: settlementId }).first());
  });
}

export interface SettlementDeps extends CenterDeps {
  payoutSettings?: PayoutSettings;
}

/**
 * Runs an activity's work while heartbeating every 2 s, so a worker that dies mid-step is noticed
 * after the workflow's heartbeat timeout (10 s) however long the step may take on a big period.
 */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined; // called outside an activity (tests, scripts)
  }
  // Local activities cannot heartbeat: their workflow task keeps them alive.
  if (ctx?.info.isLocal) ctx = undefined;
  const timer = ctx ? setInterval(() => ctx!.heartbeat(), 2_000) : undefined;
  try {
    ctx?.heartbeat();
    return await work();
  } finally {
    if (timer) clearInterval(timer);
  }
}

export function createSettlementActivities(deps: SettlementDeps) {
  const { db, now = Date.now } = deps;
  let settings = deps.payoutSettings;
  const payoutSettings = () => (settings ??= payoutSettingsFrom(loadConfig()));
  return {
    async computeSettlement(input: SettlementPeriodInput): Promise<SettlementSummary> {
      return heartbeating(() => computeSettlement(db, input, now()));
    },
    async computeSettlementWithPayout(input: SettlementPeriodInput): Promise<ComputedSettlement> {
      return heartbeating(() => computeSettlementWithPayout(db, input, payoutSettings(), now()));
    },
    async preparePayoutInstruction(settlementId: string): Promise<PayoutInstructionInfo | null> {
      return heartbeating(() => preparePayoutInstruction(db, settlementId, payoutSettings(), now()));
    },
    async approveSettlement(settlementId: string, approver: string): Promise<SettlementSummary> {
      return heartbeating(() => approveSettlement(db, settlementId, approver, now()));
    },
    async markPayoutSent(settlementId: string): Promise<SettlementSummary> {
      return heartbeating(() => markPayoutSent(db, settlementId, now()));
    },
    async confirmPayout(settlementId: string, confirmation: { bankReference: string; confirmedBy: string }): Promise<SettlementSummary> {
      return heartbeating(() => confirmPayout(db, settlementId, confirmation, now()));
    },
  };
}
