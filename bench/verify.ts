/**
 * `npm run bench:verify`: card verification over HTTP against the real API and MariaDB.
 *
 *   1. A fresh center database (DATABASE_URL=mysql://… → a new schema, dropped at the end), the
 *      demo seed, then BENCH_CARDS (default 1,000,000) issued cards with their issuances,
 *      generated set-based (INSERT … SELECT over MariaDB's `seq_<a>_to_<b>` sequence tables); one
 *      card in a thousand revoked (card_revocations).
 *   2. A signing key made for the run; chip records (v2, signed) for BENCH_SAMPLE cards picked
 *      across the whole range, revoked ones included in their natural proportion plus a few forced.
 *   3. The API (bench/verify-server.ts: api/app.ts in its own process) on a free port; the load
 *      generator here keeps BENCH_CONCURRENCY requests in flight over keep-alive connections,
 *      POST /api/verify {record} for BENCH_REQUESTS requests after a warm-up, timing each.
 *   4. Every answer is checked (revoked cards refused with reason revoked, the rest valid); then
 *      verifications per second, p50/p99 latency, the load average, and as the last line:
 *      {"perSec":…,"p50Ms":…,"p99Ms":…}        aim: perSec ≥ 2000 and p99Ms < 20
 *
 * The lookup is by primary key on cards, issuances and card_revocations (lib/card-status.ts), so
 * it needs no further index; the signature check is one Ed25519 verify (node:crypto).
 *
 * Environment: DATABASE_URL (MariaDB; required), BENCH_CARDS, BENCH_CHUNK (default 50,000),
 * BENCH_SAMPLE (default 20,000), BENCH_REQUESTS (default 40,000), BENCH_CONCURRENCY (default 4: on 2 cores more in flight only queues; see docs/verification.md),
 * BENCH_KEEP_DB=1 keeps the schema.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPublicKey } from 'node:crypto';
import type { CardRecord } from '../domain/card-record';
import { initialValueArea } from '../domain/value-slots';
import { CardSigningKeys, keyIdOf, newSigningKeyPem, parsePrivateKey, signCardRecord } from '../lib/card-signing';
import type { Db } from '../lib/db';
import { migrateLatest } from '../migrations';
import { seedDemo } from '../migrations/seeds/demo';
import { benchDb, percentile, round, say, tempDir } from './support';

const CARDS = Number(process.env.BENCH_CARDS ?? 1_000_000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 50_000);
const SAMPLE = Math.min(CARDS, Number(process.env.BENCH_SAMPLE ?? 20_000));
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARMUP = Math.min(2_000, REQUESTS);
const REVOKE_EVERY = 1000;

const cardIdOf = (seq: number) => `card-bench-${String(seq).padStart(8, '0')}`;
const issuanceIdOf = (seq: number) => `iss-bench-${String(seq).padStart(8, '0')}`;

async function generate(db: Db, validUntilMs: number): Promise<{ products: Array<{ id: number; issuer_id: string; type: string }> }> {
  const products = await db('products').orderBy('id').select('id', 'issuer_id', 'type');
  await db.schema.createTable('bench_product_map', (t) => {
    t.integer('idx').primary();
    t.integer('product_id');
    t.string('issuer_id', 40);
    t.string('type', 20);
  });
  await db('bench_product_map').insert(products.map((p, idx) => ({ idx, product_id: p.id, issuer_id: p.issuer_id, type: p.type })));
  const at = Date.now() - 86_400_000;
  const t0 = performance.now();
  for (let a = 1; a <= CARDS; a += CHUNK) {
    const b = Math.min(CARDS, a + CHUNK - 1);
    const c0 = performance.now();
    await db.raw(
      `INSERT INTO issuances (id, terminal_id, issuer_id, product_id, product_type, selection, title, price_minor, customer_fee_minor, total_minor, currency, status, created_at_ms, updated_at_ms)
       SELECT CONCAT('iss-bench-', LPAD(s.seq, 8, '0')), 'T-001', m.issuer_id, m.product_id, m.type, '{"kind":"prepaid","valueId":1}', 'Bench card', 1000, 0, 1000, 'JPY', 'completed', ${at}, ${at}
       FROM seq_${a}_to_${b} s STRAIGHT_JOIN bench_product_map m ON m.idx = s.seq % ${products.length} ORDER BY s.seq`,
    );
    await db.raw(
      `INSERT INTO cards (id, issuance_id, uid, status, created_at_ms, updated_at_ms, valid_from_ms, valid_until_ms)
       SELECT CONCAT('card-bench-', LPAD(s.seq, 8, '0')), CONCAT('iss-bench-', LPAD(s.seq, 8, '0')), CONCAT('04', LPAD(HEX(s.seq), 12, '0')), 'issued', ${at}, ${at}, ${at}, ${validUntilMs}
       FROM seq_${a}_to_${b} s ORDER BY s.seq`,
    );
    await db.raw(
      `INSERT INTO card_revocations (card_id, issuer_id, reason, requested_by_kind, requested_by_id, request_id, workflow_id, revoked_at_ms)
       SELECT CONCAT('card-bench-', LPAD(s.seq, 8, '0')), m.issuer_id, 'lost', 'issuer', 'bench', CONCAT('bench-', s.seq), CONCAT('revocation-card-bench-', LPAD(s.seq, 8, '0')), ${at}
       FROM seq_${a}_to_${b} s STRAIGHT_JOIN bench_product_map m ON m.idx = s.seq % ${products.length} WHERE s.seq % ${REVOKE_EVERY} = 0 ORDER BY s.seq`,
    );
    const el = (performance.now() - t0) / 1000;
    say(`  generated ${String(b).padStart(String(CARDS).length)}/${CARDS} cards (+ issuances, revocations): chunk ${round((performance.now() - c0) / 1000, 2)} s, ${round(el, 1)} s so far`);
  }
  await db.raw('ANALYZE TABLE issuances, cards, card_revocations');
  return { products };
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); null elsewhere. */
function cpuMs(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, at USER_HZ = 100
  } catch {
    return null;
  }
}

