/**
 * The kiosk's cash unit over ccTalk (docs/cash-unit-protocol.md): a coin acceptor, a bill
 * validator with escrow, and a change unit of ccTalk category "Changer", all on one serial line.
 *
 * Money in. The acceptors keep the last five events and an event counter (1…255, 0 only after a
 * power-up). The driver polls them (headers 229 and 159) and turns every event after the last
 * counter it acted on into a credit. The counter it acted on, the credits it produced and a
 * running credit number are written together, durably, to a journal before the credits are
 * handed on — so a driver killed at any moment and restarted neither loses a credit (the device
 * still holds the events after the journal's counter) nor counts one twice (events up to the
 * journal's counter are never read again). A credit stays "pending" in the journal until the
 * consumer acknowledges it (`ackCredit`); after a restart pending credits are offered again with
 * the same ids, so a consumer that passes the id on as an idempotency key (e.g. the insertCash
 * Update's updateId) gets each coin exactly once. Notes stop in escrow and are stacked only while
 * acceptance is on; they are credited when the validator reports them stacked.
 *
 * Money out. `payout(tag, amount)` pays at most once per tag, across crashes: before sending
 * "Pay money out" (125) the driver records the tag with the changer's "Verify money out" event
 * counter (124) and its money-out total (127). Whatever happens next (reply lost, driver killed
 * mid-dispense, command lost), a later call with the same tag reads the counters again and knows
 * whether the changer took the command and what it paid: counter moved on → that payout is ours
 * (one payout at a time, only this driver pays); counter unchanged and nothing paid → the command
 * never arrived and may be sent. A payout the changer could not complete (hoppers empty, a jam)
 * is a CashUnitError carrying the amount paid and still owed, a message for the customer, and an
 * operator alert — the money is accounted for, never lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Activity1,
  BILL_EVENT_CODES,
  BILL_FAULT_EVENTS,
  CHANGER_FAULT_CODES,
  COIN_EVENT_CODES,
  DefaultAddress,
  Header,
  ROUTE_ERRORS,
  RouteCode,
  changerDeviceName,
  nextEventCounter,
  parseBillId,
  parseCoinId,
  parseEventBuffer,
  readNewEvents,
  uintBytes,
  uintLE,
  type EventPair,
} from '../../domain/cctalk';
import { formatMoney } from '../../domain/money';
import { DeviceError, type CashUnit } from '../devices/types';
import { CcTalkBus, CcTalkError } from './cctalk-bus';
import { DeviceJournal } from './device-journal';

// --- public types ---

export interface CashCredit {
  /** stable across driver restarts: `<coin|note>-<device serial>-<credit number>` */
  id: string;
  source: 'coin' | 'note';
  valueMinor: number;
  /** ccTalk coin/bill id, e.g. JP100A, JP0001A */
  denomination: string;
  /** who had acceptance on when it came (enableAcceptance(owner)): the customer it belongs to */
  owner?: string;
  /** the acceptor's event counter value for this credit */
  event: number;
  at: string;
}

export interface OperatorAlert {
  level: 'warning' | 'critical';
  code: string;
  message: string;
  /** what to tell the customer, when the alert concerns their money */
  customerMessage?: string;
  at: string;
  details?: Record<string, unknown>;
}

export interface PayoutFloat {
  hopper: number;
  denomination: string;
  valueMinor: number;
  count: number;
}

export interface CashUnitCounters {
  floats: PayoutFloat[];
  /** accepted coins/notes per value (the acceptors' individual accept counters) */
  accepted: Record<number, number>;
  moneyInMinor: number;
  moneyOutMinor: number;
  cashboxMinor: number;
}

/**
 * What the cash unit offers beyond `CashUnit` (proposed for terminal-worker/devices/types.ts):
 * inserted money as credits with stable ids, acceptance on/off, counters and float levels.
 */
export interface CashAcceptor {
  /** `owner` (e.g. the issuance id) is recorded with every credit taken until acceptance is off. */
  enableAcceptance(owner?: string): Promise<void>;
  disableAcceptance(): Promise<void>;
  /** reads the acceptors now; new credits are also passed to onCredit listeners */
  poll(): Promise<CashCredit[]>;
  onCredit(listener: (credit: CashCredit) => void): () => void;
  /** credits recorded but not yet acknowledged (offered again after a restart) */
  pendingCredits(): CashCredit[];
  ackCredit(id: string): void;
  counters(): Promise<CashUnitCounters>;
}

export type CashFaultCode = 'SHORT_CHANGE' | 'PAYOUT_JAM' | 'PAYOUT_FAULT' | 'PAYOUT_UNCERTAIN' | 'PAYOUT_REFUSED' | 'TIMEOUT' | 'PROTOCOL';

