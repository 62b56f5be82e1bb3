/**
 * The issuer API (api/routes/issuer/): issuers' own servers manage their catalogue, read their
 * notifications' delivery log, sales and settlements.
 *
 * issuer_api_keys: an issuer's API keys, stored only as the SHA-256 of the whole key (the key is
 *   `icc_<key id>_<256-bit secret>`, shown once when an operator creates it). Revoked keys stay
 *   (revoked_at_ms) so the audit trail keeps naming them.
 * issuer_api_changes: one row per change an issuer made through the API (which key, what), written
 *   in the same transaction as the change.
 * images: metadata columns (name, size, pixel size, upload time) for uploads; old rows keep NULLs.
 *   Images are immutable: a new face is a new image, so a face already printed can always be
 *   found again.
 * face_templates: an issuer's card face (its image, whether the holder's photo is printed);
 *   products.face_template_id names it and products.face_image_id keeps the template's image for
 *   the kiosk and the printer.
 * application_packages: CPU card applications (e.g. a Java Card CAP file), immutable, unique per
 *   (issuer, name, version), stored with the SHA-256 the issuer declared and we verified.
 *   product_applications links them to products.
 * issuer_notification_attempts: the delivery log of issuer notifications, one row per attempt.
 *   Written by triggers on issuer_notifications, so every sender (activities/center/notifications.ts
 *   and whatever sends lifecycle events later) is logged the same way without knowing about it:
 *   an increment of `attempts` starts an attempt ("sending"); `status` becoming delivered ends it
 *   as delivered; a `last_error` written without a status change ends it as failed. Times are the
 *   database's clock.
 */
import type { Knex } from 'knex';

const NOW_MS_MYSQL = 'CAST(ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED)';
const NOW_MS_SQLITE = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)";

