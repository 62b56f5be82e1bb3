/**
 * The issuer API on a real database without Temporal: a fresh MariaDB schema (or SQLite file),
 * migrated and seeded with the demo catalogue, the whole express app (createApp) on a free port,
 * API keys for the demo issuers made through the operator route, and helpers to call the API,
 * to sell an item through the center's own activities, and to fingerprint the whole database.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import type { Client } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createCardActivities } from '../../activities/center/cards';
import { createHoldActivities } from '../../activities/center/holds';
import { createSaleActivities } from '../../activities/center/sales';
import type { Selection } from '../../domain/issuance';
import { DEFAULT_PERIOD_CONFIG } from '../../domain/settlement-period';
import { createDb, isMysql, type Db } from '../../lib/db';
import { migrateLatest } from '../../migrations';
import { DEMO_ISSUERS, seedDemo } from '../../migrations/seeds/demo';
import { TEST_MYSQL_URL } from '../support/env';

// Every JSON answer is checked against its documented schema (api/routes/issuer/route-def.ts).
process.env.ISSUER_API_CHECK_RESPONSES = '1';

export const OPERATOR_TOKEN = 'ops-token-0123456789abcdef';
export const A = DEMO_ISSUERS.promoter;
export const B = DEMO_ISSUERS.railway;
export const C = DEMO_ISSUERS.telco;

export interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  bytes: Buffer;
  headers: Headers;
}

export interface CallOptions {
  /** A raw body (Buffer or string) sent with this content type instead of JSON. */
  raw?: Buffer | string;
  contentType?: string;
  /** Authorization: Bearer <token>; null for none. */
  token?: string | null;
}

export interface IssuerApiHarness {
  db: Db;
  url: string;
  terminalId: string;
  keys: Record<string, string>;
  webhookSecret: string;
  /** Calls /api<path> as the given issuer (by id) or with an explicit token. */
  call(as: string | null, method: string, apiPath: string, body?: unknown, opts?: CallOptions): Promise<Res>;
  stop(): Promise<void>;
}

