import type { Db } from '../../lib/db';
import type { PeriodConfig } from '../../domain/settlement-period';
import type { CardSigningKeys } from '../../lib/card-signing';

/** What center activities need from the outside world; tests pass real or fake ones. */
export interface CenterDeps {
  db: Db;
  now?: () => number;
  /** HTTP client for issuer notifications (global fetch by default). */
  fetch?: typeof fetch;
  notifyTimeoutMs?: number;
  /** Settlement periods (close time and zone) that sales are batched by; from configuration by default. */
  periodConfig?: PeriodConfig;
  /** The center's card signing keys; from configuration or $DATA_DIR by default (lib/card-signing.ts). */
  cardKeys?: CardSigningKeys;
}

