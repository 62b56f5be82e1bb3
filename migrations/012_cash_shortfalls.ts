/**
 * Cash the terminal owes customers, what its cash unit counts, and device faults to act on.
 *
 * cash_shortfalls: one row per payout the terminal could not make in full (change, a refund after
 * a failed production, cash returned on a cancel) — the cash unit was short or jammed, or the
 * terminal was offline. The tag is the payout's own tag (unique: a retried activity finds its
 * row). The voucher number is what the customer shows the store staff, who pay `owed_minor`.
 *
 * terminal_cash_counts: the latest money-in / money-out totals a terminal's cash unit reported
 * (its own counters), checked against the ledger's cash account of the terminal (ledger:check).
 *
 * terminal_faults: a device fault an operator must clear (e.g. the receipt printer out of paper).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('cash_shortfalls', (t) => {
    t.increments('id').primary();
    t.string('tag', 200).notNullable().unique();
    t.string('issuance_id', 120).notNullable().references('issuances.id');
    t.string('terminal_id', 40).notNullable().references('terminals.id');
    t.string('kind', 10).notNullable(); // change | refund | return
    t.bigInteger('amount_minor').notNullable();
    t.bigInteger('paid_minor').notNullable();
    t.bigInteger('owed_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.string('reason', 30).notNullable(); // CASH_SHORT | TERMINAL_OFFLINE | PAYOUT_FAILED
    t.string('detail', 300).nullable();
    t.string('voucher_number', 40).nullable().unique(); // set from the row id in the inserting transaction
    t.string('status', 10).notNullable().defaultTo('owed'); // owed | settled
    t.bigInteger('created_at_ms').notNullable();
    t.index(['terminal_id', 'status']);
  });
  await knex.schema.createTable('terminal_cash_counts', (t) => {
    t.string('terminal_id', 40).primary().references('terminals.id');
    t.bigInteger('money_in_minor').notNullable();
    t.bigInteger('money_out_minor').notNullable();
    t.bigInteger('reported_at_ms').notNullable();
  });
  await knex.schema.createTable('terminal_faults', (t) => {
    t.increments('id').primary();
    t.string('terminal_id', 40).notNullable().references('terminals.id');
    t.string('device', 20).notNullable();
    t.string('code', 30).notNullable();
    t.string('message', 300).notNullable();
    t.string('issuance_id', 120).nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('cleared_at_ms').nullable();
    t.index(['terminal_id', 'cleared_at_ms']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('terminal_faults');
  await knex.schema.dropTableIfExists('terminal_cash_counts');
  await knex.schema.dropTableIfExists('cash_shortfalls');
}
