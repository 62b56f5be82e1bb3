/**
 * Settlement: what the operator owes each issuer for a period, paid to the issuer's bank account.
 *
 * settlements: one per (issuer, period start); its id is the settlement workflow's id
 * (`settlement-<issuer>-<period start date>`). It holds the period's totals, the rendered
 * statement, and the payout's progress (awaiting_approval → approved → sent → paid, or
 * carried_forward / closed when there is nothing to pay). A negative net is carried into the
 * issuer's next settlement once: `carried_to_settlement_id` is claimed by a conditional update.
 *
 * sales.settlement_id / sale_refunds.settlement_id: each sale and each refund belongs to exactly
 * one settlement, claimed set-based with `UPDATE … WHERE settlement_id IS NULL`.
 *
 * sale_refunds: a sold card refunded after the fact (one per sale), which becomes a negative item
 * of the settlement that claims it.
 *
 * payout_instructions: at most one per settlement (unique settlement_id): the Zengin bulk
 * transfer file finance sends to the bank.
 *
 * issuers get nullable bank account columns (Zengin fields) for payouts.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';
  const longText = (t: Knex.CreateTableBuilder, name: string) => (mysql ? t.text(name, 'longtext') : t.text(name));
  const blob = (t: Knex.CreateTableBuilder, name: string) => t.specificType(name, mysql ? 'longblob' : 'blob');

  await knex.schema.alterTable('issuers', (t) => {
    t.string('bank_code', 4).nullable();
    t.string('bank_name', 15).nullable();
    t.string('branch_code', 3).nullable();
    t.string('branch_name', 15).nullable();
    t.string('account_type', 1).nullable();
    t.string('account_number', 7).nullable();
    t.string('account_holder_kana', 30).nullable();
  });

  await knex.schema.createTable('settlements', (t) => {
    t.string('id', 120).primary();
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('currency', 3).notNullable();
    t.bigInteger('period_start_ms').notNullable();
    t.bigInteger('period_end_ms').notNullable();
    t.string('period_label', 10).notNullable();
    t.string('status', 20).notNullable();
    t.integer('sale_count').notNullable().defaultTo(0);
    t.integer('refund_count').notNullable().defaultTo(0);
    t.integer('late_count').notNullable().defaultTo(0);
    t.bigInteger('gross_minor').notNullable().defaultTo(0);
    t.bigInteger('fees_minor').notNullable().defaultTo(0);
    t.bigInteger('refunds_minor').notNullable().defaultTo(0);
    t.bigInteger('carried_in_minor').notNullable().defaultTo(0);
    t.bigInteger('net_minor').notNullable().defaultTo(0);
    t.bigInteger('payout_minor').notNullable().defaultTo(0);
    t.bigInteger('carried_out_minor').notNullable().defaultTo(0);
    t.string('carried_to_settlement_id', 120).nullable();
    longText(t, 'statement_json');
    longText(t, 'statement_csv');
    t.string('statement_sha256', 64).nullable();
    t.string('approved_by', 100).nullable();
    t.bigInteger('approved_at_ms').nullable();
    t.bigInteger('sent_at_ms').nullable();
    t.string('bank_reference', 100).nullable();
    t.string('confirmed_by', 100).nullable();
    t.bigInteger('paid_at_ms').nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.unique(['issuer_id', 'period_start_ms']);
    t.index(['issuer_id', 'carried_to_settlement_id']);
    t.index(['status']);
  });

  await knex.schema.alterTable('sales', (t) => {
    t.string('settlement_id', 120).nullable();
    t.index(['settlement_id'], 'sales_settlement_id_index');
    t.index(['issuer_id', 'settlement_id', 'sold_at_ms'], 'sales_issuer_unsettled_index');
  });

  await knex.schema.createTable('sale_refunds', (t) => {
    t.increments('id');
    t.integer('sale_id').unsigned().notNullable().unique().references('sales.id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('issuance_id', 120).notNullable();
    t.string('card_id', 40).notNullable();
    t.integer('price_minor').notNullable();
    t.integer('operator_fee_minor').notNullable();
    t.integer('issuer_net_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.string('reason', 20).notNullable();
    t.string('note', 300).nullable();
    t.bigInteger('refunded_at_ms').notNullable();
    t.string('settlement_id', 120).nullable();
    t.index(['issuer_id', 'settlement_id', 'refunded_at_ms'], 'sale_refunds_issuer_unsettled_index');
    t.index(['settlement_id'], 'sale_refunds_settlement_id_index');
  });

  await knex.schema.createTable('payout_instructions', (t) => {
    t.increments('id');
    t.string('settlement_id', 120).notNullable().unique().references('settlements.id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.bigInteger('amount_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.string('transfer_date', 10).notNullable();
    t.string('format', 20).notNullable();
    blob(t, 'file');
    t.string('file_sha256', 64).notNullable();
    t.bigInteger('created_at_ms').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payout_instructions');
  await knex.schema.dropTable('sale_refunds');
  await knex.schema.alterTable('sales', (t) => {
    t.dropIndex(['issuer_id', 'settlement_id', 'sold_at_ms'], 'sales_issuer_unsettled_index');
    t.dropIndex(['settlement_id'], 'sales_settlement_id_index');
    t.dropColumn('settlement_id');
  });
  await knex.schema.dropTable('settlements');
  await knex.schema.alterTable('issuers', (t) => {
    for (const c of ['bank_code', 'bank_name', 'branch_code', 'branch_name', 'account_type', 'account_number', 'account_holder_kana']) t.dropColumn(c);
  });
}
