/**
 * The receipt printer emulator: an ESC/POS thermal printer on one end of a pseudo-terminal pair.
 *
 * Bytes from the host go into a receive buffer; real-time commands (DLE EOT n) are answered as
 * soon as they arrive, even while the printer is offline, as on a real printer. The mechanism
 * takes the buffer one command at a time (escpos-interpreter.ts) at its own pace (`lineMs` per
 * printed line), uses up paper, counts line feeds and cuts (the maintenance counters GS g 2
 * reports), and stops when the paper runs out — the rest stays in the buffer and prints once
 * paper is loaded, as a real printer resumes. GS r is answered in turn, after what precedes it
 * has been printed.
 *
 * Each piece of paper cut off is one receipt: `<outDir>/receipt-NNNN.bin` (the bytes the
 * mechanism took for it), `.txt` (the printed text, one line per printed line), `.json` (lines
 * with glyph positions and styles) and `.png` (the picture). Paper, cover and counters live in a
 * JSON state file that outlives the process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, DLE, EOT, encodeOfflineCause, encodeRollPaperStatus } from '../../../domain/escpos';
import { EscPosInterpreter, type PrintedLine } from './escpos-interpreter';
import { renderReceipt } from './render';
import { openPtyDeviceEnd, type PtyDeviceEnd } from '../pty-device-end';

export interface ReceiptPrinterState {
  /** paper left, in printed lines; null: endless */
  paperLines: number | null;
  nearEndLines: number;
  coverOpen: boolean;
  /** GS g 2 counters: 20 line feeds, 50 cuts (resettable); 148, 178 cumulative */
  counters: Record<string, number>;
  receipts: number;
}

export interface ReceiptEmulatorTimings {
  lineMs: number;
  cutMs: number;
}

const initialState = (): ReceiptPrinterState => ({ paperLines: null, nearEndLines: 30, coverOpen: false, counters: { 20: 0, 50: 0, 148: 0, 178: 0 }, receipts: 0 });

export class ReceiptEmulator {
  readonly s: ReceiptPrinterState;
  private port: PtyDeviceEnd | null = null;
  private buf = Buffer.alloc(0);
  private pos = 0;
  /** start of the bytes belonging to the receipt being printed */
  private pieceStart = 0;
  private pieceBytes: Buffer[] = [];
  private pieceLines: PrintedLine[] = [];
  private running = false;
  private wanted = false;
  private readonly interp: EscPosInterpreter;

