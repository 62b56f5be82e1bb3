/**
 * Prepaid cards sold from stock, activated by their issuer at the moment of sale (patent claim 7).
 *
 * Manufacture (before the card reaches a kiosk): the center signs a record naming the stock batch
 * as its issuance and loads the value area with the card's value; a stock_cards row keeps it as
 * 'stock'. Such a card verifies as not issued (lib/card-status.ts): stolen stock is worthless.
 *
 * Sale (the issuance workflow): the terminal reads the chip; `claimStockCard` checks the record
 * and reserves the card for the sale; `activateStockCard` asks the issuer (issuer-activation.ts)
 * and, approved, marks it activated and creates the sale's cards row in one transaction; from then
 * on the normal steps (print, hand out, status issued) make it verify as valid. Denied or no answer
 * by the deadline: the card goes back to stock and the workflow refunds the customer.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import { CardRecordError, parseCardRecord, type CardRecord } from '../../domain/card-record';
import { initialValueArea } from '../../domain/value-slots';
import { cardSigningKeys, checkCardSignature, signCardRecord, type CardSigningKeys } from '../../lib/card-signing';
import { loadConfig } from '../../lib/config';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { requestActivation } from './issuer-activation';

export const STOCK_BATCH_PREFIX = 'stk-';

export interface ManufacturedCard {
  cardId: string;
  uid: string;
  /** The whole chip image (signed record + value area), base64. */
  recordBase64: string;
}

/** Makes `count` stock cards of a prepaid value flagged sold_from_stock; returns their chip images. */
export async function manufactureStockCards(db: Knex, keys: CardSigningKeys, opts: { valueId: number; count: number; now?: number }): Promise<{ batchId: string; cards: ManufacturedCard[] }> {
  if (!Number.isSafeInteger(opts.count) || opts.count < 1 || opts.count > 1000) throw new Error('count must be an integer from 1 to 1000');
  const v = await db('prepaid_values as v').join('products as p', 'p.id', 'v.product_id').where('v.id', opts.valueId).first('v.id', 'v.value_minor', 'v.sold_from_stock', 'p.id as product_id', 'p.name', 'p.issuer_id');
  if (!v) throw new Error(`there is no prepaid value ${opts.valueId}`);
  if (!v.sold_from_stock) throw new Error(`prepaid value ${opts.valueId} is not sold from stock (prepaid_values.sold_from_stock)`);
  const at = opts.now ?? Date.now();
  const batchId = `${STOCK_BATCH_PREFIX}${randomBytes(6).toString('hex').toUpperCase()}`;
  const cards: ManufacturedCard[] = [];
  const rows = [];
  for (let i = 0; i < opts.count; i++) {
    const cardId = `C${randomBytes(6).toString('hex').toUpperCase()}`;
    // The chip manufacturer's UID; 7 bytes like the blank cards' (which start 04).
    const uid = `05${randomBytes(6).toString('hex')}`.toUpperCase();
    const record: CardRecord = {
      issuanceId: batchId,
      cardId,
      issuerId: v.issuer_id,
      productType: 'prepaid',
      product: { productId: Number(v.product_id), title: v.name, kind: 'prepaid', valueId: Number(v.id), valueMinor: Number(v.value_minor) },
      userId: null,
      issuedAt: new Date(at).toISOString(),
      validFrom: new Date(at).toISOString(),
      validUntil: null,
    };
    const bytes = signCardRecord(keys, record, initialValueArea(Number(v.value_minor)));
    cards.push({ cardId, uid, recordBase64: Buffer.from(bytes).toString('base64') });
    rows.push({ id: cardId, batch_id: batchId, uid, issuer_id: v.issuer_id, value_id: v.id, value_minor: Number(v.value_minor), status: 'stock', manufactured_at_ms: at, updated_at_ms: at });
  }
  await db.batchInsert('stock_cards', rows, 200);
  return { batchId, cards };
}

