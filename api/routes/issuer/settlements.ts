/**
 * What the issuer sold and what it is paid: its sales, one issued card with the content it
 * carries, its settlements and their statements (CSV and JSON, exactly as stored by the
 * settlement workflow, activities/center/settlement.ts). Read-only.
 */
import { z } from 'zod';
import type { Db } from '../../../lib/db';
import { cardLinks } from '../../../activities/center/reissues';
import { issuedContent } from '../../../activities/center/issued-items';
import { settlementStatement, toSummary } from '../../../activities/center/settlement';
import { ApiError } from '../../errors';
import { isoTime, n, notFound, pageLimit } from './common';
import { route, type AnyRoute } from './route-def';

const date = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be YYYY-MM-DD');
const STATUSES = ['computing', 'computed', 'needs_bank_account', 'awaiting_approval', 'approved', 'sent', 'paid', 'carried_forward', 'closed'] as const;
const settlementId = z.string().regex(/^settlement-[a-z0-9][a-z0-9-]{0,39}-\d{4}-\d{2}-\d{2}$/, 'is not a settlement id');

const Settlement = z
  .object({
    settlementId: z.string(),
    periodLabel: z.string().describe('Local date of the period\'s start (YYYY-MM-DD)'),
    periodStart: z.string(),
    periodEnd: z.string(),
    status: z.enum(STATUSES),
    currency: z.string(),
    saleCount: z.number().int(),
    refundCount: z.number().int(),
    lateCount: z.number().int().describe('Items sold in an earlier period but recorded after it closed'),
    grossMinor: z.number().int(),
    feesMinor: z.number().int(),
    refundsMinor: z.number().int(),
    carriedInMinor: z.number().int(),
    netMinor: z.number().int(),
    payoutMinor: z.number().int(),
    carriedOutMinor: z.number().int(),
    carriedToSettlementId: z.string().nullable(),
    statementReady: z.boolean(),
    statementSha256: z.string().nullable().describe('SHA-256 of the CSV statement; null until the statement is first fetched (it is rendered on demand and then fixed)'),
    payout: z.object({ amountMinor: z.number().int(), transferDate: z.string(), sentAt: z.string().nullable(), paidAt: z.string().nullable(), bankReference: z.string().nullable() }).nullable(),
  })
  .meta({ id: 'Settlement' });

const StatementItem = z.object({ kind: z.enum(['sale', 'refund']), saleId: z.number().int(), issuanceId: z.string(), cardId: z.string(), title: z.string(), soldAtMs: z.number().int(), priceMinor: z.number().int(), operatorFeeMinor: z.number().int(), issuerNetMinor: z.number().int(), late: z.boolean() });
const Statement = z
  .looseObject({
    settlementId: z.string(),
    issuerId: z.string(),
    issuerName: z.string(),
    currency: z.string(),
    periodStartMs: z.number().int(),
    periodEndMs: z.number().int(),
    items: z.array(StatementItem),
    grossMinor: z.number().int(),
    feesMinor: z.number().int(),
    refundsMinor: z.number().int(),
    carriedInMinor: z.number().int(),
    netMinor: z.number().int(),
    payoutMinor: z.number().int(),
    carriedOutMinor: z.number().int(),
  })
  .meta({ id: 'Statement', description: 'The statement as stored (domain/settlement-statement.ts)' });

const Sale = z
  .object({
    saleId: z.number().int(),
    issuanceId: z.string(),
    cardId: z.string(),
    productId: z.number().int(),
    productType: z.string(),
    title: z.string(),
    priceMinor: z.number().int(),
    customerFeeMinor: z.number().int(),
    operatorFeeMinor: z.number().int(),
    issuerNetMinor: z.number().int(),
    currency: z.string(),
    soldAt: z.string(),
    terminalId: z.string(),
    settlementId: z.string().nullable(),
  })
  .meta({ id: 'Sale' });

const IssuedContent = z
  .union([
    z.object({ kind: z.literal('seat'), seatId: z.number().int(), performance: z.object({ id: z.number().int(), startsAt: z.string(), venue: z.string() }), seat: z.object({ section: z.string(), row: z.string(), number: z.number().int() }), seatClass: z.object({ code: z.string(), name: z.string() }) }),
    z.object({ kind: z.literal('fare'), fareId: z.number().int(), route: z.object({ id: z.number().int(), origin: z.string(), destination: z.string(), via: z.string().nullable() }), months: z.number().int() }),
    z.object({ kind: z.literal('prepaid'), valueId: z.number().int(), valueMinor: z.number().int() }),
  ])
  .meta({ id: 'IssuedContent' });
const Card = z
  .object({
    cardId: z.string(),
    status: z.string(),
    issuanceId: z.string(),
    productId: z.number().int(),
    productType: z.string(),
    title: z.string(),
    priceMinor: z.number().int(),
    customerFeeMinor: z.number().int(),
    currency: z.string(),
    issuedAt: z.string(),
    content: IssuedContent.nullable(),
    replacementFor: z.string().nullable().describe('the card this one replaces (a reissue)'),
    replacedBy: z.string().nullable().describe('the card that replaced this one once its reissue was collected'),
  })
  .meta({ id: 'Card' });