/**
 * A payout that did not pay the full amount, or whose outcome cannot be known yet. `paidMinor` is
 * what reached the customer's tray (null only for TIMEOUT/PROTOCOL: unknown yet, call payout
 * again with the same tag to find out); `unpaidMinor` is still owed to the customer.
 */
export class CashUnitError extends DeviceError {
  constructor(
    readonly cashCode: CashFaultCode,
    readonly paidMinor: number | null,
    readonly unpaidMinor: number | null,
    readonly customerMessage: string,
    message: string,
  ) {
    // Outcome known and short: CASH_SHORT (final). TIMEOUT/PROTOCOL: unknown yet, the same tag settles it: JAM (retry).
    const known = paidMinor !== null && unpaidMinor !== null && cashCode !== 'TIMEOUT' && cashCode !== 'PROTOCOL';
    super(known ? 'CASH_SHORT' : 'JAM', message, known ? { paidMinor, unpaidMinor } : undefined);
    this.name = 'CashUnitError';
  }
}

export interface CcTalkCashUnitOptions {
  /** serial device of the ccTalk bus */
  path: string;
  baudRate?: number;
  /** the driver's durable journal (credits, event counters acted on, payout tags) */
  journalFile: string;
  addresses?: { coin?: number | null; bill?: number | null; changer?: number };
  currency?: string;
  /** ccTalk country code of the notes (bill ids and the country scaling factor) */
  country?: string;
  /** acceptor polling interval; 0 = no background polling (call poll()) */
  pollMs?: number;
  commandTimeoutMs?: number;
  /** how long a payout may take before payout() gives up waiting (the tag stays open) */
  payoutTimeoutMs?: number;
  /** how long a payout command must show no effect before it is taken as never received */
  resendGuardMs?: number;
  /**
   * The smallest amount the change unit can pay (its smallest coin; 10 for a unit without ¥1 and
   * ¥5 coins). The part of a payout below it is never sent: it is a SHORT_CHANGE, owed.
   */
  smallestPayoutMinor?: number;
  /**
   * Acceptance when the driver opens: 'restore' what the journal says (default), or 'off' — for a
   * host that turns it on per customer: a note left in escrow by a dead host is then handed back,
   * not stacked for whoever was paying before. Coins already taken are credited either way.
   */
  acceptanceOnOpen?: 'restore' | 'off';
  /** values accepted while acceptance is on (default: every coin and note the acceptors know) */
  acceptValues?: number[];
  onCredit?: (credit: CashCredit) => void;
  onAlert?: (alert: OperatorAlert) => void;
  log?: (line: string) => void;
}

// --- journal ---

interface AcceptorCursor {
  serial: number | null;
  /** the last event counter acted on; null: no baseline yet */
  lastEvent: number | null;
  /** credits produced so far (credit number for ids) */
  seq: number;
}

interface PayoutRecord {
  tag: string;
  amountMinor: number;
  /** prepared: recorded, not executed. sent: the command may have reached the changer. done: outcome known. */
  state: 'prepared' | 'sent' | 'done';
  changerSerial: number;
  verifyBefore: number;
  moneyOutBefore: number;
  paidMinor?: number;
  unpaidMinor?: number;
  outcome?: 'paid' | CashFaultCode;
  fault?: { device: number; code: number } | null;
  sentAt?: string;
  doneAt?: string;
}

interface CashJournal {
  version: 1;
  accepting: boolean;
  /** whose money is being taken while accepting */
  owner?: string | null;
  coin: AcceptorCursor;
  bill: AcceptorCursor;
  pending: CashCredit[];
  /** recently acknowledged credit ids (bounded) */
  acked: string[];
  payouts: Record<string, PayoutRecord>;
}

const initialJournal = (): CashJournal => ({
  version: 1,
  accepting: false,
  coin: { serial: null, lastEvent: null, seq: 0 },
  bill: { serial: null, lastEvent: null, seq: 0 },
  pending: [],
  acked: [],
  payouts: {},
});

interface VerifyReading {
  counter: number;
  paid: number;
  unpaid: number;
}

// --- the driver ---

