/**
 * ccTalk, the open serial protocol of coin acceptors, bill validators, hoppers and changers
 * (ccTalk Generic Specification, Money Controls / Crane Payment Innovations; headers and formats
 * as quoted in docs/cash-unit-protocol.md). Pure code: frames, header numbers, the buffered event
 * counter arithmetic, coin and bill identifiers, and the meanings of event and fault codes. The
 * driver (terminal-worker/drivers/cctalk-*.ts) and the emulator (simulators/cash-emulator) share it.
 *
 * Frame (simple 8-bit checksum): [destination] [data length] [source] [header] [data…] [checksum],
 * where the checksum makes the sum of all bytes 0 modulo 256. A reply has header 0 (ACK, with or
 * without data); 5 is NAK and 6 BUSY.
 */

export const HOST_ADDRESS = 1;

/** Default bus addresses by equipment category (ccTalk Part 3). */
export const DefaultAddress = { coinAcceptor: 2, payout: 3, billValidator: 40, changer: 55 } as const;

export const Header = {
  reply: 0,
  resetDevice: 1,
  nak: 5,
  busy: 6,
  // core
  simplePoll: 254,
  requestManufacturerId: 246,
  requestEquipmentCategoryId: 245,
  requestProductCode: 244,
  requestSerialNumber: 242,
  requestSoftwareRevision: 241,
  performSelfCheck: 232,
  // acceptors (coin and bill)
  modifyInhibitStatus: 231,
  requestInhibitStatus: 230,
  readBufferedCreditOrErrorCodes: 229,
  modifyMasterInhibitStatus: 228,
  requestMasterInhibitStatus: 227,
  requestCoinId: 184,
  requestIndividualAcceptCounter: 150,
  // bill validator
  readBufferedBillEvents: 159,
  requestBillId: 157,
  requestCountryScalingFactor: 156,
  routeBill: 154,
  modifyBillOperatingMode: 153,
  requestBillOperatingMode: 152,
  // changer (money-in, money-out recycler)
  requestMoneyIn: 128,
  requestMoneyOut: 127,
  payMoneyOut: 125,
  verifyMoneyOut: 124,
  requestActivityRegister: 123,
  requestErrorStatus: 122,
  modifyHopperBalance: 120,
  requestHopperBalance: 119,
  requestCashBoxValue: 117,
} as const;

export const HEADER_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Header).map(([k, v]) => [v, k]));

export interface Frame {
  dest: number;
  src: number;
  header: number;
  data: Buffer;
}

export class CcTalkFrameError extends Error {}

export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return (256 - sum) & 0xff;
}

export function encodeFrame(f: { dest: number; src: number; header: number; data?: ArrayLike<number> }): Buffer {
  const data = Buffer.from(f.data ?? []);
  if (data.length > 255) throw new CcTalkFrameError(`a ccTalk frame carries at most 255 data bytes, got ${data.length}`);
  const body = Buffer.concat([Buffer.from([f.dest, data.length, f.src, f.header]), data]);
  return Buffer.concat([body, Buffer.from([checksum(body)])]);
}

/** Decodes one whole frame (as cut by serialport's CCTalkParser); throws on a bad length or checksum. */
export function decodeFrame(buf: Buffer): Frame {
  if (buf.length < 5) throw new CcTalkFrameError(`a ccTalk frame is at least 5 bytes, got ${buf.length}`);
  if (buf.length !== buf[1]! + 5) throw new CcTalkFrameError(`frame length ${buf.length} does not match its data length byte ${buf[1]}`);
  let sum = 0;
  for (const b of buf) sum = (sum + b) & 0xff;
  if (sum !== 0) throw new CcTalkFrameError(`bad checksum in frame ${buf.toString('hex')}`);
  return { dest: buf[0]!, src: buf[2]!, header: buf[3]!, data: buf.subarray(4, buf.length - 1) };
}

// --- little-endian integers as ccTalk sends them ---

export function uintLE(data: ArrayLike<number>, offset: number, bytes: number): number {
  let v = 0;
  for (let i = bytes - 1; i >= 0; i--) v = v * 256 + (data[offset + i] ?? 0);
  return v;
}

export function uintBytes(value: number, bytes: number): number[] {
  const out: number[] = [];
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out.push(v % 256);
    v = Math.floor(v / 256);
  }
  return out;
}

