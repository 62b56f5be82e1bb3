/**
 * The physical crash-recovery fault matrix (issue 3), against real pcscd (vpcd) and real
 * pseudo-terminals: each cell is one cash issuance on a fresh emulated kiosk, driven by a terminal
 * worker process on the real drivers, with one fault:
 *   - the terminal worker SIGKILLed at a step boundary (before a device step; after its device
 *     work but before Temporal hears of it) or inside a long step (mid feed, chip write, print,
 *     card dispense, change payout), then started again; SIGTERM mid chip write and mid print
 *     (a graceful stop: the step finishes);
 *   - a device fault: the card pulled mid-write (tearing), chip memory failure, a card from the
 *     stocker that is not blank or of the wrong type, a jam (cleared, and not), ribbon out, an empty
 *     stocker, the reader gone (pcscd stopped: at the feed, and mid-write), a card not taken.
 * Each cell checks: the customer ends with exactly one good card or their money back; no
 * half-written chip is accepted (the dispensed card's chip decodes to this issuance's record);
 * every spoiled card is counted (cards fed = dispensed + reject bin + still in the transport; every
 * card the center marked spoiled is in the bin); the workflow history says what happened.
 *
 * Used by `npm run faults` (scripts/faults.ts: every cell) and by a jest suite (a few cells).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { decodeCardRecord } from '../../domain/card-record';
import type { Progress } from '../../domain/issuance';
import { EncryptionCodec } from '../../lib/payload-codec';
import { parseKeySpec } from '../../lib/payload-keys';
import { seedTerminals } from '../../migrations/seeds/demo';
import { launchEmulatedKiosk, type KioskLaunchOptions, type KioskProcess } from '../../terminal-worker/simulators/emulated-kiosk/launch';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';
import type { ModelState } from '../../terminal-worker/simulators/printer-emulator/physical-model';
import { freeSeat } from './assertions';
import { Kiosk } from './kiosk-client';
import { startNodeProcess, type ManagedProcess } from './processes';
import type { Stack } from './stack';

const ROOT = path.resolve(__dirname, '../../..');
const INSERTED = [10000, 10000];
const STOCK = 100;

export interface HistoryStep {
  type: string;
  attempt: number;
  outcome: 'scheduled' | 'completed' | 'failed' | 'timedOut';
  failureType?: string;
  lastFailure?: string;
  result?: unknown;
}

export interface CellContext {
  stack: Stack;
  kiosk: KioskProcess;
  kioskDir: string;
  /** The issuance's progress once it started. */
  progress(): Promise<Progress | null>;
  /** SIGTERM to the running terminal worker (a graceful stop); resolves with its exit code once a new one is started. */
  terminate(): Promise<number | null>;
  log(line: string): void;
}

export interface FaultCell {
  id: string;
  group: 'kill: boundary' | 'kill: inside a step' | 'graceful stop' | 'device fault';
  fault: string;
  expect: 'card' | 'refund';
  /** Fault injection for the first terminal worker only (it dies; the next one runs clean). */
  killEnv?: NodeJS.ProcessEnv;
  /** Environment for every terminal worker of the cell. */
  workerEnv?: NodeJS.ProcessEnv;
  kiosk?: Partial<KioskLaunchOptions>;
  /** Before the purchase (kiosk actions, pcscd stopped, …). */
  setup?(c: CellContext): Promise<void>;
  /** Alongside the issuance, once paid (an operator clearing a jam, the reader coming back, …). */
  during?(c: CellContext): Promise<void>;
  /** What the history must show; returns a problem or null. */
  history(steps: HistoryStep[]): string | null;
}

export interface CellResult {
  cell: FaultCell;
  ok: boolean;
  problems: string[];
  stage: string;
  cardsFed: number;
  dispensed: number;
  spoiled: number;
  returnedMinor: number;
  kills: number;
  history: string;
  seconds: number;
  /** For a cell that is not ok: what was still pending and the last lines of its processes' logs. */
  diagnosis: string[];
}

// ── history expectations ───────────────────────────────────────────────────────────────────────
const retriedAfterCrash = (type: string) => (steps: HistoryStep[]) =>
  steps.some((s) => s.type === type && s.attempt >= 2 && /timeout/.test(s.lastFailure ?? '')) ? null : `history shows no retry of ${type} after the crash`;