export class CcTalkCashUnit implements CashUnit, CashAcceptor {
  private bus: CcTalkBus | null = null;
  private readonly journal: DeviceJournal<CashJournal>;
  private readonly o: Required<Omit<CcTalkCashUnitOptions, 'addresses' | 'acceptValues' | 'onCredit' | 'onAlert'>> & Pick<CcTalkCashUnitOptions, 'acceptValues' | 'onAlert'>;
  private readonly addr: { coin: number | null; bill: number | null; changer: number };
  private coinValues = new Map<number, { value: number; id: string }>();
  private billValues = new Map<number, { value: number; id: string }>();
  private changerSerial = 0;
  private listeners: Array<(c: CashCredit) => void> = [];
  private payoutChain: Promise<unknown> = Promise.resolve();
  private pollChain: Promise<unknown> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | null = null;
  private pollFailures = 0;
  private stopped = false;

  constructor(options: CcTalkCashUnitOptions) {
    this.o = {
      baudRate: 9600,
      currency: 'JPY',
      country: 'JP',
      pollMs: 150,
      commandTimeoutMs: 300,
      payoutTimeoutMs: 120_000,
      resendGuardMs: 1000,
      smallestPayoutMinor: 10,
      acceptanceOnOpen: 'restore',
      log: (line) => process.stderr.write(`cash unit: ${line}\n`),
      ...options,
    };
    this.addr = {
      coin: options.addresses?.coin === undefined ? DefaultAddress.coinAcceptor : options.addresses.coin,
      bill: options.addresses?.bill === undefined ? DefaultAddress.billValidator : options.addresses.bill,
      changer: options.addresses?.changer ?? DefaultAddress.changer,
    };
    this.journal = new DeviceJournal(options.journalFile, initialJournal);
    if (options.onCredit) this.listeners.push(options.onCredit);
  }

  /** Opens the bus, identifies the devices, restores acceptance, reads events missed while down. */
  async open(): Promise<void> {
    this.bus = await CcTalkBus.open({ path: this.o.path, baudRate: this.o.baudRate, timeoutMs: this.o.commandTimeoutMs, log: this.o.log });
    if (this.addr.coin !== null) {
      const serial = await this.identify(this.addr.coin, 'Coin Acceptor');
      this.adoptSerial('coin', serial);
      for (let pos = 1; pos <= 16; pos++) {
        const id = (await this.req(this.addr.coin, Header.requestCoinId, [pos])).toString('latin1');
        const coin = parseCoinId(id);
        if (coin) this.coinValues.set(pos, { value: coin.value, id: id.trim() });
      }
    }
    if (this.addr.bill !== null) {
      const serial = await this.identify(this.addr.bill, 'Bill Validator');
      this.adoptSerial('bill', serial);
      const sf = await this.req(this.addr.bill, Header.requestCountryScalingFactor, [...Buffer.from(this.o.country, 'latin1')]);
      const scaling = uintLE(sf, 0, 2) * 10 ** -(sf[2] ?? 0);
      for (let type = 1; type <= 16; type++) {
        const id = (await this.req(this.addr.bill, Header.requestBillId, [type])).toString('latin1');
        const bill = parseBillId(id, scaling);
        if (bill) this.billValues.set(type, { value: bill.value, id: id.trim() });
      }
      await this.req(this.addr.bill, Header.modifyBillOperatingMode, [0b11]); // use stacker and escrow
    }
    this.changerSerial = await this.identify(this.addr.changer, 'Changer');
    if (this.o.acceptanceOnOpen === 'off' && this.journal.get().accepting) this.journal.update((j) => (j.accepting = false));
    await this.applyAcceptance(this.journal.get().accepting);
    await this.poll(); // events that happened while the driver was down
    const open = Object.values(this.journal.get().payouts).filter((r) => r.state === 'sent');
    if (open.length) this.o.log(`payouts left open by a previous run: ${open.map((r) => r.tag).join(', ')} (settled on the next payout call)`);
    if (this.o.pollMs > 0) this.schedulePoll();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.pollChain.catch(() => undefined);
    await this.payoutChain.catch(() => undefined);
    await this.bus?.close();
    this.bus = null;
  }

  private async req(address: number, header: number, data: number[] = [], retries?: number): Promise<Buffer> {
    if (!this.bus) throw new CashUnitError('PROTOCOL', null, null, 'The cash unit is not available.', 'the cash unit is not open');
    return this.bus.request(address, header, data, retries === undefined ? {} : { retries });
  }

  private async identify(address: number, category: string): Promise<number> {
    await this.req(address, Header.simplePoll);
    const got = (await this.req(address, Header.requestEquipmentCategoryId)).toString('latin1').trim();
    if (got !== category) throw new CashUnitError('PROTOCOL', null, null, 'The cash unit is out of order.', `ccTalk address ${address} is a "${got}", expected a "${category}"`);
    return uintLE(await this.req(address, Header.requestSerialNumber), 0, 3);
  }

