/**
 * Registered users (JP2002207970 ¶0035-0040): attributes, a PIN, a user ID shown to the person,
 * an identity check done once by an operator who saw an ID document, an optional face photo.
 *
 * users: the profile; `pin_hash` is a self-describing scrypt string (lib/pin-hash.ts: algorithm,
 *   N/r/p, salt, hash), never the PIN. `failed_pin_attempts` and `locked_at_ms` are updated with
 *   conditional single-statement UPDATEs (lib/user-login.ts) so concurrent wrong PINs cannot pass
 *   the limit; a lock survives restarts because it lives here. `identity_status` is
 *   unchecked | verified | rejected, with the operator and time that set it and the kind of
 *   document seen (never its number).
 * user_photos: the optional face photo (PNG or JPEG bytes, like `images` but never public: it is
 *   served to no one except the card printer through the issuance that prints it).
 * user_sessions: kiosk logins. Only the SHA-256 of the random token is stored; the session is bound
 *   to the terminal it was opened at and expires.
 * issuances.user_id: who bought (null for anonymous purchases); the chip record carries it.
 * issuances.renews_card_id: a "renew my pass" purchase continues that card's validity.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';
  await knex.schema.createTable('users', (t) => {
    t.string('id', 12).primary();
    t.string('name', 100).notNullable();
    t.string('name_kana', 100).nullable();
    t.string('birth_date', 10).notNullable();
    t.string('gender', 20).nullable();
    t.string('postal_code', 8).nullable();
    t.string('address', 300).notNullable();
    t.string('phone', 20).notNullable();
    t.string('email', 200).nullable();
    t.string('occupation', 100).nullable();
    t.string('workplace_name', 200).nullable();
    t.string('workplace_address', 300).nullable();
    t.integer('household_size').nullable();
    t.string('commute_from', 100).nullable();
    t.string('commute_to', 100).nullable();
    t.string('pin_hash', 200).notNullable();
    t.integer('failed_pin_attempts').notNullable().defaultTo(0);
    t.bigInteger('locked_at_ms').nullable();
    t.string('identity_status', 12).notNullable().defaultTo('unchecked');
    t.string('identity_document', 30).nullable();
    t.string('identity_checked_by', 100).nullable();
    t.bigInteger('identity_checked_at_ms').nullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
  });
  await knex.schema.createTable('user_photos', (t) => {
    t.string('user_id', 12).primary().references('users.id');
    t.string('content_type', 20).notNullable();
    t.specificType('bytes', mysql ? 'mediumblob' : 'blob').notNullable();
    t.integer('byte_size').notNullable();
    t.integer('width').notNullable();
    t.integer('height').notNullable();
    t.string('sha256', 64).notNullable();
    t.bigInteger('created_at_ms').notNullable();
  });
  await knex.schema.createTable('user_sessions', (t) => {
    t.string('token_sha256', 64).primary();
    t.string('user_id', 12).notNullable().references('users.id');
    t.string('terminal_id', 40).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('expires_at_ms').notNullable();
    t.bigInteger('ended_at_ms').nullable();
    t.index(['user_id']);
  });
  await knex.schema.alterTable('issuances', (t) => {
    t.string('user_id', 12).nullable();
    t.string('renews_card_id', 40).nullable();
    t.index(['user_id', 'created_at_ms'], 'issuances_user_index');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('issuances', (t) => {
    t.dropIndex(['user_id', 'created_at_ms'], 'issuances_user_index');
    t.dropColumn('user_id');
    t.dropColumn('renews_card_id');
  });
  await knex.schema.dropTableIfExists('user_sessions');
  await knex.schema.dropTableIfExists('user_photos');
  await knex.schema.dropTableIfExists('users');
}
