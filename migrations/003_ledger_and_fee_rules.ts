/**
 * The double-entry ledger and dated fee rules.
 *
 * ledger_transactions / ledger_entries: every money movement is one transaction of entries that
 * sum to zero (debit > 0, credit < 0), written in the same DB transaction as the business record
 * it belongs to, identified by (kind, ref) so a retry cannot post it twice. Entries are never
 * updated or deleted: triggers refuse it on both engines; corrections are new transactions.
 *
 * fee_rules: the operator's fee per issuer (and optionally per product type) from a date on; a
 * sale uses the rule in force when it was sold, so a change never rewrites past sales. The
 * issuers' original single fee becomes each issuer's first rule.
 */
import type { Knex } from 'knex';

const IMMUTABLE = ['ledger_transactions', 'ledger_entries'];

export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';

  await knex.schema.createTable('ledger_transactions', (t) => {
    t.bigIncrements('id');
    t.string('kind', 30).notNullable();
    t.string('ref', 160).notNullable();
    t.string('currency', 3).notNullable();
    t.string('description', 300).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['kind', 'ref']);
  });
  await knex.schema.createTable('ledger_entries', (t) => {
    t.bigIncrements('id');
    t.bigInteger('transaction_id').unsigned().notNullable().references('ledger_transactions.id');
    t.string('account', 100).notNullable();
    t.bigInteger('amount_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.index(['account']);
    t.index(['transaction_id']);
  });
  for (const table of IMMUTABLE) {
    for (const op of ['UPDATE', 'DELETE']) {
      const name = `${table}_no_${op.toLowerCase()}`;
      if (mysql) {
        await knex.raw(`CREATE TRIGGER ${name} BEFORE ${op} ON ${table} FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${table} are append-only'`);
      } else {
        await knex.raw(`CREATE TRIGGER ${name} BEFORE ${op} ON ${table} BEGIN SELECT RAISE(ABORT, '${table} are append-only'); END`);
      }
    }
  }

  await knex.schema.createTable('fee_rules', (t) => {
    t.increments('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('product_type', 20).nullable();
    t.integer('bps').notNullable();
    t.integer('fixed_minor').notNullable();
    t.integer('reissue_fee_minor').notNullable().defaultTo(0);
    t.bigInteger('effective_from_ms').notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['issuer_id', 'product_type', 'effective_from_ms']);
  });
  const issuers = await knex('issuers').select('id', 'fee_bps', 'fee_fixed_minor');
  const now = Date.now();
  if (issuers.length > 0) {
    await knex('fee_rules').insert(issuers.map((i) => ({ issuer_id: i.id, product_type: null, bps: i.fee_bps, fixed_minor: i.fee_fixed_minor, reissue_fee_minor: 0, effective_from_ms: 0, created_at_ms: now })));
  }
  await knex.schema.alterTable('issuers', (t) => {
    t.dropColumn('fee_bps');
    t.dropColumn('fee_fixed_minor');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('issuers', (t) => {
    t.integer('fee_bps').notNullable().defaultTo(0);
    t.integer('fee_fixed_minor').notNullable().defaultTo(0);
  });
  await knex.schema.dropTable('fee_rules');
  for (const table of IMMUTABLE) for (const op of ['update', 'delete']) await knex.raw(`DROP TRIGGER IF EXISTS ${table}_no_${op}`);
  await knex.schema.dropTable('ledger_entries');
  await knex.schema.dropTable('ledger_transactions');
}
