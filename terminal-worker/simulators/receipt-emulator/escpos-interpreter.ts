/**
 * An ESC/POS interpreter for the receipt emulator: takes the printer's byte stream one command at
 * a time and keeps what a thermal printer keeps — the line being composed (characters at dot
 * positions, with size, emphasis, underline, inversion), the print area, the character set
 * (Shift_JIS kanji, JIS half-width katakana, the Japanese international set where 0x5C is ¥) —
 * and returns what the mechanism must do: print a line, feed, cut, answer the host.
 *
 * It covers the commands receiptline emits for text receipts and the usual neighbours; a command
 * it does not know is skipped by its documented length where that is known. Graphics, barcodes
 * and 2D codes are skipped (not drawn) — `skipped` counts them.
 */
import iconv from 'iconv-lite';
import { DLE, ESC, FS, GS, encodeCounterReply, encodePaperStatusReply, type PaperSensor } from '../../../domain/escpos';

export interface TextStyle {
  bold: boolean;
  underline: boolean;
  invert: boolean;
  /** 1…8 */
  width: number;
  height: number;
}

export interface Glyph extends TextStyle {
  ch: string;
  /** dots from the left edge of the print area */
  x: number;
  /** advance in dots */
  w: number;
}

export interface PrintedLine {
  /** the line as text on a 12-dot grid (one column per half-width character), trailing spaces trimmed */
  text: string;
  glyphs: Glyph[];
  /** tallest character, in dots */
  heightDots: number;
  align: 'left' | 'center' | 'right';
}

export type Action =
  | { type: 'line'; line: PrintedLine }
  | { type: 'feed'; lines: number }
  | { type: 'cut' }
  | { type: 'reply'; data: Buffer }
  | { type: 'init' }
  | null;

export interface InterpreterEnv {
  paper(): PaperSensor;
  counter(n: number): number;
  resetCounter(n: number): void;
}

const HALF = 12; // font A: 12 × 24 dots
const FULL = 24;
const DEFAULT_AREA = 576;

export class EscPosInterpreter {
  private style: TextStyle = { bold: false, underline: false, invert: false, width: 1, height: 1 };
  private glyphs: Glyph[] = [];
  private x = 0;
  private areaWidth = DEFAULT_AREA;
  private leftMargin = 0;
  private align: PrintedLine['align'] = 'left';
  private kanjiMode = false;
  private codeSystem: 'jis' | 'sjis' = 'jis';
  private codeTable = 0;
  private intl = 0;
  /** commands recognised but not rendered (graphics, barcodes, 2D codes) */
  skipped = 0;

  constructor(private readonly env: InterpreterEnv) {}

  reset(): void {
    this.style = { bold: false, underline: false, invert: false, width: 1, height: 1 };
    this.glyphs = [];
    this.x = 0;
    this.areaWidth = DEFAULT_AREA;
    this.leftMargin = 0;
    this.align = 'left';
    this.kanjiMode = false;
    this.codeTable = 0;
    this.intl = 0;
  }

  /** The command at buf[i] moves paper (the mechanism must check paper before it runs). */
  static movesPaper(buf: Buffer, i: number): boolean {
    const b = buf[i];
    if (b === 0x0a || b === 0x0c) return true;
    if (b === ESC) return buf[i + 1] === 0x64 || buf[i + 1] === 0x4a; // ESC d, ESC J
    if (b === GS) return buf[i + 1] === 0x56; // GS V
    return false;
  }