  constructor(readonly stateFile: string, readonly outDir: string, readonly t: ReceiptEmulatorTimings, private readonly log: (line: string) => void = () => {}) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.mkdirSync(path.dirname(stateFile), { recursive: true });
    this.s = fs.existsSync(stateFile) ? { ...initialState(), ...(JSON.parse(fs.readFileSync(stateFile, 'utf8')) as ReceiptPrinterState) } : initialState();
    this.save();
    this.interp = new EscPosInterpreter({
      paper: () => this.paper(),
      counter: (n) => this.s.counters[n] ?? 0,
      resetCounter: (n) => {
        if (n < 128) this.change(() => (this.s.counters[n] = 0));
      },
    });
  }

  private change(fn: () => void): void {
    fn();
    this.save();
  }

  private save(): void {
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.s, null, 1));
    fs.renameSync(tmp, this.stateFile);
  }

  paper(): { nearEnd: boolean; paperEnd: boolean } {
    const left = this.s.paperLines;
    return { nearEnd: left !== null && left <= this.s.nearEndLines, paperEnd: left !== null && left <= 0 };
  }

  /** Printing stopped: paper end or cover open. */
  offline(): boolean {
    return this.paper().paperEnd || this.s.coverOpen;
  }

  async open(ptyPath: string): Promise<void> {
    const port = openPtyDeviceEnd(ptyPath, (l) => this.log(l));
    port.input.on('data', (chunk: Buffer) => this.receive(chunk));
    this.port = port;
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    await port?.close();
  }

  private receive(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    // Real-time commands are executed on arrival, wherever they are in the unprocessed data.
    for (let i = this.pos; i + 2 < this.buf.length; ) {
      if (this.buf[i] === DLE && this.buf[i + 1] === EOT) {
        this.realTime(this.buf[i + 2]!);
        this.buf = Buffer.concat([this.buf.subarray(0, i), this.buf.subarray(i + 3)]);
      } else i++;
    }
    this.kick();
  }

  private realTime(n: number): void {
    const p = this.paper();
    let b: number;
    if (n === 1) b = 0x12 | (this.offline() ? 0x08 : 0);
    else if (n === 2) b = encodeOfflineCause({ coverOpen: this.s.coverOpen, paperEndStop: p.paperEnd, error: false });
    else if (n === 3) b = 0x12;
    else b = encodeRollPaperStatus(p);
    this.port?.write(Buffer.from([b]));
  }

  /** Runs the mechanism over the buffer; again whenever bytes arrive or paper is loaded meanwhile. */
  private kick(): void {
    this.wanted = true;
    if (this.running) return;
    this.running = true;
    void (async () => {
      try {
        while (this.wanted) {
          this.wanted = false;
          await this.run();
        }
      } catch (err) {
        this.log(`mechanism stopped: ${(err as Error).message}`);
      } finally {
        this.running = false;
      }
    })();
  }

  private async run(): Promise<void> {
    while (this.pos < this.buf.length) {
      if (this.offline()) return; // stopped: waits for paper / the cover (real-time commands are still answered)
      // an incomplete DLE EOT at the very end of the buffer waits for its last byte
      if (this.buf[this.pos] === DLE && this.pos + 2 >= this.buf.length) return;
      const r = this.interp.next(this.buf, this.pos);
      if (!r) return;
      this.pos += r.len;
      for (const line of this.interp.pendingWrap.splice(0)) await this.printLine(line);
      const a = r.action;
      if (a?.type === 'line') await this.printLine(a.line);
      else if (a?.type === 'feed') for (let k = 0; k < a.lines; k++) await this.feedLine();
      else if (a?.type === 'cut') await this.cut();
      else if (a?.type === 'reply') this.port?.write(a.data);
      if (this.pos > 1 << 16) this.compact();
    }
  }

  private compact(): void {
    this.pieceBytes.push(this.buf.subarray(this.pieceStart, this.pos));
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
    this.pieceStart = 0;
  }

  private async feedLine(): Promise<void> {
    await sleep(this.t.lineMs);
    this.change(() => {
      if (this.s.paperLines !== null) this.s.paperLines -= 1;
      this.s.counters[Counter.lineFeeds] = (this.s.counters[Counter.lineFeeds] ?? 0) + 1;
      this.s.counters[Counter.lineFeedsTotal] = (this.s.counters[Counter.lineFeedsTotal] ?? 0) + 1;
    });
  }

  private async printLine(line: PrintedLine): Promise<void> {
    this.pieceLines.push(line);
    await this.feedLine();
    this.writePiece(false);
  }

  private async cut(): Promise<void> {
    await sleep(this.t.cutMs);
    this.change(() => {
      this.s.counters[Counter.cuts] = (this.s.counters[Counter.cuts] ?? 0) + 1;
      this.s.counters[Counter.cutsTotal] = (this.s.counters[Counter.cutsTotal] ?? 0) + 1;
      this.s.receipts += 1;
    });
    this.writePiece(true);
    this.pieceBytes = [];
    this.pieceLines = [];
    this.pieceStart = this.pos;
  }

  /** Writes the piece being printed (`current.*`) or, once cut, as receipt-NNNN.* */
  private writePiece(cut: boolean): void {
    const name = cut ? `receipt-${String(this.s.receipts).padStart(4, '0')}` : 'current';
    const base = path.join(this.outDir, name);
    const bytes = Buffer.concat([...this.pieceBytes, this.buf.subarray(this.pieceStart, this.pos)]);
    const write = (ext: string, data: string | Buffer) => {
      fs.writeFileSync(`${base}${ext}.tmp`, data);
      fs.renameSync(`${base}${ext}.tmp`, `${base}${ext}`);
    };
    write('.bin', bytes);
    write('.txt', this.pieceLines.map((l) => l.text).join('\n') + '\n');
    write('.json', JSON.stringify({ receipt: cut ? this.s.receipts : null, cut, lines: this.pieceLines }, null, 1));
    if (cut) {
      const png = renderReceipt(this.pieceLines);
      if (png) write('.png', png);
      fs.rmSync(path.join(this.outDir, 'current.bin'), { force: true });
      fs.rmSync(path.join(this.outDir, 'current.txt'), { force: true });
      fs.rmSync(path.join(this.outDir, 'current.json'), { force: true });
      this.log(`receipt ${this.s.receipts} cut: ${this.pieceLines.length} lines`);
    }
  }

  /**
   * Operator actions, one per line:
   *   paper <lines>|endless   load paper (resumes printing after a paper end)
   *   paper-out               the roll runs out now
   *   near-end <lines>        where the near-end sensor triggers
   *   cover open|closed
   *   status                  a JSON summary
   */
  control(line: string): string {
    const [verb, arg] = line.trim().split(/\s+/);
    switch (verb) {
      case 'paper':
        this.change(() => (this.s.paperLines = arg === 'endless' ? null : Number(arg)));
        break;
      case 'paper-out':
        this.change(() => (this.s.paperLines = 0));
        break;
      case 'near-end':
        this.change(() => (this.s.nearEndLines = Number(arg)));
        break;
      case 'cover':
        this.change(() => (this.s.coverOpen = arg === 'open'));
        break;
      case 'status':
        break;
      default:
        return `unknown control "${line.trim()}"`;
    }
    this.kick();
    return `ok ${JSON.stringify({ ...this.s, offline: this.offline(), buffered: this.buf.length - this.pos })}`;
  }
}
