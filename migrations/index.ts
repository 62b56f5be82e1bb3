/**
 * The migrations, listed in order. A static list (rather than a directory scan) runs the same
 * from TypeScript sources under jest and from compiled JavaScript in dist/.
 */
import type { Knex } from 'knex';
import * as initial from './001_initial';
import * as seatHoldIndex from './002_seat_hold_index';
import * as ledgerAndFeeRules from './003_ledger_and_fee_rules';
import * as settlements from './004_settlements';
import * as paymentHosts from './005_payment_hosts';
import * as issuerApi from './006_issuer_api';
import * as settlementBatches from './007_settlement_batches';
import * as cardRevocations from './008_card_revocations';
import * as registeredUsers from './009_registered_users';
import * as cardReissues from './010_card_reissues';
import * as stockCardsAndReloads from './011_stock_cards_and_reloads';
import * as cashShortfalls from './012_cash_shortfalls';
import * as cardApplications from './013_card_applications';
import * as operatorAlerts from './015_operator_alerts';

const MIGRATIONS: Record<string, Knex.Migration> = {
  '001_initial': initial,
  '002_seat_hold_index': seatHoldIndex,
  '003_ledger_and_fee_rules': ledgerAndFeeRules,
  '004_settlements': settlements,
  '005_payment_hosts': paymentHosts,
  '006_issuer_api': issuerApi,
  '007_settlement_batches': settlementBatches,
  '008_card_revocations': cardRevocations,
  '009_registered_users': registeredUsers,
  '010_card_reissues': cardReissues,
  '011_stock_cards_and_reloads': stockCardsAndReloads,
  '012_cash_shortfalls': cashShortfalls,
  '013_card_applications': cardApplications,
  '015_operator_alerts': operatorAlerts,
};

class StaticMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return Object.keys(MIGRATIONS);
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    return MIGRATIONS[name];
  }
}

export async function migrateLatest(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource: new StaticMigrationSource() });
}