// --- buffered events (header 229 for coins, 159 for bills) ---

export interface EventPair {
  a: number;
  b: number;
}

export interface EventBuffer {
  counter: number;
  /** result 1 (newest) … result 5 (oldest) */
  results: EventPair[];
}

export function parseEventBuffer(data: ArrayLike<number>): EventBuffer {
  if (data.length !== 11) throw new CcTalkFrameError(`an event buffer reply is 11 bytes, got ${data.length}`);
  const results: EventPair[] = [];
  for (let i = 0; i < 5; i++) results.push({ a: data[1 + 2 * i]!, b: data[2 + 2 * i]! });
  return { counter: data[0]!, results };
}

/** The counter after `counter`: 1…255, then 1 again (0 only after power-up or reset). */
export function nextEventCounter(counter: number): number {
  return counter >= 255 ? 1 : counter + 1;
}

/** How many events happened from `last` to `current` (both 1…255; the counter skips 0). */
export function eventsBetween(last: number, current: number): number {
  if (current === last) return 0;
  return current > last ? current - last : current + 255 - last;
}

export type EventReading =
  | { kind: 'none' }
  /** New events, oldest first; `lost` events happened but fell out of the 5-deep buffer. */
  | { kind: 'events'; events: EventPair[]; lost: number }
  /** The device was reset or powered down since the last reading: events in between are unknown. */
  | { kind: 'reset'; events: EventPair[] };

/**
 * Compares a reading with the last counter the host acted on (null: no baseline yet). A counter
 * of 0 where the host had a non-zero one means the device reset (spec: "an unexpected reset").
 */
export function readNewEvents(last: number | null, buf: EventBuffer): EventReading {
  if (last === null) return { kind: 'none' };
  if (buf.counter === 0) return last === 0 ? { kind: 'none' } : { kind: 'reset', events: [] };
  if (last === 0) {
    // Counting from a reset: events 1…counter are all new (at most 5 of them are in the buffer).
    const n = buf.counter;
    return { kind: 'events', events: buf.results.slice(0, Math.min(n, 5)).reverse(), lost: Math.max(0, n - 5) };
  }
  const n = eventsBetween(last, buf.counter);
  if (n === 0) return { kind: 'none' };
  return { kind: 'events', events: buf.results.slice(0, Math.min(n, 5)).reverse(), lost: Math.max(0, n - 5) };
}

// --- coin and bill identifiers ---

/**
 * A coin id (header 184) or hopper coin name: 2-letter country, 3-character value, issue letter,
 * e.g. `JP100A`. The value may carry a multiplier that also marks the decimal point: `1K0` = 1000,
 * `5K0` = 5000, `.50` = 0.5 (ccTalk coin naming). Returns the value in the currency's minor unit
 * for a currency without decimals (yen); null when the id is empty (`......`) or malformed.
 */
export function parseCoinId(id: string): { country: string; value: number; issue: string } | null {
  const m = /^([A-Z]{2})([0-9.KMmG]{3})([A-Z])$/.exec(id.trim());
  if (!m) return null;
  const [, country, v, issue] = m as unknown as [string, string, string, string];
  const factors: Record<string, number> = { m: 1e-3, '.': 1, K: 1e3, M: 1e6, G: 1e9 };
  const at = v.search(/[.KMmG]/);
  let value: number;
  if (at < 0) value = Number(v);
  else value = Number(`${v.slice(0, at) || '0'}.${v.slice(at + 1) || '0'}`) * factors[v[at]!]!;
  if (!Number.isFinite(value)) return null;
  return { country, value: Math.round(value * 1000) / 1000, issue };
}

/** The inverse for whole values below 1000×multiplier: 100 → `100`, 1000 → `1K0`, 10000 → `10K`. */
export function coinValueCode(value: number): string {
  if (value < 1000) return String(value).padStart(3, '0');
  for (const [suffix, f] of [['K', 1e3], ['M', 1e6]] as const) {
    const n = value / f;
    if (n < 10 && Number.isInteger(n * 10)) return `${Math.floor(n)}${suffix}${Math.round((n % 1) * 10)}`;
    if (n < 100 && Number.isInteger(n)) return `${n}${suffix}`;
  }
  throw new RangeError(`no ccTalk coin value code for ${value}`);
}