const failedWith = (type: string, failure: string) => (steps: HistoryStep[]) =>
  steps.some((s) => s.type === type && (s.failureType === failure || s.lastFailure === failure)) ? null : `history shows no ${type} failing with ${failure}`;
const feedRejected = (steps: HistoryStep[]) =>
  steps.some((s) => s.type === 'feedBlankCard' && ((s.result as { rejected?: unknown[] })?.rejected?.length ?? 0) > 0) ? null : 'history shows no card rejected by feedBlankCard';
const retriedWith = (type: string, failure: string) => (steps: HistoryStep[]) =>
  steps.some((s) => s.type === type && s.attempt >= 2 && s.lastFailure === failure) ? null : `history shows no retry of ${type} after ${failure}`;
const all = (...fs: Array<(s: HistoryStep[]) => string | null>) => (steps: HistoryStep[]) => fs.map((f) => f(steps)).find((p) => p) ?? null;
const doneFirstTime = (type: string) => (steps: HistoryStep[]) =>
  steps.some((s) => s.type === type && s.outcome === 'completed' && s.attempt === 1) && !steps.some((s) => s.type === type && s.outcome !== 'completed')
    ? null
    : `history shows ${type} not finished at its first attempt`;
const refunded = (steps: HistoryStep[]) => (steps.some((s) => s.type === 'markPaymentRefunded' && s.outcome === 'completed') ? null : 'history shows no refund (markPaymentRefunded)');

// ── faults outside the worker ──────────────────────────────────────────────────────────────────
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops pcscd (by the pid in its own pid file) and waits for it to exit: every reader is gone. */
export async function stopPcscd(): Promise<void> {
  const pid = parseInt(fs.readFileSync('/run/pcscd/pcscd.pid', 'utf8'), 10);
  if (!Number.isInteger(pid) || fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'pcscd') throw new Error('no pcscd to stop');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100; i++) {
    if (!fs.existsSync(`/proc/${pid}`)) return;
    await sleep(50);
  }
  throw new Error(`pcscd (${pid}) did not stop`);
}

export function startPcscd(): void {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
}

