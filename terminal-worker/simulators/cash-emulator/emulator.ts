/**
 * The cash unit emulator: three ccTalk peripherals on one serial line (one end of a pseudo-
 * terminal pair), as on a real kiosk's ccTalk bus — a coin acceptor (address 2), a bill validator
 * with escrow (address 40) and a change unit of ccTalk category "Changer" (address 55) with
 * hoppers for ¥10/¥50/¥100/¥500 coins and cassettes for ¥1,000/¥5,000 notes. Frames are cut
 * with serialport's CCTalkParser and checked (length, simple checksum); a frame with a bad
 * checksum or for another address gets no reply, as on a real bus.
 *
 * Customer and operator actions, and faults, come through `control()` (main.ts feeds it stdin
 * lines): insert coins/notes, refill, a hopper that jams after N items, a note that jams, a lost
 * reply or a lost command for a given header, a power cycle.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CCTalkParser } from 'serialport';
import { Activity1, Activity2, HEADER_NAMES, Header, decodeFrame, encodeFrame, uintBytes, uintLE, type Frame } from '../../../domain/cctalk';
import { COINS, CashModel, NOTES, type AcceptorState } from './physical-model';
import { openPtyDeviceEnd, type PtyDeviceEnd } from '../pty-device-end';

export const Address = { coin: 2, bill: 40, changer: 55 } as const;

export interface CashEmulatorTimings {
  /** time to pay one coin or note */
  payItemMs: number;
  /** a note left in escrow this long is handed back */
  escrowTimeoutMs: number;
}

type Reply = { data?: number[] } | 'NAK' | 'BUSY';
const ack = (data?: number[]): Reply => ({ data });
const ascii = (s: string) => [...Buffer.from(s, 'latin1')];

export class CashEmulator {
  private port: PtyDeviceEnd | null = null;
  private escrowTimer: NodeJS.Timeout | null = null;
  /** When the host last sent a frame to one of our addresses (a driver polling is attached). */
  private lastFrameAt = 0;

  constructor(readonly model: CashModel, readonly t: CashEmulatorTimings, private readonly log: (line: string) => void = () => {}) {
    if (model.s.changer.paying) void this.runPayout(); // the mechanism carries on where it was
    this.armEscrowTimer();
  }

  async open(ptyPath: string): Promise<void> {
    const port = openPtyDeviceEnd(ptyPath, (l) => this.log(l));
    port.input.pipe(new CCTalkParser(50)).on('data', (buf: Buffer) => this.onFrame(buf));
    this.port = port;
  }

  async close(): Promise<void> {
    if (this.escrowTimer) clearTimeout(this.escrowTimer);
    const port = this.port;
    this.port = null;
    await port?.close();
  }

  private onFrame(buf: Buffer): void {
    let f: Frame;
    try {
      f = decodeFrame(buf);
    } catch (err) {
      this.log(`ignored a bad frame: ${(err as Error).message}`);
      return;
    }
    const device = f.dest === Address.coin ? 'coin' : f.dest === Address.bill ? 'bill' : f.dest === Address.changer ? 'changer' : null;
    if (!device) return; // not ours (another device on the bus, or the host's own echo)
    this.lastFrameAt = Date.now();
    const name = HEADER_NAMES[f.header] ?? `header ${f.header}`;
    const m = this.model;
    if ((m.s.loseCommand[f.header] ?? 0) > 0) {
      m.change((s) => (s.loseCommand[f.header]! -= 1));
      this.log(`${device} ${name}: command lost on the line (fault injected)`);
      return;
    }
    let reply: Reply;
    try {
      reply = this.execute(device, f);
    } catch (err) {
      this.log(`${device} ${name}: ${(err as Error).message}`);
      reply = 'NAK';
    }
    const header = reply === 'NAK' ? Header.nak : reply === 'BUSY' ? Header.busy : Header.reply;
    const data = typeof reply === 'object' ? reply.data ?? [] : [];
    if ((m.s.loseReply[f.header] ?? 0) > 0) {
      m.change((s) => (s.loseReply[f.header]! -= 1));
      this.log(`${device} ${name}[${[...f.data].join(',')}] executed; reply lost on the line (fault injected)`);
      return;
    }
    if (f.header !== Header.simplePoll && f.header !== Header.readBufferedCreditOrErrorCodes && f.header !== Header.readBufferedBillEvents && f.header !== Header.requestActivityRegister) {
      this.log(`${device} ${name}[${[...f.data].join(',')}] -> ${typeof reply === 'string' ? reply : `ACK[${data.join(',')}]`}`);
    }
    this.port?.write(encodeFrame({ dest: f.src, src: f.dest, header, data }));
  }