export function createStockCardActivities({ db, now = Date.now, fetch: httpFetch, activationTimeoutMs = 5_000, cardKeys }: CenterDeps) {
  const keys = () => cardKeys ?? cardSigningKeys(process.env, loadConfig().DATA_DIR);
  return {
    /**
     * The card the terminal fed from the stock stocker, by what its chip says: a stock card signed
     * by the center, of the value this issuance sells, not sold to anyone else. Reserved for this
     * sale (a retry finds its own reservation). Anything else: StockCardUnusable (reject bin).
     */
    async claimStockCard(issuanceId: string, uid: string, recordBase64: string): Promise<{ cardId: string }> {
      let record: CardRecord;
      try {
        const parsed = parseCardRecord(Buffer.from(recordBase64, 'base64'));
        const sig = checkCardSignature(parsed, keys().verifyKeys);
        if (!sig.ok) throw refuse('StockCardUnusable', `card ${uid} from the stock stocker has a record that is not the center's (${sig.reason})`);
        record = parsed.record;
      } catch (err) {
        if (err instanceof CardRecordError) throw refuse('StockCardUnusable', `card ${uid} from the stock stocker has no readable record: ${err.message}`);
        throw err;
      }
      const iss = await db('issuances').where({ id: issuanceId }).first('selection');
      const selection = iss ? JSON.parse(iss.selection) : null;
      const stock = await db('stock_cards').where({ id: record.cardId }).first();
      if (!stock || stock.uid !== uid || stock.batch_id !== record.issuanceId) throw refuse('StockCardUnusable', `card ${uid} is not a stock card the center made`);
      if (selection?.kind !== 'prepaid' || Number(stock.value_id) !== selection.valueId) throw refuse('StockCardUnusable', `stock card ${stock.id} is not of the value this sale sells`);
      if (stock.sale_issuance_id === issuanceId && (stock.status === 'reserved' || stock.status === 'activated')) return { cardId: stock.id };
      const reserved = await db('stock_cards').where({ id: stock.id, status: 'stock' }).update({ status: 'reserved', sale_issuance_id: issuanceId, updated_at_ms: now() });
      if (reserved !== 1) throw refuse('StockCardUnusable', `stock card ${stock.id} is ${stock.status} for another sale`);
      return { cardId: stock.id };
    },

    /**
     * Asks the issuer to activate the reserved card. Idempotent: an activated card returns its
     * reference without asking again, and the request id is stable, so the issuer counts a
     * repeated request once. Approved: the card is activated and the sale's cards row exists
     * (status written: the chip already holds its record).
     */
    async activateStockCard(issuanceId: string, cardId: string): Promise<{ activationRef: string }> {
      const stock = await db('stock_cards').where({ id: cardId }).first();
      if (!stock || stock.sale_issuance_id !== issuanceId) throw refuse('InvariantBroken', `stock card ${cardId} is not reserved for ${issuanceId}`);
      if (stock.status === 'activated') return { activationRef: stock.activation_ref };
      if (stock.status !== 'reserved') throw refuse('InvariantBroken', `stock card ${cardId} is ${stock.status}`);
      const iss = await db('issuances as i').join('issuers as r', 'r.id', 'i.issuer_id').where('i.id', issuanceId).first('i.terminal_id', 'i.currency', 'r.activation_url', 'r.webhook_secret');
      if (!iss?.activation_url) {
        await backToStock(db, cardId, issuanceId, now());
        throw refuse('ActivationDenied', 'The card issuer cannot activate cards at sale; please choose another card.');
      }
      const answer = await requestActivation(
        { activationUrl: iss.activation_url, webhookSecret: iss.webhook_secret },
        { cardId, issuanceId, terminalId: iss.terminal_id, valueMinor: Number(stock.value_minor), currency: iss.currency },
        { fetch: httpFetch, timeoutMs: activationTimeoutMs, nowMs: now() },
      );
      if (answer.approved === true) {
        await db.transaction(async (trx) => {
          const done = await trx('stock_cards').where({ id: cardId, status: 'reserved', sale_issuance_id: issuanceId }).update({ status: 'activated', activation_ref: answer.activationRef, activated_at_ms: now(), updated_at_ms: now() });
          if (done !== 1) throw refuse('InvariantBroken', `stock card ${cardId} changed during its activation`);
          await trx('cards').insert({ id: cardId, issuance_id: issuanceId, uid: stock.uid, status: 'written', valid_from_ms: Number(stock.manufactured_at_ms), valid_until_ms: null, created_at_ms: now(), updated_at_ms: now() });
        });
        return { activationRef: answer.activationRef };
      }
      await backToStock(db, cardId, issuanceId, now());
      if (answer.approved === false) throw refuse('ActivationDenied', `The card issuer did not activate the card (${answer.reason}).`);
      // No answer by the deadline: not retried (the customer is waiting); the sale is refunded.
      throw ApplicationFailure.nonRetryable(`The card issuer gave no activation answer in time (${answer.reason}).`, 'ActivationTimedOut');
    },

    /**
     * A sale that did not hand the card out: a reserved card goes back to stock, an activated one
     * is void (it is in the reject bin; its cards row is spoiled, so it never verifies).
     */
    async releaseStockCard(issuanceId: string, cardId: string): Promise<{ status: string }> {
      await backToStock(db, cardId, issuanceId, now());
      const issued = await db('cards').where({ id: cardId, status: 'issued' }).first('id');
      if (!issued) await db('stock_cards').where({ id: cardId, status: 'activated', sale_issuance_id: issuanceId }).update({ status: 'void', updated_at_ms: now() });
      return { status: (await db('stock_cards').where({ id: cardId }).first('status'))?.status ?? 'unknown' };
    },
  };
}

async function backToStock(db: Knex, cardId: string, issuanceId: string, at: number): Promise<void> {
  await db('stock_cards').where({ id: cardId, status: 'reserved', sale_issuance_id: issuanceId }).update({ status: 'stock', sale_issuance_id: null, updated_at_ms: at });
}
