/**
 * Settlement test data made by the center's own activities (payment, sale, refund) with a chosen
 * clock, so sales can sit in any period without running a kiosk: an issuance row, its cash
 * payment (recordCashPayment), a card, and the sale (recordSale, with the fee rule in force).
 */
import { randomBytes } from 'node:crypto';
import { createPaymentActivities } from '../../activities/center/payments';
import { createSaleActivities } from '../../activities/center/sales';
import { refundSale } from '../../activities/center/sale-refunds';
import type { Db } from '../../lib/db';

export const BANK = {
  bank_code: '0005',
  bank_name: 'ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ',
  branch_code: '001',
  branch_name: 'ﾎﾝﾃﾝ',
  account_type: '1',
  account_number: '7654321',
  account_holder_kana: 'ｻﾝﾗｲｽﾞﾌﾟﾛﾓ-ｼﾖﾝｽﾞ',
};

export async function giveBankAccounts(db: Db): Promise<void> {
  await db('issuers').update(BANK);
}

export async function terminalOf(db: Db): Promise<string> {
  return (await db('terminals').first('id')).id;
}

export interface MadeSale {
  issuanceId: string;
  saleId: number;
  issuerId: string;
  priceMinor: number;
  operatorFeeMinor: number;
  issuerNetMinor: number;
  soldAtMs: number;
}

export async function makeSale(db: Db, opts: { issuerId: string; priceMinor: number; soldAtMs: number; terminalId?: string; tag?: string }): Promise<MadeSale> {
  const terminalId = opts.terminalId ?? (await terminalOf(db));
  const product = await db('products').where({ issuer_id: opts.issuerId }).orderBy('id').first('id', 'type', 'name');
  const issuanceId = `iss-${terminalId}-${opts.tag ?? ''}${randomBytes(6).toString('hex')}`;
  const at = opts.soldAtMs;
  await db('issuances').insert({
    id: issuanceId,
    terminal_id: terminalId,
    issuer_id: opts.issuerId,
    product_id: product.id,
    product_type: product.type,
    selection: JSON.stringify({ kind: 'prepaid', valueId: 1 }),
    title: `${product.name} (test)`,
    price_minor: opts.priceMinor,
    customer_fee_minor: 0,
    total_minor: opts.priceMinor,
    currency: 'JPY',
    status: 'producing',
    created_at_ms: at,
    updated_at_ms: at,
  });
  await createPaymentActivities({ db, now: () => at }).recordCashPayment(issuanceId, { amountMinor: opts.priceMinor, tenderedMinor: opts.priceMinor, changeMinor: 0, currency: 'JPY' });
  const cardId = `C${randomBytes(8).toString('hex')}`;
  await db('cards').insert({ id: cardId, issuance_id: issuanceId, uid: randomBytes(7).toString('hex'), status: 'issued', created_at_ms: at, updated_at_ms: at });
  const sale = await createSaleActivities({ db, now: () => at }).recordSale(issuanceId, cardId);
  return { issuanceId, saleId: sale.saleId, issuerId: opts.issuerId, priceMinor: sale.priceMinor, operatorFeeMinor: sale.operatorFeeMinor, issuerNetMinor: sale.issuerNetMinor, soldAtMs: at };
}

export async function makeRefund(db: Db, issuanceId: string, atMs: number) {
  return refundSale(db, { issuanceId, reason: 'refund' }, atMs);
}

export const n = (v: unknown) => Number(v ?? 0);

export async function payableBalance(db: Db, issuerId: string): Promise<number> {
  return -n((await db('ledger_entries').where({ account: `issuer_payable:${issuerId}` }).sum({ s: 'amount_minor' }).first())?.s);
}

/** Sales with the settlement that claimed them (through their batch; null while unclaimed). */
export function salesWithSettlement(db: Db) {
  return db('sales as s').leftJoin('settlement_batches as b', 'b.id', 's.batch_id');
}

export async function settlementOfSale(db: Db, saleId: number): Promise<string | null> {
  return (await salesWithSettlement(db).where('s.id', saleId).first('b.settlement_id')).settlement_id ?? null;
}
