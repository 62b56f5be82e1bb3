/**
 * The receipt printer: an ESC/POS thermal printer on a serial port (docs/receipt-printer.md).
 * Receipt lines become a ReceiptLine document, `receiptline` turns it into ESC/POS bytes
 * (Shift_JIS for Japanese text, cut at the end), and the bytes go down the serial line.
 *
 * At most once per tag, across crashes. Printers know nothing of tags, but they count: GS g 2
 * reports the printer's own cumulative counters of cuts and line feeds. Before sending a receipt
 * the driver records the tag with both counters in a durable journal. The counter query doubles
 * as a barrier: the printer answers it in turn, after everything sent before it has been printed.
 * After the receipt it asks again: one more cut means the receipt came out whole. A driver that
 * died in between finds the tag still open on the next print(tag) and asks the printer: more
 * cuts → it was printed, done (alreadyPrinted); more line feeds but no cut → a torn piece (the
 * job was cut off mid-way) is fed out and cut off, and the receipt printed again, marked as a
 * reprint; nothing moved → printed now.
 *
 * Before printing it reads the real-time status (DLE EOT, answered even when the printer is
 * offline): paper end or an open cover is a ReceiptPrinterError and nothing is sent. Paper that
 * runs out mid-receipt is a ReceiptPrinterError too; the printer keeps the rest and prints it
 * when paper is loaded, and the next print(tag) call finds it finished.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import receiptline from 'receiptline';
import { SerialPort } from 'serialport';
import {
  Counter,
  feedAndCut,
  isPaperStatusReply,
  isRealTimeStatus,
  parseCounterReply,
  parseOfflineCause,
  parseRollPaperStatus,
  realTimeStatus,
  transmitCounter,
  type OfflineCause,
  type PaperSensor,
} from '../../domain/escpos';
import { DeviceError, type ReceiptPrinter } from '../devices/types';
import { DeviceJournal } from './device-journal';

export type ReceiptFaultCode = 'PAPER_OUT' | 'COVER_OPEN' | 'OFFLINE' | 'TIMEOUT' | 'PROTOCOL';

export class ReceiptPrinterError extends DeviceError {
  constructor(
    readonly receiptCode: ReceiptFaultCode,
    /** part of the receipt is on paper; the rest prints once the fault is cleared */
    readonly partial: boolean,
    readonly customerMessage: string,
    message: string,
  ) {
    // Out of paper or cover open: an operator must act; retrying cannot help (PAPER_OUT). Others may pass (JAM: retry).
    super(receiptCode === 'PAPER_OUT' || receiptCode === 'COVER_OPEN' ? 'PAPER_OUT' : 'JAM', message);
    this.name = 'ReceiptPrinterError';
  }
}

export interface ReceiptAlert {
  level: 'warning' | 'critical';
  code: string;
  message: string;
  at: string;
}

export interface EscPosReceiptPrinterOptions {
  path: string;
  baudRate?: number;
  /** durable journal of receipt tags */
  journalFile: string;
  /** characters per line (42 on 80 mm paper with font A at 12 dots) */
  cpl?: number;
  /** receiptline encoding; 'shiftjis' prints Japanese with the printer's kanji font */
  encoding?: 'shiftjis' | 'cp932' | 'multilingual' | 'cp437';
  /** receiptline command set */
  command?: 'escpos' | 'epson' | 'sii' | 'citizen' | 'fit' | 'generic';
  statusTimeoutMs?: number;
  /** how long a receipt may take to print */
  printTimeoutMs?: number;
  pollMs?: number;
  /**
   * Paces writes to this many bytes per second, as a real serial line at the printer's speed
   * does (38400 baud ≈ 3840 B/s). A pseudo-terminal passes bytes at once; tests use this to catch
   * a driver mid-transmission. Default: write at once.
   */
  paceBytesPerSecond?: number;
  onAlert?: (alert: ReceiptAlert) => void;
  log?: (line: string) => void;
}

