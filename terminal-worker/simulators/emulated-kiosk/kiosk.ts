/**
 * The emulated kiosk: the hardware a terminal worker drives, behind the same operating-system
 * interfaces as a real kiosk's.
 *
 *   card printer  — the printer emulator on one end of a socat pseudo-terminal pair; the driver
 *                   opens the other end as its serial port (`hostPty`);
 *   cash unit     — the ccTalk cash unit emulator (coin acceptor, bill validator, changer) on its own
 *                   socat pty pair (`cashPty` for the driver);
 *   receipt       — the ESC/POS receipt printer emulator on a third pair (`receiptPty`);
 *   IC reader     — the printer's contact station, wired to vpcd inside the real pcscd: whenever
 *                   the printer's physical model has a card at CONTACT, a virtual ISO 7816-4 card
 *                   with that card's UID is inserted into the vpcd reader (`readerName`); when the
 *                   card moves on (print head, bezel, reject bin) it is pulled out;
 *   customer slot — optional (`customerVpcdPort`): a second vpcd reader where the customer inserts
 *                   their own card (customer-slot.ts; `customer …` control actions).
 *
 * So a real kiosk is the same terminal worker minus this file: the serial path and the reader name
 * point at real devices instead. Every card's chip memory is kept in `<stateDir>/chips/<uid>.bin`
 * (written after every UPDATE BINARY), like the chip it is, so it outlives the driver, the worker
 * and this process; a test or a person can read what each dispensed or rejected card holds.
 *
 * Operator, customer and fault actions come through `control()` (the printer emulator's own
 * actions plus the contact station's: contact loss mid-write, memory failure, the next card from
 * the stocker not blank or of the wrong type, automatic taking of presented cards).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CashEmulator, type CashEmulatorTimings } from '../cash-emulator/emulator';
import { CashModel } from '../cash-emulator/physical-model';
import { ReceiptEmulator, type ReceiptEmulatorTimings } from '../receipt-emulator/emulator';
import { PrinterEmulator, type EmulatorTimings } from '../printer-emulator/emulator';
import { PhysicalModel, type ModelState } from '../printer-emulator/physical-model';
import { Iso7816Card, type AtrMode } from '../virtual-card/iso7816-card';
import { VpcdLink } from '../virtual-card/vpcd-link';
import { saveChipImage } from './chip-images';
import { CustomerSlot } from './customer-slot';
import { writeStockChip } from './stock-hopper';
import { startSocatPair, stopSocat } from './socat-pair';

export const VPCD_BASE_PORT = 35963;

/** vpcd names its readers "Virtual PCD 00 <n>" for ports 35963 + n. */
export function vpcdReaderName(port: number): string {
  return `Virtual PCD 00 ${String(port - VPCD_BASE_PORT).padStart(2, '0')}`;
}

export interface ChipSpec {
  /** Size of the record EF in bytes. */
  memorySize: number;
  pageSize: number;
  /** EEPROM time per written page (ms). */
  pageWriteMs: number;
}

export interface EmulatedKioskOptions {
  stateDir: string;
  vpcdPort?: number;
  /** vpcd port of the customer card slot's reader; absent: the kiosk has none. */
  customerVpcdPort?: number;
  vpcdHost?: string;
  printer?: Partial<EmulatorTimings>;
  chip?: Partial<ChipSpec>;
  /** The customer takes a presented card after this many ms; null: nobody takes it (bezel timeout). */
  autoTakeMs?: number | null;
  /** After contact is lost mid-write (tearing), contact comes back after this many ms. */
  contactRecoverMs?: number;
  cash?: Partial<CashEmulatorTimings>;
  receipt?: Partial<ReceiptEmulatorTimings>;
  log?: (line: string) => void;
}

interface ChipMeta {
  atr: AtrMode;
  memorySize: number;
}

/** Shortest time between one card leaving the contact station and the next touching the contacts. */
const SWAP_GAP_MS = 1000;

export const DEFAULT_CHIP: ChipSpec = { memorySize: 2048, pageSize: 32, pageWriteMs: 2 };
export const DEFAULT_PRINTER_TIMINGS: EmulatorTimings = { feedMs: 300, bandMs: 100, ejectMs: 200 };
export const DEFAULT_CASH_TIMINGS: CashEmulatorTimings = { payItemMs: 60, escrowTimeoutMs: 10_000 };
export const DEFAULT_RECEIPT_TIMINGS: ReceiptEmulatorTimings = { lineMs: 15, cutMs: 100 };

