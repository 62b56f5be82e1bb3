/**
 * ISO/IEC 7816-4 command and response APDUs (short form only: up to 255 data bytes, Le up to 256).
 * Pure byte helpers shared by the PC/SC driver and the virtual card.
 */

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Expected response length, 1..256 (256 is encoded as 00); undefined means no Le (case 1/3). */
  le?: number;
}

export interface ResponseApdu {
  data: Buffer;
  sw: number;
}

export const MAX_SHORT_DATA = 255;
export const MAX_SHORT_LE = 256;

export function encodeCommand(c: CommandApdu): Buffer {
  const data = c.data ?? new Uint8Array(0);
  if (data.length > MAX_SHORT_DATA) throw new RangeError(`command data of ${data.length} bytes does not fit a short APDU`);
  if (c.le !== undefined && (c.le < 1 || c.le > MAX_SHORT_LE)) throw new RangeError(`Le ${c.le} out of range 1..256`);
  const parts = [Buffer.from([c.cla, c.ins, c.p1, c.p2])];
  if (data.length > 0) parts.push(Buffer.from([data.length]), Buffer.from(data));
  if (c.le !== undefined) parts.push(Buffer.from([c.le & 0xff]));
  return Buffer.concat(parts);
}

/** Parses a short command APDU (cases 1–4). Throws RangeError on a malformed one. */
export function decodeCommand(b: Uint8Array): CommandApdu {
  if (b.length < 4) throw new RangeError('APDU shorter than its header');
  const [cla, ins, p1, p2] = b;
  if (b.length === 4) return { cla, ins, p1, p2 };
  if (b.length === 5) return { cla, ins, p1, p2, le: b[4] === 0 ? 256 : b[4] };
  const lc = b[4];
  if (lc === 0) throw new RangeError('extended APDUs are not supported');
  if (b.length === 5 + lc) return { cla, ins, p1, p2, data: b.subarray(5, 5 + lc) };
  if (b.length === 6 + lc) return { cla, ins, p1, p2, data: b.subarray(5, 5 + lc), le: b[5 + lc] === 0 ? 256 : b[5 + lc] };
  throw new RangeError(`APDU length ${b.length} does not match Lc ${lc}`);
}

export function encodeResponse(data: Uint8Array, sw: number): Buffer {
  return Buffer.concat([Buffer.from(data), Buffer.from([(sw >> 8) & 0xff, sw & 0xff])]);
}

export function decodeResponse(b: Uint8Array): ResponseApdu {
  if (b.length < 2) throw new RangeError(`response of ${b.length} bytes has no status word`);
  return { data: Buffer.from(b.subarray(0, b.length - 2)), sw: (b[b.length - 2] << 8) | b[b.length - 1] };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();
export const swHex = (sw: number): string => sw.toString(16).toUpperCase().padStart(4, '0');
