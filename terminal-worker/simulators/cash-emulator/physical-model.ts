/**
 * The emulated cash unit's physical state: a coin acceptor, a bill validator with escrow, and a
 * change unit (a money-in/money-out "changer" with one hopper per coin and two note cassettes).
 * Money is never created or destroyed here: every yen is in the customer's hand (inserted, handed
 * back, paid out to the tray), in a hopper, in a cassette, in the cashbox, in the escrow or stuck
 * in a jam, and `audit()` checks that. Persisted atomically to a JSON file after every change, so
 * it outlives the driver and the emulator process, as real mechanics outlive a PC crash.
 *
 * Volatile device registers (event counters, the verify-money-out counter, inhibits) are kept too;
 * `powerCycle()` clears them as a real power cycle would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { coinValueCode, nextEventCounter, type EventPair } from '../../../domain/cctalk';

export const COINS = [10, 50, 100, 500] as const;
export const NOTES = [1000, 2000, 5000, 10000] as const;
/** What the change unit holds and pays out: coins in hoppers, ¥1,000 and ¥5,000 notes in cassettes. */
export const PAYOUT_DENOMINATIONS = [10, 50, 100, 500, 1000, 5000] as const;

export interface AcceptorState {
  serial: number;
  eventCounter: number;
  /** newest first, 5 deep */
  events: EventPair[];
  /** true: master inhibit active (nothing accepted) */
  masterInhibit: boolean;
  /** bit n-1 set: coin/bill type n enabled */
  inhibitMask: number;
  /** accepted per type position (1-based) */
  accepted: Record<string, number>;
}

export interface HopperState {
  /** hopper number 1…6 (ccTalk changer "hopper no.") */
  no: number;
  value: number;
  coinId: string;
  count: number;
  capacity: number;
  /** jam on demand: the hopper jams after paying this many more items */
  jamAfter: number | null;
  jammed: boolean;
}

export interface PayoutInProgress {
  requested: number;
  paid: number;
  plan: Array<{ hopper: number; count: number }>;
}

export interface CashModelState {
  coin: AcceptorState;
  bill: AcceptorState & {
    escrowMode: boolean;
    escrow: { type: number; value: number; since: number } | null;
    /** a note jam on demand: the next inserted note jams in the transport */
    jamNext: boolean;
    jammed: { value: number } | null;
  };
  changer: {
    serial: number;
    verifyCounter: number;
    lastPaid: number;
    lastUnpaid: number;
    moneyIn: number;
    moneyOut: number;
    paying: PayoutInProgress | null;
    error: { device: number; code: number } | null;
    hoppers: HopperState[];
  };
  /** coins and notes the acceptors put in the cashbox/stacker (not recyclable) */
  cashbox: Record<string, number>;
  /** what the customer got back: payouts to the tray, and coins/notes refused or returned */
  tray: Record<string, number>;
  returned: Record<string, number>;
  /** every value the customer put in (for the audit) */
  inserted: Record<string, number>;
  /** the float an operator loaded (for the audit) */
  loaded: Record<string, number>;
  /** fault injection on the serial line: drop the next N replies (command executed) / commands (not executed) by header */
  loseReply: Record<string, number>;
  loseCommand: Record<string, number>;
}

function emptyAcceptor(serial: number): AcceptorState {
  return { serial, eventCounter: 0, events: Array.from({ length: 5 }, () => ({ a: 0, b: 0 })), masterInhibit: true, inhibitMask: 0, accepted: {} };
}

