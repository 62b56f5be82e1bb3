/**
 * The few ESC/POS status and counter exchanges the receipt printer driver relies on, shared with
 * the receipt emulator (Epson ESC/POS command reference; see docs/receipt-printer.md):
 *
 * - DLE EOT n (real-time status, answered even while the printer is offline or its buffer is
 *   full): one byte with bit 1 and bit 4 fixed on, bits 0 and 7 fixed off.
 *     n=1 printer status: bit 3 offline.
 *     n=2 offline cause: bit 2 cover open, bit 5 printing stopped by a paper end, bit 6 error.
 *     n=4 roll paper sensor: bits 2,3 near end; bits 5,6 paper end.
 * - GS r 1 (transmit paper sensor status): processed in turn with the print data, so its answer
 *   means everything sent before it has been printed. Bit 4 fixed off (that tells it apart from a
 *   DLE EOT answer): bits 0,1 near end, bits 2,3 paper end.
 * - GS g 2 m nL nH (transmit maintenance counter), m = 0: answered with 0x5F, the counter in
 *   ASCII decimal digits, NUL. Counter 20 = line feeds, 50 = autocutter operations (resettable
 *   with GS g 0); 148 and 178 are the same, cumulative (never reset).
 */

export const DLE = 0x10;
export const EOT = 0x04;
export const ESC = 0x1b;
export const GS = 0x1d;
export const FS = 0x1c;

export const Counter = { lineFeeds: 20, cuts: 50, lineFeedsTotal: 148, cutsTotal: 178 } as const;

export const realTimeStatus = (n: 1 | 2 | 3 | 4) => Buffer.from([DLE, EOT, n]);
export const transmitPaperStatus = () => Buffer.from([GS, 0x72, 0x31]);
export const transmitCounter = (counter: number) => Buffer.from([GS, 0x67, 0x32, 0x00, counter & 0xff, counter >> 8]);
/** Feeds past the cutter and cuts (GS V 66 n: feed n dots then partial cut). */
export const feedAndCut = (dots = 0) => Buffer.from([GS, 0x56, 0x42, dots]);

/** DLE EOT answers carry bit 1 and bit 4 set, bit 0 and bit 7 clear. */
export function isRealTimeStatus(b: number): boolean {
  return (b & 0x93) === 0x12;
}

/** GS r 1 answers have bit 4 clear (and bit 7 clear). */
export function isPaperStatusReply(b: number): boolean {
  return (b & 0x90) === 0x00;
}

export interface OfflineCause {
  coverOpen: boolean;
  paperEndStop: boolean;
  error: boolean;
}

export function parseOfflineCause(b: number): OfflineCause {
  return { coverOpen: (b & 0x04) !== 0, paperEndStop: (b & 0x20) !== 0, error: (b & 0x40) !== 0 };
}

export function encodeOfflineCause(c: OfflineCause): number {
  return 0x12 | (c.coverOpen ? 0x04 : 0) | (c.paperEndStop ? 0x20 : 0) | (c.error ? 0x40 : 0);
}

export interface PaperSensor {
  nearEnd: boolean;
  paperEnd: boolean;
}

export function parseRollPaperStatus(b: number): PaperSensor {
  return { nearEnd: (b & 0x0c) !== 0, paperEnd: (b & 0x60) !== 0 };
}

export function encodeRollPaperStatus(p: PaperSensor): number {
  return 0x12 | (p.nearEnd ? 0x0c : 0) | (p.paperEnd ? 0x60 : 0);
}

export function parsePaperStatusReply(b: number): PaperSensor {
  return { nearEnd: (b & 0x03) !== 0, paperEnd: (b & 0x0c) !== 0 };
}

export function encodePaperStatusReply(p: PaperSensor): number {
  return (p.nearEnd ? 0x03 : 0) | (p.paperEnd ? 0x0c : 0);
}

export function encodeCounterReply(value: number): Buffer {
  return Buffer.concat([Buffer.from([0x5f]), Buffer.from(String(value), 'latin1'), Buffer.from([0])]);
}

/** Parses `5F digits NUL`; returns null until the whole block is there. */
export function parseCounterReply(buf: Buffer): { value: number; length: number } | null {
  if (buf[0] !== 0x5f) return null;
  const end = buf.indexOf(0, 1);
  if (end < 0) return null;
  return { value: Number(buf.subarray(1, end).toString('latin1')), length: end + 1 };
}