  private execute(device: 'coin' | 'bill' | 'changer', f: Frame): Reply {
    const m = this.model;
    const d = f.data;
    const serial = device === 'coin' ? m.s.coin.serial : device === 'bill' ? m.s.bill.serial : m.s.changer.serial;
    switch (f.header) {
      case Header.simplePoll:
        return ack();
      case Header.requestManufacturerId:
        return ack(ascii('ICC'));
      case Header.requestEquipmentCategoryId:
        return ack(ascii(device === 'coin' ? 'Coin Acceptor' : device === 'bill' ? 'Bill Validator' : 'Changer'));
      case Header.requestProductCode:
        return ack(ascii(device === 'coin' ? 'EMU-CA' : device === 'bill' ? 'EMU-BV' : 'EMU-CH'));
      case Header.requestSerialNumber:
        return ack(uintBytes(serial, 3));
      case Header.requestSoftwareRevision:
        return ack(ascii('EMU-1.0'));
      case Header.performSelfCheck:
        return ack([device === 'changer' && m.s.changer.error ? 10 : device === 'bill' && m.s.bill.jammed ? 39 : 0]);
      case Header.resetDevice:
        m.powerCycle();
        return ack();
    }
    if (device === 'changer') return this.changer(f);
    const acc: AcceptorState = device === 'coin' ? m.s.coin : m.s.bill;
    switch (f.header) {
      case Header.modifyInhibitStatus:
        m.change(() => (acc.inhibitMask = (d[0] ?? 0) | ((d[1] ?? 0) << 8)));
        return ack();
      case Header.requestInhibitStatus:
        return ack([acc.inhibitMask & 0xff, acc.inhibitMask >> 8]);
      case Header.modifyMasterInhibitStatus:
        m.change(() => (acc.masterInhibit = ((d[0] ?? 0) & 1) === 0));
        return ack();
      case Header.requestMasterInhibitStatus:
        return ack([acc.masterInhibit ? 0 : 1]);
      case Header.requestIndividualAcceptCounter:
        return ack(uintBytes(acc.accepted[d[0] ?? 0] ?? 0, 3));
    }
    if (device === 'coin') {
      switch (f.header) {
        case Header.readBufferedCreditOrErrorCodes:
          return ack([acc.eventCounter, ...acc.events.flatMap((e) => [e.a, e.b])]);
        case Header.requestCoinId: {
          const v = COINS[(d[0] ?? 0) - 1];
          return ack(ascii(v ? `JP${String(v).padStart(3, '0')}A` : '......'));
        }
      }
    } else {
      const b = m.s.bill;
      switch (f.header) {
        case Header.readBufferedBillEvents:
          return ack([acc.eventCounter, ...acc.events.flatMap((e) => [e.a, e.b])]);
        case Header.requestBillId: {
          const v = NOTES[(d[0] ?? 0) - 1];
          return ack(ascii(v ? `JP${String(v / 1000).padStart(4, '0')}A` : '.......'));
        }
        case Header.requestCountryScalingFactor:
          return ack(Buffer.from(d).toString('latin1') === 'JP' ? [...uintBytes(1000, 2), 0] : [0, 0, 0]);
        case Header.routeBill: {
          const err = m.routeBill(d[0] ?? 0);
          this.armEscrowTimer();
          return ack(err === null ? [] : [err]);
        }
        case Header.modifyBillOperatingMode:
          m.change(() => (b.escrowMode = ((d[0] ?? 0) & 2) !== 0));
          return ack();
        case Header.requestBillOperatingMode:
          return ack([1 | (b.escrowMode ? 2 : 0)]);
      }
    }
    throw new Error(`header ${f.header} is not supported by the ${device}`);
  }

