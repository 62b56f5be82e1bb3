/**
 * Reloads of prepaid cards. The center's balance (card_balances; a card without a row has the
 * value its signed record was issued with) is authoritative: the chip's value area is compared
 * with it, a disagreement is flagged on the reload (card_reloads.chip_mismatch) and the reload
 * continues from the center's balance, so the chip is corrected by the write.
 *
 * A reload is also an issuances row (selection kind 'reload'), so the cash payment, its refund,
 * the sale against the issuer, the ledger and the settlement are the issuance's own mechanisms.
 * One open reload per card: card_reloads.open_card_id is unique while the reload is open.
 */
import type { Knex } from 'knex';
import { CardRecordError, parseCardRecord, type ParsedCardRecord } from '../../domain/card-record';
import { onlineVerdict } from '../../domain/card-verdict';
import { formatMoney } from '../../domain/money';
import { MAX_CARD_BALANCE_MINOR, reloadAmountProblem } from '../../domain/reload';
import { cardSigningKeys, checkCardSignature } from '../../lib/card-signing';
import { lookupCardStatus } from '../../lib/card-status';
import { loadConfig } from '../../lib/config';
import { isUniqueViolation } from '../../lib/db';
import type { CenterDeps } from './deps';
import { refuse } from './errors';

export interface ReloadStart {
  cardId: string;
  currency: string;
  title: string;
  balanceBeforeMinor: number;
  chipBalanceMinor: number;
  chipMismatch: boolean;
  balanceAfterMinor: number;
  /** What the terminal writes into the chip's next value slot. */
  target: { seq: number; balanceMinor: number; flags: number };
}

/** The center's balance of a prepaid card. */
export async function centerBalance(db: Knex, cardId: string, record: ParsedCardRecord['record']): Promise<number> {
  const row = await db('card_balances').where({ card_id: cardId }).first('balance_minor');
  if (row) return Number(row.balance_minor);
  const issued = Number(record.product.valueMinor);
  if (!Number.isSafeInteger(issued) || issued < 0) throw refuse('ReloadRefused', `card ${cardId} carries no prepaid value`);
  return issued;
}

