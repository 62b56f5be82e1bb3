/**
 * ISO 8583 packer / unpacker driven by a per-host FieldTable (fixed, LLVAR, LLLVAR; ASCII, BCD or
 * binary; 64-bit primary and 128-bit primary+secondary bitmaps).
 *
 * Written by hand on purpose. The only maintained npm package, `iso_8583` (zemuldo, 2.6.7), lets a
 * host override field lengths and content types, but it encodes every field as ASCII text (no
 * packed-BCD fields or BCD length prefixes), carries a Postilion-specific field 127 layout and
 * pulls in `jxon`/`date-fns`; the rest (`iso8583`, `s-a/iso-8583`) are abandoned or native. The
 * whole job is ~200 lines here, typed, with errors that name the field and the offset.
 *
 * Pure (no I/O) but it uses Node's Buffer, so it belongs to activities and servers, not to the
 * workflow bundle.
 */
import { Iso8583Error, type FieldSpec, type FieldTable, type Iso8583Fields, type Iso8583Message } from './field-table';

const DIGITS = /^[0-9]*$/;
const CONTENT_PATTERNS: Record<string, RegExp> = {
  n: DIGITS,
  an: /^[0-9A-Za-z ]*$/,
  ans: /^[\x20-\x7e]*$/,
  z: /^[0-9=D]*$/,
};

function label(n: number, spec: FieldSpec): string {
  return `field ${n} (${spec.name})`;
}

function specFor(table: FieldTable, n: number): FieldSpec {
  const spec = table.fields[n];
  if (!spec) throw new Iso8583Error(`field ${n} is not defined in field table '${table.name}'`, n);
  return spec;
}

// ---- BCD ----------------------------------------------------------------------------------

function bcdEncode(digits: string, padding: 'left' | 'right'): Buffer {
  const nibbles = digits.length % 2 === 0 ? digits : padding === 'left' ? `0${digits}` : `${digits}F`;
  return Buffer.from(nibbles, 'hex');
}

function bcdDecode(bytes: Buffer, digitCount: number, padding: 'left' | 'right'): string {
  const hex = bytes.toString('hex').toUpperCase();
  if (hex.length === digitCount) return hex;
  return padding === 'left' ? hex.slice(1) : hex.slice(0, -1);
}

// ---- length prefixes ------------------------------------------------------------------------

function prefixDigits(format: FieldSpec['format']): number {
  return format === 'llvar' ? 2 : 3;
}

function encodePrefix(table: FieldTable, format: FieldSpec['format'], len: number): Buffer {
  const digits = prefixDigits(format);
  const text = String(len).padStart(digits, '0');
  return table.lengthPrefixEncoding === 'ascii' ? Buffer.from(text, 'ascii') : bcdEncode(text, 'left');
}

function prefixBytes(table: FieldTable, format: FieldSpec['format']): number {
  const digits = prefixDigits(format);
  return table.lengthPrefixEncoding === 'ascii' ? digits : Math.ceil(digits / 2);
}

// ---- one field --------------------------------------------------------------------------------

function checkContent(n: number, spec: FieldSpec, value: string): void {
  if (spec.encoding === 'binary') {
    if (!/^([0-9A-Fa-f]{2})*$/.test(value)) throw new Iso8583Error(`${label(n, spec)} is binary and must be given as hex, got '${value.slice(0, 8)}…'`, n);
    return;
  }
  const pattern = spec.encoding === 'bcd' ? (spec.content === 'z' ? CONTENT_PATTERNS.z : DIGITS) : CONTENT_PATTERNS[spec.content ?? 'ans'];
  if (!pattern.test(value)) throw new Iso8583Error(`${label(n, spec)} has characters outside its content class '${spec.encoding === 'bcd' ? 'bcd' : (spec.content ?? 'ans')}'`, n);
}

function packField(table: FieldTable, n: number, value: string): Buffer {
  const spec = specFor(table, n);
  if (typeof value !== 'string') throw new Iso8583Error(`${label(n, spec)} must be a string`, n);
  checkContent(n, spec, value);
  const len = spec.encoding === 'binary' ? value.length / 2 : value.length;
  const unit = spec.encoding === 'binary' ? 'bytes' : spec.encoding === 'bcd' ? 'digits' : 'characters';
  if (spec.format === 'fixed' && len !== spec.length) throw new Iso8583Error(`${label(n, spec)} must be exactly ${spec.length} ${unit}, got ${len}`, n);
  if (spec.format !== 'fixed' && len > spec.length) throw new Iso8583Error(`${label(n, spec)} is ${spec.format.toUpperCase()} up to ${spec.length} ${unit}, got ${len}`, n);
  const maxPrefix = spec.format === 'llvar' ? 99 : spec.format === 'lllvar' ? 999 : Infinity;
  if (len > maxPrefix) throw new Iso8583Error(`${label(n, spec)} length ${len} does not fit its ${spec.format.toUpperCase()} prefix`, n);
  const body =
    spec.encoding === 'binary'
      ? Buffer.from(value, 'hex')
      : spec.encoding === 'bcd'
        ? bcdEncode(value.replace(/=/g, 'D'), spec.bcdPadding ?? 'left')
        : Buffer.from(value, 'ascii');
  return spec.format === 'fixed' ? body : Buffer.concat([encodePrefix(table, spec.format, len), body]);
}

class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}
  take(count: number, what: string, field?: number): Buffer {
    if (this.offset + count > this.buf.length) {
      throw new Iso8583Error(`truncated message: ${what} needs ${count} bytes at offset ${this.offset}, only ${this.buf.length - this.offset} left`, field);
    }
    const out = this.buf.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }
}

