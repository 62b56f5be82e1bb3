/**
 * Reissue of a revoked card (docs/issuance.md, "Reissue"): the issuer asks for it and gets a
 * pickup code; the holder collects an identical card at a kiosk through an issuance whose item is
 * the reissue.
 *
 * card_reissues: one row per replaced card (its primary key is the old card's id, so a card is
 * reissued at most once; a replacement that is lost in turn is reissued under its own id). The
 * row links both ways: original_card_id (the card replaced) and new_card_id (its replacement,
 * unique). The pickup code is kept only as its SHA-256 (unique). claim_issuance_id is the kiosk
 * issuance collecting it now (unique: one issuance collects one reissue). fee_minor is the fee the
 * holder pays at the kiosk (the issuer's fee rule's reissue fee, or 0 when waived). Who asked is
 * an issuer's API key id: nothing personal.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('card_reissues', (t) => {
    t.string('original_card_id', 40).primary().references('cards.id');
    t.string('original_issuance_id', 120).notNullable().references('issuances.id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('status', 20).notNullable();
    t.string('pickup_code_hash', 64).notNullable().unique();
    t.integer('fee_minor').notNullable();
    t.boolean('fee_waived').notNullable();
    t.string('reason', 20).notNullable();
    t.string('requested_by_kind', 20).notNullable();
    t.string('requested_by_id', 100).notNullable();
    t.string('request_id', 100).notNullable();
    t.string('claim_issuance_id', 120).nullable().unique().references('issuances.id');
    t.string('new_card_id', 40).nullable().unique().references('cards.id');
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.bigInteger('completed_at_ms').nullable();
    t.index(['issuer_id', 'created_at_ms']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('card_reissues');
}