export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';

  await knex.schema.createTable('issuer_api_keys', (t) => {
    t.string('key_id', 32).primary();
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('secret_sha256', 64).notNullable();
    t.string('label', 100).notNullable();
    t.string('created_by', 100).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('last_used_at_ms').nullable();
    t.bigInteger('revoked_at_ms').nullable();
    t.string('revoked_by', 100).nullable();
    t.index(['issuer_id']);
  });

  await knex.schema.createTable('issuer_api_changes', (t) => {
    t.bigIncrements('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('key_id', 32).notNullable();
    t.string('operation', 60).notNullable();
    t.string('entity', 40).notNullable();
    t.string('entity_id', 60).notNullable();
    t.text('detail').nullable();
    t.bigInteger('at_ms').notNullable();
    t.index(['issuer_id', 'at_ms']);
    t.index(['entity', 'entity_id']);
  });

  await knex.schema.alterTable('images', (t) => {
    t.string('name', 200).nullable();
    t.integer('byte_size').nullable();
    t.integer('width').nullable();
    t.integer('height').nullable();
    t.bigInteger('created_at_ms').nullable();
  });

  await knex.schema.createTable('face_templates', (t) => {
    t.increments('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('name', 200).notNullable();
    t.integer('image_id').unsigned().notNullable().references('images.id');
    t.boolean('holder_photo').notNullable().defaultTo(false);
    t.bigInteger('created_at_ms').notNullable();
    t.bigInteger('updated_at_ms').notNullable();
    t.index(['issuer_id']);
  });

  await knex.schema.alterTable('products', (t) => {
    t.integer('face_template_id').unsigned().nullable().references('face_templates.id');
  });

  await knex.schema.createTable('application_packages', (t) => {
    t.increments('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.string('name', 100).notNullable();
    t.string('version', 40).notNullable();
    t.string('aid', 32).notNullable();
    t.string('format', 20).notNullable();
    t.specificType('bytes', mysql ? 'longblob' : 'blob').notNullable();
    t.integer('byte_size').notNullable();
    t.string('sha256', 64).notNullable();
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['issuer_id', 'name', 'version']);
  });

  await knex.schema.createTable('product_applications', (t) => {
    t.integer('product_id').unsigned().notNullable().references('products.id');
    t.integer('package_id').unsigned().notNullable().references('application_packages.id');
    t.primary(['product_id', 'package_id']);
    t.index(['package_id']);
  });

  await knex.schema.alterTable('issuer_notifications', (t) => {
    t.index(['issuer_id', 'created_at_ms'], 'issuer_notifications_issuer_created_index');
  });
  if (!mysql) {
    // MySQL indexes foreign keys by itself; SQLite does not. The issuer API looks issuances up by product.
    await knex.schema.alterTable('issuances', (t) => t.index(['product_id'], 'issuances_product_id_index'));
  }

  await knex.schema.createTable('issuer_notification_attempts', (t) => {
    t.bigIncrements('id');
    t.string('event_id', 160).notNullable().references('issuer_notifications.event_id');
    t.string('issuer_id', 40).notNullable();
    t.integer('attempt').notNullable();
    t.bigInteger('started_at_ms').notNullable();
    t.bigInteger('finished_at_ms').nullable();
    t.string('outcome', 20).notNullable();
    t.string('error', 500).nullable();
    t.unique(['event_id', 'attempt']);
  });

  if (mysql) {
    await knex.raw(`
      CREATE TRIGGER issuer_notifications_delivery_log AFTER UPDATE ON issuer_notifications FOR EACH ROW
      BEGIN
        IF NEW.attempts > OLD.attempts THEN
          INSERT INTO issuer_notification_attempts (event_id, issuer_id, attempt, started_at_ms, outcome)
            VALUES (NEW.event_id, NEW.issuer_id, NEW.attempts, ${NOW_MS_MYSQL}, 'sending');
        ELSEIF NEW.status = 'delivered' AND OLD.status <> 'delivered' THEN
          UPDATE issuer_notification_attempts SET outcome = 'delivered', error = NULL, finished_at_ms = ${NOW_MS_MYSQL}
            WHERE event_id = NEW.event_id AND attempt = NEW.attempts;
        ELSEIF NEW.last_error IS NOT NULL AND NEW.status = OLD.status THEN
          UPDATE issuer_notification_attempts SET outcome = 'failed', error = NEW.last_error, finished_at_ms = ${NOW_MS_MYSQL}
            WHERE event_id = NEW.event_id AND attempt = NEW.attempts AND outcome = 'sending';
        END IF;
      END`);
  } else {
    await knex.raw(`
      CREATE TRIGGER issuer_notifications_attempt_started AFTER UPDATE OF attempts ON issuer_notifications
      FOR EACH ROW WHEN NEW.attempts > OLD.attempts
      BEGIN
        INSERT INTO issuer_notification_attempts (event_id, issuer_id, attempt, started_at_ms, outcome)
          VALUES (NEW.event_id, NEW.issuer_id, NEW.attempts, ${NOW_MS_SQLITE}, 'sending');
      END`);
    await knex.raw(`
      CREATE TRIGGER issuer_notifications_attempt_delivered AFTER UPDATE OF status ON issuer_notifications
      FOR EACH ROW WHEN NEW.status = 'delivered' AND OLD.status <> 'delivered' AND NEW.attempts = OLD.attempts
      BEGIN
        UPDATE issuer_notification_attempts SET outcome = 'delivered', error = NULL, finished_at_ms = ${NOW_MS_SQLITE}
          WHERE event_id = NEW.event_id AND attempt = NEW.attempts;
      END`);
    await knex.raw(`
      CREATE TRIGGER issuer_notifications_attempt_failed AFTER UPDATE OF last_error ON issuer_notifications
      FOR EACH ROW WHEN NEW.last_error IS NOT NULL AND NEW.status = OLD.status AND NEW.attempts = OLD.attempts
      BEGIN
        UPDATE issuer_notification_attempts SET outcome = 'failed', error = NEW.last_error, finished_at_ms = ${NOW_MS_SQLITE}
          WHERE event_id = NEW.event_id AND attempt = NEW.attempts AND outcome = 'sending';
      END`);
  }
}

export async function down(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';
  for (const name of ['issuer_notifications_delivery_log', 'issuer_notifications_attempt_started', 'issuer_notifications_attempt_delivered', 'issuer_notifications_attempt_failed']) {
    await knex.raw(`DROP TRIGGER IF EXISTS ${name}`);
  }
  await knex.schema.dropTable('issuer_notification_attempts');
  if (!mysql) await knex.schema.alterTable('issuances', (t) => t.dropIndex(['product_id'], 'issuances_product_id_index'));
  if (mysql) {
    // MySQL let the issuer_id foreign key use the composite index in place of its own; give it its own back first.
    const [own] = await knex.raw("SHOW INDEX FROM issuer_notifications WHERE Key_name = 'issuer_notifications_issuer_id_foreign'");
    if (own.length === 0) await knex.schema.alterTable('issuer_notifications', (t) => t.index(['issuer_id'], 'issuer_notifications_issuer_id_foreign'));
  }
  await knex.schema.alterTable('issuer_notifications', (t) => t.dropIndex(['issuer_id', 'created_at_ms'], 'issuer_notifications_issuer_created_index'));
  await knex.schema.dropTable('product_applications');
  await knex.schema.dropTable('application_packages');
  await knex.schema.alterTable('products', (t) => {
    t.dropForeign(['face_template_id']);
    t.dropColumn('face_template_id');
  });
  await knex.schema.dropTable('face_templates');
  await knex.schema.alterTable('images', (t) => {
    for (const c of ['name', 'byte_size', 'width', 'height', 'created_at_ms']) t.dropColumn(c);
  });
  await knex.schema.dropTable('issuer_api_changes');
  await knex.schema.dropTable('issuer_api_keys');
}