export class EmulatedKiosk {
  readonly printerPty: string;
  readonly hostPty: string;
  readonly readerName: string;
  readonly vpcdPort: number;
  /** The customer card slot's reader, or null when this kiosk has none. */
  readonly customerReaderName: string | null;
  /** The driver ends of the cash unit's and the receipt printer's serial lines. */
  readonly cashPty: string;
  readonly receiptPty: string;
  private socats: ChildProcess[] = [];
  emulator!: PrinterEmulator;
  cash!: CashEmulator;
  receipt!: ReceiptEmulator;
  private station!: ContactStation;
  private customer: CustomerSlot | null = null;
  private autoTake: NodeJS.Timeout | null = null;
  autoTakeMs: number | null;

  private constructor(readonly o: EmulatedKioskOptions) {
    this.printerPty = path.join(o.stateDir, 'printer-side');
    this.hostPty = path.join(o.stateDir, 'host-side');
    this.cashPty = path.join(o.stateDir, 'cash-unit-host');
    this.receiptPty = path.join(o.stateDir, 'receipt-printer-host');
    this.vpcdPort = o.vpcdPort ?? VPCD_BASE_PORT;
    this.readerName = vpcdReaderName(this.vpcdPort);
    if (o.customerVpcdPort === this.vpcdPort) throw new Error(`the customer slot cannot share vpcd port ${this.vpcdPort} with the contact station`);
    this.customerReaderName = o.customerVpcdPort ? vpcdReaderName(o.customerVpcdPort) : null;
    this.autoTakeMs = o.autoTakeMs ?? null;
  }

  static async start(o: EmulatedKioskOptions): Promise<EmulatedKiosk> {
    const k = new EmulatedKiosk(o);
    try {
      await k.startUp();
    } catch (err) {
      await k.stop(); // no socat left behind by a start that failed half-way
      throw err;
    }
    return k;
  }

  get log(): (line: string) => void {
    return this.o.log ?? (() => {});
  }

  private async startUp(): Promise<void> {
    const dir = this.o.stateDir;
    fs.mkdirSync(path.join(dir, 'chips'), { recursive: true });
    this.socats.push(await startSocatPair(this.printerPty, this.hostPty));
    const cashDevice = path.join(dir, 'cash-unit-device');
    const receiptDevice = path.join(dir, 'receipt-printer-device');
    this.socats.push(await startSocatPair(cashDevice, this.cashPty));
    this.socats.push(await startSocatPair(receiptDevice, this.receiptPty));

    this.cash = new CashEmulator(new CashModel(path.join(dir, 'cash-unit-state.json')), { ...DEFAULT_CASH_TIMINGS, ...this.o.cash }, (l) => this.log(`cash unit: ${l}`));
    await this.cash.open(cashDevice);
    this.receipt = new ReceiptEmulator(path.join(dir, 'receipt-printer-state.json'), path.join(dir, 'receipts'), { ...DEFAULT_RECEIPT_TIMINGS, ...this.o.receipt }, (l) => this.log(`receipt printer: ${l}`));
    await this.receipt.open(receiptDevice);

    const model = new PhysicalModel(path.join(dir, 'printer-state.json'));
    this.emulator = new PrinterEmulator(model, path.join(dir, 'faces'), { ...DEFAULT_PRINTER_TIMINGS, ...this.o.printer }, (l) => this.log(`printer: ${l}`));
    await this.emulator.open(this.printerPty);
    this.station = new ContactStation(path.join(dir, 'chips'), { ...DEFAULT_CHIP, ...this.o.chip }, this.o.vpcdHost ?? '127.0.0.1', this.vpcdPort, this.o.contactRecoverMs ?? 400, (l) => this.log(`contact station: ${l}`));
    model.onChange = (s) => this.station.follow(s);
    if (this.o.customerVpcdPort) this.customer = new CustomerSlot(path.join(dir, 'chips'), { ...DEFAULT_CHIP, ...this.o.chip }, this.o.vpcdHost ?? '127.0.0.1', this.o.customerVpcdPort, (l) => this.log(`customer slot: ${l}`));
    this.station.follow(model.s);
    this.autoTake = setInterval(() => {
      const c = model.s.card;
      if (this.autoTakeMs !== null && c?.pos === 'BEZEL' && c.presentedAt !== null && Date.now() - c.presentedAt >= this.autoTakeMs) this.log(`customer: ${this.emulator.control('take')}`);
    }, 50);
  }

  /** The card printer's physical state as the emulator keeps it. */
  get model(): ModelState {
    return this.emulator.model.s;
  }

  /** What a card's chip holds (its whole record EF), or null for a card never at the station. */
  chipOf(uid: string): Buffer | null {
    return this.station.memoryOf(uid);
  }

