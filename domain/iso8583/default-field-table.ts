/**
 * The field table the simulator and development hosts use: ASCII text fields, ASCII LL/LLL
 * prefixes, a binary bitmap and a binary PIN block (field 52). `bcdFieldTable` is the same set of
 * fields in a packed-BCD dialect, to show (and test) that a host's dialect is data, not code.
 *
 * Field 70 (network management information code: 001 sign-on, 002 sign-off, 301 echo) is added
 * to the list because 0800 needs it to say what it is.
 */
import type { FieldSpec, FieldTable } from './field-table';

const fields: Record<number, FieldSpec> = {
  2: { name: 'primary account number', format: 'llvar', encoding: 'ascii', length: 19, content: 'n' },
  3: { name: 'processing code', format: 'fixed', encoding: 'ascii', length: 6, content: 'n' },
  4: { name: 'amount, transaction', format: 'fixed', encoding: 'ascii', length: 12, content: 'n' },
  7: { name: 'transmission date and time (MMDDhhmmss)', format: 'fixed', encoding: 'ascii', length: 10, content: 'n' },
  11: { name: 'system trace audit number', format: 'fixed', encoding: 'ascii', length: 6, content: 'n' },
  12: { name: 'local transaction time (hhmmss)', format: 'fixed', encoding: 'ascii', length: 6, content: 'n' },
  13: { name: 'local transaction date (MMDD)', format: 'fixed', encoding: 'ascii', length: 4, content: 'n' },
  14: { name: 'expiration date (YYMM)', format: 'fixed', encoding: 'ascii', length: 4, content: 'n' },
  22: { name: 'POS entry mode', format: 'fixed', encoding: 'ascii', length: 3, content: 'n' },
  35: { name: 'track 2 data', format: 'llvar', encoding: 'ascii', length: 37, content: 'z' },
  37: { name: 'retrieval reference number', format: 'fixed', encoding: 'ascii', length: 12, content: 'an' },
  38: { name: 'approval code', format: 'fixed', encoding: 'ascii', length: 6, content: 'an' },
  39: { name: 'response code', format: 'fixed', encoding: 'ascii', length: 2, content: 'an' },
  41: { name: 'card acceptor terminal id', format: 'fixed', encoding: 'ascii', length: 8, content: 'ans' },
  42: { name: 'card acceptor id code', format: 'fixed', encoding: 'ascii', length: 15, content: 'ans' },
  49: { name: 'currency code, transaction', format: 'fixed', encoding: 'ascii', length: 3, content: 'n' },
  52: { name: 'PIN data (encrypted PIN block)', format: 'fixed', encoding: 'binary', length: 8 },
  70: { name: 'network management information code', format: 'fixed', encoding: 'ascii', length: 3, content: 'n' },
  90: { name: 'original data elements', format: 'fixed', encoding: 'ascii', length: 42, content: 'n' },
};

export const defaultFieldTable: FieldTable = {
  name: 'default-ascii',
  mtiEncoding: 'ascii',
  bitmapEncoding: 'binary',
  lengthPrefixEncoding: 'ascii',
  fields,
};

/** Numeric fields (and track 2) in packed BCD, BCD length prefixes and MTI; text fields stay ASCII. */
export const bcdFieldTable: FieldTable = {
  name: 'example-bcd',
  mtiEncoding: 'bcd',
  bitmapEncoding: 'binary',
  lengthPrefixEncoding: 'bcd',
  fields: Object.fromEntries(
    Object.entries(fields).map(([n, spec]) => [
      n,
      spec.content === 'n' || spec.content === 'z' ? { ...spec, encoding: 'bcd', bcdPadding: spec.format === 'fixed' ? 'left' : 'right' } : spec,
    ]),
  ) as Record<number, FieldSpec>,
};