  /**
   * Interprets the command at buf[i]. Returns its length and the action, or null when the buffer
   * ends inside the command (wait for more bytes).
   */
  next(buf: Buffer, i: number): { len: number; action: Action } | null {
    const b = buf[i];
    if (b === undefined) return null;
    const need = (n: number) => i + n <= buf.length;
    const u16 = (at: number) => buf[at]! + buf[at + 1]! * 256;
    if (b === 0x0a) return { len: 1, action: { type: 'line', line: this.takeLine() } };
    if (b === 0x0c) return { len: 1, action: { type: 'line', line: this.takeLine() } };
    if (b === 0x09) {
      const tab = 8 * HALF;
      this.x = (Math.floor(this.x / tab) + 1) * tab;
      return { len: 1, action: null };
    }
    if (b === DLE) {
      // DLE EOT n / DLE ENQ n (real-time; normally taken out before they get here), DLE DC4 fn m t
      if (!need(2)) return null;
      const n = buf[i + 1] === 0x14 ? 5 : 3;
      return need(n) ? { len: n, action: null } : null;
    }
    if (b === ESC) return this.esc(buf, i, need, u16);
    if (b === FS) return this.fs(buf, i, need, u16);
    if (b === GS) return this.gs(buf, i, need, u16);
    if (b < 0x20 || b === 0x7f) return { len: 1, action: null }; // NUL, CR, CAN and other controls: nothing to print
    return this.character(buf, i);
  }

  private esc(buf: Buffer, i: number, need: (n: number) => boolean, u16: (at: number) => number): { len: number; action: Action } | null {
    if (!need(2)) return null;
    const c = String.fromCharCode(buf[i + 1]!);
    const p = buf[i + 2]!;
    const three = (fn: () => void): { len: number; action: Action } | null => {
      if (!need(3)) return null;
      fn();
      return { len: 3, action: null };
    };
    switch (c) {
      case '@':
        this.reset();
        return { len: 2, action: { type: 'init' } };
      case '!':
        return three(() => Object.assign(this.style, { bold: (p & 8) !== 0, height: p & 16 ? 2 : 1, width: p & 32 ? 2 : 1, underline: (p & 128) !== 0 }));
      case '-':
        return three(() => (this.style.underline = p === 1 || p === 2 || p === 49 || p === 50));
      case 'E':
        return three(() => (this.style.bold = (p & 1) === 1));
      case 'G':
      case 'M':
      case ' ':
      case '{':
      case 'V':
      case 'r':
      case 'U':
      case 'T':
      case '=':
      case '%':
      case '?':
        return three(() => {});
      case 'R':
        return three(() => (this.intl = p));
      case 't':
        return three(() => (this.codeTable = p));
      case 'a':
        return three(() => (this.align = p === 1 || p === 49 ? 'center' : p === 2 || p === 50 ? 'right' : 'left'));
      case '2':
        return { len: 2, action: null };
      case '3':
        return three(() => {});
      case 'd':
        if (!need(3)) return null;
        return { len: 3, action: this.glyphs.length ? { type: 'line', line: this.takeLine(p) } : { type: 'feed', lines: p } };
      case 'J':
        if (!need(3)) return null;
        return { len: 3, action: this.glyphs.length ? { type: 'line', line: this.takeLine() } : { type: 'feed', lines: Math.ceil(p / FULL) } };
      case '$':
        if (!need(4)) return null;
        this.x = u16(i + 2);
        return { len: 4, action: null };
      case '\\': {
        if (!need(4)) return null;
        const v = u16(i + 2);
        this.x = Math.max(0, this.x + (v >= 32768 ? v - 65536 : v));
        return { len: 4, action: null };
      }
      case 'c':
        return need(4) ? { len: 4, action: null } : null;
      case 'p':
        return need(5) ? { len: 5, action: null } : null;
      case 'i':
      case 'm':
        return { len: 2, action: { type: 'cut' } };
      case 'S':
      case 'L':
        return { len: 2, action: null };
      case 'W':
        return need(10) ? { len: 10, action: null } : null;
      case 'D': {
        const end = buf.indexOf(0, i + 2);
        return end < 0 ? null : { len: end - i + 1, action: null };
      }
      case '*': {
        if (!need(5)) return null;
        const n = u16(i + 3) * (buf[i + 2]! < 2 ? 1 : 3);
        if (!need(5 + n)) return null;
        this.skipped++;
        return { len: 5 + n, action: null };
      }
      default:
        return { len: 2, action: null };
    }
  }