async function untilTrue(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A chip of this kiosk has started to receive the record (the first UPDATE BINARY chunk is in). */
function chipWriteStarted(kioskDir: string): boolean {
  const dir = path.join(kioskDir, 'chips');
  return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.bin') && fs.readFileSync(path.join(dir, f)).subarray(0, 4).toString('latin1') === 'ICR1');
}

// ── the cells ──────────────────────────────────────────────────────────────────────────────────
const STEPS = ['feedBlankCard', 'writeChip', 'verifyChip', 'printFace', 'presentCard', 'payoutCash', 'printReceipt'] as const;

export const CELLS: FaultCell[] = [
  ...STEPS.map((s): FaultCell => ({ id: `kill-before-${s}`, group: 'kill: boundary', fault: `SIGKILL before ${s}`, expect: 'card', killEnv: { FAULT_KILL_BEFORE_ACTIVITY: s }, history: retriedAfterCrash(s) })),
  ...STEPS.map((s): FaultCell => ({ id: `kill-after-${s}`, group: 'kill: boundary', fault: `SIGKILL after ${s}'s device work, before Temporal hears`, expect: 'card', killEnv: { FAULT_KILL_AFTER_ACTIVITY: s }, history: retriedAfterCrash(s) })),
  { id: 'kill-mid-feed', group: 'kill: inside a step', fault: 'SIGKILL while the printer feeds the card', expect: 'card', killEnv: { FAULT_KILL_DURING: 'feed' }, history: retriedAfterCrash('feedBlankCard') },
  { id: 'kill-mid-chip-write', group: 'kill: inside a step', fault: 'SIGKILL mid chip write (torn record on the chip)', expect: 'card', killEnv: { FAULT_KILL_DURING: 'write@0.4' }, history: retriedAfterCrash('writeChip') },
  { id: 'kill-mid-print', group: 'kill: inside a step', fault: 'SIGKILL mid print (half-printed card)', expect: 'card', killEnv: { FAULT_KILL_DURING: 'print@0.5' }, history: all(retriedAfterCrash('printFace'), failedWith('printFace', 'CardSpoiled')) },
  { id: 'kill-mid-dispense', group: 'kill: inside a step', fault: 'SIGKILL while the card waits in the bezel', expect: 'card', killEnv: { FAULT_KILL_DURING: 'present' }, history: retriedAfterCrash('presentCard') },
  { id: 'kill-mid-payout', group: 'kill: inside a step', fault: 'SIGKILL mid change payout', expect: 'card', killEnv: { FAULT_KILL_DURING: 'payout' }, history: retriedAfterCrash('payoutCash') },
  ...(['before', 'after'] as const).map((when): FaultCell => ({
    id: `kill-${when}-rejectCard`, group: 'kill: boundary', fault: `SIGKILL ${when} rejectCard (a torn card being rejected)`, expect: 'card',
    killEnv: { [when === 'before' ? 'FAULT_KILL_BEFORE_ACTIVITY' : 'FAULT_KILL_AFTER_ACTIVITY']: 'rejectCard' },
    setup: async (c) => void (await c.kiosk.control('next-card tear-after 40')),
    history: all(failedWith('writeChip', 'CardSpoiled'), retriedAfterCrash('rejectCard')),
  })),
  {
    id: 'sigterm-mid-chip-write', group: 'graceful stop', fault: 'SIGTERM mid chip write: the write finishes, then the worker exits', expect: 'card',
    kiosk: { pageWriteMs: 60 },
    during: async (c) => {
      await untilTrue('the chip write to start', () => chipWriteStarted(c.kioskDir));
      const code = await c.terminate();
      if (code !== 0) throw new Error(`the worker exited ${code} on SIGTERM`);
    },
    history: doneFirstTime('writeChip'),
  },
  {
    id: 'sigterm-mid-print', group: 'graceful stop', fault: 'SIGTERM mid print: the print finishes, then the worker exits', expect: 'card',
    kiosk: { bandMs: 300 },
    during: async (c) => {
      await untilTrue('printing', () => (JSON.parse(fs.readFileSync(path.join(c.kioskDir, 'printer-state.json'), 'utf8')) as ModelState).card?.print === 'printing');
      const code = await c.terminate();
      if (code !== 0) throw new Error(`the worker exited ${code} on SIGTERM`);
    },
    history: doneFirstTime('printFace'),
  },
  {
    id: 'card-pulled-mid-write', group: 'device fault', fault: 'card pulled mid-write (contact lost: tearing)', expect: 'card',
    setup: async (c) => void (await c.kiosk.control('next-card tear-after 40')),
    history: failedWith('writeChip', 'CardSpoiled'),
  },
  {
    id: 'chip-memory-failure', group: 'device fault', fault: 'chip answers 6581 memory failure on every write', expect: 'card',
    setup: async (c) => void (await c.kiosk.control('next-card memory-failure always')),
    history: failedWith('writeChip', 'CardSpoiled'),
  },
  { id: 'card-not-blank', group: 'device fault', fault: 'a used (not blank) card in the stocker', expect: 'card', setup: async (c) => void (await c.kiosk.control('next-card not-blank')), history: feedRejected },
  { id: 'card-wrong-type', group: 'device fault', fault: 'a card of the wrong type in the stocker', expect: 'card', setup: async (c) => void (await c.kiosk.control('next-card wrong-type')), history: feedRejected },
  {
    id: 'jam-cleared', group: 'device fault', fault: 'card jam at the feed, cleared by the operator after 3 s', expect: 'card',
    setup: async (c) => void (await c.kiosk.control('jam-next')),
    during: async (c) => {
      await untilTrue('the jam', async () => (await c.kiosk.status()).printer.faults.includes('JAM'));
      await sleep(3000);
      await c.kiosk.control('clear-jam');
    },
    history: retriedWith('feedBlankCard', 'DeviceFault'),
  },
  {
    id: 'jam-not-cleared', group: 'device fault', fault: 'card jam that nobody clears', expect: 'refund',
    setup: async (c) => void (await c.kiosk.control('jam-next')),
    history: all(failedWith('feedBlankCard', 'DeviceFault'), refunded),
  },
  {
    id: 'ribbon-out', group: 'device fault', fault: 'ribbon out at print, replaced after 3 s', expect: 'card',
    setup: async (c) => void (await c.kiosk.control('ribbon 0')),
    during: async (c) => {
      await untilTrue('the chip written', () => chipWriteStarted(c.kioskDir));
      await sleep(3000);
      await c.kiosk.control('ribbon 200');
    },
    history: retriedWith('printFace', 'DeviceFault'),
  },
  { id: 'stocker-empty', group: 'device fault', fault: 'empty stocker', expect: 'refund', setup: async (c) => void (await c.kiosk.control('stocker 0')), history: all(failedWith('feedBlankCard', 'StockerEmpty'), refunded) },
  {
    id: 'reader-gone-at-feed', group: 'device fault', fault: 'IC reader gone (pcscd stopped) at the feed, back after 4 s', expect: 'card',
    setup: async () => stopPcscd(),
    during: async () => {
      await sleep(4000);
      startPcscd();
    },
    history: retriedWith('feedBlankCard', 'DeviceFault'),
  },
  {
    id: 'reader-gone-mid-write', group: 'device fault', fault: 'IC reader gone (pcscd stopped) mid chip write, back after 3 s', expect: 'card',
    kiosk: { pageWriteMs: 120 },
    during: async (c) => {
      await untilTrue('the chip write to start', () => chipWriteStarted(c.kioskDir));
      await stopPcscd();
      await sleep(3000);
      startPcscd();
    },
    history: retriedWith('writeChip', 'DeviceFault'),
  },
  {
    id: 'card-not-taken', group: 'device fault', fault: 'the customer does not take the card', expect: 'refund',
    kiosk: { autoTakeMs: null }, workerEnv: { CARD_TAKE_TIMEOUT_MS: '1500' },
    history: all(failedWith('presentCard', 'CardNotTaken'), refunded),
  },
];

// ── running a cell ─────────────────────────────────────────────────────────────────────────────
export interface MatrixOptions {
  /** Where each cell's kiosk state goes. */
  dir: string;
  log?: (line: string) => void;
  /** Payload keys to decode history results (default PAYLOAD_KEYS). */
  payloadKeys?: string;
  /** vpcd port of the cells' contact station (default FAULTS_VPCD_PORT or 35964, reader "Virtual PCD 00 01"). */
  vpcdPort?: number;
}

export async function runCell(stack: Stack, cell: FaultCell, n: number, o: MatrixOptions): Promise<CellResult> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const tid = `F${stack.suiteId}-${n}`;
  await seedTerminals(stack.db, [tid]);
  const cellDir = path.join(o.dir, `${String(n).padStart(2, '0')}-${cell.id}`);
  const kioskDir = path.join(cellDir, 'kiosk');
  const stateFile = path.join(cellDir, 'machine.json');
  const kiosk = await launchEmulatedKiosk({ stateDir: kioskDir, vpcdPort: o.vpcdPort ?? Number(process.env.FAULTS_VPCD_PORT || 35964), feedMs: 100, bandMs: 40, ejectMs: 50, autoTakeMs: 200, pageWriteMs: 2, exitWithParent: true, ...cell.kiosk });
  const workers: ManagedProcess[] = [];
  let kills = 0;
  let finished = false;
  const baseEnv: NodeJS.ProcessEnv = {
    TEMPORAL_ADDRESS: process.env.TEMPORAL_TEST_ADDRESS,
    DATABASE_URL: stack.databaseUrl,
    DATA_DIR: cellDir,
    TERMINAL_ID: tid,
    TERMINAL_STATE_FILE: stateFile,
    CARD_PRINTER_PORT: kiosk.hostPty,
    CARD_READER: kiosk.readerName,
    CARD_READER_MAX_APDU_DATA: '64',
    CARD_AT_STATION_WAIT_MS: '3000',
    SIM_PAYOUT_MS: '300',
    SIM_RECEIPT_MS: '100',
    ...cell.workerEnv,
  };
  const startWorker = (env: NodeJS.ProcessEnv) => {
    const p = startNodeProcess(`terminal:${tid}`, 'terminal-worker/main.js', [], { ...baseEnv, ...env });
    workers.push(p);
    void p.exited.then(() => {
      if (finished || p.child.signalCode !== 'SIGKILL') return;
      kills++;
      log(`  ${cell.id}: terminal worker SIGKILLed (${kills}); starting it again`);
      startWorker({});
    });
    return p;
  };
  const client = new Kiosk(stack.apiUrl, tid);
  const terminate = async () => {
    const w = workers.filter((p) => p.child.exitCode === null && p.child.signalCode === null).at(-1);
    if (!w) throw new Error('no terminal worker running');
    w.child.kill('SIGTERM');
    const code = await w.exited;
    log(`  ${cell.id}: terminal worker stopped by SIGTERM (exit ${code}); starting it again`);
    startWorker({});
    return code;
  };
  const ctx: CellContext = { stack, kiosk, kioskDir, progress: async () => (client.issuanceId ? client.progress() : null), terminate, log };
  const problems: string[] = [];
  let final: Progress | null = null;
  let duringDone: Promise<void> = Promise.resolve();
  let stockerBefore = STOCK;
  try {
    startWorker(cell.killEnv ?? {});
    await cell.setup?.(ctx);
    stockerBefore = (await kiosk.status()).printer.stocker;
    const seat = await freeSeat(stack.db);
    await client.buyWithCash({ kind: 'seat', seatId: seat.id }, INSERTED);
    duringDone = (cell.during?.(ctx) ?? Promise.resolve()).catch((err: Error) => void problems.push(`fault action failed: ${err.message}`));
    final = await client.waitFor((p) => ['completed', 'refunded', 'failed', 'expired', 'cancelled'].includes(p.stage), 150_000);
    await duringDone;
  } catch (err) {
    problems.push(`did not finish: ${(err as Error).message.slice(0, 300)}`);
  } finally {
    finished = true;
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    workers.forEach((w, i) => fs.writeFileSync(path.join(cellDir, `worker-${i + 1}.log`), w.output()));
    await duringDone;
    if (!fs.existsSync('/run/pcscd/pcscd.comm')) startPcscd();
  }

  // ── checks ──
  const model = JSON.parse(fs.readFileSync(path.join(kioskDir, 'printer-state.json'), 'utf8')) as ModelState;
  await kiosk.stop();
  const machine = new MachineStateFile(stateFile).read();
  const id = client.issuanceId;
  const cards: Array<{ id: string; uid: string; status: string; spoil_reason: string | null }> = id ? await stack.db('cards').where({ issuance_id: id }) : [];
  const sales = id ? await stack.db('sales').where({ issuance_id: id }) : [];
  const stage = final?.stage ?? 'unfinished';
  const inserted = INSERTED.reduce((a, b) => a + b, 0);
  const returned = (machine.payouts[`change:${id}`] ?? 0) + (machine.payouts[`refund:${id}`] ?? 0);
  const cardsFed = stockerBefore - model.stocker;
  const issued = cards.filter((c) => c.status === 'issued');
  const spoiledDb = cards.filter((c) => c.status === 'spoiled');

  if (cell.expect === 'card') {
    if (stage !== 'completed') problems.push(`expected a card, ended ${stage}: ${final?.message ?? ''}`);
    if (sales.length !== 1) problems.push(`${sales.length} sales recorded`);
    if (final && returned !== inserted - final.item!.quote.totalMinor) problems.push(`paid back ${returned} of ${inserted} inserted for a ${final.item!.quote.totalMinor} item`);
  } else {
    if (stage !== 'refunded') problems.push(`expected the money back, ended ${stage}`);
    if (sales.length !== 0) problems.push(`${sales.length} sales recorded for a refunded issuance`);
    if (returned !== inserted) problems.push(`returned ${returned} of ${inserted} inserted`);
  }
  const good = cell.expect === 'card' ? 1 : 0;
  if (model.dispensed.length !== good) problems.push(`${model.dispensed.length} cards handed out (expected ${good})`);
  if (issued.length !== good) problems.push(`${issued.length} cards issued in the center (expected ${good})`);
  for (const d of model.dispensed) {
    const card = issued.find((c) => c.uid === d.uid);
    if (!card) problems.push(`card ${d.uid} handed out but not issued in the center`);
    const chip = fs.existsSync(path.join(kioskDir, 'chips', `${d.uid}.bin`)) ? fs.readFileSync(path.join(kioskDir, 'chips', `${d.uid}.bin`)) : Buffer.alloc(0);
    try {
      const rec = decodeCardRecord(chip.subarray(0, 9 + chip.readUInt32BE(5) + 4));
      if (rec.issuanceId !== id || rec.cardId !== card?.id) problems.push(`card ${d.uid}'s chip holds another record (${rec.issuanceId}/${rec.cardId})`);
    } catch (err) {
      problems.push(`card ${d.uid} handed out with a bad chip: ${(err as Error).message}`);
    }
    if (!fs.existsSync(path.join(kioskDir, 'faces', `${d.uid}.png`))) problems.push(`card ${d.uid} handed out without a printed face`);
  }
  // Every card fed is accounted for, and every spoiled card is in the reject bin (or still held).
  const inTransport = model.card ? 1 : 0;
  if (cardsFed !== model.dispensed.length + model.rejectBin.length + inTransport) problems.push(`cards fed ${cardsFed} ≠ dispensed ${model.dispensed.length} + rejected ${model.rejectBin.length} + in transport ${inTransport}`);
  const binUids = new Set([...model.rejectBin.map((r) => r.uid), ...(model.card ? [model.card.uid] : [])]);
  for (const c of spoiledDb) if (!binUids.has(c.uid)) problems.push(`card ${c.uid} spoiled in the center but not in the reject bin`);
  for (const c of cards) if (c.status !== 'issued' && c.status !== 'spoiled') problems.push(`card ${c.uid} left ${c.status}`);
  for (const r of model.rejectBin) {
    const c = cards.find((x) => x.uid === r.uid);
    if (c && c.status !== 'spoiled') problems.push(`card ${r.uid} in the reject bin but ${c.status} in the center`);
  }
  // A cell whose fault is a kill must have killed.
  if (cell.killEnv && kills === 0) problems.push('the fault was never hit (the worker did not die)');

  let steps: HistoryStep[] = [];
  if (id) {
    steps = await historySteps(stack, id, o.payloadKeys ?? process.env.PAYLOAD_KEYS);
    const p = cell.history(steps);
    if (p) problems.push(p);
  }
  const diagnosis = problems.length ? await diagnose(stack, id, cellDir, kioskDir, workers.length) : [];
  return {
    cell,
    ok: problems.length === 0,
    diagnosis,
    problems,
    stage,
    cardsFed,
    dispensed: model.dispensed.length,
    spoiled: model.rejectBin.length,
    returnedMinor: returned,
    kills,
    history: describeHistory(steps),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

export async function runFaultMatrix(stack: Stack, cells: FaultCell[], o: MatrixOptions): Promise<CellResult[]> {
  const results: CellResult[] = [];
  for (const [i, cell] of cells.entries()) {
    o.log?.(`cell ${i + 1}/${cells.length}: ${cell.id} — ${cell.fault}`);
    const r = await runCell(stack, cell, i + 1, o);
    o.log?.(`  ${r.ok ? 'ok' : 'NOT OK'} in ${r.seconds} s: ${r.stage}; ${r.history}${r.problems.length ? `\n  problems: ${r.problems.join('; ')}` : ''}`);
    results.push(r);
  }
  return results;
}

/**
 * What a failed cell leaves to read when its state directory is gone (a CI machine): the
 * workflow's pending activities (attempt, state, last failure, last heartbeat) and the tails of
 * the terminal workers' and the emulated kiosk's logs.
 */
async function diagnose(stack: Stack, id: string | null, cellDir: string, kioskDir: string, workerCount: number): Promise<string[]> {
  const out: string[] = [];
  if (id) {
    try {
      const d = await stack.temporal.workflow.getHandle(id).describe();
      out.push(`workflow ${d.status.name}, ${d.raw.pendingActivities?.length ?? 0} pending activities`);
      for (const a of d.raw.pendingActivities ?? []) {
        const t = (x: { seconds?: unknown } | null | undefined) => (x?.seconds ? new Date(Number(x.seconds) * 1000).toISOString().slice(11, 19) : '-');
        out.push(`pending ${a.activityType?.name}: ${temporal.api.enums.v1.PendingActivityState[a.state ?? 0]}, attempt ${a.attempt}, started ${t(a.lastStartedTime)}, heartbeat ${t(a.lastHeartbeatTime)}, last failure ${a.lastFailure?.message ?? '-'}`);
      }
    } catch (err) {
      out.push(`cannot describe workflow ${id}: ${(err as Error).message}`);
    }
  }
  const tail = (file: string, n: number) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n) : [`(no ${path.basename(file)})`]);
  for (let i = 1; i <= workerCount; i++) out.push(`── worker-${i}.log`, ...tail(path.join(cellDir, `worker-${i}.log`), 15));
  out.push('── kiosk.log', ...tail(path.join(kioskDir, 'kiosk.log'), 15));
  out.push(`(${new Date().toISOString().slice(11, 19)} now)`);
  return out;
}

