/**
 * A payment host simulator: a TCP server speaking this project's ISO 8583 dialect (2-byte length
 * framing, a FieldTable) so tests, the demo and the start command have a card company to talk to.
 *
 * Per card number (or by default) it will: approve; decline with a given code; answer slowly
 * (then approve or decline); stay silent (it processes the request — the hold is placed — but
 * never answers: the unknown-outcome case a reversal must clean up); or drop the connection
 * (nothing processed). Debit checks: a configured PIN per PAN, verified by decrypting field 52
 * under the ZPK (55 wrong, 75 after too many tries) and a balance (51 when short).
 *
 * Duplicate transmission: 0100/0200 are keyed by STAN (11) + terminal (41) + transmission time (7);
 * a repeat gets the original answer and no second charge. Reversals 0400/0420/0421 find the
 * original through field 90 (+ field 41), release its hold once and answer every repeat the same.
 * 0800 answers sign-on (070=001), sign-off (002) and echo (301). Outcomes apply to 0100/0200 only.
 *
 * A development tool: it keeps PANs in memory for inspection and never prints PANs or PIN data.
 * `createPaymentHostControlApp(sim)` is an express app to set outcomes over HTTP; run it alone
 * with `node dist/demo/payment-host-simulator.js` (PORT, CONTROL_PORT, HOST env).
 */
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { z } from 'zod';
import { defaultFieldTable, pack, responseMtiFor, unpack, type FieldTable, type Iso8583Fields } from '../domain/iso8583';
import { pinBlockFormat0 } from '../domain/pin-block';
import { DEVELOPMENT_TEST_ZPK, decryptPinBlock } from '../lib/pin-encryption';
import { FrameDecoder, frame } from '../lib/iso8583-framing';

export type FinalOutcome = { kind: 'approve' } | { kind: 'decline'; code: string };
export type HostOutcome = FinalOutcome | { kind: 'slow'; ms: number; then?: FinalOutcome } | { kind: 'silent' } | { kind: 'drop' };

export const hostOutcomes = {
  approve: (): FinalOutcome => ({ kind: 'approve' }),
  decline: (code: string): FinalOutcome => ({ kind: 'decline', code }),
  slow: (ms: number, then?: FinalOutcome): HostOutcome => ({ kind: 'slow', ms, then }),
  silent: (): HostOutcome => ({ kind: 'silent' }),
  drop: (): HostOutcome => ({ kind: 'drop' }),
};

export interface SimulatedAccount {
  pin?: string;
  /** Minor units; absent = no balance check. */
  balance?: number;
}

export interface HostTransaction {
  key: string;
  mti: string;
  pan: string;
  amount: number;
  responseCode?: string;
  rrn?: string;
  charged: boolean;
  released: boolean;
  duplicatesReceived: number;
  reversalsReceived: number;
}

export interface ReceivedMessage {
  mti: string;
  fields: Iso8583Fields;
  at: Date;
}

export interface PaymentHostSimulatorOptions {
  port?: number;
  host?: string;
  table?: FieldTable;
  zpk?: string;
  accounts?: Record<string, SimulatedAccount>;
  maxPinTries?: number;
}

export interface PaymentHostSimulator {
  port: number;
  host: string;
  table: FieldTable;
  setOutcome(pan: string, outcome: HostOutcome): void;
  setDefault(outcome: HostOutcome): void;
  clearOutcomes(): void;
  setAccount(pan: string, account: SimulatedAccount): void;
  balanceOf(pan: string): number | undefined;
  received: ReceivedMessage[];
  transactions(): HostTransaction[];
  /** Approvals that moved money, counted once each (duplicates and released ones included). */
  chargeCount(): number;
  releaseCount(): number;
  /** The next `count` reversal messages (0400/0420/0421) are dropped unprocessed and unanswered (host down for them). */
  setReversalSilence(count: number): void;
  /** The simulator's own time per answered message (frame in → answer written), ms; cleared by resetTimings. */
  processingTimesMs(): number[];
  resetTimings(): void;
  close(): Promise<void>;
}

const ECHO_FIELDS = [2, 3, 4, 7, 11, 12, 13, 22, 41, 42, 49, 70, 90];