  /**
   * One action, one line back. Printer: take, jam, jam-next, clear-jam, cover open|closed,
   * ribbon N, stocker N, bin-capacity N, empty-bin. Customer: auto-take MS|off. Contact station:
   * tear-after N (contact lost after N more written bytes, back after a moment), memory-failure
   * N|always|off (the card at the station), next-card blank|not-blank|wrong-type|tear-after N|
   * memory-failure N|always (the next card fed), station (who is inserted). Cash unit: `cash
   * <action>` (CashEmulator.control: insert 1000, refill 100 0, jam-hopper 100, status, …). Receipt
   * printer: `receipt <action>` (ReceiptEmulator.control: paper-out, paper endless, status, …).
   * Customer card slot: `customer <action>` (CustomerSlot.control: insert card <cardId>, remove, …).
   * Stock hopper: `stock load <UID> <base64 record>` (a pre-loaded prepaid card: its chip image, then
   * its UID into the printer's second hopper).
   * status, ping.
   */
  control(line: string): string {
    const [verb, ...rest] = line.trim().split(/\s+/);
    const arg = rest.join(' ');
    switch (verb) {
      case 'ping':
        return 'ok pong';
      case 'status':
        return `ok ${JSON.stringify({ printer: this.emulator.model.status(), station: this.station.describe(), customerSlot: this.customer?.describe() ?? null, autoTakeMs: this.autoTakeMs })}`;
      case 'auto-take':
        this.autoTakeMs = arg === 'off' ? null : Number(arg);
        return `ok auto-take ${this.autoTakeMs ?? 'off'}`;
      case 'tear-after':
      case 'memory-failure':
      case 'next-card':
      case 'station':
        return this.station.control(verb, arg);
      case 'cash':
        return this.cash.control(arg);
      case 'receipt':
        return this.receipt.control(arg);
      case 'stock': {
        const [what, uid, b64] = rest;
        if (what !== 'load' || !uid || !b64 || !/^[A-Za-z0-9+/]+=*$/.test(b64)) return 'error stock takes load <UID> <base64 record>';
        writeStockChip(path.join(this.o.stateDir, 'chips'), uid, Buffer.from(b64, 'base64'), { ...DEFAULT_CHIP, ...this.o.chip }.memorySize);
        return this.emulator.control(`stock-hopper ${uid}`);
      }
      case 'customer':
        return this.customer ? this.customer.control(arg) : 'error this kiosk has no customer card slot';
      default:
        return this.emulator.control(line);
    }
  }

  async stop(): Promise<void> {
    if (this.autoTake) clearInterval(this.autoTake);
    this.station?.stop();
    this.customer?.stop();
    await this.emulator?.close().catch(() => {});
    await this.cash?.close().catch(() => {});
    await this.receipt?.close().catch(() => {});
    for (const socat of this.socats) await stopSocat(socat);
  }
}

/**
 * The smart-card contact station: follows the printer model and keeps vpcd's reader holding the
 * card that is at CONTACT (reconnecting if pcscd restarts), with that card's own chip memory.
 */
class ContactStation {
  private uid: string | null = null;
  private card: Iso7816Card | null = null;
  private link: VpcdLink | null = null;
  /** No contact until then (after a tear, or while one card leaves and the next arrives). */
  private contactBackAt = 0;
  /** What the next card fed from the stocker is like (then back to a good blank card). */
  private nextCard: { kind: 'blank' | 'not-blank' | 'wrong-type'; tearAfter: number | null; memoryFailures: number } = { kind: 'blank', tearAfter: null, memoryFailures: 0 };
  private readonly timer: NodeJS.Timeout;
  private inserting = false;

  constructor(
    private readonly dir: string,
    private readonly spec: ChipSpec,
    private readonly host: string,
    private readonly port: number,
    private readonly recoverMs: number,
    private readonly log: (line: string) => void,
  ) {
    // Keeps the card in the reader while it is at the station: after a tear, or when pcscd (and so
    // vpcd) was restarted, the card side reconnects.
    this.timer = setInterval(() => this.keepInserted(), 100);
  }

  follow(s: ModelState): void {
    const atContact = s.card && s.card.pos === 'CONTACT' ? s.card.uid : null;
    if (atContact === this.uid) return;
    if (this.uid) this.eject();
    if (atContact) this.load(atContact);
  }

  memoryOf(uid: string): Buffer | null {
    if (uid === this.uid && this.card) return Buffer.from(this.card.memory);
    const file = path.join(this.dir, `${uid}.bin`);
    return fs.existsSync(file) ? fs.readFileSync(file) : null;
  }