// ── history ────────────────────────────────────────────────────────────────────────────────────
function failureName(f: temporal.api.failure.v1.IFailure | null | undefined): string | undefined {
  if (!f) return undefined;
  if (f.timeoutFailureInfo) return `timeout (${temporal.api.enums.v1.TimeoutType[f.timeoutFailureInfo.timeoutType ?? 0]?.replace('TIMEOUT_TYPE_', '').toLowerCase()})`;
  if (f.applicationFailureInfo) return f.applicationFailureInfo.type ?? 'Error';
  if (f.cause) return failureName(f.cause);
  if (f.canceledFailureInfo) return 'cancelled';
  return 'failure';
}

/** The activities of a workflow's history: type, final attempt, outcome, failure types, decoded results. */
export async function historySteps(stack: Stack, workflowId: string, payloadKeys?: string): Promise<HistoryStep[]> {
  const history = await stack.temporal.workflow.getHandle(workflowId).fetchHistory();
  const codec = payloadKeys ? new EncryptionCodec(parseKeySpec(payloadKeys)) : null;
  const bySchedule = new Map<string, HistoryStep>();
  const steps: HistoryStep[] = [];
  for (const e of history.events ?? []) {
    const sch = e.activityTaskScheduledEventAttributes;
    if (sch) {
      const step: HistoryStep = { type: sch.activityType?.name ?? '?', attempt: 1, outcome: 'scheduled' };
      bySchedule.set(String(e.eventId), step);
      steps.push(step);
      continue;
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      const step = bySchedule.get(String(st.scheduledEventId));
      if (step) {
        step.attempt = st.attempt ?? 1;
        step.lastFailure = failureName(st.lastFailure);
      }
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const step = bySchedule.get(String(done.scheduledEventId));
      if (step) {
        step.outcome = 'completed';
        const payload = done.result?.payloads?.[0];
        if (payload && codec) {
          try {
            step.result = defaultPayloadConverter.fromPayload((await codec.decode([payload]))[0]!);
          } catch {
            // a result we cannot decode is left out
          }
        }
      }
      continue;
    }
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      const step = bySchedule.get(String(failed.scheduledEventId));
      if (step) {
        step.outcome = 'failed';
        step.failureType = failureName(failed.failure);
      }
      continue;
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) {
      const step = bySchedule.get(String(timedOut.scheduledEventId));
      if (step) {
        step.outcome = 'timedOut';
        step.failureType = failureName(timedOut.failure);
      }
    }
  }
  return steps;
}

