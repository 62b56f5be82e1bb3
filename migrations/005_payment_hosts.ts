/**
 * Payments beyond cash: the payment companies' hosts, tokenised card numbers, card payment
 * attempts with their host identity, a DB-enforced payment state machine, the reversal
 * store-and-forward queue, stores with POS registers and pay-at-register slips.
 *
 * payment_hosts: one row per payment company (card company, prepaid company, bank): its address,
 * its ISO 8583 field table (JSON, see domain/iso8583/field-table.ts), which payment methods it
 * serves, and its keys *by reference* (`zpk_ref` names a key in the configuration, see
 * lib/payment-keys.ts) — never key material.
 *
 * card_tokens: the card vault. A token (random, unrelated to the number) stands for a card number
 * everywhere else (workflow history, payments); the number itself is kept only here, encrypted
 * with AES-256-GCM under a vault key from configuration (lib/card-vault.ts), next to its last four
 * digits for receipts and screens.
 *
 * payments gains the card columns: the host, the token and last four, and the identity the host
 * dedupes on (STAN, terminal id of field 41, transmission time of field 7), written once when the
 * attempt is created so every retry resends exactly the same request. The unique key on
 * (host, field 41, STAN, field 7) keeps two attempts from ever sharing an identity.
 *
 * payment_transitions: one row per state change of a payment (append-only; unique per payment and
 * target state, so each transition happens once). payment_reversals: at most one per payment,
 * the queue entry a reversal workflow works off (0400, then 0420/0421 until acknowledged).
 *
 * stores / terminals.store_id / register_slips: a convenience store's POS registers authenticate
 * with a per-store token (only its SHA-256 is stored); a pay-at-register slip is a number the
 * kiosk prints, unique, with its amount and deadline, paid once by one POS transaction.
 */
import type { Knex } from 'knex';

const APPEND_ONLY = ['payment_transitions'];

