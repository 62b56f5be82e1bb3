/**
 * Demo payment companies and store: a card company (credit), a prepaid company and a bank
 * (debit with PIN), each with its own host address and field table (the bank speaks the packed-BCD
 * dialect), keys by reference (`dev-test-zpk`: the published development test key, see
 * lib/payment-keys.ts); and the demo convenience store whose POS register pays slips, with the
 * demo terminals in it. Idempotent: re-running updates addresses (the simulators' ports may
 * change between runs) and the store's token.
 */
import type { Knex } from 'knex';
import { bcdFieldTable, defaultFieldTable, type FieldTable } from '../../domain/iso8583';
import { DEV_TEST_ZPK_REF } from '../../lib/payment-keys';

export const DEMO_PAYMENT_HOSTS = {
  card: { id: 'sakura-card', companyName: 'Sakura Card Co.', methods: 'credit', table: defaultFieldTable },
  prepaid: { id: 'hoshi-prepaid', companyName: 'Hoshi Prepaid', methods: 'prepaid', table: defaultFieldTable },
  bank: { id: 'midori-bank', companyName: 'Midori Bank', methods: 'debit', table: bcdFieldTable },
} as const satisfies Record<string, { id: string; companyName: string; methods: string; table: FieldTable }>;

export type DemoHostKind = keyof typeof DEMO_PAYMENT_HOSTS;

export const DEMO_STORE_ID = 'store-shinjuku-1';

export interface HostAddress {
  host: string;
  port: number;
}

export async function seedPaymentHosts(db: Knex, addresses: Record<DemoHostKind, HostAddress>, timeoutMs = 10_000): Promise<void> {
  const now = Date.now();
  for (const kind of Object.keys(DEMO_PAYMENT_HOSTS) as DemoHostKind[]) {
    const h = DEMO_PAYMENT_HOSTS[kind];
    const row = {
      company_name: h.companyName,
      methods: h.methods,
      host: addresses[kind].host,
      port: addresses[kind].port,
      field_table: JSON.stringify(h.table),
      zpk_ref: DEV_TEST_ZPK_REF,
      merchant_id: 'ICKIOSK00000001',
      acquirer_id: '00000012345',
      timeout_ms: timeoutMs,
      active: true,
      updated_at_ms: now,
    };
    const existing = await db('payment_hosts').where({ id: h.id }).first('id');
    if (existing) await db('payment_hosts').where({ id: h.id }).update(row);
    else await db('payment_hosts').insert({ ...row, id: h.id, created_at_ms: now });
  }
}

/** The demo store, its POS token (only the SHA-256 is stored) and the terminals standing in it. */
export async function seedDemoStore(db: Knex, posTokenSha256: string, terminalIds: string[]): Promise<void> {
  const existing = await db('stores').where({ id: DEMO_STORE_ID }).first('id');
  if (existing) await db('stores').where({ id: DEMO_STORE_ID }).update({ pos_token_sha256: posTokenSha256, active: true });
  else await db('stores').insert({ id: DEMO_STORE_ID, name: 'Demo convenience store, Shinjuku', pos_token_sha256: posTokenSha256, active: true, created_at_ms: Date.now() });
  if (terminalIds.length) await db('terminals').whereIn('id', terminalIds).whereNull('store_id').update({ store_id: DEMO_STORE_ID });
}