export function initialCashModel(float: Partial<Record<number, number>> = {}): CashModelState {
  const defaults: Record<number, number> = { 10: 100, 50: 50, 100: 100, 500: 40, 1000: 30, 5000: 10 };
  const hoppers = PAYOUT_DENOMINATIONS.map((value, i) => ({
    no: i + 1,
    value,
    coinId: `JP${coinValueCode(value)}A`,
    count: float[value] ?? defaults[value]!,
    capacity: value >= 1000 ? 100 : 500,
    jamAfter: null,
    jammed: false,
  }));
  const loaded: Record<string, number> = {};
  for (const h of hoppers) loaded[h.value] = h.count;
  return {
    coin: emptyAcceptor(260101),
    bill: { ...emptyAcceptor(260202), escrowMode: true, escrow: null, jamNext: false, jammed: null },
    changer: { serial: 260303, verifyCounter: 0, lastPaid: 0, lastUnpaid: 0, moneyIn: 0, moneyOut: 0, paying: null, error: null, hoppers },
    cashbox: {},
    tray: {},
    returned: {},
    inserted: {},
    loaded,
    loseReply: {},
    loseCommand: {},
  };
}

const add = (m: Record<string, number>, k: number, n = 1) => (m[k] = (m[k] ?? 0) + n);
const total = (m: Record<string, number>) => Object.entries(m).reduce((s, [k, n]) => s + Number(k) * n, 0);

export class CashModel {
  readonly s: CashModelState;