  private changer(f: Frame): Reply {
    const m = this.model;
    const c = m.s.changer;
    const d = f.data;
    switch (f.header) {
      case Header.payMoneyOut: {
        if (d.length !== 4) return 'NAK';
        if (c.paying) return 'BUSY';
        const amount = uintLE(d, 0, 4);
        if (amount <= 0 || amount % 10 !== 0) return 'NAK';
        const { plan } = m.plan(amount);
        m.change((s) => {
          s.changer.paying = { requested: amount, paid: 0, plan };
          s.changer.error = null;
        });
        void this.runPayout();
        return ack();
      }
      case Header.verifyMoneyOut:
        return ack([c.verifyCounter, ...uintBytes(c.lastPaid, 4), ...uintBytes(c.lastUnpaid, 4)]);
      case Header.requestActivityRegister:
        return ack([(c.paying ? Activity1.moneyOut : 0) | (c.error ? Activity1.fault : 0), c.error ? Activity2.nonFatalFault : 0]);
      case Header.requestErrorStatus:
        return ack(c.error ? [c.error.device, c.error.code] : [0, 0]);
      case Header.requestHopperBalance: {
        const h = c.hoppers.find((x) => x.no === d[0]);
        if (!h) return 'NAK';
        return ack([...ascii(h.coinId), ...uintBytes(h.count, 2)]);
      }
      case Header.modifyHopperBalance: {
        const h = c.hoppers.find((x) => x.no === d[0]);
        if (!h || d.length !== 3) return 'NAK';
        m.refill(h.value, uintLE(d, 1, 2));
        return ack();
      }
      case Header.requestMoneyIn:
        return ack(uintBytes(c.moneyIn, 4));
      case Header.requestMoneyOut:
        return ack(uintBytes(c.moneyOut, 4));
      case Header.requestCashBoxValue:
        return ack(uintBytes(Object.entries(m.s.cashbox).reduce((s, [k, n]) => s + Number(k) * n, 0), 4));
    }
    throw new Error(`header ${f.header} is not supported by the changer`);
  }

  /** Pays item by item (each takes payItemMs), as the mechanism does; stops on a jam or an empty hopper. */
  private async runPayout(): Promise<void> {
    const m = this.model;
    for (;;) {
      const p = m.s.changer.paying;
      if (!p) return;
      const step = p.plan.find((x) => x.count > 0);
      if (!step) break;
      await sleep(this.t.payItemMs);
      if (m.s.changer.paying !== p) return; // a power cycle cut it
      const h = m.s.changer.hoppers.find((x) => x.no === step.hopper)!;
      if (h.jamAfter !== null && h.jamAfter <= 0) {
        m.change(() => {
          h.jammed = true;
          h.jamAfter = null;
        });
        this.log(`hopper ${h.no} (${h.coinId}) jammed after paying ${p.paid} of ${p.requested}`);
        return this.finishPayout({ device: h.no, code: 2 });
      }
      if (h.count <= 0) return this.finishPayout({ device: h.no, code: 1 });
      m.change((s) => {
        h.count -= 1;
        if (h.jamAfter !== null) h.jamAfter -= 1;
        step.count -= 1;
        p.paid += h.value;
        s.changer.moneyOut += h.value;
        CashModel.addTo(s.tray, h.value);
      });
    }
    const p = m.s.changer.paying!;
    if (p.paid < p.requested) {
      // Short: name the hopper that could not pay the rest (the largest denomination still needed).
      const left = p.requested - p.paid;
      const empty = [...m.s.changer.hoppers].sort((a, b) => b.value - a.value).find((h) => h.value <= left && (h.count === 0 || h.jammed)) ?? m.s.changer.hoppers[0]!;
      return this.finishPayout({ device: empty.no, code: empty.jammed ? 2 : 1 });
    }
    this.finishPayout(null);
  }

  private finishPayout(error: { device: number; code: number } | null): void {
    this.model.change((s) => {
      const p = s.changer.paying!;
      s.changer.lastPaid = p.paid;
      s.changer.lastUnpaid = p.requested - p.paid;
      s.changer.verifyCounter = s.changer.verifyCounter >= 255 ? 1 : s.changer.verifyCounter + 1;
      s.changer.paying = null;
      s.changer.error = error;
      this.log(`payout of ${p.requested} finished: paid ${p.paid}, unpaid ${p.requested - p.paid}${error ? `, error ${error.device}/${error.code}` : ''}`);
    });
  }

