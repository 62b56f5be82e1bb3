/**
 * The emulated card printer's physical state: stocker, the card in the transport (its UID, where
 * it is, how much of its face is printed), ribbon, reject bin, bezel, faults (jam, cover open).
 * Persisted atomically to a JSON file after every change, so it outlives both the driver and the
 * emulator process, like a real printer's mechanics outlive a crash of the PC driving it.
 * The emulated card carries its chip UID (in reality the UID is read by the chip reader at the
 * contact station; the emulator reports it in `Sis` and `Rst` replies).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PANEL_BANDS, type CardPosition, type CardPrint, type FaultCode, type PrinterStatus } from '../../../domain/printer-protocol';

export interface ModelCard {
  uid: string;
  pos: CardPosition;
  print: CardPrint;
  bandsPrinted: number;
  bands: number;
  /** A print sequence left open by a host that went away (or an emulator restart). */
  interrupted: boolean;
  /** When the card was put in the bezel (ms since epoch). */
  presentedAt: number | null;
  face: string | null;
}

export interface ModelState {
  nextSerial: number;
  stocker: number;
  /** The second input hopper: pre-personalised stock cards by chip UID, first out first. */
  stockHopper: string[];
  ribbon: number;
  rejectBinCapacity: number;
  bezelDelayMs: number;
  jam: boolean;
  /** Jam on demand: the next motion command jams the card. */
  jamNext: boolean;
  coverOpen: boolean;
  card: ModelCard | null;
  dispensed: Array<{ uid: string; face: string | null; at: string }>;
  rejectBin: Array<{ uid: string; reason: string; print: CardPrint; face: string | null; at: string }>;
  lastPresented: { uid: string; outcome: 'waiting' | 'taken' | 'retracted' } | null;
}

export function initialModel(): ModelState {
  return {
    nextSerial: 1, stocker: 100, stockHopper: [], ribbon: 200, rejectBinCapacity: 50, bezelDelayMs: 30000,
    jam: false, jamNext: false, coverOpen: false, card: null, dispensed: [], rejectBin: [], lastPresented: null,
  };
}

export class PhysicalModel {
  readonly s: ModelState;
  /** Called after every persisted change (the emulated kiosk follows the card to the contact station). */
  onChange: (s: ModelState) => void = () => {};

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.s = fs.existsSync(file) ? { ...initialModel(), ...(JSON.parse(fs.readFileSync(file, 'utf8')) as ModelState) } : initialModel();
    this.save();
  }

  /** Applies a change and persists it (write a temporary file, then rename). */
  change<T>(fn: (s: ModelState) => T): T {
    const result = fn(this.s);
    this.save();
    return result;
  }

  private save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.s, null, 1));
    fs.renameSync(tmp, this.file);
    this.onChange(this.s);
  }

  faults(): FaultCode[] {
    const f: FaultCode[] = [];
    if (this.s.ribbon <= 0) f.push('RIBBON_OUT');
    if (this.s.stocker <= 0) f.push('FEEDER_EMPTY');
    if (this.s.jam) f.push('JAM');
    if (this.s.coverOpen) f.push('COVER_OPEN');
    if (this.s.rejectBin.length >= this.s.rejectBinCapacity) f.push('REJECT_BIN_FULL');
    return f;
  }

  status(): PrinterStatus {
    const c = this.s.card;
    const faults = this.faults();
    return {
      state: faults.length ? 'FAULT' : 'READY',
      faults,
      card: c && { uid: c.uid, pos: c.pos, print: c.print, bandsPrinted: c.bandsPrinted, bands: c.bands, interrupted: c.interrupted },
      stocker: this.s.stocker,
      rejectBin: this.s.rejectBin.length,
      rejectBinCapacity: this.s.rejectBinCapacity,
      ribbon: this.s.ribbon,
      dispensedCount: this.s.dispensed.length,
      lastPresented: this.s.lastPresented,
    };
  }

  newCard(): ModelCard {
    return this.change((s) => {
      const uid = `04${s.nextSerial.toString(16).padStart(4, '0')}${randomBytes(4).toString('hex')}`.toUpperCase();
      s.nextSerial += 1;
      s.stocker -= 1;
      s.card = { uid, pos: 'CONTACT', print: 'blank', bandsPrinted: 0, bands: PANEL_BANDS, interrupted: false, presentedAt: null, face: null };
      return s.card;
    });
  }

  /** Takes the next card from the stock hopper to the contact station (its chip is already personalised). */
  newStockCard(): ModelCard {
    return this.change((s) => {
      const uid = s.stockHopper.shift()!;
      s.card = { uid, pos: 'CONTACT', print: 'blank', bandsPrinted: 0, bands: PANEL_BANDS, interrupted: false, presentedAt: null, face: null };
      return s.card;
    });
  }

  /** Moves the card in the transport to the reject bin. */
  toRejectBin(reason: string): void {
    this.change((s) => {
      if (!s.card) return;
      s.rejectBin.push({ uid: s.card.uid, reason, print: s.card.print, face: s.card.face, at: new Date().toISOString() });
      s.card = null;
    });
  }

  /** The customer takes the card from the bezel. Returns false when there is none to take. */
  take(): boolean {
    return this.change((s) => {
      if (!s.card || s.card.pos !== 'BEZEL') return false;
      s.dispensed.push({ uid: s.card.uid, face: s.card.face, at: new Date().toISOString() });
      s.lastPresented = { uid: s.card.uid, outcome: 'taken' };
      s.card = null;
      return true;
    });
  }
}
