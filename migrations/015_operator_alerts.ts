/**
 * Operator alerts: who settled a cash voucher (the customer was paid what the terminal owed them)
 * and when, and who cleared a device fault. Rows are never deleted; settling and clearing only
 * fill these columns (and cash_shortfalls.status owed → settled).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('cash_shortfalls', (t) => {
    t.bigInteger('settled_at_ms').nullable();
    t.string('settled_by', 100).nullable();
  });
  await knex.schema.alterTable('terminal_faults', (t) => {
    t.string('cleared_by', 100).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('terminal_faults', (t) => t.dropColumn('cleared_by'));
  await knex.schema.alterTable('cash_shortfalls', (t) => {
    t.dropColumn('settled_at_ms');
    t.dropColumn('settled_by');
  });
}
