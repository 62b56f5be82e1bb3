/**
 * Prepaid cards sold from stock and activated at sale (patent claim 7), and reloads of prepaid cards.
 *
 * prepaid_values.sold_from_stock: the value is sold as a pre-personalised card from the kiosk's
 *   stock stocker (activated by the issuer at sale) instead of written on a blank card.
 * issuers.activation_url: where the issuer's server answers activation requests (POST, signed
 *   like the notifications); an issuer without one cannot sell stock cards.
 * stock_cards: cards written before they reach a kiosk: the chip carries a record signed by the
 *   center whose issuanceId is the batch (`stk-<batch>`), worth nothing until activated.
 *   status: stock → reserved (one sale claimed it) → activated (the issuer approved; the sale's
 *   cards row exists) or back to stock; void when an activated card was never handed out.
 * card_balances: the center's balance of a prepaid card: authoritative over the chip's value area.
 *   A card without a row still has the balance its signed record was issued with.
 * card_reloads: one row per reload (its id is also the issuances row the money and sale hang on).
 *   open_card_id is the card id while the reload is open and NULL after, so its unique index
 *   allows one open reload per card. chip_mismatch records a chip that disagreed with the center.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('prepaid_values', (t) => {
    t.boolean('sold_from_stock').notNullable().defaultTo(false);
  });
  await knex.schema.alterTable('issuers', (t) => {
    t.string('activation_url', 500).nullable();
  });
  await knex.schema.createTable('stock_cards', (t) => {
    t.string('id', 40).primary();
    t.string('batch_id', 60).notNullable();
    t.string('uid', 40).notNullable().unique();
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.integer('value_id').unsigned().notNullable().references('prepaid_values.id');
    t.integer('value_minor').notNullable();
    t.string('status', 20).notNullable();
    t.string('sale_issuance_id', 120).nullable();
    t.string('activation_ref', 100).nullable();
    t.bigInteger('manufactured_at_ms').notNullable();
    t.bigInteger('activated_at_ms').nullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.index(['issuer_id', 'status']);
  });
  await knex.schema.createTable('card_balances', (t) => {
    t.string('card_id', 40).primary().references('cards.id');
    t.integer('balance_minor').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
  });
  await knex.schema.createTable('card_reloads', (t) => {
    t.string('id', 120).primary().references('issuances.id');
    t.string('card_id', 40).notNullable().references('cards.id');
    t.string('open_card_id', 40).nullable().unique();
    t.string('terminal_id', 40).notNullable().references('terminals.id');
    t.integer('amount_minor').notNullable();
    t.integer('center_balance_before_minor').notNullable();
    t.integer('chip_balance_minor').nullable();
    t.integer('chip_seq').nullable();
    t.boolean('chip_mismatch').notNullable().defaultTo(false);
    t.integer('balance_after_minor').nullable();
    t.string('status', 20).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.index(['card_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('card_reloads');
  await knex.schema.dropTableIfExists('card_balances');
  await knex.schema.dropTableIfExists('stock_cards');
  await knex.schema.alterTable('issuers', (t) => t.dropColumn('activation_url'));
  await knex.schema.alterTable('prepaid_values', (t) => t.dropColumn('sold_from_stock'));
}
