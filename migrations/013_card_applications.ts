/**
 * Applications installed on CPU cards: one row per card and application AID, written when the
 * terminal has installed the package (at issuance, or added later at a kiosk). The primary key
 * (card, AID) makes a retried record a no-op; the package id and its SHA-256 say exactly which
 * bytes went onto the card (packages are immutable). `source` is 'issuance' or 'added';
 * `workflow_id` names the workflow that installed it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('card_applications', (t) => {
    t.string('card_id', 40).notNullable().references('cards.id');
    t.string('aid', 32).notNullable();
    t.integer('package_id').unsigned().notNullable().references('application_packages.id');
    t.string('package_sha256', 64).notNullable();
    t.string('source', 20).notNullable();
    t.string('workflow_id', 160).notNullable();
    t.bigInteger('installed_at_ms').notNullable();
    t.primary(['card_id', 'aid']);
    t.index(['package_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('card_applications');
}
