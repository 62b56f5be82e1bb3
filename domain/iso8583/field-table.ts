/**
 * ISO 8583 field tables: how one payment host encodes each data element. Every card company's
 * host has its own dialect (lengths, ASCII vs BCD, how variable lengths are prefixed), so the
 * packer is driven by a table like this one, stored per host in the DB, rather than by constants.
 *
 * Lengths are in characters for 'ascii', in digits (nibbles) for 'bcd', and in bytes for 'binary'.
 * For 'llvar' / 'lllvar' `length` is the maximum; for 'fixed' it is the exact length.
 * Binary values travel through the API as upper-case hex strings (e.g. a PIN block).
 *
 * Pure types; no I/O.
 */

export type FieldFormat = 'fixed' | 'llvar' | 'lllvar';
export type FieldEncoding = 'ascii' | 'bcd' | 'binary';
/** ISO 8583 content classes: numeric, alphanumeric, alphanumeric+special, track 2 (digits, '=' or 'D'). */
export type FieldContent = 'n' | 'an' | 'ans' | 'z';

export interface FieldSpec {
  name: string;
  format: FieldFormat;
  encoding: FieldEncoding;
  length: number;
  /** Checked on pack and unpack for ascii fields; bcd fields are always digits (and D for track 2). */
  content?: FieldContent;
  /** BCD with an odd number of digits: which side gets the pad nibble ('0' left, 'F' right). Default left. */
  bcdPadding?: 'left' | 'right';
}

export interface FieldTable {
  /** A name for error messages, e.g. the host's id. */
  name: string;
  /** MTI as 4 ASCII digits or 2 BCD bytes. */
  mtiEncoding: 'ascii' | 'bcd';
  /** Bitmaps as raw bytes (8 or 16) or as hex text (16 or 32 characters). */
  bitmapEncoding: 'binary' | 'hex';
  /** LL/LLL prefixes as ASCII digits (2/3 bytes) or BCD (1/2 bytes). */
  lengthPrefixEncoding: 'ascii' | 'bcd';
  fields: Readonly<Record<number, FieldSpec>>;
}

/** Field values by field number (2..128); strings, binary fields as hex. */
export type Iso8583Fields = Partial<Record<number, string>>;

export interface Iso8583Message {
  mti: string;
  fields: Iso8583Fields;
}

export class Iso8583Error extends Error {
  constructor(message: string, readonly field?: number) {
    super(message);
    this.name = 'Iso8583Error';
  }
}
