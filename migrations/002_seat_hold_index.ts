/**
 * Index seats by the issuance holding them. Releasing an issuance's hold updates
 * `WHERE hold_issuance_id = ?`; without an index MariaDB locks every row it scans, and concurrent
 * kiosks deadlocked on each other's releases.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('seats', (t) => t.index(['hold_issuance_id'], 'seats_hold_issuance_id_index'));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('seats', (t) => t.dropIndex(['hold_issuance_id'], 'seats_hold_issuance_id_index'));
}
