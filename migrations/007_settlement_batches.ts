/**
 * Settlement claims by batch instead of by row.
 *
 * Before: a settlement claimed its sales with `UPDATE sales SET settlement_id = …` — one row write
 * (and two index rewrites) per sale, 1,000,000 of them on a big day, with range locks between
 * issuers. Now every sale is put, when it is recorded, into its issuer's open batch for the period
 * it was sold in (`settlement_batches`, one row per issuer and period), and a settlement claims
 * whole batches: `UPDATE settlement_batches SET settlement_id = …` touches a handful of rows
 * whatever the day's volume. A sale recorded after its period's batch was claimed goes into the
 * next open batch (a late sale, visibly). The sale's transaction holds a shared lock on its batch
 * row, and the claim an exclusive one, so a sale either commits into the batch before the claim
 * or sees the batch claimed and moves on: each sale in exactly one settlement, as before.
 *
 * sales gets `batch_id` (with a covering index for the settlement's sums and items) and `title`
 * (so a statement never joins `issuances`); the per-row `settlement_id` and its indexes go.
 * Refunds are few: they keep their per-row claim (`sale_refunds.settlement_id`).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settlement_batches', (t) => {
    t.increments('id');
    t.string('issuer_id', 40).notNullable().references('issuers.id');
    t.bigInteger('period_start_ms').notNullable();
    t.bigInteger('period_end_ms').notNullable();
    t.string('period_label', 10).notNullable();
    t.string('settlement_id', 120).nullable().references('settlements.id');
    t.bigInteger('created_at_ms').notNullable();
    t.unique(['issuer_id', 'period_start_ms']);
    t.index(['issuer_id', 'settlement_id', 'period_end_ms'], 'settlement_batches_open_index');
    t.index(['settlement_id'], 'settlement_batches_settlement_id_index');
  });

  await knex.schema.alterTable('sales', (t) => {
    t.integer('batch_id').unsigned().nullable().references('settlement_batches.id');
    t.string('title', 300).nullable();
  });

  // Sales recorded before this migration: their batch is their period's (UTC days here: the
  // period config is not known to a migration; a settled sale's batch is claimed by its
  // settlement below, so only unsettled sales' grouping depends on it, and any grouping of them
  // is claimed by the first settlement whose end is after the batch's end).
  const legacy = await knex('sales').count({ c: '*' }).first();
  if (Number(legacy?.c ?? 0) > 0) await moveLegacySales(knex);

  await knex.schema.alterTable('sales', (t) => {
    t.dropIndex(['issuer_id', 'settlement_id', 'sold_at_ms'], 'sales_issuer_unsettled_index');
    t.dropIndex(['settlement_id'], 'sales_settlement_id_index');
  });
  await knex.schema.alterTable('sales', (t) => t.dropColumn('settlement_id'));
  await knex.schema.alterTable('sales', (t) => {
    t.index(['batch_id', 'sold_at_ms', 'price_minor', 'operator_fee_minor', 'issuer_net_minor'], 'sales_batch_items_index');
  });
}

const DAY = 86_400_000;

/** Existing sales into batches: settled ones by settlement, unsettled ones by UTC day. */
async function moveLegacySales(knex: Knex): Promise<void> {
  const now = Date.now();
  const settled = await knex('sales as s').join('settlements as t', 't.id', 's.settlement_id').distinct('t.id', 't.issuer_id', 't.period_start_ms', 't.period_end_ms', 't.period_label');
  for (const t of settled) {
    const [id] = await knex('settlement_batches').insert({ issuer_id: t.issuer_id, period_start_ms: t.period_start_ms, period_end_ms: t.period_end_ms, period_label: t.period_label, settlement_id: t.id, created_at_ms: now });
    await knex('sales').where({ settlement_id: t.id }).update({ batch_id: id });
  }
  const open = await knex('sales').whereNull('settlement_id').distinct('issuer_id', knex.raw('sold_at_ms - (sold_at_ms % ?) as day', [DAY]));
  for (const o of open) {
    const start = Number(o.day);
    const existing = await knex('settlement_batches').where({ issuer_id: o.issuer_id, period_start_ms: start }).first('id', 'settlement_id');
    // A settled batch with the same start (a UTC-aligned settlement period) is not reused: the
    // open one is keyed a millisecond later.
    const key = existing?.settlement_id ? start + 1 : start;
    const id = existing && !existing.settlement_id ? existing.id : (await knex('settlement_batches').insert({ issuer_id: o.issuer_id, period_start_ms: key, period_end_ms: start + DAY, period_label: new Date(start).toISOString().slice(0, 10), settlement_id: null, created_at_ms: now }))[0];
    await knex('sales').whereNull('settlement_id').andWhere({ issuer_id: o.issuer_id }).andWhere('sold_at_ms', '>=', start).andWhere('sold_at_ms', '<', start + DAY).update({ batch_id: id });
  }
  await knex('sales').update({ title: knex('issuances').select('title').where('issuances.id', knex.ref('sales.issuance_id')) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sales', (t) => t.dropIndex(['batch_id', 'sold_at_ms', 'price_minor', 'operator_fee_minor', 'issuer_net_minor'], 'sales_batch_items_index'));
  await knex.schema.alterTable('sales', (t) => {
    t.string('settlement_id', 120).nullable();
  });
  await knex('sales').update({ settlement_id: knex('settlement_batches').select('settlement_id').where('settlement_batches.id', knex.ref('sales.batch_id')) });
  await knex.schema.alterTable('sales', (t) => {
    t.dropForeign(['batch_id']);
  });
  await knex.schema.alterTable('sales', (t) => {
    t.dropColumn('batch_id');
    t.dropColumn('title');
    t.index(['settlement_id'], 'sales_settlement_id_index');
    t.index(['issuer_id', 'settlement_id', 'sold_at_ms'], 'sales_issuer_unsettled_index');
  });
  await knex.schema.dropTable('settlement_batches');
}
