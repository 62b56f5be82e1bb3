/**
 * The API process for `npm run bench:verify`: the center's express app (api/app.ts, the same
 * routes, middleware and database code as `node dist/api/main.js`) on the given port, without a
 * Temporal connection (verification never uses it). Run by bench/verify.ts as a child process so
 * the load generator does not share its event loop.
 *
 * Environment: DATABASE_URL, CARD_SIGNING_KEY, BENCH_API_PORT. Prints "listening <port>" when ready.
 */
import http from 'node:http';
import os from 'node:os';
import type { Client } from '@temporalio/client';
import { createApp } from '../api/app';
import { cardSigningKeys } from '../lib/card-signing';
import { createDb } from '../lib/db';

const db = createDb(process.env.DATABASE_URL!, os.tmpdir());
const app = createApp({
  db,
  temporal: {} as Client, // not used by verification
  centerTaskQueue: 'unused',
  holdTtlMs: 60_000,
  cardKeys: cardSigningKeys(process.env, os.tmpdir()),
});
const server = http.createServer({ keepAliveTimeout: 60_000 }, app);
server.listen(Number(process.env.BENCH_API_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  void db.destroy().then(() => process.exit(0));
});