/** A bill id (header 157): country, 4-digit value in units of the country scaling factor, issue. */
export function parseBillId(id: string, scalingFactor: number): { country: string; value: number; issue: string } | null {
  const m = /^([A-Z]{2})([0-9]{4})([A-Z])$/.exec(id.trim());
  if (!m) return null;
  return { country: m[1]!, value: Number(m[2]) * scalingFactor, issue: m[3]! };
}

// --- meanings, for messages ---

/** Coin acceptor error codes (result A = 0, result B = code), the common ones. */
export const COIN_EVENT_CODES: Record<number, string> = {
  0: 'null event',
  1: 'reject coin',
  2: 'inhibited coin',
  3: 'multiple window',
  4: 'wake-up timeout',
  5: 'validation timeout',
  6: 'credit sensor timeout',
  7: 'sorter opto timeout',
  8: '2nd close coin error',
  9: 'accept gate not ready',
  10: 'credit sensor not ready',
  11: 'sorter not ready',
  12: 'reject coin not cleared',
  13: 'validation sensor not ready',
  14: 'credit sensor blocked',
  15: 'sorter opto blocked',
  16: 'credit sequence error',
  17: 'coin going backwards',
  18: 'coin too fast',
  19: 'coin too slow',
  20: 'C.O.S. mechanism activated',
  254: 'coin return mechanism activated',
  255: 'unspecified alarm code',
};

/** Bill validator events with result A = 0. */
export const BILL_EVENT_CODES: Record<number, string> = {
  0: 'master inhibit active',
  1: 'bill returned from escrow',
  2: 'invalid bill (validation fail)',
  3: 'invalid bill (transport problem)',
  4: 'inhibited bill (serial)',
  5: 'inhibited bill (DIP switches)',
  6: 'bill jammed in transport (unsafe mode)',
  7: 'bill jammed in stacker',
  8: 'bill pulled backwards',
  9: 'bill tamper',
  10: 'stacker OK',
  11: 'stacker removed',
  12: 'stacker inserted',
  13: 'stacker faulty',
  14: 'stacker full',
  15: 'stacker jammed',
  16: 'bill jammed in transport (safe mode)',
  17: 'opto fraud detected',
  18: 'string fraud detected',
  19: 'anti-string mechanism faulty',
};

/** Bill events that are faults needing a person (as opposed to a bill handed back). */
export const BILL_FAULT_EVENTS = new Set([6, 7, 8, 9, 11, 13, 14, 15, 16, 17, 18, 19]);

/** Route bill (header 154) codes and its error replies. */
export const RouteCode = { returnBill: 0, stack: 1, extendEscrow: 255 } as const;
export const ROUTE_ERRORS: Record<number, string> = { 254: 'escrow is empty', 255: 'failed to route bill' };

/** Changer activity register 1 (header 123) bits. */
export const Activity1 = { singulator: 0x01, escalator: 0x02, moneyIn: 0x04, moneyOut: 0x08, fault: 0x10, avalanche: 0x20, initialising: 0x40, entryFlapOpen: 0x80 } as const;
/** Changer activity register 2 bits. */
export const Activity2 = { continuousRejects: 0x01, hopperConfigChange: 0x02, rejectDivert: 0x04, exitCupFull: 0x08, nonFatalFault: 0x10 } as const;

/** Changer error status (header 122): [device no.] [fault code]. */
export const CHANGER_DEVICE_NAMES: Record<number, string> = { 100: 'coin acceptor', 250: 'cashbox', 255: 'system' };
export const CHANGER_FAULT_CODES: Record<number, string> = {
  0: 'no error',
  1: 'hopper empty (requires refilling)',
  2: 'hopper jam (remove hopper shelf and clear jam)',
  3: 'hopper fraud attempt (alert security)',
  4: 'hopper fault (service callout)',
  101: 'coin acceptor jam (remove coin acceptor and clear jam)',
  102: 'coin acceptor fraud attempt (alert security)',
  103: 'coin acceptor fault (service callout)',
  104: 'coin acceptor to manifold opto fault (check connector)',
  251: 'cashbox full (empty cashbox)',
  252: 'cashbox missing (insert cashbox)',
  255: 'other',
};

export function changerDeviceName(device: number): string {
  return device >= 1 && device <= 8 ? `hopper ${device}` : CHANGER_DEVICE_NAMES[device] ?? `device ${device}`;
}