  private fs(buf: Buffer, i: number, need: (n: number) => boolean, u16: (at: number) => number): { len: number; action: Action } | null {
    if (!need(2)) return null;
    const c = String.fromCharCode(buf[i + 1]!);
    switch (c) {
      case '&':
        this.kanjiMode = true;
        return { len: 2, action: null };
      case '.':
        this.kanjiMode = false;
        return { len: 2, action: null };
      case 'C':
        if (!need(3)) return null;
        this.codeSystem = buf[i + 2] === 1 || buf[i + 2] === 49 ? 'sjis' : 'jis';
        return { len: 3, action: null };
      case '!':
      case '-':
      case 'W':
        return need(3) ? { len: 3, action: null } : null;
      case 'S':
      case 'p':
        return need(4) ? { len: 4, action: null } : null;
      case '(': {
        if (!need(5)) return null;
        const n = u16(i + 3);
        return need(5 + n) ? { len: 5 + n, action: null } : null;
      }
      default:
        return { len: 2, action: null };
    }
  }

  private gs(buf: Buffer, i: number, need: (n: number) => boolean, u16: (at: number) => number): { len: number; action: Action } | null {
    if (!need(2)) return null;
    const c = String.fromCharCode(buf[i + 1]!);
    const p = buf[i + 2]!;
    switch (c) {
      case '!':
        if (!need(3)) return null;
        this.style.width = ((p >> 4) & 7) + 1;
        this.style.height = (p & 7) + 1;
        return { len: 3, action: null };
      case 'B':
        if (!need(3)) return null;
        this.style.invert = (p & 1) === 1;
        return { len: 3, action: null };
      case 'L':
        if (!need(4)) return null;
        this.leftMargin = u16(i + 2);
        return { len: 4, action: null };
      case 'W':
        if (!need(4)) return null;
        this.areaWidth = u16(i + 2) || DEFAULT_AREA;
        return { len: 4, action: null };
      case 'a':
      case 'b':
      case 'H':
      case 'f':
      case 'h':
      case 'w':
      case 'P':
        return need(3) ? { len: 3, action: null } : null;
      case 'V': {
        if (!need(3)) return null;
        const n = p === 65 || p === 66 || p >= 97 ? 4 : 3;
        if (!need(n)) return null;
        // Only at the beginning of a line (ESC/POS: GS V is ignored with data in the line buffer).
        return { len: n, action: this.glyphs.length ? null : { type: 'cut' } };
      }
      case 'r':
        if (!need(3)) return null;
        return { len: 3, action: { type: 'reply', data: Buffer.from([encodePaperStatusReply(this.env.paper())]) } };
      case 'g': {
        if (!need(6)) return null;
        const counter = u16(i + 4);
        if (p === 0x32) return { len: 6, action: { type: 'reply', data: encodeCounterReply(this.env.counter(counter)) } };
        if (p === 0x30) this.env.resetCounter(counter);
        return { len: 6, action: null };
      }
      case '(': {
        if (!need(5)) return null;
        const n = u16(i + 3);
        if (!need(5 + n)) return null;
        if (buf[i + 2] === 0x6b || buf[i + 2] === 0x4c) this.skipped++; // GS ( k (2D codes), GS ( L (graphics)
        return { len: 5 + n, action: null };
      }
      case 'k': {
        if (!need(3)) return null;
        if (p <= 6) {
          const end = buf.indexOf(0, i + 3);
          if (end < 0) return null;
          this.skipped++;
          return { len: end - i + 1, action: null };
        }
        if (!need(4)) return null;
        const n = buf[i + 3]!;
        if (!need(4 + n)) return null;
        this.skipped++;
        return { len: 4 + n, action: null };
      }
      case 'v': {
        if (!need(8)) return null;
        const n = u16(i + 4) * u16(i + 6);
        if (!need(8 + n)) return null;
        this.skipped++;
        return { len: 8 + n, action: null };
      }
      case '8': {
        if (!need(7)) return null;
        const n = buf[i + 3]! + buf[i + 4]! * 256 + buf[i + 5]! * 65536 + buf[i + 6]! * 16777216;
        if (!need(7 + n)) return null;
        this.skipped++;
        return { len: 7 + n, action: null };
      }
      default:
        return { len: 2, action: null };
    }
  }

