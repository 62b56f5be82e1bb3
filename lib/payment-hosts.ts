/**
 * The payment companies' hosts as the center uses them: their configuration from the DB
 * (`payment_hosts`), one long-lived ISO 8583 connection per host (signed on with 0800/001 when it
 * is first opened), and the request identity every message carries.
 *
 * Identity (docs/payment-host-protocol.md, "Duplicate transmission detection"): a host dedupes
 * 0100/0200 on STAN (11) + terminal id (41) + transmission time (7). The STAN is derived from the
 * issuance and the attempt number (SHA-256 → 6 digits), field 41 from the terminal id, field 7
 * from the moment the attempt is created; all three are stored with the attempt before the first
 * send, so a retried activity resends the very same request and the host answers it once. The
 * retrieval reference number (37) is derived the usual way: last digit of the year ‖ day of the
 * year ‖ hour ‖ STAN.
 */
import { createHash } from 'node:crypto';
import type { Db } from './db';
import { Iso8583Client } from './iso8583-framing';
import type { FieldTable, Iso8583Fields } from '../domain/iso8583';
import type { CardMethod } from '../domain/payments';

export interface PaymentHostConfig {
  id: string;
  companyName: string;
  methods: string[];
  host: string;
  port: number;
  table: FieldTable;
  zpkRef: string | null;
  merchantId: string;
  acquirerId: string;
  timeoutMs: number;
}

function toConfig(r: Record<string, any>): PaymentHostConfig {
  return {
    id: r.id,
    companyName: r.company_name,
    methods: String(r.methods).split(',').map((m: string) => m.trim()).filter(Boolean),
    host: r.host,
    port: Number(r.port),
    table: JSON.parse(r.field_table) as FieldTable,
    zpkRef: r.zpk_ref ?? null,
    merchantId: r.merchant_id,
    acquirerId: r.acquirer_id,
    timeoutMs: Number(r.timeout_ms),
  };
}

export async function loadPaymentHost(db: Db, id: string): Promise<PaymentHostConfig | undefined> {
  const r = await db('payment_hosts').where({ id }).first();
  return r ? toConfig(r) : undefined;
}

/** The active host that authorises a method (one payment company per method in this network). */
export async function hostForMethod(db: Db, method: CardMethod): Promise<PaymentHostConfig | undefined> {
  const rows = await db('payment_hosts').where({ active: true }).orderBy('id');
  const r = rows.find((row: Record<string, any>) => String(row.methods).split(',').map((m) => m.trim()).includes(method));
  return r ? toConfig(r) : undefined;
}

// ---- identity -----------------------------------------------------------------------------------

/** Six digits (000001–999999) derived from a seed such as `<issuance>#<attempt>`. */
export function deriveStan(seed: string): string {
  const n = createHash('sha256').update(seed).digest().readUInt32BE(0) % 999_999;
  return String(n + 1).padStart(6, '0');
}

/** Field 41 is 8 characters: short terminal ids as they are, longer ones as a stable 8-character code. */
export function terminalRef(terminalId: string): string {
  if (terminalId.length <= 8 && /^[\x20-\x7e]+$/.test(terminalId)) return terminalId.padEnd(8, ' ');
  return `K${createHash('sha256').update(terminalId).digest('hex').slice(0, 7).toUpperCase()}`;
}

const two = (n: number) => String(n).padStart(2, '0');

/** Fields 7 (MMDDhhmmss), 12 (hhmmss) and 13 (MMDD), all UTC. */
export function timeFields(ms: number): { 7: string; 12: string; 13: string } {
  const d = new Date(ms);
  const mmdd = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}`;
  const hhmmss = `${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
  return { 7: `${mmdd}${hhmmss}`, 12: hhmmss, 13: mmdd };
}

export function deriveRrn(ms: number, stan: string): string {
  const d = new Date(ms);
  const dayOfYear = Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 0)) / 86_400_000);
  return `${d.getUTCFullYear() % 10}${String(dayOfYear).padStart(3, '0')}${two(d.getUTCHours())}${stan}`;
}

/** Field 90: original MTI ‖ STAN ‖ transmission time ‖ acquirer (11) ‖ forwarder (11). */
export function originalDataElements(mti: string, stan: string, field7: string, acquirerId: string): string {
  return `${mti}${stan}${field7}${acquirerId.replace(/\D/g, '').padStart(11, '0').slice(-11)}${'0'.repeat(11)}`;
}

const ISO_4217: Record<string, string> = { JPY: '392', USD: '840', EUR: '978', GBP: '826' };

export function currencyNumeric(code: string): string {
  const n = ISO_4217[code];
  if (!n) throw new Error(`no ISO 4217 numeric code known for ${code}`);
  return n;
}

/** Truncates to whole seconds: field 7 has no milliseconds, and the stored time must match it. */
export function toSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

// ---- connections --------------------------------------------------------------------------------

/**
 * One Iso8583Client per host, made on first use and kept: a TCP connect and a sign-on per
 * authorization would cost more than the authorization. A changed address or field table in the
 * DB is picked up within `configTtlMs`.
 */
export class PaymentHostClients {
  private readonly clients = new Map<string, { client: Iso8583Client; signature: string; config: PaymentHostConfig }>();
  private readonly configs = new Map<string, { config: PaymentHostConfig; at: number }>();
  private stanCounter = 0;

  constructor(private readonly db: Db, private readonly configTtlMs = 5_000) {}

  async config(hostId: string): Promise<PaymentHostConfig> {
    const cached = this.configs.get(hostId);
    if (cached && Date.now() - cached.at < this.configTtlMs) return cached.config;
    const config = await loadPaymentHost(this.db, hostId);
    if (!config) throw new Error(`payment host ${hostId} is not configured`);
    this.configs.set(hostId, { config, at: Date.now() });
    return config;
  }

  async client(hostId: string): Promise<{ client: Iso8583Client; config: PaymentHostConfig }> {
    const config = await this.config(hostId);
    const signature = JSON.stringify([config.host, config.port, config.table]);
    const existing = this.clients.get(hostId);
    if (existing && existing.signature === signature) return existing;
    if (existing) void existing.client.close().catch(() => undefined);
    const client = new Iso8583Client({ host: config.host, port: config.port, table: config.table, requestTimeoutMs: config.timeoutMs });
    // Answers that come after their deadline: the reversal queue deals with them; nothing to log here.
    client.on('late-response', () => undefined);
    client.on('unmatched', () => undefined);
    client.on('malformed', () => undefined);
    const entry = { client, signature, config };
    this.clients.set(hostId, entry);
    await this.signOn(client, config).catch(() => undefined); // best effort: a host that is down fails the request itself
    return entry;
  }

  private async signOn(client: Iso8583Client, config: PaymentHostConfig): Promise<void> {
    const now = Date.now();
    const stan = String(900_000 + (++this.stanCounter % 99_999)).padStart(6, '0');
    const fields: Iso8583Fields = { 7: timeFields(now)[7], 11: stan, 70: '001' };
    await client.request('0800', fields, { timeoutMs: Math.min(config.timeoutMs, 2_000) });
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.client.close().catch(() => undefined)));
    this.clients.clear();
  }
}