  private armEscrowTimer(): void {
    if (this.escrowTimer) clearTimeout(this.escrowTimer);
    const e = this.model.s.bill.escrow;
    if (!e) return;
    this.escrowTimer = setTimeout(() => {
      if (this.model.s.bill.escrow?.since === e.since) {
        this.model.routeBill(0);
        this.log(`the note (¥${e.value}) waited ${this.t.escrowTimeoutMs} ms in escrow and was handed back`);
      }
    }, Math.max(0, e.since + this.t.escrowTimeoutMs - Date.now()));
  }

  /**
   * Customer, operator and fault actions, one per line:
   *   insert <value>                 a coin (10…500) or a note (1000…10000) goes in
   *   refill <value> <count>         set a hopper/cassette to count (also clears its jam)
   *   jam-hopper <value> [after N]   the hopper jams after paying N more items (default 0)
   *   jam-note                       the next note jams in the transport
   *   clear-jams                     an operator clears every jam
   *   lose-reply <header> [n]        the next n replies to that header are lost (command executed)
   *   lose-command <header> [n]      the next n commands with that header are lost (not executed)
   *   power-cycle                    volatile registers cleared, as after a power failure
   *   status                         a JSON summary
   * Returns a one-line answer.
   */
  control(line: string): string {
    const [verb, a, b, c] = line.trim().split(/\s+/);
    const m = this.model;
    const n = (x: string | undefined, dflt: number) => (x === undefined ? dflt : Number(x));
    switch (verb) {
      case 'insert': {
        const value = Number(a);
        if ((COINS as readonly number[]).includes(value)) {
          const ev = m.insertCoin(value);
          return ev.a ? `coin ¥${value} accepted (event ${m.s.coin.eventCounter})` : `coin ¥${value} refused (code ${ev.b})`;
        }
        const ev = m.insertNote(value);
        this.armEscrowTimer();
        if (!ev) return `note ¥${value} not taken: the transport is jammed`;
        return ev.a ? `note ¥${value} ${ev.b === 1 ? 'in escrow' : 'stacked'} (event ${m.s.bill.eventCounter})` : `note ¥${value} not accepted (code ${ev.b})`;
      }
      case 'refill':
        m.refill(Number(a), Number(b));
        break;
      case 'jam-hopper': {
        const h = m.hopperFor(Number(a));
        if (!h) return `no hopper for ${a}`;
        m.change(() => (h.jamAfter = b === 'after' ? n(c, 0) : 0));
        break;
      }
      case 'jam-note':
        m.change((s) => (s.bill.jamNext = true));
        break;
      case 'clear-jams':
        m.clearJams();
        break;
      case 'lose-reply':
      case 'lose-command': {
        const key = verb === 'lose-reply' ? 'loseReply' : 'loseCommand';
        m.change((s) => (s[key][Number(a)] = n(b, 1)));
        break;
      }
      case 'power-cycle':
        m.powerCycle();
        this.armEscrowTimer();
        break;
      case 'status':
        break;
      default:
        return `unknown control "${line.trim()}"`;
    }
    return `ok ${JSON.stringify(this.summary())}`;
  }

  summary() {
    const s = this.model.s;
    return {
      floats: Object.fromEntries(s.changer.hoppers.map((h) => [h.value, h.count])),
      tray: s.tray,
      cashbox: s.cashbox,
      paying: s.changer.paying ? { requested: s.changer.paying.requested, paid: s.changer.paying.paid } : null,
      error: s.changer.error,
      escrow: s.bill.escrow?.value ?? null,
      /** acceptance on (both master inhibits lifted) */
      accepting: !s.coin.masterInhibit && !s.bill.masterInhibit,
      /** a driver has talked to the unit since this emulator started; and within the last second (it is polling) */
      driven: this.lastFrameAt > 0,
      polled: Date.now() - this.lastFrameAt < 1000,
      counters: { moneyIn: s.changer.moneyIn, moneyOut: s.changer.moneyOut },
      audit: this.model.audit(),
    };
  }
}