interface ReceiptRecord {
  tag: string;
  state: 'sending' | 'done';
  cutsBefore: number;
  feedsBefore: number;
  lines: number;
  reprint?: boolean;
  sentAt: string;
  doneAt?: string;
}

interface ReceiptJournal {
  version: 1;
  receipts: Record<string, ReceiptRecord>;
}

type Waiter = { kind: 'rt' | 'counter'; resolve: (v: number) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** ReceiptLine special characters are written as hex escapes so a line prints exactly as given. */
export function receiptLineDocument(lines: string[]): string {
  const esc = (s: string) => s.replace(/[\\{|}\-=_"`^~]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  // `|text` is a left-aligned column; without it ReceiptLine centres the line.
  return lines.map((l) => `|${esc(l.replace(/[\x00-\x1f\x7f]/g, ' '))}`).join('\n') + '\n';
}

export class EscPosReceiptPrinter implements ReceiptPrinter {
  private port: SerialPort | null = null;
  private rx = Buffer.alloc(0);
  private waiters: Waiter[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private readonly journal: DeviceJournal<ReceiptJournal>;
  private readonly o: Required<Omit<EscPosReceiptPrinterOptions, 'onAlert'>> & Pick<EscPosReceiptPrinterOptions, 'onAlert'>;

  constructor(options: EscPosReceiptPrinterOptions) {
    this.o = {
      baudRate: 38400,
      cpl: 42,
      encoding: 'shiftjis',
      command: 'escpos',
      statusTimeoutMs: 1000,
      printTimeoutMs: 60_000,
      pollMs: 200,
      paceBytesPerSecond: 0,
      log: (line) => process.stderr.write(`receipt printer: ${line}\n`),
      ...options,
    };
    this.journal = new DeviceJournal<ReceiptJournal>(options.journalFile, () => ({ version: 1, receipts: {} }));
  }

  async open(): Promise<void> {
    const port = new SerialPort({ path: this.o.path, baudRate: this.o.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new ReceiptPrinterError('OFFLINE', false, 'The receipt printer is not available.', `cannot open the receipt printer port ${this.o.path}: ${err.message}`)) : resolve())));
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    port.on('error', (err) => this.o.log(`port error: ${err.message}`));
    this.port = port;
    await this.realTime(1); // it answers
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new ReceiptPrinterError('OFFLINE', false, 'The receipt printer is not available.', 'the receipt printer port was closed'));
    }
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private alert(level: ReceiptAlert['level'], code: string, message: string): void {
    this.o.log(`ALERT [${level}] ${code}: ${message}`);
    try {
      this.o.onAlert?.({ level, code, message, at: new Date().toISOString() });
    } catch (err) {
      this.o.log(`alert listener failed: ${(err as Error).message}`);
    }
  }

  // --- answers from the printer ---

  private receive(chunk: Buffer): void {
    this.rx = Buffer.concat([this.rx, chunk]);
    while (this.rx.length) {
      if (this.rx[0] === 0x5f) {
        // A counter block (0x5F digits NUL); neither status byte can be 0x5F, so it always starts one.
        const r = parseCounterReply(this.rx);
        if (!r) return; // the block is not complete yet
        this.rx = this.rx.subarray(r.length);
        const counterWaiter = this.waiters.find((w) => w.kind === 'counter');
        if (counterWaiter) this.settle(counterWaiter, r.value);
        else this.o.log(`dropped a late counter answer (${r.value})`);
        continue;
      }
      const b = this.rx[0]!;
      this.rx = this.rx.subarray(1);
      const rt = this.waiters.find((w) => w.kind === 'rt');
      if (isRealTimeStatus(b) && rt) this.settle(rt, b);
      else if (!isPaperStatusReply(b) || b !== 0) this.o.log(`dropped a stray byte from the printer: 0x${b.toString(16)}`);
      // GS r answers (receiptline ends every job with GS r 1) are not waited for: the counter query is the barrier.
    }
  }

  private settle(w: Waiter, v: number): void {
    this.waiters = this.waiters.filter((x) => x !== w);
    clearTimeout(w.timer);
    w.resolve(v);
  }

  private ask(kind: Waiter['kind'], bytes: Buffer, timeoutMs: number, what: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (!this.port) return reject(new ReceiptPrinterError('OFFLINE', false, 'The receipt printer is not available.', 'the receipt printer port is not open'));
      const w: Waiter = {
        kind,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new ReceiptPrinterError('TIMEOUT', false, 'The receipt printer is not responding.', `the receipt printer did not answer ${what} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(w);
      this.port.write(bytes);
    });
  }

  private realTime(n: 1 | 2 | 4): Promise<number> {
    return this.ask('rt', realTimeStatus(n), this.o.statusTimeoutMs, `DLE EOT ${n}`);
  }

  async status(): Promise<OfflineCause & PaperSensor> {
    const cause = parseOfflineCause(await this.realTime(2));
    const paper = parseRollPaperStatus(await this.realTime(4));
    return { ...cause, ...paper, paperEnd: paper.paperEnd || cause.paperEndStop };
  }

  /**
   * Reads a maintenance counter. The printer answers in turn with the print data, so this waits
   * until everything sent before has been printed; while waiting it watches the real-time status
   * and gives up with a ReceiptPrinterError when the printer has stopped (paper end, cover open).
   */
  private async counter(n: number, timeoutMs: number, partial: boolean): Promise<number> {
    let done = false;
    const answer = this.ask('counter', transmitCounter(n), timeoutMs, `GS g 2 (counter ${n})`).finally(() => (done = true));
    answer.catch(() => undefined);
    for (;;) {
      const tick = await Promise.race([answer.then(() => 'answer' as const), sleep(this.o.pollMs).then(() => 'tick' as const)]);
      if (tick === 'answer' || done) return answer;
      const s = await this.status();
      if (done) return answer;
      if (s.paperEnd || s.coverOpen) {
        // Stop waiting; the printer answers once it resumes, and that late answer is dropped.
        const w = this.waiters.find((x) => x.kind === 'counter');
        if (w) {
          this.waiters = this.waiters.filter((x) => x !== w);
          clearTimeout(w.timer);
        }
        throw this.stoppedError(s, partial);
      }
    }
  }

  private stoppedError(s: OfflineCause & PaperSensor, partial: boolean): ReceiptPrinterError {
    const code: ReceiptFaultCode = s.coverOpen ? 'COVER_OPEN' : 'PAPER_OUT';
    const what = code === 'PAPER_OUT' ? 'out of paper' : 'cover open';
    this.alert('critical', code, `receipt printer ${what}${partial ? ' in the middle of a receipt; the rest prints when it is fixed' : ''}`);
    return new ReceiptPrinterError(
      code,
      partial,
      partial ? 'Your receipt will finish printing shortly. If it does not, please ask a member of staff. ／ レシートの印刷が中断しました。係員にお声がけください。' : 'Sorry, no receipt can be printed right now. ／ 申し訳ございません。ただいまレシートを発行できません。',
      `receipt printer ${what}`,
    );
  }

  private async write(bytes: Buffer): Promise<void> {
    const bps = this.o.paceBytesPerSecond;
    if (!bps) return this.writeNow(bytes);
    const chunk = Math.max(1, Math.round(bps / 20));
    for (let i = 0; i < bytes.length; i += chunk) {
      await this.writeNow(bytes.subarray(i, i + chunk));
      await sleep((chunk * 1000) / bps);
    }
  }

  private writeNow(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.port) return reject(new ReceiptPrinterError('OFFLINE', false, 'The receipt printer is not available.', 'the receipt printer port is not open'));
      this.port.write(bytes, (err) => (err ? reject(err) : this.port!.drain((e) => (e ? reject(e) : resolve()))));
    });
  }

  /** ESC/POS bytes for the lines (receiptline), without its trailing GS r 1. */
  render(lines: string[]): Buffer {
    const out = Buffer.from(receiptline.transform(receiptLineDocument(lines), { cpl: this.o.cpl, encoding: this.o.encoding, command: this.o.command, cutting: true }), 'latin1');
    return out.subarray(-3).equals(Buffer.from([0x1d, 0x72, 0x31])) ? out.subarray(0, -3) : out;
  }

  // --- printing ---

  print(tag: string, lines: string[]): Promise<{ alreadyPrinted: boolean }> {
    const run = () => this.printExclusive(tag, lines);
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async printExclusive(tag: string, lines: string[]): Promise<{ alreadyPrinted: boolean }> {
    const rec = this.journal.get().receipts[tag];
    if (rec?.state === 'done') return { alreadyPrinted: true };
    let reprint = false;
    if (rec?.state === 'sending') {
      const found = await this.reconcile(rec);
      if (found === 'printed') return { alreadyPrinted: true };
      reprint = found === 'torn';
    }
    const s = await this.status();
    if (s.paperEnd || s.coverOpen) throw this.stoppedError(s, false);
    if (s.nearEnd) this.alert('warning', 'PAPER_NEAR_END', 'receipt paper is running low');
    const cutsBefore = await this.counter(Counter.cutsTotal, this.o.printTimeoutMs, false);
    const feedsBefore = await this.counter(Counter.lineFeedsTotal, this.o.statusTimeoutMs, false);
    const body = reprint ? ['** REPRINT / 再発行 **', ...lines] : lines;
    const bytes = this.render(body);
    this.journal.update((j) => (j.receipts[tag] = { tag, state: 'sending', cutsBefore, feedsBefore, lines: body.length, reprint, sentAt: new Date().toISOString() }));
    await this.write(bytes);
    const cutsAfter = await this.counter(Counter.cutsTotal, this.o.printTimeoutMs, true);
    if (cutsAfter !== cutsBefore + 1) this.alert('warning', 'COUNTER_MISMATCH', `receipt ${tag}: ${cutsAfter - cutsBefore} cuts counted for one receipt`);
    this.journal.update((j) => Object.assign(j.receipts[tag]!, { state: 'done', doneAt: new Date().toISOString() }));
    this.o.log(`receipt ${tag}: printed (${body.length} lines${reprint ? ', reprint' : ''})`);
    return { alreadyPrinted: false };
  }

  /**
   * A tag left 'sending' by a driver that died. Lets the printer finish whatever it holds (NULs
   * first, so that a command cut off mid-way takes them as its parameters and ends), then reads
   * its counters.
   */
  private async reconcile(rec: ReceiptRecord): Promise<'printed' | 'torn' | 'nothing'> {
    await this.write(Buffer.alloc(8, 0));
    const cuts = await this.counter(Counter.cutsTotal, this.o.printTimeoutMs, true);
    if (cuts > rec.cutsBefore) {
      this.journal.update((j) => Object.assign(j.receipts[rec.tag]!, { state: 'done', doneAt: new Date().toISOString() }));
      this.o.log(`receipt ${rec.tag}: the printer had finished it (cut counter ${rec.cutsBefore} → ${cuts})`);
      return 'printed';
    }
    const feeds = await this.counter(Counter.lineFeedsTotal, this.o.statusTimeoutMs, true);
    if (feeds > rec.feedsBefore) {
      // Part of the receipt came out, without its cut: print what is in the line buffer, feed and cut it off.
      await this.write(Buffer.concat([Buffer.from([0x0a]), feedAndCut(0)]));
      await this.counter(Counter.cutsTotal, this.o.printTimeoutMs, true);
      this.alert('warning', 'TORN_RECEIPT', `receipt ${rec.tag} was cut off mid-way by a restart (${feeds - rec.feedsBefore} lines printed); the piece was cut off and the receipt is printed again as a reprint`);
      return 'torn';
    }
    return 'nothing';
  }

  /** What the journal knows about a receipt tag. */
  record(tag: string): Readonly<ReceiptRecord> | undefined {
    return this.journal.get().receipts[tag];
  }
}

/** Opens the ESC/POS receipt printer on a serial port. */
export async function createEscPosReceiptPrinter(options: EscPosReceiptPrinterOptions): Promise<EscPosReceiptPrinter> {
  const p = new EscPosReceiptPrinter(options);
  await p.open();
  return p;
}
