import type { Db } from '../../lib/db';
import type { PeriodConfig } from '../../domain/settlement-period';
import type { CardVault } from '../../lib/card-vault';
import type { PaymentHostClients } from '../../lib/payment-hosts';
import type { CardSigningKeys } from '../../lib/card-signing';

/** What center activities need from the outside world; tests pass real or fake ones. */
export interface CenterDeps {
  db: Db;
  now?: () => number;
  /** HTTP client for issuer notifications (global fetch by default). */
  fetch?: typeof fetch;
  notifyTimeoutMs?: number;
  /** Deadline of an issuer's answer to a stock card activation (default 5 s). */
  activationTimeoutMs?: number;
  /** Settlement periods (close time and zone) that sales are batched by; from configuration by default. */
  periodConfig?: PeriodConfig;
  /** The card vault (default: keys from CARD_VAULT_KEYS or $DATA_DIR, see lib/card-vault.ts). */
  cardVault?: CardVault;
  /** Connections to the payment companies' hosts (default: one pool per worker over `db`). */
  paymentHosts?: PaymentHostClients;
  /** Tests only: SIGKILL the worker right after sending a host request with this MTI (FAULT_KILL_AFTER_PAYMENT_SEND). */
  faultKillAfterPaymentSend?: string;
  /** The center's card signing keys; from configuration or $DATA_DIR by default (lib/card-signing.ts). */
  cardKeys?: CardSigningKeys;
}