function readPrefix(table: FieldTable, r: Reader, n: number, spec: FieldSpec): number {
  const raw = r.take(prefixBytes(table, spec.format), `the length prefix of ${label(n, spec)}`, n);
  const text = table.lengthPrefixEncoding === 'ascii' ? raw.toString('latin1') : raw.toString('hex');
  if (!DIGITS.test(text)) throw new Iso8583Error(`${label(n, spec)} has a malformed length prefix '${raw.toString('hex')}' at offset ${r.offset - raw.length}`, n);
  const len = Number(text);
  if (len > spec.length) throw new Iso8583Error(`${label(n, spec)} declares length ${len}, more than its maximum ${spec.length}`, n);
  return len;
}

function unpackField(table: FieldTable, r: Reader, n: number): string {
  const spec = specFor(table, n);
  const len = spec.format === 'fixed' ? spec.length : readPrefix(table, r, n, spec);
  const byteCount = spec.encoding === 'bcd' ? Math.ceil(len / 2) : len;
  const raw = r.take(byteCount, label(n, spec), n);
  let value: string;
  if (spec.encoding === 'binary') value = raw.toString('hex').toUpperCase();
  else if (spec.encoding === 'bcd') {
    value = bcdDecode(raw, len, spec.bcdPadding ?? 'left');
    if (spec.content === 'z') value = value.replace(/D/g, '=');
  } else value = raw.toString('latin1');
  const check = spec.encoding === 'bcd' && spec.content === 'z' ? value.replace(/=/g, 'D') : value;
  try {
    checkContent(n, spec, check);
  } catch (err) {
    throw new Iso8583Error(`malformed message: ${(err as Error).message}`, n);
  }
  return value;
}

// ---- MTI and bitmaps ------------------------------------------------------------------------------

function checkMti(mti: string): void {
  if (typeof mti !== 'string' || !/^[0-9]{4}$/.test(mti)) throw new Iso8583Error(`MTI must be 4 digits, got '${String(mti)}'`);
}

function fieldNumbers(fields: Iso8583Fields): number[] {
  return Object.keys(fields)
    .map(Number)
    .filter((n) => fields[n] !== undefined)
    .sort((a, b) => a - b);
}

/** Packs one message (without the TCP length prefix). Field 1 (the secondary bitmap flag) is set automatically. */
export function pack(mti: string, fields: Iso8583Fields, table: FieldTable): Buffer {
  checkMti(mti);
  const numbers = fieldNumbers(fields);
  for (const n of numbers) {
    if (!Number.isInteger(n) || n < 2 || n > 128) throw new Iso8583Error(`field number ${n} is out of range 2..128`, n);
  }
  const secondary = numbers.some((n) => n > 64);
  const bitmap = Buffer.alloc(secondary ? 16 : 8);
  if (secondary) bitmap[0] |= 0x80;
  for (const n of numbers) bitmap[(n - 1) >> 3] |= 0x80 >> ((n - 1) & 7);
  const parts = [
    table.mtiEncoding === 'ascii' ? Buffer.from(mti, 'ascii') : bcdEncode(mti, 'left'),
    table.bitmapEncoding === 'binary' ? bitmap : Buffer.from(bitmap.toString('hex').toUpperCase(), 'ascii'),
    ...numbers.map((n) => packField(table, n, fields[n] as string)),
  ];
  return Buffer.concat(parts);
}

function readBitmapHalf(table: FieldTable, r: Reader, which: string): Buffer {
  if (table.bitmapEncoding === 'binary') return r.take(8, `the ${which} bitmap`);
  const text = r.take(16, `the ${which} bitmap`).toString('latin1');
  if (!/^[0-9A-Fa-f]{16}$/.test(text)) throw new Iso8583Error(`malformed message: the ${which} bitmap is not hex text`);
  return Buffer.from(text, 'hex');
}

/** Unpacks one message (without the TCP length prefix); every byte must be accounted for. */
export function unpack(buf: Buffer, table: FieldTable): Iso8583Message {
  if (!Buffer.isBuffer(buf)) throw new Iso8583Error('unpack needs a Buffer');
  const r = new Reader(buf);
  const mtiRaw = r.take(table.mtiEncoding === 'ascii' ? 4 : 2, 'the MTI');
  const mti = table.mtiEncoding === 'ascii' ? mtiRaw.toString('latin1') : mtiRaw.toString('hex');
  if (!/^[0-9]{4}$/.test(mti)) throw new Iso8583Error(`malformed message: MTI is not 4 digits (bytes ${mtiRaw.toString('hex')})`);
  const primary = readBitmapHalf(table, r, 'primary');
  const bitmap = primary[0] & 0x80 ? Buffer.concat([primary, readBitmapHalf(table, r, 'secondary')]) : primary;
  const fields: Iso8583Fields = {};
  for (let n = 2; n <= bitmap.length * 8; n++) {
    if (bitmap[(n - 1) >> 3] & (0x80 >> ((n - 1) & 7))) {
      if (!table.fields[n]) throw new Iso8583Error(`malformed message: the bitmap sets field ${n}, which field table '${table.name}' does not define`, n);
      fields[n] = unpackField(table, r, n);
    }
  }
  if (r.offset !== buf.length) throw new Iso8583Error(`malformed message: ${buf.length - r.offset} unexpected bytes after the last field (offset ${r.offset})`);
  return { mti, fields };
}

/** The MTI that answers a request: 0100→0110, 0200→0210, 0400→0410, 0420/0421→0430, 0800→0810. */
export function responseMtiFor(requestMti: string): string {
  checkMti(requestMti);
  const fn = Number(requestMti[2]);
  if (fn % 2 !== 0) throw new Iso8583Error(`MTI ${requestMti} is itself a response`);
  return `${requestMti.slice(0, 2)}${fn + 1}0`;
}