function echo(fields: Iso8583Fields, table: FieldTable): Iso8583Fields {
  const out: Iso8583Fields = {};
  for (const n of ECHO_FIELDS) if (fields[n] !== undefined && table.fields[n]) out[n] = fields[n];
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPaymentHostSimulator(options: PaymentHostSimulatorOptions = {}): Promise<PaymentHostSimulator> {
  const table = options.table ?? defaultFieldTable;
  const zpk = options.zpk ?? DEVELOPMENT_TEST_ZPK;
  const maxPinTries = options.maxPinTries ?? 3;
  const accounts = new Map<string, SimulatedAccount & { pinTriesLeft: number }>();
  const setAccount = (pan: string, a: SimulatedAccount) => accounts.set(pan, { ...a, pinTriesLeft: maxPinTries });
  for (const [pan, a] of Object.entries(options.accounts ?? {})) setAccount(pan, a);
  const outcomes = new Map<string, HostOutcome>();
  let defaultOutcome: HostOutcome = hostOutcomes.approve();
  const received: ReceivedMessage[] = [];
  const txns = new Map<string, HostTransaction>();
  const answers = new Map<string, Promise<Iso8583Fields | null>>(); // by original key
  const reversalAnswers = new Map<string, string>(); // original key → response code
  const sockets = new Set<net.Socket>();
  let rrnCounter = 0;
  let charges = 0;
  let releases = 0;
  let reversalSilence = 0;
  let timings: number[] = [];

  function release(t: HostTransaction): void {
    if (!t.charged || t.released) return;
    t.released = true;
    releases += 1;
    const account = accounts.get(t.pan);
    if (account?.balance !== undefined) account.balance += t.amount;
  }

  function authorize(mti: string, f: Iso8583Fields, t: HostTransaction, outcome: FinalOutcome): string {
    if (outcome.kind === 'decline') return outcome.code;
    if (!/^[0-9]{13,19}$/.test(t.pan)) return '14';
    const account = accounts.get(t.pan);
    if (account?.pin !== undefined && (f[52] !== undefined || mti === '0200')) {
      if (account.pinTriesLeft <= 0) return '75';
      const expected = pinBlockFormat0(account.pin, t.pan);
      const given = f[52] ? decryptPinBlock(Buffer.from(f[52], 'hex'), zpk) : Buffer.alloc(8);
      const ok = expected.equals(given);
      expected.fill(0);
      given.fill(0);
      if (!ok) return --account.pinTriesLeft <= 0 ? '75' : '55';
      account.pinTriesLeft = maxPinTries;
    }
    if (account?.balance !== undefined) {
      if (t.amount > account.balance) return '51';
      account.balance -= t.amount;
    }
    t.charged = true;
    charges += 1;
    return '00';
  }

  async function financial(mti: string, f: Iso8583Fields, key: string, outcome: HostOutcome): Promise<Iso8583Fields | null> {
    const t: HostTransaction = {
      key, mti, pan: f[2] ?? (f[35] ?? '').split('=')[0], amount: Number(f[4] ?? 0),
      charged: false, released: false, duplicatesReceived: 0, reversalsReceived: 0,
    };
    txns.set(key, t);
    let final: FinalOutcome = outcome.kind === 'approve' || outcome.kind === 'decline' ? outcome : hostOutcomes.approve();
    if (outcome.kind === 'slow') {
      await sleep(outcome.ms);
      final = outcome.then ?? hostOutcomes.approve();
    }
    const code = authorize(mti, f, t, final);
    t.responseCode = code;
    t.rrn = String(++rrnCounter).padStart(12, '0');
    if (reversalAnswers.has(key)) release(t); // reversed while we were still deciding
    if (outcome.kind === 'silent') return null;
    return { ...echo(f, table), 37: t.rrn, ...(code === '00' ? { 38: `A${t.rrn.slice(-5)}` } : {}), 39: code };
  }

  function reversal(f: Iso8583Fields): Iso8583Fields {
    const original = f[90] ?? '';
    const origKey = `${original.slice(4, 10)}|${f[41] ?? ''}|${original.slice(10, 20)}`;
    let code = reversalAnswers.get(origKey);
    const t = txns.get(origKey);
    if (t) t.reversalsReceived += 1;
    if (code === undefined) {
      code = t ? '00' : '25';
      if (t) release(t);
      reversalAnswers.set(origKey, code);
    }
    return { ...echo(f, table), 39: code };
  }

  async function handle(socket: net.Socket, payload: Buffer): Promise<void> {
    const started = process.hrtime.bigint();
    let msg;
    try {
      msg = unpack(payload, table);
    } catch {
      return; // malformed: no STAN to answer to; the client's deadline will fire
    }
    const { mti, fields: f } = msg;
    received.push({ mti, fields: f, at: new Date() });
    const answer = (fields: Iso8583Fields | null) => {
      if (fields && !socket.destroyed) {
        socket.write(frame(pack(responseMtiFor(mti), fields, table)));
        if (timings.length < 1_000_000) timings.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    };
    if (mti === '0100' || mti === '0200') {
      const key = `${f[11] ?? ''}|${f[41] ?? ''}|${f[7] ?? ''}`;
      const earlier = answers.get(key);
      if (earlier) {
        const t = txns.get(key);
        if (t) t.duplicatesReceived += 1;
        answer(await earlier);
        return;
      }
      const outcome = outcomes.get(f[2] ?? '') ?? defaultOutcome;
      if (outcome.kind === 'drop') {
        socket.destroy();
        return;
      }
      const pending = financial(mti, f, key, outcome);
      answers.set(key, pending);
      answer(await pending);
    } else if (mti === '0400' || mti === '0420' || mti === '0421') {
      if (reversalSilence > 0) {
        reversalSilence -= 1;
        return;
      }
      answer(reversal(f));
    } else if (mti === '0800') {
      answer({ ...echo(f, table), 39: ['001', '002', '301'].includes(f[70] ?? '') ? '00' : '12' });
    } else if (/^0\d[02]\d$/.test(mti)) {
      answer({ ...echo(f, table), 39: '12' });
    }
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const payload of decoder.push(chunk)) void handle(socket, payload).catch(() => socket.destroy());
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    host,
    table,
    setOutcome: (pan, outcome) => outcomes.set(pan, outcome),
    setDefault: (outcome) => { defaultOutcome = outcome; },
    clearOutcomes: () => { outcomes.clear(); defaultOutcome = hostOutcomes.approve(); },
    setAccount,
    balanceOf: (pan) => accounts.get(pan)?.balance,
    received,
    transactions: () => [...txns.values()],
    chargeCount: () => charges,
    releaseCount: () => releases,
    setReversalSilence: (count) => { reversalSilence = count; },
    processingTimesMs: () => [...timings],
    resetTimings: () => { timings = []; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

// ---- control API ------------------------------------------------------------------------------

const finalOutcomeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('approve') }),
  z.object({ kind: z.literal('decline'), code: z.string().regex(/^[0-9A-Z]{2}$/) }),
]);
const outcomeSchema = z.union([
  finalOutcomeSchema,
  z.object({ kind: z.literal('slow'), ms: z.number().int().min(0).max(600_000), then: finalOutcomeSchema.optional() }),
  z.object({ kind: z.literal('silent') }),
  z.object({ kind: z.literal('drop') }),
]);
const accountSchema = z.object({ pin: z.string().regex(/^[0-9]{4,12}$/).optional(), balance: z.number().int().min(0).optional() });