  private character(buf: Buffer, i: number): { len: number; action: Action } | null {
    const b = buf[i]!;
    const sjisLead = (b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc);
    if ((this.kanjiMode || this.codeSystem === 'sjis') && sjisLead) {
      if (i + 1 >= buf.length) return null;
      const ch = iconv.decode(buf.subarray(i, i + 2), 'cp932');
      this.put(ch, FULL);
      return { len: 2, action: null };
    }
    let ch: string;
    if (b < 0x80) {
      ch = String.fromCharCode(b);
      if (this.intl === 8 && b === 0x5c) ch = '¥';
      if (this.intl === 8 && b === 0x7e) ch = '‾';
    } else if (this.codeTable === 1 && b >= 0xa1 && b <= 0xdf) ch = String.fromCharCode(0xff61 + b - 0xa1);
    else ch = iconv.decode(Buffer.from([b]), 'cp437');
    this.put(ch, HALF);
    return { len: 1, action: null };
  }

  private put(ch: string, dots: number): void {
    const w = dots * this.style.width;
    const area = this.areaWidth - this.leftMargin;
    if (this.x + w > area && this.glyphs.length) {
      // the line is full: the printer prints it and carries on in the next line
      this.pendingWrap.push(this.takeLine());
    }
    this.glyphs.push({ ch, x: this.x, w, ...this.style });
    this.x += w;
  }

  /** Lines printed by auto-wrap, to be collected by the mechanism before the next action. */
  readonly pendingWrap: PrintedLine[] = [];

  private takeLine(_feed = 1): PrintedLine {
    const glyphs = this.glyphs;
    this.glyphs = [];
    this.x = 0;
    const heightDots = Math.max(FULL, ...glyphs.map((g) => FULL * g.height));
    let shift = 0;
    if (glyphs.length && this.align !== 'left') {
      const used = Math.max(...glyphs.map((g) => g.x + g.w));
      const area = this.areaWidth - this.leftMargin;
      shift = this.align === 'center' ? Math.floor((area - used) / 2) : area - used;
    }
    const placed = glyphs.map((g) => ({ ...g, x: g.x + shift }));
    const cols: string[] = [];
    for (const g of placed) {
      const col = Math.round(g.x / HALF);
      while (cols.length < col) cols.push(' ');
      cols[col] = g.ch;
      const span = Math.round(g.w / HALF);
      for (let k = 1; k < span; k++) cols[col + k] = '';
    }
    return { text: cols.map((c) => c ?? ' ').join('').replace(/\s+$/, ''), glyphs: placed, heightDots, align: this.align };
  }
}

/** Decodes a whole byte stream to printed text lines (for tests and tools); pieces are split at cuts. */
export function decodeEscPos(bytes: Buffer): { pieces: string[][]; skipped: number } {
  const counters = new Map<number, number>();
  const interp = new EscPosInterpreter({ paper: () => ({ nearEnd: false, paperEnd: false }), counter: (n) => counters.get(n) ?? 0, resetCounter: (n) => counters.set(n, 0) });
  const pieces: string[][] = [[]];
  let i = 0;
  while (i < bytes.length) {
    const r = interp.next(bytes, i);
    if (!r) break;
    i += r.len;
    for (const l of interp.pendingWrap.splice(0)) pieces.at(-1)!.push(l.text);
    if (r.action?.type === 'line') pieces.at(-1)!.push(r.action.line.text);
    if (r.action?.type === 'feed') for (let k = 0; k < r.action.lines; k++) pieces.at(-1)!.push('');
    if (r.action?.type === 'cut') pieces.push([]);
  }
  if (!pieces.at(-1)!.length) pieces.pop();
  return { pieces, skipped: interp.skipped };
}