export function createReloadActivities({ db, now = Date.now, cardKeys }: CenterDeps) {
  const keys = () => cardKeys ?? cardSigningKeys(process.env, loadConfig().DATA_DIR);
  return {
    /** Checks the card the terminal read and opens the reload; a retry returns the same start. */
    async beginReload(input: { reloadId: string; terminalId: string; recordBase64: string; amountMinor: number }): Promise<ReloadStart> {
      const amountProblem = reloadAmountProblem(input.amountMinor);
      if (amountProblem) throw refuse('ReloadRefused', amountProblem);
      let parsed: ParsedCardRecord;
      try {
        parsed = parseCardRecord(Buffer.from(input.recordBase64, 'base64'));
      } catch (err) {
        if (err instanceof CardRecordError) throw refuse('ReloadRefused', `This card cannot be read (${err.message}).`);
        throw err;
      }
      const sig = checkCardSignature(parsed, keys().verifyKeys);
      if (!sig.ok) throw refuse('ReloadRefused', `This card was not issued by this network (${sig.reason}).`);
      const record = parsed.record;
      const verdict = onlineVerdict(await lookupCardStatus(db, record.cardId), now(), record);
      if (!verdict.valid) throw refuse('ReloadRefused', `This card cannot be reloaded (${verdict.reason}).`);
      if (record.productType !== 'prepaid') throw refuse('ReloadRefused', 'Only prepaid cards can be reloaded.');
      if (!parsed.value) throw refuse('ReloadRefused', 'The value area of this card is unreadable; please ask the store staff.');

      const existing = await db('card_reloads').where({ id: input.reloadId }).first();
      if (existing) return startFrom(existing, parsed, await currencyOf(db, input.reloadId));

      const balanceBefore = await centerBalance(db, record.cardId, record);
      const balanceAfter = balanceBefore + input.amountMinor;
      if (balanceAfter > MAX_CARD_BALANCE_MINOR) throw refuse('ReloadRefused', `A card may hold at most ${formatMoney(MAX_CARD_BALANCE_MINOR, 'JPY')}; this card holds ${formatMoney(balanceBefore, 'JPY')}.`);
      const card = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', record.cardId).first('i.issuer_id', 'i.product_id', 'i.title', 'i.currency');
      const at = now();
      const row = {
        id: input.reloadId,
        card_id: record.cardId,
        open_card_id: record.cardId,
        terminal_id: input.terminalId,
        amount_minor: input.amountMinor,
        center_balance_before_minor: balanceBefore,
        chip_balance_minor: parsed.value.state.balanceMinor,
        chip_seq: parsed.value.state.seq,
        chip_mismatch: parsed.value.state.balanceMinor !== balanceBefore,
        balance_after_minor: balanceAfter,
        status: 'open',
        created_at_ms: at,
        updated_at_ms: at,
      };
      try {
        await db.transaction(async (trx) => {
          await trx('issuances').insert({
            id: input.reloadId,
            terminal_id: input.terminalId,
            issuer_id: card.issuer_id,
            product_id: card.product_id,
            product_type: 'prepaid',
            selection: JSON.stringify({ kind: 'reload', cardId: record.cardId, amountMinor: input.amountMinor }),
            title: `Reload: ${card.title}`.slice(0, 300),
            price_minor: input.amountMinor,
            customer_fee_minor: 0,
            total_minor: input.amountMinor,
            currency: card.currency,
            status: 'held',
            created_at_ms: at,
            updated_at_ms: at,
          });
          await trx('card_reloads').insert(row);
        });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const mine = await db('card_reloads').where({ id: input.reloadId }).first();
        if (mine) return startFrom(mine, parsed, await currencyOf(db, input.reloadId));
        throw refuse('ReloadRefused', 'Another reload of this card is in progress.');
      }
      return startFrom(row, parsed, card.currency);
    },

    /**
     * After the chip holds the new value (read back): the center's balance becomes the new one,
     * once (the reload's status guards it; a retry changes nothing).
     */
    async creditReload(reloadId: string): Promise<{ balanceMinor: number; credited: boolean }> {
      return db.transaction(async (trx) => {
        const r = await trx('card_reloads').where({ id: reloadId }).first();
        if (!r) throw refuse('InvariantBroken', `no reload ${reloadId}`);
        const at = now();
        // The conditional status change is the guard: only the one that moves it from open credits.
        const mine = await trx('card_reloads').where({ id: reloadId, status: 'open' }).update({ status: 'credited', updated_at_ms: at });
        if (mine !== 1) {
          const status = (await trx('card_reloads').where({ id: reloadId }).first('status'))?.status;
          if (status === 'credited' || status === 'completed') return { balanceMinor: Number(r.balance_after_minor), credited: false };
          throw refuse('InvariantBroken', `reload ${reloadId} is ${status}; refusing to credit it`);
        }
        // The new balance was fixed when the reload opened (one open reload per card), so it is set, not added.
        const updated = await trx('card_balances').where({ card_id: r.card_id }).update({ balance_minor: Number(r.balance_after_minor), updated_at_ms: at });
        if (updated === 0) await trx('card_balances').insert({ card_id: r.card_id, balance_minor: Number(r.balance_after_minor), updated_at_ms: at });
        return { balanceMinor: Number(r.balance_after_minor), credited: true };
      });
    },

    /** Ends a reload: the card may be reloaded again. A credited reload can only complete. */
    async closeReload(reloadId: string, status: 'completed' | 'cancelled' | 'expired' | 'refunded'): Promise<{ status: string }> {
      const r = await db('card_reloads').where({ id: reloadId }).first('status');
      if (!r) return { status: 'none' };
      const final = r.status === 'credited' || r.status === 'completed' ? 'completed' : status;
      await db('card_reloads').where({ id: reloadId }).update({ status: final, open_card_id: null, updated_at_ms: now() });
      return { status: final };
    },
  };
}

async function currencyOf(db: Knex, reloadId: string): Promise<string> {
  return (await db('issuances').where({ id: reloadId }).first('currency'))?.currency ?? 'JPY';
}

function startFrom(r: Record<string, any>, parsed: ParsedCardRecord, currency: string): ReloadStart { // eslint-disable-line @typescript-eslint/no-explicit-any
  const chipSeq = Number(r.chip_seq);
  return {
    cardId: r.card_id,
    currency,
    title: parsed.record.product.title ? String(parsed.record.product.title) : parsed.record.cardId,
    balanceBeforeMinor: Number(r.center_balance_before_minor),
    chipBalanceMinor: Number(r.chip_balance_minor),
    chipMismatch: Boolean(r.chip_mismatch),
    balanceAfterMinor: Number(r.balance_after_minor),
    target: { seq: chipSeq + 1, balanceMinor: Number(r.balance_after_minor), flags: parsed.value?.state.flags ?? 0 },
  };
}
