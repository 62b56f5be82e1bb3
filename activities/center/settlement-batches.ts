/**
 * The open settlement batch a new sale goes into (see migrations/007_settlement_batches.ts).
 *
 * A sale belongs to the batch of its issuer and the period it was sold in. If that batch has
 * already been claimed by a settlement (the sale is recorded late, after its period was settled),
 * it goes into the next period's batch, and so on: the first batch still open. The batch row is
 * read with a shared lock, held until the sale's transaction commits, so a settlement's claim
 * (an exclusive lock on the same row) waits for the sales already going in, and sales that come
 * after the claim see it claimed.
 */
import type { Knex } from 'knex';
import { periodContaining, type PeriodConfig } from '../../domain/settlement-period';
import { isMysql } from '../../lib/db';
import { refuse } from './errors';

/** Claimed periods a late sale may skip before something is wrong with the clock or the data. */
const MAX_PERIODS_AHEAD = 400;

/**
 * The id of the open batch for a sale of `issuerId` sold at `soldAtMs`, inside the sale's
 * transaction `trx`. A missing batch row is created with INSERT IGNORE before any locking read:
 * a locking read of a missing key under REPEATABLE READ takes a gap lock, and two sales creating
 * the same batch that way deadlocked on each other's gap.
 */
export async function openBatchFor(trx: Knex.Transaction, issuerId: string, soldAtMs: number, cfg: PeriodConfig, nowMs: number): Promise<number> {
  // SQLite has one writer at a time: its transaction already excludes the claim.
  const mysql = isMysql(trx);
  const read = (key: number) => {
    const q = trx('settlement_batches').where({ issuer_id: issuerId, period_start_ms: key });
    return (mysql ? q.forShare() : q).first('id', 'settlement_id');
  };
  let period = periodContaining(soldAtMs, cfg);
  for (let i = 0; i < MAX_PERIODS_AHEAD; i++) {
    // A plain read first: a locking read of a missing row would take that gap lock.
    const exists = await trx('settlement_batches').where({ issuer_id: issuerId, period_start_ms: period.startMs }).first('id');
    let batch = exists ? await read(period.startMs) : undefined;
    if (!batch) {
      await trx('settlement_batches')
        .insert({ issuer_id: issuerId, period_start_ms: period.startMs, period_end_ms: period.endMs, period_label: period.label, settlement_id: null, created_at_ms: nowMs })
        .onConflict(['issuer_id', 'period_start_ms'])
        .ignore();
      batch = await read(period.startMs);
    }
    if (batch && !batch.settlement_id) return Number(batch.id);
    period = periodContaining(period.endMs, cfg);
  }
  throw refuse('InvariantBroken', `issuer ${issuerId}: no open settlement batch within ${MAX_PERIODS_AHEAD} periods after ${new Date(soldAtMs).toISOString()}`);
}