/** The notable part of a history in one line: retried steps (and why), failed steps, rejections, refunds. */
export function describeHistory(steps: HistoryStep[]): string {
  const out: string[] = [];
  for (const s of steps) {
    const rejected = s.type === 'feedBlankCard' ? ((s.result as { rejected?: unknown[] })?.rejected?.length ?? 0) : 0;
    if (s.attempt > 1) out.push(`${s.type} attempt ${s.attempt} after ${s.lastFailure}`);
    if (s.outcome === 'failed' || s.outcome === 'timedOut') out.push(`${s.type} ✗ ${s.failureType}`);
    if (rejected) out.push(`feedBlankCard rejected ${rejected}`);
    if (s.type === 'markPaymentRefunded') out.push('refunded');
  }
  return out.join(', ') || 'no retries';
}

export function matrixTable(results: CellResult[]): string {
  const headers = ['#', 'cell', 'group', 'expect', 'ended', 'fed', 'out', 'bin', 'returned', 'kills', 'secs', 'ok', 'history'];
  const rows = results.map((r, i) => [String(i + 1), r.cell.id, r.cell.group, r.cell.expect, r.stage, String(r.cardsFed), String(r.dispensed), String(r.spoiled), `¥${r.returnedMinor}`, String(r.kills), String(r.seconds), r.ok ? 'ok' : 'FAIL', r.history]);
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cols: string[]) => cols.map((v, c) => v.padEnd(widths[c]!)).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