const SETTLEMENT_COLUMNS = [
  'id', 'issuer_id', 'currency', 'period_start_ms', 'period_end_ms', 'period_label', 'status', 'sale_count', 'refund_count', 'late_count', 'gross_minor', 'fees_minor', 'refunds_minor',
  'carried_in_minor', 'net_minor', 'payout_minor', 'carried_out_minor', 'carried_to_settlement_id', 'statement_sha256', 'sent_at_ms', 'paid_at_ms', 'bank_reference',
];

function settlementDto(r: Record<string, unknown>, payout: Record<string, unknown> | undefined): z.infer<typeof Settlement> {
  const t = toSummary(r);
  return {
    settlementId: t.settlementId,
    periodLabel: t.periodLabel,
    periodStart: isoTime(t.periodStartMs)!,
    periodEnd: isoTime(t.periodEndMs)!,
    status: t.status as (typeof STATUSES)[number],
    currency: t.currency,
    saleCount: t.saleCount,
    refundCount: t.refundCount,
    lateCount: t.lateCount,
    grossMinor: t.grossMinor,
    feesMinor: t.feesMinor,
    refundsMinor: t.refundsMinor,
    carriedInMinor: t.carriedInMinor,
    netMinor: t.netMinor,
    payoutMinor: t.payoutMinor,
    carriedOutMinor: t.carriedOutMinor,
    carriedToSettlementId: t.carriedToSettlementId,
    statementReady: t.status !== 'computing',
    statementSha256: t.statementSha256,
    payout: payout ? { amountMinor: n(payout.amount_minor), transferDate: String(payout.transfer_date), sentAt: isoTime(t.sentAtMs), paidAt: isoTime(t.paidAtMs), bankReference: t.bankReference } : null,
  };
}