function masked(pan: string): string {
  return pan.length > 4 ? `${'*'.repeat(pan.length - 4)}${pan.slice(-4)}` : pan;
}

/** HTTP control for tests and the demo: PUT /outcomes/default, PUT /outcomes/:pan, DELETE /outcomes, PUT /accounts/:pan, GET /state. */
export function createPaymentHostControlApp(sim: PaymentHostSimulator): express.Express {
  const app = express();
  app.use(express.json());
  const parse = <T>(schema: z.ZodType<T>, body: unknown, res: express.Response): T | undefined => {
    const r = schema.safeParse(body);
    if (!r.success) res.status(400).json({ error: r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    return r.success ? r.data : undefined;
  };
  app.put('/outcomes/default', (req, res) => {
    const o = parse(outcomeSchema, req.body, res);
    if (o) { sim.setDefault(o); res.json({ default: o }); }
  });
  app.put('/outcomes/:pan', (req, res) => {
    const o = parse(outcomeSchema, req.body, res);
    if (o) { sim.setOutcome(req.params.pan, o); res.json({ pan: masked(req.params.pan), outcome: o }); }
  });
  app.delete('/outcomes', (_req, res) => { sim.clearOutcomes(); res.json({ cleared: true }); });
  app.put('/accounts/:pan', (req, res) => {
    const a = parse(accountSchema, req.body, res);
    if (a) { sim.setAccount(req.params.pan, a); res.json({ pan: masked(req.params.pan), balance: a.balance ?? null, pin: a.pin ? 'set' : 'none' }); }
  });
  app.get('/state', (_req, res) => {
    res.json({
      received: sim.received.map((m) => ({ mti: m.mti, stan: m.fields[11], terminal: m.fields[41], at: m.at })),
      transactions: sim.transactions().map((t) => ({ ...t, pan: masked(t.pan) })),
      charges: sim.chargeCount(),
      releases: sim.releaseCount(),
    });
  });
  return app;
}

async function main(): Promise<void> {
  const sim = await startPaymentHostSimulator({ port: Number(process.env.PORT ?? 5830), host: process.env.HOST ?? '127.0.0.1' });
  const control = http.createServer(createPaymentHostControlApp(sim));
  const controlPort = Number(process.env.CONTROL_PORT ?? sim.port + 1);
  await new Promise<void>((resolve) => control.listen(controlPort, sim.host, resolve));
  const { port: actualControlPort } = control.address() as { port: number };
  console.log(`payment host simulator: ISO 8583 on ${sim.host}:${sim.port}, control API on http://${sim.host}:${actualControlPort}/state`);
  const stop = () => { control.close(); void sim.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
