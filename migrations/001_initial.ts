/**
 * The center's schema. Runs unchanged on MySQL/MariaDB and SQLite. Money is in integer minor
 * units beside a currency; times are epoch milliseconds (`*_at_ms`) so both engines compare them
 * the same way. The unique keys are the invariants no two workflows may break: a seat sold
 * once, one sale per issuance, one card per chip UID, one notification per event.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('issuers', (t) => {
    t.string('id', 40).primary();
    t.string('name', 200).notNullable();
    t.string('currency', 3).notNullable().defaultTo('JPY');
    t.integer('fee_bps').notNullable().defaultTo(0);
    t.integer('fee_fixed_minor').notNullable().defaultTo(0);
    t.string('notify_url', 500).nullable();
    t.string('webhook_secret', 200).notNullable();
    t.bigInteger('created_at_ms').notNullable();
  });

  await knex.schema.createTable('images', (t) => {
    t.increments('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('content_type', 50).notNullable();
    t.specificType('bytes', knex.client.config.client === 'mysql2' ? 'mediumblob' : 'blob').notNullable();
    t.string('sha256', 64).notNullable();
  });

  await knex.schema.createTable('catalogue_nodes', (t) => {
    t.increments('id');
    t.integer('parent_id').unsigned().nullable().references('catalogue_nodes.id');
    t.string('issuer_id', 40).nullable().references('issuers.id');
    t.string('kind', 30).notNullable();
    t.string('name', 200).notNullable();
    t.integer('sort').notNullable().defaultTo(0);
    t.index(['parent_id']);
  });

  await knex.schema.createTable('products', (t) => {
    t.increments('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.integer('node_id').unsigned().notNullable().references('catalogue_nodes.id');
    t.string('type', 20).notNullable();
    t.string('name', 200).notNullable();
    t.string('currency', 3).notNullable().defaultTo('JPY');
    t.integer('issuance_fee_minor').notNullable().defaultTo(0);
    t.integer('face_image_id').unsigned().nullable().references('images.id');
    t.boolean('active').notNullable().defaultTo(true);
    t.index(['node_id']);
  });

  await knex.schema.createTable('performances', (t) => {
    t.increments('id');
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.string('starts_at', 30).notNullable();
    t.string('venue', 200).notNullable();
    t.index(['product_id']);
  });

  await knex.schema.createTable('seat_classes', (t) => {
    t.increments('id');
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.string('code', 10).notNullable();
    t.string('name', 100).notNullable();
    t.integer('price_minor').notNullable();
    t.unique(['product_id', 'code']);
  });

  await knex.schema.createTable('seats', (t) => {
    t.increments('id');
    t.integer('performance_id').unsigned().notNullable().references('performances.id');
    t.integer('class_id').unsigned().notNullable().references('seat_classes.id');
    t.string('section', 20).notNullable();
    t.string('row_label', 10).notNullable();
    t.integer('number').notNullable();
    t.string('status', 10).notNullable().defaultTo('available');
    t.string('hold_issuance_id', 120).nullable();
    t.bigInteger('held_until_ms').nullable();
    t.string('sold_issuance_id', 120).nullable().unique();
    t.unique(['performance_id', 'section', 'row_label', 'number']);
    t.index(['performance_id', 'status']);
  });

  await knex.schema.createTable('commuter_routes', (t) => {
    t.increments('id');
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.string('origin', 100).notNullable();
    t.string('destination', 100).notNullable();
    t.string('via', 200).nullable();
  });

  await knex.schema.createTable('commuter_fares', (t) => {
    t.increments('id');
    t.integer('route_id').unsigned().notNullable().references('commuter_routes.id');
    t.integer('months').notNullable();
    t.integer('price_minor').notNullable();
    t.unique(['route_id', 'months']);
  });

  await knex.schema.createTable('prepaid_values', (t) => {
    t.increments('id');
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.integer('value_minor').notNullable();
    t.integer('price_minor').notNullable();
  });

  await knex.schema.createTable('terminals', (t) => {
    t.string('id', 40).primary();
    t.string('kind', 20).notNullable();
    t.string('name', 200).notNullable();
    t.string('location', 200).nullable();
    t.boolean('active').notNullable().defaultTo(true);
  });

  await knex.schema.createTable('issuances', (t) => {
    t.string('id', 120).primary();
    t.string('terminal_id', 40).notNullable().references('terminals.id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.string('product_type', 20).notNullable();
    t.text('selection').notNullable();
    t.string('title', 300).notNullable();
    t.integer('price_minor').notNullable();
    t.integer('customer_fee_minor').notNullable();
    t.integer('total_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 20).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.index(['terminal_id']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.increments('id');
    t.string('issuance_id', 120).notNullable().references('issuances.id');
    t.integer('attempt').notNullable().defaultTo(1);
    t.string('method', 20).notNullable();
    t.integer('amount_minor').notNullable();
    t.integer('tendered_minor').notNullable();
    t.integer('change_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 20).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.unique(['issuance_id', 'attempt']);
  });

  await knex.schema.createTable('cards', (t) => {
    t.string('id', 40).primary();
    t.string('issuance_id', 120).notNullable().references('issuances.id');
    t.string('uid', 40).notNullable().unique();
    t.string('status', 20).notNullable();
    t.string('spoil_reason', 200).nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.index(['issuance_id']);
  });

  await knex.schema.createTable('sales', (t) => {
    t.increments('id');
    t.string('issuance_id', 120).notNullable().unique().references('issuances.id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.string('card_id', 40).notNullable().references('cards.id');
    t.integer('price_minor').notNullable();
    t.integer('customer_fee_minor').notNullable();
    t.integer('operator_fee_minor').notNullable();
    t.integer('issuer_net_minor').notNullable();
    t.integer('fee_bps').notNullable();
    t.integer('fee_fixed_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.bigInteger('sold_at_ms').notNullable();
    t.index(['issuer_id', 'sold_at_ms']);
  });

  await knex.schema.createTable('issuer_notifications', (t) => {
    t.string('event_id', 160).primary();
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('issuance_id', 120).notNullable().references('issuances.id');
    t.string('type', 40).notNullable();
    t.text('payload').notNullable();
    t.string('status', 20).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('last_error', 500).nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('delivered_at_ms').nullable();
    t.unique(['issuance_id', 'type']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'issuer_notifications', 'sales', 'cards', 'payments', 'issuances', 'terminals', 'prepaid_values',
    'commuter_fares', 'commuter_routes', 'seats', 'seat_classes', 'performances', 'products',
    'catalogue_nodes', 'images', 'issuers',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