export function settlementRouteDefs(db: Db): AnyRoute[] {
  const ownSettlement = async (issuerId: string, id: string, columns: string[] = SETTLEMENT_COLUMNS) => {
    const row = await db('settlements').where({ id, issuer_id: issuerId }).first(columns);
    if (!row) throw notFound('settlement', id);
    return row;
  };
  // Rendered on demand from the claimed rows and stored once (activities/center/settlement.ts).
  const statement = async (issuerId: string, id: string, column: 'statement_csv' | 'statement_json') => {
    const row = await ownSettlement(issuerId, id, ['id', 'status']);
    if (row.status === 'computing') throw new ApiError(409, 'statement_not_ready', `The statement of ${id} is not ready yet (the settlement is still being computed).`);
    const docs = await settlementStatement(db, row.id, Date.now());
    return column === 'statement_csv' ? docs.csv : docs.json;
  };
  const P = z.object({ settlementId }).strict();

  return [
    route({
      method: 'get',
      path: '/issuer/sales',
      operationId: 'listSales',
      summary: 'Your sales, oldest first (page with after = the last saleId)',
      tag: 'Sales',
      auth: 'issuer',
      query: z
        .object({
          from: z.iso.datetime({ offset: true }).optional().describe('Sold at or after'),
          to: z.iso.datetime({ offset: true }).optional().describe('Sold before'),
          after: z.string().regex(/^[0-9]{1,15}$/).transform(Number).optional().describe('Only sales with a larger saleId'),
          limit: pageLimit.optional(),
        })
        .strict(),
      responses: { 200: { description: 'A page of sales', schema: z.object({ sales: z.array(Sale), nextAfter: z.number().int().nullable() }) } },
      async handler({ issuer, query }) {
        const limit = query.limit ?? 100;
        // A sale's settlement is its batch's (migrations/007_settlement_batches.ts).
        let q = db('sales as s').join('issuances as i', 'i.id', 's.issuance_id').leftJoin('settlement_batches as b', 'b.id', 's.batch_id').where('s.issuer_id', issuer.issuerId);
        if (query.from) q = q.where('s.sold_at_ms', '>=', Date.parse(query.from));
        if (query.to) q = q.where('s.sold_at_ms', '<', Date.parse(query.to));
        if (query.after !== undefined) q = q.where('s.id', '>', query.after);
        const rows = await q
          .orderBy('s.id')
          .limit(limit + 1)
          .select('s.id', 's.issuance_id', 's.card_id', 's.product_id', 'i.product_type', 'i.title', 's.price_minor', 's.customer_fee_minor', 's.operator_fee_minor', 's.issuer_net_minor', 's.currency', 's.sold_at_ms', 'i.terminal_id', 'b.settlement_id');
        const page = rows.slice(0, limit);
        return {
          json: {
            sales: page.map((r) => ({
              saleId: n(r.id),
              issuanceId: r.issuance_id,
              cardId: r.card_id,
              productId: n(r.product_id),
              productType: r.product_type,
              title: r.title,
              priceMinor: n(r.price_minor),
              customerFeeMinor: n(r.customer_fee_minor),
              operatorFeeMinor: n(r.operator_fee_minor),
              issuerNetMinor: n(r.issuer_net_minor),
              currency: r.currency,
              soldAt: isoTime(r.sold_at_ms)!,
              terminalId: r.terminal_id,
              settlementId: r.settlement_id ?? null,
            })),
            nextAfter: rows.length > limit ? n(page[page.length - 1].id) : null,
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/cards/:cardId',
      operationId: 'getCard',
      summary: 'One card issued for you, with what it carries (seat, pass, value) as issued',
      tag: 'Sales',
      auth: 'issuer',
      params: z.object({ cardId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'is not a card id') }).strict(),
      responses: { 200: { description: 'The card', schema: Card } },
      async handler({ issuer, params }) {
        const r = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where({ 'c.id': params.cardId, 'i.issuer_id': issuer.issuerId }).first('c.id', 'c.status', 'c.created_at_ms', 'i.id as issuance_id', 'i.product_id', 'i.product_type', 'i.title', 'i.price_minor', 'i.customer_fee_minor', 'i.currency', 'i.selection');
        if (!r) throw notFound('card', params.cardId);
        return {
          json: {
            cardId: r.id,
            status: r.status,
            issuanceId: r.issuance_id,
            productId: n(r.product_id),
            productType: r.product_type,
            title: r.title,
            priceMinor: n(r.price_minor),
            customerFeeMinor: n(r.customer_fee_minor),
            currency: r.currency,
            issuedAt: isoTime(r.created_at_ms)!,
            content: await issuedContent(db, r.selection),
            ...(await cardLinks(db, r.id)),
          },
        };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/settlements',
      operationId: 'listSettlements',
      summary: 'Your settlements, newest period first',
      tag: 'Settlements',
      auth: 'issuer',
      query: z.object({ status: z.enum(STATUSES).optional(), from: date.optional().describe('First period (YYYY-MM-DD)'), to: date.optional().describe('Last period (YYYY-MM-DD)'), limit: pageLimit.optional() }).strict(),
      responses: { 200: { description: 'The settlements', schema: z.object({ settlements: z.array(Settlement) }) } },
      async handler({ issuer, query }) {
        let q = db('settlements').where({ issuer_id: issuer.issuerId });
        if (query.status) q = q.where({ status: query.status });
        if (query.from) q = q.where('period_label', '>=', query.from);
        if (query.to) q = q.where('period_label', '<=', query.to);
        const rows = await q.orderBy('period_start_ms', 'desc').limit(query.limit ?? 200).select(SETTLEMENT_COLUMNS);
        const payouts = rows.length ? await db('payout_instructions').whereIn('settlement_id', rows.map((r) => r.id)).select('settlement_id', 'amount_minor', 'transfer_date') : [];
        const bySettlement = new Map(payouts.map((p) => [p.settlement_id, p]));
        return { json: { settlements: rows.map((r) => settlementDto(r, bySettlement.get(r.id))) } };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/settlements/:settlementId',
      operationId: 'getSettlement',
      summary: 'One settlement\'s totals and payout',
      tag: 'Settlements',
      auth: 'issuer',
      params: P,
      responses: { 200: { description: 'The settlement', schema: Settlement } },
      async handler({ issuer, params }) {
        const row = await ownSettlement(issuer.issuerId, params.settlementId);
        const payout = await db('payout_instructions').where({ settlement_id: row.id }).first('amount_minor', 'transfer_date');
        return { json: settlementDto(row, payout) };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/settlements/:settlementId/statement.csv',
      operationId: 'getSettlementStatementCsv',
      summary: 'The statement as CSV (RFC 4180, CRLF)',
      tag: 'Settlements',
      auth: 'issuer',
      params: P,
      errors: [409],
      responses: { 200: { description: 'The statement', contentType: 'text/csv; charset=utf-8' } },
      async handler({ issuer, params }) {
        const csv = await statement(issuer.issuerId, params.settlementId, 'statement_csv');
        return { body: csv, contentType: 'text/csv; charset=utf-8', headers: { 'content-disposition': `attachment; filename="${params.settlementId}.csv"` } };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/settlements/:settlementId/statement.json',
      operationId: 'getSettlementStatementJson',
      summary: 'The statement as JSON',
      tag: 'Settlements',
      auth: 'issuer',
      params: P,
      errors: [409],
      responses: { 200: { description: 'The statement', schema: Statement } },
      async handler({ issuer, params }) {
        // The stored bytes as they are (the JSON schema above documents them).
        return { body: await statement(issuer.issuerId, params.settlementId, 'statement_json'), contentType: 'application/json; charset=utf-8' };
      },
    }),
  ];
}