  private adoptSerial(kind: 'coin' | 'bill', serial: number): void {
    const cur = this.journal.get()[kind];
    if (cur.serial === serial) return;
    if (cur.serial !== null) this.alert('warning', 'DEVICE_REPLACED', `the ${kind === 'coin' ? 'coin acceptor' : 'bill validator'} changed (serial ${cur.serial} → ${serial}); its event counter is taken afresh`);
    this.journal.update((j) => (j[kind] = { serial, lastEvent: null, seq: cur.seq }));
  }

  private alert(level: OperatorAlert['level'], code: string, message: string, extra: Partial<OperatorAlert> = {}): OperatorAlert {
    const a: OperatorAlert = { level, code, message, at: new Date().toISOString(), ...extra };
    this.o.log(`ALERT [${level}] ${code}: ${message}`);
    try {
      this.o.onAlert?.(a);
    } catch (err) {
      this.o.log(`alert listener failed: ${(err as Error).message}`);
    }
    return a;
  }

  private money(minor: number): string {
    return formatMoney(minor, this.o.currency);
  }

  // --- acceptance ---

  async enableAcceptance(owner?: string): Promise<void> {
    this.journal.update((j) => {
      j.accepting = true;
      j.owner = owner ?? null;
    });
    await this.applyAcceptance(true);
  }

  async disableAcceptance(): Promise<void> {
    // The owner stays: a coin that was on its way as acceptance went off is still that customer's.
    this.journal.update((j) => (j.accepting = false));
    await this.applyAcceptance(false);
  }

  private mask(values: Map<number, { value: number }>): number[] {
    let mask = 0;
    for (const [pos, v] of values) if (!this.o.acceptValues || this.o.acceptValues.includes(v.value)) mask |= 1 << (pos - 1);
    return [mask & 0xff, (mask >> 8) & 0xff];
  }

  private async applyAcceptance(on: boolean): Promise<void> {
    if (this.addr.coin !== null) {
      await this.req(this.addr.coin, Header.modifyInhibitStatus, this.mask(this.coinValues));
      await this.req(this.addr.coin, Header.modifyMasterInhibitStatus, [on ? 1 : 0]);
    }
    if (this.addr.bill !== null) {
      await this.req(this.addr.bill, Header.modifyInhibitStatus, this.mask(this.billValues));
      await this.req(this.addr.bill, Header.modifyMasterInhibitStatus, [on ? 1 : 0]);
    }
  }

  // --- credits ---