/** The MariaDB server's pid, if it runs on this machine. */
function mysqldPid(): number | undefined {
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (/^(mariadbd|mysqld)$/.test(fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim())) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function startApi(env: NodeJS.ProcessEnv): Promise<{ port: number; pid: number | undefined; stop(): void }> {
  const child = spawn(process.execPath, [...(process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(__dirname, 'verify-server.js')], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`the API process exited (${code}) before listening`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), pid: child.pid, stop: () => child.kill('SIGTERM') });
    });
  });
}

interface Probe {
  body: string;
  revoked: boolean;
}

function post(agent: http.Agent, port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/verify', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(agent: http.Agent, port: number, probes: Probe[], count: number, offset: number): Promise<{ latencies: number[]; seconds: number; wrong: string[] }> {
  const latencies: number[] = new Array(count);
  const wrong: string[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const p = probes[(offset + i) % probes.length];
      const s = performance.now();
      const res = await post(agent, port, p.body);
      latencies[i] = performance.now() - s;
      const v = JSON.parse(res.text) as { valid: boolean; reason: string | null };
      const ok = res.status === 200 && (p.revoked ? !v.valid && v.reason === 'revoked' : v.valid && v.reason === null);
      if (!ok && wrong.length < 5) wrong.push(`${res.status} ${res.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { latencies, seconds: (performance.now() - t0) / 1000, wrong };
}

async function main() {
  if (!process.env.DATABASE_URL || !/^mysql2?:\/\//.test(process.env.DATABASE_URL)) throw new Error('bench:verify needs DATABASE_URL=mysql://… (MariaDB: its sequence engine generates the cards)');
  const tmp = tempDir('bench-verify');
  const bdb = await benchDb(tmp.dir, tmp.runId);
  let api: { port: number; pid: number | undefined; stop(): void } | undefined;
  try {
    say(`bench:verify — ${CARDS.toLocaleString('en')} issued cards, 1 in ${REVOKE_EVERY} revoked; ${bdb.description}`);
    await migrateLatest(bdb.db);
    await seedDemo(bdb.db, { notifyUrl: 'http://127.0.0.1:9/unused', webhookSecret: 'bench-secret-0123456789', terminalIds: ['T-001'] });
    const validUntilMs = Date.now() + 365 * 86_400_000;
    const { products } = await generate(bdb.db, validUntilMs);

    const pem = newSigningKeyPem();
    const priv = parsePrivateKey(pem);
    const keys = new CardSigningKeys(priv, keyIdOf(createPublicKey(priv)));
    // Sample cards across the range (a multiplicative stride visits them in scattered order), plus some revoked ones.
    const seqs = new Set<number>();
    for (let i = 0; seqs.size < SAMPLE; i++) seqs.add(((i * 7_919_003) % CARDS) + 1);
    for (let s = REVOKE_EVERY; s <= CARDS && s <= REVOKE_EVERY * 20; s += REVOKE_EVERY) seqs.add(s);
    const probes: Probe[] = [...seqs].map((seq) => {
      const p = products[seq % products.length];
      const record: CardRecord = {
        issuanceId: issuanceIdOf(seq),
        cardId: cardIdOf(seq),
        issuerId: p.issuer_id,
        productType: p.type,
        product: { productId: p.id, title: 'Bench card', kind: 'prepaid', valueId: 1 },
        userId: null,
        issuedAt: new Date(Date.now() - 86_400_000).toISOString(),
        validFrom: new Date(Date.now() - 86_400_000).toISOString(),
        validUntil: new Date(validUntilMs).toISOString(),
      };
      return { body: JSON.stringify({ record: Buffer.from(signCardRecord(keys, record, initialValueArea(1000))).toString('base64') }), revoked: seq % REVOKE_EVERY === 0 };
    });
    say(`  ${probes.length} signed chip records (${probes.filter((p) => p.revoked).length} of revoked cards), ${probes[0].body.length} bytes of JSON each`);

    api = await startApi({ DATABASE_URL: bdb.url, CARD_SIGNING_KEY: pem });
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    await run(agent, api.port, probes, WARMUP, probes.length - WARMUP);
    const load0 = os.loadavg();
    const dbPid = mysqldPid();
    const cpu0 = { api: cpuMs(api.pid), db: cpuMs(dbPid), self: process.cpuUsage() };
    const r = await run(agent, api.port, probes, REQUESTS, 0);
    const self = process.cpuUsage(cpu0.self);
    const cpu1 = { api: cpuMs(api.pid), db: cpuMs(dbPid) };
    const load1 = os.loadavg();
    agent.destroy();
    if (r.wrong.length) throw new Error(`wrong answers, e.g.:\n  ${r.wrong.join('\n  ')}`);

    const perSec = Math.round(REQUESTS / r.seconds);
    const p50Ms = round(percentile(r.latencies, 50), 2);
    const p99Ms = round(percentile(r.latencies, 99), 2);
    say('');
    say(`  ${REQUESTS} verifications (POST /api/verify: Ed25519 check + card status lookup), ${CONCURRENCY} in flight, in ${round(r.seconds, 2)} s; every answer checked`);
    say(`  verifications per second: ${perSec}   (aim ≥ 2000)`);
    say(`  latency p50 ${p50Ms} ms, p99 ${p99Ms} ms, max ${round(Math.max(...r.latencies), 1)} ms   (aim p99 < 20 ms)`);
    // CPU per verification, whatever else the machine runs: what one core could do alone.
    const per = (a: number | null, b: number | null) => (a === null || b === null ? '–' : `${round(((b - a) * 1000) / REQUESTS, 0)} µs`);
    say(`  CPU per verification: API process ${per(cpu0.api, cpu1.api)}, MariaDB server ${per(cpu0.db, cpu1.db)} (whole server), load generator ${round((self.user + self.system) / REQUESTS, 0)} µs`);
    say(`  load average (1/5/15 min) before ${load0.map((x) => round(x, 2)).join(' ')}, after ${load1.map((x) => round(x, 2)).join(' ')}; ${os.cpus().length} CPUs`);
    say(JSON.stringify({ perSec, p50Ms, p99Ms }));
  } finally {
    api?.stop();
    await bdb.drop();
    tmp.remove();
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exit(1);
});