  describe() {
    return { uid: this.uid, inserted: this.link?.connected ?? false, nextCard: this.nextCard, faults: this.card?.faults ?? null };
  }

  control(verb: string, arg: string): string {
    if (verb === 'next-card') {
      const [what, n] = arg.split(/\s+/);
      if (what === 'tear-after') this.nextCard.tearAfter = Number(n);
      else if (what === 'memory-failure') this.nextCard.memoryFailures = n === 'always' ? Infinity : Number(n);
      else if (what === 'blank' || what === 'not-blank' || what === 'wrong-type') this.nextCard.kind = what;
      else return 'error next-card takes blank, not-blank, wrong-type, tear-after N or memory-failure N|always';
      return `ok next-card ${arg}`;
    }
    if (verb === 'station') return `ok ${JSON.stringify(this.describe())}`;
    if (!this.card) return 'error no card at the contact station';
    if (verb === 'tear-after') this.card.faults.tearAfterBytes = Number(arg);
    else if (verb === 'memory-failure') this.card.faults.memoryFailures = arg === 'always' ? Infinity : arg === 'off' ? 0 : Number(arg);
    return `ok ${verb} ${arg}`;
  }

  private load(uid: string): void {
    const metaFile = path.join(this.dir, `${uid}.json`);
    let meta: ChipMeta;
    let memory: Buffer | null = null;
    if (fs.existsSync(metaFile)) {
      meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as ChipMeta;
      memory = fs.existsSync(path.join(this.dir, `${uid}.bin`)) ? fs.readFileSync(path.join(this.dir, `${uid}.bin`)) : null;
    } else {
      // A card just fed from the stocker: what kind of card it is was decided by the stocker.
      meta = { atr: this.nextCard.kind === 'wrong-type' ? 'wrong' : 't0', memorySize: this.spec.memorySize };
      fs.writeFileSync(metaFile, JSON.stringify(meta));
    }
    const card = new Iso7816Card({ uid: Buffer.from(uid, 'hex'), memorySize: meta.memorySize, pageSize: this.spec.pageSize, pageWriteMs: this.spec.pageWriteMs, atr: meta.atr });
    if (memory) card.memory.set(memory.subarray(0, card.memory.length));
    else {
      if (this.nextCard.kind === 'not-blank') card.makeNotBlank();
      card.faults.tearAfterBytes = this.nextCard.tearAfter;
      card.faults.memoryFailures = this.nextCard.memoryFailures;
      this.nextCard = { kind: 'blank', tearAfter: null, memoryFailures: 0 };
    }
    const link = new VpcdLink(card, this.host, this.port, (l) => this.log(`${uid}: ${l}`));
    card.isPresent = () => link.connected && this.link === link;
    card.onTear = () => {
      this.persist(uid, card);
      this.contactBackAt = Date.now() + this.recoverMs;
      link.remove();
      this.log(`${uid}: contact lost mid-write (tearing); back in ${this.recoverMs} ms`);
    };
    const apdu = card.apdu.bind(card);
    card.apdu = async (raw: Uint8Array) => {
      const res = await apdu(raw);
      if (raw[1] === 0xd6) this.persist(uid, card);
      return res;
    };
    this.uid = uid;
    this.card = card;
    this.link = link;
    this.persist(uid, card);
    this.log(`${uid}: at the contact station (${meta.atr === 'wrong' ? 'wrong card type' : memory ? 'known card' : 'new card'})`);
    this.keepInserted();
  }

  private eject(): void {
    if (this.card && this.uid) this.persist(this.uid, this.card);
    this.link?.remove();
    // pcscd polls vpcd's slot (every 400 ms): a card swapped faster than that would look like the
    // same card still inserted (old ATR, old handle). A real transport takes longer than this.
    this.contactBackAt = Math.max(this.contactBackAt, Date.now() + SWAP_GAP_MS);
    this.log(`${this.uid}: left the contact station`);
    this.uid = null;
    this.card = null;
    this.link = null;
  }

  private keepInserted(): void {
    const link = this.link;
    if (!link || link.connected || this.inserting || Date.now() < this.contactBackAt) return;
    this.inserting = true;
    link
      .insert()
      .catch(() => {}) // vpcd not listening (pcscd down): try again on the next tick
      .finally(() => {
        this.inserting = false;
        // The card moved on while we were connecting: pull it out again.
        if (this.link !== link) link.remove();
      });
  }

  private persist(uid: string, card: Iso7816Card): void {
    saveChipImage(this.dir, uid, card.memory);
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.card && this.uid) this.persist(this.uid, this.card);
    this.link?.remove();
  }
}