  onCredit(listener: (credit: CashCredit) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  pendingCredits(): CashCredit[] {
    return [...this.journal.get().pending];
  }

  ackCredit(id: string): void {
    if (!this.journal.get().pending.some((c) => c.id === id)) return;
    this.journal.update((j) => {
      j.pending = j.pending.filter((c) => c.id !== id);
      j.acked = [...j.acked, id].slice(-200);
    });
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = setTimeout(() => {
      this.poll()
        .then(() => {
          if (this.pollFailures >= 3) this.alert('warning', 'ACCEPTOR_BACK', 'the cash unit answers again');
          this.pollFailures = 0;
        })
        .catch((err) => {
          this.pollFailures++;
          if (this.pollFailures === 3) this.alert('critical', 'ACCEPTOR_SILENT', `the cash unit does not answer polls: ${(err as Error).message}`);
        })
        .finally(() => this.schedulePoll());
    }, this.o.pollMs);
  }

  /** Reads both acceptors once; returns (and announces) the credits that are new. */
  poll(): Promise<CashCredit[]> {
    const run = async () => {
      const credits: CashCredit[] = [];
      if (this.addr.coin !== null) credits.push(...(await this.pollAcceptor('coin', this.addr.coin)));
      if (this.addr.bill !== null) credits.push(...(await this.pollAcceptor('note', this.addr.bill)));
      for (const c of credits)
        for (const l of this.listeners) {
          try {
            l(c);
          } catch (err) {
            this.o.log(`credit listener failed: ${(err as Error).message}`);
          }
        }
      return credits;
    };
    const result = this.pollChain.then(run, run);
    this.pollChain = result.catch(() => undefined);
    return result;
  }

  private async pollAcceptor(source: 'coin' | 'note', address: number): Promise<CashCredit[]> {
    const kind = source === 'coin' ? 'coin' : 'bill';
    const deviceName = source === 'coin' ? 'coin acceptor' : 'bill validator';
    const buf = parseEventBuffer(await this.req(address, source === 'coin' ? Header.readBufferedCreditOrErrorCodes : Header.readBufferedBillEvents));
    const cursor = this.journal.get()[kind];
    if (cursor.lastEvent === null) {
      this.journal.update((j) => (j[kind].lastEvent = buf.counter)); // first contact: earlier events are history
      return [];
    }
    const reading = readNewEvents(cursor.lastEvent, buf);
    if (reading.kind === 'none') return [];
    if (reading.kind === 'reset') {
      this.alert('warning', 'ACCEPTOR_RESET', `the ${deviceName} was reset or lost power; events since the last poll are unknown — acceptance re-applied`);
      this.journal.update((j) => (j[kind].lastEvent = 0));
      await this.applyAcceptance(this.journal.get().accepting);
      return [];
    }
    if (reading.lost > 0) {
      this.alert('critical', 'EVENTS_LOST', `${reading.lost} ${deviceName} event(s) fell out of its buffer before they were read; a customer may have inserted money that was not credited — compare the accept counters`, {
        customerMessage: 'If the amount shown is less than you inserted, please call a member of staff.',
        details: { lost: reading.lost },
      });
    }
    const credits: CashCredit[] = [];
    // event numbers (1…255), oldest first
    const first = ((((buf.counter - reading.events.length) % 255) + 255) % 255) + 1;
    for (let i = 0; i < reading.events.length; i++) {
      const ev = reading.events[i]!;
      const eventNo = ((first - 1 + i) % 255) + 1;
      const credit = source === 'coin' ? this.coinEvent(ev) : await this.billEvent(address, ev);
      if (credit) credits.push({ ...credit, event: eventNo, source, at: new Date().toISOString(), id: '' });
    }
    const counter = buf.counter;
    // One durable write: the counter acted on, the new credits and their numbers — together.
    const recorded = this.journal.update((j) => {
      const c = j[kind];
      const withIds = credits.map((cr) => ({ ...cr, id: `${source}-${c.serial}-${++c.seq}`, ...(j.owner ? { owner: j.owner } : {}) }));
      c.lastEvent = counter;
      j.pending.push(...withIds);
      return withIds;
    });
    for (const c of recorded) this.o.log(`credit ${c.id}: ${this.money(c.valueMinor)} (${c.denomination}, event ${c.event})`);
    return recorded;
  }

  private coinEvent(ev: EventPair): Omit<CashCredit, 'id' | 'event' | 'source' | 'at'> | null {
    if (ev.a > 0) {
      const coin = this.coinValues.get(ev.a);
      if (!coin) {
        this.alert('critical', 'UNKNOWN_COIN', `the coin acceptor credited coin position ${ev.a}, which has no coin id; not credited`);
        return null;
      }
      return { valueMinor: coin.value, denomination: coin.id };
    }
    if (ev.b === 0) return null;
    const what = COIN_EVENT_CODES[ev.b] ?? `error code ${ev.b}`;
    if (ev.b === 254 || ev.b === 20 || ev.b === 255) this.alert('warning', 'COIN_ALARM', `coin acceptor: ${what}`);
    else this.o.log(`coin acceptor: ${what} (coin handed back)`);
    return null;
  }

  private async billEvent(address: number, ev: EventPair): Promise<Omit<CashCredit, 'id' | 'event' | 'source' | 'at'> | null> {
    if (ev.a > 0) {
      const bill = this.billValues.get(ev.a);
      if (ev.b === 1) {
        // In escrow: stack it while accepting and known, else hand it back. The credit comes with the "stacked" event.
        const stack = this.journal.get().accepting && !!bill && (!this.o.acceptValues || this.o.acceptValues.includes(bill.value));
        const r = await this.req(address, Header.routeBill, [stack ? RouteCode.stack : RouteCode.returnBill]);
        if (r.length && r[0] !== 254) this.alert('warning', 'ROUTE_FAILED', `bill validator: could not ${stack ? 'stack' : 'return'} the note in escrow (${ROUTE_ERRORS[r[0]!] ?? r[0]})`);
        return null;
      }
      if (!bill) {
        this.alert('critical', 'UNKNOWN_BILL', `the bill validator stacked bill type ${ev.a}, which has no bill id; not credited — count the stacker`);
        return null;
      }
      return { valueMinor: bill.value, denomination: bill.id };
    }
    const what = BILL_EVENT_CODES[ev.b] ?? `event code ${ev.b}`;
    if (BILL_FAULT_EVENTS.has(ev.b)) {
      this.alert('critical', 'BILL_FAULT', `bill validator: ${what}; a note the customer inserted may be held without credit — open the validator and settle with the customer`, {
        customerMessage: 'Your note could not be read and is held in the machine. Please call a member of staff; nothing is lost.',
        details: { code: ev.b },
      });
    } else this.o.log(`bill validator: ${what}`);
    return null;
  }

  // --- payouts ---

  private async verify(): Promise<VerifyReading> {
    const d = await this.req(this.addr.changer, Header.verifyMoneyOut);
    if (d.length !== 9) throw new CashUnitError('PROTOCOL', null, null, 'The cash unit is out of order.', `Verify money out returned ${d.length} bytes, expected 9`);
    return { counter: d[0]!, paid: uintLE(d, 1, 4), unpaid: uintLE(d, 5, 4) };
  }

  private async moneyOut(): Promise<number> {
    return uintLE(await this.req(this.addr.changer, Header.requestMoneyOut), 0, 4);
  }

  private async processing(): Promise<boolean> {
    const d = await this.req(this.addr.changer, Header.requestActivityRegister);
    return ((d[0] ?? 0) & Activity1.moneyOut) !== 0;
  }

  /**
   * Pays `amountMinor` as change, at most once per `tag` even across driver crashes. Resolves with
   * the amount paid (`alreadyPaid`: an earlier call, maybe in a process that died, paid it). A
   * short or jammed payout throws CashUnitError with the amount paid and still owed — again on
   * every later call with the same tag; nothing is paid twice.
   */
  payout(tag: string, amountMinor: number, onProgress?: (fraction: number) => void): Promise<{ paidMinor: number; alreadyPaid: boolean }> {
    // What no coin can pay (e.g. ¥3 of ¥2,673 without ¥1 coins) is owed; the rest is paid as usual.
    const odd = Number.isInteger(amountMinor) && amountMinor > 0 ? amountMinor % this.o.smallestPayoutMinor : 0;
    const run = async () => {
      try {
        const paid = amountMinor - odd > 0 || odd === 0 ? await this.payoutExclusive(tag, amountMinor - odd, onProgress) : { paidMinor: 0, alreadyPaid: false };
        if (odd === 0) return paid;
        throw this.unpayable(tag, paid.paidMinor, odd);
      } catch (err) {
        if (err instanceof CashUnitError && odd > 0 && err.paidMinor !== null && err.unpaidMinor !== null && !err.message.includes('below the smallest')) {
          throw new CashUnitError(err.cashCode, err.paidMinor, err.unpaidMinor + odd, this.customerMessage(err.paidMinor, err.unpaidMinor + odd), `${err.message}; and ${this.money(odd)} below the smallest coin`);
        }
        if (!(err instanceof CcTalkError)) throw err;
        // The change unit stopped answering: what happened to this tag is settled on the next call.
        throw new CashUnitError('TIMEOUT', null, null, 'Your change is being paid. Please wait; if nothing comes, call a member of staff.', `payout ${tag}: ${err.message}`);
      }
    };
    const result = this.payoutChain.then(run, run);
    this.payoutChain = result.catch(() => undefined);
    return result;
  }

  private async payoutExclusive(tag: string, amountMinor: number, onProgress?: (fraction: number) => void): Promise<{ paidMinor: number; alreadyPaid: boolean }> {
    if (!Number.isInteger(amountMinor) || amountMinor <= 0) throw new RangeError(`payout amount must be a positive whole number of minor units, got ${amountMinor}`);
    const existing = this.journal.get().payouts[tag];
    if (existing && existing.amountMinor !== amountMinor) throw new RangeError(`payout tag "${tag}" was used for ${existing.amountMinor}, now asked for ${amountMinor}`);
    if (existing?.state === 'done') return this.outcome(existing, true);
    // Settle whatever an earlier run left open (this tag or another) before the counters are used again.
    for (const r of Object.values(this.journal.get().payouts)) if (r.state === 'sent') await this.settle(r.tag, r.tag === tag ? onProgress : undefined);
    const settled = this.journal.get().payouts[tag];
    if (settled?.state === 'done') return this.outcome(settled, true);

    for (let attempt = 1; ; attempt++) {
      const before = await this.verify();
      const moneyOutBefore = await this.moneyOut();
      this.journal.update((j) => {
        j.payouts[tag] = { tag, amountMinor, state: 'sent', changerSerial: this.changerSerial, verifyBefore: before.counter, moneyOutBefore, sentAt: new Date().toISOString() };
      });
      try {
        await this.req(this.addr.changer, Header.payMoneyOut, uintBytes(amountMinor, 4), 0);
      } catch (err) {
        if (!(err instanceof CcTalkError)) throw err;
        if (err.kind === 'NAK' || err.kind === 'BUSY') {
          // Refused outright: nothing was paid.
          this.journal.update((j) => (j.payouts[tag]!.state = 'prepared'));
          const a = this.alert('critical', 'PAYOUT_REFUSED', `the change unit refused to pay ${this.money(amountMinor)} for ${tag} (${err.kind})`, { customerMessage: this.customerMessage(0, amountMinor) });
          throw new CashUnitError('PAYOUT_REFUSED', 0, amountMinor, a.customerMessage!, a.message);
        }
        this.o.log(`payout ${tag}: no reply to Pay money out (${err.message}); finding out from the counters`);
      }
      const r = await this.settle(tag, onProgress);
      if (r.state === 'done') return this.outcome(r, false);
      // The command never reached the changer: send it again.
      if (attempt >= 3) {
        const a = this.alert('critical', 'PAYOUT_NOT_TAKEN', `the change unit did not take the payout of ${this.money(amountMinor)} for ${tag} after ${attempt} tries`, { customerMessage: this.customerMessage(0, amountMinor) });
        throw new CashUnitError('TIMEOUT', 0, amountMinor, a.customerMessage!, a.message);
      }
      this.o.log(`payout ${tag}: the changer never received the command; sending it again`);
    }
  }

  /**
   * Finds out what became of a payout in state 'sent' from the changer's counters; waits while
   * it is still paying. Leaves it 'done' (outcome known) or 'prepared' (never executed).
   */
  private async settle(tag: string, onProgress?: (fraction: number) => void): Promise<PayoutRecord> {
    const r = this.journal.get().payouts[tag]!;
    const deadline = Date.now() + this.o.payoutTimeoutMs;
    let idleSince: number | null = null;
    for (;;) {
      const busy = await this.processing();
      const v = await this.verify();
      const out = await this.moneyOut();
      const delta = out - r.moneyOutBefore;
      onProgress?.(Math.min(1, Math.max(0, delta / r.amountMinor)));
      if (!busy) {
        const completedOne = v.counter !== 0 && v.counter === nextEventCounter(r.verifyBefore);
        const wasReset = v.counter === 0 && r.verifyBefore !== 0;
        const unchanged = v.counter === r.verifyBefore;
        const short = (paid: number) => (paid >= r.amountMinor ? undefined : 'PAYOUT_UNCERTAIN' as const);
        if (completedOne) {
          // Exactly one payout completed since the record, and only this driver pays, one at a time: ours.
          if (delta !== v.paid) this.alert('warning', 'COUNTER_MISMATCH', `payout ${tag}: Verify money out says ${this.money(v.paid)} paid, the money-out total moved by ${this.money(delta)}`);
          return this.finish(tag, v.paid, v.unpaid);
        }
        if (wasReset) return this.finish(tag, delta, Math.max(0, r.amountMinor - delta), short(delta)); // power failure: the money-out total tells
        if (!unchanged) return this.finish(tag, delta, Math.max(0, r.amountMinor - delta), 'PAYOUT_UNCERTAIN'); // several payouts completed: not ours alone
        // Nothing completed. Nothing paid either: the command never arrived (after a guard time). Something paid: cut short.
        idleSince ??= Date.now();
        if (Date.now() - idleSince >= this.o.resendGuardMs) {
          if (delta > 0) return this.finish(tag, delta, Math.max(0, r.amountMinor - delta), short(delta));
          this.journal.update((j) => (j.payouts[tag]!.state = 'prepared'));
          return this.journal.get().payouts[tag]!;
        }
      } else idleSince = null;
      if (Date.now() > deadline) {
        throw new CashUnitError('TIMEOUT', null, null, 'Your change is being paid. Please wait; if nothing comes, call a member of staff.', `payout ${tag} still running after ${this.o.payoutTimeoutMs} ms (${this.money(delta)} paid so far); call payout again with the same tag to settle it`);
      }
      await sleep(Math.min(100, Math.max(20, this.o.pollMs)));
    }
  }

  private async finish(tag: string, paid: number, unpaid: number, forced?: CashFaultCode): Promise<PayoutRecord> {
    const r = this.journal.get().payouts[tag]!;
    let outcome: PayoutRecord['outcome'] = 'paid';
    let fault: PayoutRecord['fault'] = null;
    if (unpaid > 0 || forced) {
      const e = await this.req(this.addr.changer, Header.requestErrorStatus).catch(() => Buffer.from([255, 255]));
      fault = { device: e[0] ?? 0, code: e[1] ?? 0 };
      outcome = forced ?? (fault.code === 1 ? 'SHORT_CHANGE' : fault.code === 2 ? 'PAYOUT_JAM' : 'PAYOUT_FAULT');
      const where = fault.device || fault.code ? `${changerDeviceName(fault.device)}: ${CHANGER_FAULT_CODES[fault.code] ?? `fault ${fault.code}`}` : 'no fault reported';
      this.alert('critical', outcome, `payout ${tag}: paid ${this.money(paid)} of ${this.money(r.amountMinor)}; ${this.money(unpaid)} still owed to the customer (${where}). Hand the customer ${this.money(unpaid)} and ${fault.code === 2 ? 'clear the jam' : 'refill the change unit'}.`, {
        customerMessage: this.customerMessage(paid, unpaid),
        details: { tag, paidMinor: paid, unpaidMinor: unpaid, fault },
      });
    }
    this.journal.update((j) => Object.assign(j.payouts[tag]!, { state: 'done', paidMinor: paid, unpaidMinor: unpaid, outcome, fault, doneAt: new Date().toISOString() }));
    this.o.log(`payout ${tag}: ${outcome}, paid ${this.money(paid)}${unpaid ? `, unpaid ${this.money(unpaid)}` : ''}`);
    return this.journal.get().payouts[tag]!;
  }

  private unpayable(tag: string, paid: number, odd: number): CashUnitError {
    const a = this.alert('critical', 'SHORT_CHANGE', `payout ${tag}: ${this.money(odd)} is below the smallest coin the unit pays (${this.money(this.o.smallestPayoutMinor)}); ${this.money(paid)} paid, ${this.money(odd)} still owed to the customer`, {
      customerMessage: this.customerMessage(paid, odd),
      details: { tag, paidMinor: paid, unpaidMinor: odd },
    });
    return new CashUnitError('SHORT_CHANGE', paid, odd, a.customerMessage!, a.message);
  }

  private customerMessage(paid: number, unpaid: number): string {
    return `Sorry, the machine could not pay all of your money: ${this.money(paid)} was paid and ${this.money(unpaid)} is still owed to you. Please call a member of staff. ／ 申し訳ございません。${this.money(unpaid)}をお支払いできませんでした。係員をお呼びください。`;
  }

  private outcome(r: PayoutRecord, alreadyPaid: boolean): { paidMinor: number; alreadyPaid: boolean } {
    if (r.outcome === 'paid') return { paidMinor: r.paidMinor!, alreadyPaid };
    const code = r.outcome as CashFaultCode;
    throw new CashUnitError(code, r.paidMinor!, r.unpaidMinor!, this.customerMessage(r.paidMinor!, r.unpaidMinor!), `payout ${r.tag}: ${code}, paid ${this.money(r.paidMinor!)} of ${this.money(r.amountMinor)}, ${this.money(r.unpaidMinor!)} still owed`);
  }

  /** What the journal knows about a payout tag (for reconciliation screens and tests). */
  payoutRecord(tag: string): Readonly<PayoutRecord> | undefined {
    return this.journal.get().payouts[tag];
  }

  // --- counters ---

  async counters(): Promise<CashUnitCounters> {
    const floats: PayoutFloat[] = [];
    for (let no = 1; no <= 8; no++) {
      let d: Buffer;
      try {
        d = await this.req(this.addr.changer, Header.requestHopperBalance, [no], 0);
      } catch (err) {
        if (err instanceof CcTalkError && err.kind === 'NAK') break; // no such hopper
        throw err;
      }
      const id = d.subarray(0, 6).toString('latin1');
      floats.push({ hopper: no, denomination: id, valueMinor: parseCoinId(id)?.value ?? 0, count: uintLE(d, 6, 2) });
    }
    const accepted: Record<number, number> = {};
    const count = async (address: number | null, table: Map<number, { value: number }>) => {
      if (address === null) return;
      for (const [pos, v] of table) accepted[v.value] = (accepted[v.value] ?? 0) + uintLE(await this.req(address, Header.requestIndividualAcceptCounter, [pos]), 0, 3);
    };
    await count(this.addr.coin, this.coinValues);
    await count(this.addr.bill, this.billValues);
    return {
      floats,
      accepted,
      moneyInMinor: uintLE(await this.req(this.addr.changer, Header.requestMoneyIn), 0, 4),
      moneyOutMinor: await this.moneyOut(),
      cashboxMinor: uintLE(await this.req(this.addr.changer, Header.requestCashBoxValue), 0, 4),
    };
  }
}

/** Opens the ccTalk cash unit on a serial port and starts polling the acceptors. */
export async function createCcTalkCashUnit(options: CcTalkCashUnitOptions): Promise<CcTalkCashUnit> {
  const unit = new CcTalkCashUnit(options);
  await unit.open();
  return unit;
}