  constructor(readonly file: string, float?: Partial<Record<number, number>>) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.s = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as CashModelState) : initialCashModel(float);
    this.save();
  }

  change<T>(fn: (s: CashModelState) => T): T {
    const result = fn(this.s);
    this.save();
    return result;
  }

  private save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.s, null, 1));
    fs.renameSync(tmp, this.file);
  }

  static pushEvent(acc: AcceptorState, ev: EventPair): void {
    acc.events = [ev, ...acc.events].slice(0, 5);
    acc.eventCounter = nextEventCounter(acc.eventCounter);
  }

  hopperFor(value: number): HopperState | undefined {
    return this.s.changer.hoppers.find((h) => h.value === value);
  }

  /** A coin inserted: returns the event it produced. Accepted coins go to their hopper, or the cashbox when it is full. */
  insertCoin(value: number): EventPair {
    return this.change((s) => {
      add(s.inserted, value);
      const pos = COINS.indexOf(value as (typeof COINS)[number]) + 1;
      let ev: EventPair;
      if (pos === 0) {
        add(s.returned, value);
        ev = { a: 0, b: 1 }; // reject coin
      } else if (s.coin.masterInhibit || !(s.coin.inhibitMask & (1 << (pos - 1)))) {
        add(s.returned, value);
        ev = { a: 0, b: 2 }; // inhibited coin
      } else {
        const h = this.hopperFor(value);
        add(s.coin.accepted, pos);
        s.changer.moneyIn += value;
        if (h && h.count < h.capacity) {
          h.count += 1;
          ev = { a: pos, b: 1 }; // sorter path 1: hopper
        } else {
          add(s.cashbox, value);
          ev = { a: pos, b: 2 }; // sorter path 2: cashbox
        }
      }
      CashModel.pushEvent(s.coin, ev);
      return ev;
    });
  }

  /** A note inserted: escrow mode holds it until the host routes it; otherwise it is stacked. */
  insertNote(value: number): EventPair | null {
    return this.change((s) => {
      add(s.inserted, value);
      const type = NOTES.indexOf(value as (typeof NOTES)[number]) + 1;
      const b = s.bill;
      let ev: EventPair;
      if (type === 0) {
        add(s.returned, value);
        ev = { a: 0, b: 2 };
      } else if (b.jammed) {
        add(s.returned, value); // the transport is blocked: the note does not go in, no event
        return null;
      } else if (b.jamNext) {
        b.jamNext = false;
        b.jammed = { value };
        ev = { a: 0, b: 6 }; // jammed in the transport: not credited, not returned
      } else if (b.masterInhibit) {
        add(s.returned, value);
        ev = { a: 0, b: 0 };
      } else if (!(b.inhibitMask & (1 << (type - 1)))) {
        add(s.returned, value);
        ev = { a: 0, b: 4 };
      } else if (b.escrow) {
        add(s.returned, value); // one note at a time
        ev = { a: 0, b: 3 };
      } else if (b.escrowMode) {
        b.escrow = { type, value, since: Date.now() };
        ev = { a: type, b: 1 };
      } else {
        this.stack(type, value);
        ev = { a: type, b: 0 };
      }
      CashModel.pushEvent(b, ev);
      return ev;
    });
  }

  private stack(type: number, value: number): void {
    const s = this.s;
    add(s.bill.accepted, type);
    s.changer.moneyIn += value;
    const h = this.hopperFor(value);
    if (h && h.count < h.capacity) h.count += 1;
    else add(s.cashbox, value);
  }

  /** Route bill: 1 stacks the note in escrow, 0 hands it back. Returns null (ACK) or an error code. */
  routeBill(code: number): number | null {
    return this.change((s) => {
      const e = s.bill.escrow;
      if (code === 255) return e ? null : 254;
      if (!e) return 254;
      s.bill.escrow = null;
      if (code === 1) {
        this.stack(e.type, e.value);
        CashModel.pushEvent(s.bill, { a: e.type, b: 0 });
      } else {
        add(s.returned, e.value);
        CashModel.pushEvent(s.bill, { a: 0, b: 1 });
      }
      return null;
    });
  }

  /** The changer's own change plan: largest first, limited by what each hopper holds (exact for yen). */
  plan(amount: number): { plan: Array<{ hopper: number; count: number }>; payable: number } {
    let left = amount;
    const plan: Array<{ hopper: number; count: number }> = [];
    for (const h of [...this.s.changer.hoppers].sort((a, b) => b.value - a.value)) {
      if (h.jammed) continue;
      const n = Math.min(h.count, Math.floor(left / h.value));
      if (n > 0) {
        plan.push({ hopper: h.no, count: n });
        left -= n * h.value;
      }
    }
    return { plan, payable: amount - left };
  }

  /** Operator actions. */
  refill(value: number, count: number): void {
    this.change((s) => {
      const h = this.hopperFor(value);
      if (!h) throw new Error(`no hopper for ${value}`);
      add(s.loaded, value, count - h.count);
      h.count = count;
      h.jammed = false;
      h.jamAfter = null;
      if (s.changer.error && s.changer.error.device === h.no) s.changer.error = null;
    });
  }

  clearJams(): void {
    this.change((s) => {
      for (const h of s.changer.hoppers) {
        h.jammed = false;
        h.jamAfter = null;
      }
      if (s.bill.jammed) {
        // The operator clears the note into the stacker; it was never credited (the driver's alert says so).
        add(s.cashbox, s.bill.jammed.value);
        s.bill.jammed = null;
      }
      s.bill.jamNext = false;
      s.changer.error = null;
    });
  }

  powerCycle(): void {
    this.change((s) => {
      for (const acc of [s.coin, s.bill]) {
        acc.eventCounter = 0;
        acc.events = Array.from({ length: 5 }, () => ({ a: 0, b: 0 }));
        acc.masterInhibit = true;
        acc.inhibitMask = 0;
      }
      if (s.bill.escrow) {
        add(s.returned, s.bill.escrow.value);
        s.bill.escrow = null;
      }
      s.changer.verifyCounter = 0;
      s.changer.lastPaid = 0;
      s.changer.lastUnpaid = 0;
      s.changer.paying = null; // a payout cut by a power failure stops where it was
    });
  }

  /**
   * Conservation of money: what customers put in plus the float loaded equals what is in the
   * machine (hoppers, cashbox, escrow, jams) plus what went back out (tray, returned).
   */
  audit(): { inMachine: number; outOfMachine: number; putIn: number; ok: boolean } {
    const s = this.s;
    const hoppers = s.changer.hoppers.reduce((sum, h) => sum + h.count * h.value, 0);
    const inMachine = hoppers + total(s.cashbox) + (s.bill.escrow?.value ?? 0) + (s.bill.jammed?.value ?? 0);
    const outOfMachine = total(s.tray) + total(s.returned);
    const putIn = total(s.inserted) + total(s.loaded);
    return { inMachine, outOfMachine, putIn, ok: inMachine + outOfMachine === putIn };
  }

  trayTotal(): number {
    return total(this.s.tray);
  }

  static addTo = add;
}