export async function startIssuerApi(opts: { database?: 'mysql' | 'sqlite' } = {}): Promise<IssuerApiHarness> {
  const id = randomBytes(4).toString('hex');
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), `issuer-api-${id}-`));
  let databaseUrl: string;
  if ((opts.database ?? 'mysql') === 'mysql') {
    const schema = `icc_test_issuers_${id}`;
    const admin = knex({ client: 'mysql2', connection: TEST_MYSQL_URL });
    await admin.raw(`CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await admin.destroy();
    databaseUrl = `${TEST_MYSQL_URL.replace(/\/$/, '')}/${schema}`;
  } else {
    databaseUrl = `sqlite:${path.join(dir, 'center.sqlite')}`;
  }
  const db = createDb(databaseUrl, dir);
  await migrateLatest(db);
  const terminalId = `T${id}`;
  const webhookSecret = randomBytes(16).toString('hex');
  await seedDemo(db, { notifyUrl: 'http://127.0.0.1:9/unused', webhookSecret, terminalIds: [terminalId] });

  const app = createApp({
    db,
    temporal: {} as Client, // the issuer API does not use Temporal
    centerTaskQueue: 'unused',
    holdTtlMs: 60_000,
    finance: { operatorTokens: [{ name: 'ops.alice', token: OPERATOR_TOKEN }], period: DEFAULT_PERIOD_CONFIG },
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const keys: Record<string, string> = {};
  const call: IssuerApiHarness['call'] = async (as, method, apiPath, body, o = {}) => {
    const headers: Record<string, string> = {};
    const token = o.token !== undefined ? o.token : as === null ? null : keys[as];
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: Buffer | string | undefined;
    if (o.raw !== undefined) {
      payload = o.raw;
      if (o.contentType) headers['content-type'] = o.contentType;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    const res = await fetch(`${url}/api${apiPath}`, { method, headers, body: typeof payload === 'string' || payload === undefined ? payload : new Uint8Array(payload) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, body: json, text, bytes, headers: res.headers };
  };

  for (const issuerId of [A, B, C]) {
    const res = await call(null, 'POST', `/operator/issuers/${issuerId}/api-keys`, { label: 'test server' }, { token: OPERATOR_TOKEN });
    if (res.status !== 201) throw new Error(`could not create a key for ${issuerId}: ${res.status} ${res.text}`);
    keys[issuerId] = res.body.apiKey;
  }

  return {
    db,
    url,
    terminalId,
    keys,
    webhookSecret,
    call,
    async stop() {
      await new Promise((r) => server.close(r));
      await db.destroy();
    },
  };
}

export interface Sold {
  issuanceId: string;
  cardId: string;
  saleId: number;
}

/** Sells an item as a kiosk's workflow would: hold (prices it), bind a card, record the sale. */
export async function sell(db: Db, terminalId: string, selection: Selection, atMs = Date.now()): Promise<Sold> {
  const issuanceId = `iss-${terminalId}-${randomBytes(6).toString('hex')}`;
  const now = () => atMs;
  await createHoldActivities({ db, now }).holdItem(issuanceId, terminalId, selection, 60_000);
  const cards = createCardActivities({ db, now });
  const { cardId } = await cards.bindCard(issuanceId, randomBytes(7).toString('hex').toUpperCase());
  await cards.setCardStatus(cardId, 'issued');
  const sale = await createSaleActivities({ db, now }).recordSale(issuanceId, cardId);
  return { issuanceId, cardId, saleId: sale.saleId };
}

/**
 * A fingerprint of every row of every table (issuer_api_keys without last_used_at_ms, which
 * authentication itself writes): equal fingerprints mean nothing changed.
 */
export async function fingerprint(db: Db): Promise<Record<string, string>> {
  const tables: string[] = isMysql(db)
    ? (await db.raw('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name'))[0].map((r: { t: string }) => r.t)
    : (await db.raw("SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")).map((r: { t: string }) => r.t);
  const out: Record<string, string> = {};
  for (const t of tables.filter((x) => !x.startsWith('knex_'))) {
    const rows = await db(t).select('*');
    const lines = rows.map((r: Record<string, unknown>) => {
      if (t === 'issuer_api_keys') delete r.last_used_at_ms;
      return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    });
    lines.sort();
    out[t] = `${rows.length}:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return out;
}

/** A real PNG of the given size (solid colour). */
export function pngBytes(width = 64, height = 40): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PNG } = require('pngjs') as typeof import('pngjs');
  const png = new PNG({ width, height });
  for (let i = 0; i < png.data.length; i += 4) {
    png.data[i] = 200;
    png.data[i + 1] = 40;
    png.data[i + 2] = 90;
    png.data[i + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** A minimal well-formed baseline JPEG header + end marker of the given size (enough for the checks). */
export function jpegBytes(width = 64, height = 40): Buffer {
  const soi = [0xff, 0xd8];
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
  const sof0 = [0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01];
  const sos = [0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00];
  const data = [0x12, 0x34, 0x56, 0x78];
  const eoi = [0xff, 0xd9];
  return Buffer.from([...soi, ...app0, ...sof0, ...sos, ...data, ...eoi]);
}

/** A seat map of `rows` × `perRow` seats in one section, every seat listed one by one. */
export function bigSeatMap(rows: number, perRow: number, classes: string[]) {
  return {
    sections: [
      {
        name: 'Arena',
        rows: Array.from({ length: rows }, (_, r) => ({
          label: `R${r + 1}`,
          seats: Array.from({ length: perRow }, (_, s) => ({ number: s + 1, classCode: classes[r % classes.length] })),
        })),
      },
    ],
  };
}

export function expectError(res: Res, status: number, code: string, message?: RegExp): void {
  if (res.status !== status || res.body?.error?.code !== code) throw new Error(`expected ${status} ${code}, got ${res.status} ${res.text.slice(0, 500)}`);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  if (message) expect(res.body.error.message).toMatch(message);
}
