/**
 * Verification and revocation of issued cards.
 *
 * cards gets its validity window (written when the chip record is prepared, the same instants the
 * signed record carries), so the online check needs only the card's own row. card_revocations
 * holds one row per revoked card (its primary key makes a second revocation a no-op): the reason,
 * who asked (kind + id: an issuer's API key id, never a person's data), the caller's request id,
 * and the workflow that did it. Verification is a primary-key lookup on cards, issuances and
 * card_revocations.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('cards', (t) => {
    t.bigInteger('valid_from_ms').nullable();
    t.bigInteger('valid_until_ms').nullable();
  });
  await knex.schema.createTable('card_revocations', (t) => {
    t.string('card_id', 40).primary().references('cards.id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('reason', 20).notNullable();
    t.string('requested_by_kind', 20).notNullable();
    t.string('requested_by_id', 100).notNullable();
    t.string('request_id', 100).notNullable();
    t.string('workflow_id', 160).notNullable();
    t.bigInteger('revoked_at_ms').notNullable();
    t.index(['issuer_id', 'revoked_at_ms']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('card_revocations');
  await knex.schema.alterTable('cards', (t) => {
    t.dropColumn('valid_from_ms');
    t.dropColumn('valid_until_ms');
  });
}