export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';

  await knex.schema.createTable('payment_hosts', (t) => {
    t.string('id', 40).primary();
    t.string('company_name', 200).notNullable();
    /** Comma-separated payment methods this host authorises: credit, prepaid, debit. */
    t.string('methods', 100).notNullable();
    t.string('host', 200).notNullable();
    t.integer('port').notNullable();
    t.text('field_table').notNullable();
    /** Name of the zone PIN key in the configuration (PAYMENT_KEYS), not the key. */
    t.string('zpk_ref', 100).nullable();
    t.string('merchant_id', 15).notNullable();
    t.string('acquirer_id', 11).notNullable();
    t.integer('timeout_ms').notNullable().defaultTo(10_000);
    t.boolean('active').notNullable().defaultTo(true);
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
  });

  await knex.schema.createTable('card_tokens', (t) => {
    t.string('token', 40).primary();
    t.string('key_id', 40).notNullable();
    t.text('ciphertext').notNullable();
    t.string('last4', 4).notNullable();
    t.string('entry_mode', 20).notNullable();
    t.bigInteger('created_at_ms').notNullable();
  });

  await knex.schema.alterTable('payments', (t) => {
    t.string('host_id', 40).nullable();
    t.string('card_token', 40).nullable();
    t.string('card_last4', 4).nullable();
    t.string('request_mti', 4).nullable();
    t.string('stan', 6).nullable();
    t.string('terminal_ref', 8).nullable();
    /** Field 7, to the second, as epoch ms. */
    t.bigInteger('transmitted_at_ms').nullable();
    t.string('rrn', 12).nullable();
    t.string('host_rrn', 12).nullable();
    t.string('approval_code', 6).nullable();
    t.string('response_code', 2).nullable();
    t.integer('sent_count').notNullable().defaultTo(0);
    t.bigInteger('answered_at_ms').nullable();
    t.unique(['host_id', 'terminal_ref', 'stan', 'transmitted_at_ms'], { indexName: 'payments_host_identity_unique' });
    t.index(['status'], 'payments_status_index');
  });

  await knex.schema.createTable('payment_transitions', (t) => {
    t.bigIncrements('id');
    t.integer('payment_id').unsigned().notNullable().references('payments.id');
    t.string('from_status', 20).nullable();
    t.string('to_status', 20).notNullable();
    t.string('note', 200).nullable();
    t.bigInteger('at_ms').notNullable();
    t.unique(['payment_id', 'to_status']);
  });
  for (const table of APPEND_ONLY) {
    for (const op of ['UPDATE', 'DELETE']) {
      const name = `${table}_no_${op.toLowerCase()}`;
      if (mysql) await knex.raw(`CREATE TRIGGER ${name} BEFORE ${op} ON ${table} FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${table} are append-only'`);
      else await knex.raw(`CREATE TRIGGER ${name} BEFORE ${op} ON ${table} BEGIN SELECT RAISE(ABORT, '${table} are append-only'); END`);
    }
  }

  await knex.schema.createTable('payment_reversals', (t) => {
    t.increments('id');
    t.integer('payment_id').unsigned().notNullable().unique().references('payments.id');
    t.string('host_id', 40).notNullable();
    /** no_answer (outcome unknown), unknown_code, void (approved, then given up), abandoned. */
    t.string('reason', 30).notNullable();
    t.string('status', 20).notNullable();
    t.integer('sends').notNullable().defaultTo(0);
    t.string('last_mti', 4).nullable();
    t.string('last_response_code', 2).nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.bigInteger('acknowledged_at_ms').nullable();
    t.index(['status']);
  });

  await knex.schema.createTable('stores', (t) => {
    t.string('id', 40).primary();
    t.string('name', 200).notNullable();
    t.string('pos_token_sha256', 64).notNullable().unique();
    t.boolean('active').notNullable().defaultTo(true);
    t.bigInteger('created_at_ms').notNullable();
  });
  await knex.schema.alterTable('terminals', (t) => {
    t.string('store_id', 40).nullable();
  });

  await knex.schema.createTable('register_slips', (t) => {
    t.string('slip_number', 20).primary();
    t.string('issuance_id', 120).notNullable().unique().references('issuances.id');
    t.string('store_id', 40).notNullable().references('stores.id');
    t.string('terminal_id', 40).notNullable();
    t.integer('amount_minor').notNullable();
    t.string('currency', 3).notNullable();
    /** open → paid | expired | cancelled, by conditional updates. */
    t.string('status', 20).notNullable();
    t.bigInteger('expires_at_ms').notNullable();
    t.string('pos_transaction_id', 80).nullable().unique();
    t.string('register_id', 40).nullable();
    t.bigInteger('paid_at_ms').nullable();
    t.bigInteger('created_at_ms').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('register_slips');
  await knex.schema.alterTable('terminals', (t) => t.dropColumn('store_id'));
  await knex.schema.dropTableIfExists('stores');
  await knex.schema.dropTableIfExists('payment_reversals');
  for (const table of APPEND_ONLY) for (const op of ['update', 'delete']) await knex.raw(`DROP TRIGGER IF EXISTS ${table}_no_${op}`);
  await knex.schema.dropTableIfExists('payment_transitions');
  await knex.schema.alterTable('payments', (t) => {
    t.dropUnique(['host_id', 'terminal_ref', 'stan', 'transmitted_at_ms'], 'payments_host_identity_unique');
    t.dropIndex(['status'], 'payments_status_index');
    for (const c of ['host_id', 'card_token', 'card_last4', 'request_mti', 'stan', 'terminal_ref', 'transmitted_at_ms', 'rrn', 'host_rrn', 'approval_code', 'response_code', 'sent_count', 'answered_at_ms']) t.dropColumn(c);
  });
  await knex.schema.dropTableIfExists('card_tokens');
  await knex.schema.dropTableIfExists('payment_hosts');
}
