/**
 * An emulated ISO/IEC 7816-4 contact card for the vpcd link: what a blank card of this project
 * looks like to the PC/SC driver.
 *
 *   MF 3F00
 *   └─ application DF, AID F0 49 43 52 31 00 01 ("ICR1" application)
 *      └─ EF 0101 (SFI 1), transparent, `memorySize` bytes: holds the card record
 *
 * Commands: SELECT (by AID, by FID), READ BINARY / UPDATE BINARY (15-bit offset or SFI),
 * GET RESPONSE, and the PC/SC pseudo-APDU GET DATA UID `FF CA 00 00` (under vpcd the "reader" is
 * us, so the card answers it). EEPROM writes take `pageWriteMs` per touched page of `pageSize`.
 *
 * Fault switches (set by main.ts's control channel or by tests): tearing after N written bytes
 * (the card is pulled out mid-write), memory failure 6581, T=0 `61xx` (every response body via
 * GET RESPONSE) and `6Cxx` (wrong Le is answered with the exact length), a card that is not blank,
 * a wrong card type (a MIFARE Classic ATR, and no ICR1 application).
 *
 * GlobalPlatform: SELECT of the ISD AID and CLA 80–87 commands while the ISD is selected go to
 * `CardManager` (card-manager.ts); every other command is handled exactly as before.
 */
import { decodeCommand, encodeResponse, type CommandApdu } from '../../drivers/apdu';
import { CardManager, TORN } from './card-manager';

export const ICR1_AID = Buffer.from('F04943523100 01'.replace(/ /g, ''), 'hex');
export const RECORD_EF_FID = 0x0101;
export const RECORD_EF_SFI = 1;
const MF_FID = 0x3f00;

const HISTORICAL = [0x00, 0x49, 0x43, 0x52, 0x31, 0x01, 0x90, 0x00]; // category 00, "ICR1", v1, status 9000
/** T=0 only: TS, T0 (no interface bytes, 8 historical bytes), historical bytes. No TCK for T=0 only. */
export const ATR_T0 = Buffer.from([0x3b, 0x08, ...HISTORICAL]);
/** T=1: TD1 announces T=1, so a TCK follows the historical bytes. */
export const ATR_T1 = withTck([0x3b, 0x88, 0x01, ...HISTORICAL]);
/** A MIFARE Classic 1K as a PC/SC contactless reader presents it: a storage card, not ours. */
export const ATR_MIFARE_CLASSIC = Buffer.from('3B8F8001804F0CA000000306030001000000006A', 'hex');

function withTck(bytes: number[]): Buffer {
  let tck = 0;
  for (const b of bytes.slice(1)) tck ^= b;
  return Buffer.from([...bytes, tck]);
}

export type AtrMode = 't0' | 't1' | 'wrong';

export interface VirtualCardOptions {
  uid: Buffer;
  memorySize: number;
  pageSize?: number;
  pageWriteMs?: number;
  atr?: AtrMode;
  /** Non-volatile space for GlobalPlatform load files (bytes). */
  gpMemory?: number;
}

export interface CardFaults {
  /** Bytes still to be written before the card is torn out; null: no tearing armed. */
  tearAfterBytes: number | null;
  /** UPDATE BINARY commands still to fail with 6581 (Infinity: always). */
  memoryFailures: number;
  /** T=0: answer response data with 61xx, to be fetched with GET RESPONSE. */
  t0GetResponse: boolean;
  /** T=0: answer a wrong Le with 6Cxx (xx = the exact length). */
  t0WrongLe: boolean;
}

type Selected = 'MF' | 'APP' | 'EF';

export class Iso7816Card {
  readonly memory: Uint8Array;
  readonly pageSize: number;
  readonly pageWriteMs: number;
  atrMode: AtrMode;
  uid: Buffer;
  faults: CardFaults = { tearAfterBytes: null, memoryFailures: 0, t0GetResponse: false, t0WrongLe: false };
  /** Called when armed tearing fires: main.ts pulls the card out of vpcd. */
  onTear: () => void = () => {};
  /** Whether the card is still in the reader (checked between page writes). */
  isPresent: () => boolean = () => true;
  private selected: Selected = 'MF';
  private pendingResponse: Buffer | null = null;
  readonly commandLog: string[] = [];
  readonly cardManager: CardManager;

  constructor(opts: VirtualCardOptions) {
    this.memory = new Uint8Array(opts.memorySize);
    this.pageSize = opts.pageSize ?? 32;
    this.pageWriteMs = opts.pageWriteMs ?? 2;
    this.atrMode = opts.atr ?? 't0';
    this.uid = opts.uid;
    this.cardManager = new CardManager(opts.gpMemory ?? 32768);
  }

  atr(): Uint8Array {
    return this.atrMode === 't1' ? ATR_T1 : this.atrMode === 'wrong' ? ATR_MIFARE_CLASSIC : ATR_T0;
  }

  powerOn(): void {
    this.resetState();
  }
  powerOff(): void {
    this.resetState();
  }
  reset(): void {
    this.resetState();
  }
  private resetState(): void {
    this.selected = 'MF';
    this.pendingResponse = null;
    this.cardManager.deselect();
  }

  /** Fills the EF with data left from an earlier, foreign use: the card is not blank. */
  makeNotBlank(): void {
    this.memory.fill(0);
    this.memory.set(Buffer.from('USED CARD: loyalty points 000120, do not issue'), 0);
  }

  erase(): void {
    this.memory.fill(0);
  }

  async apdu(raw: Uint8Array): Promise<Uint8Array | null> {
    let cmd: CommandApdu;
    try {
      cmd = decodeCommand(raw);
    } catch {
      return sw(0x6700);
    }
    this.commandLog.push(Buffer.from(raw.subarray(0, 4)).toString('hex').toUpperCase());
    if (cmd.ins === 0xc0 && cmd.cla === 0x00) return this.getResponse(cmd);
    this.pendingResponse = null;
    if (cmd.cla === 0xff) return cmd.ins === 0xca ? this.getDataUid(cmd) : sw(0x6d00);
    if (this.atrMode !== 'wrong' && (cmd.cla & 0xf8) === 0x80 && this.cardManager.selected) return this.toCardManager(cmd);
    if (cmd.cla !== 0x00) return sw(0x6e00);
    if (this.atrMode === 'wrong') return sw(0x6d00); // a storage card knows no 7816-4 file commands
    if (cmd.ins === 0xa4 && cmd.p1 === 0x04) {
      const isd = this.cardManager.select(Buffer.from(cmd.data ?? []));
      if (isd) {
        this.selected = 'MF';
        return (cmd.p2 & 0x0c) === 0x0c ? sw(isd.sw) : this.answer(isd.data, cmd.le, isd.sw);
      }
    }
    if (cmd.ins === 0xa4) this.cardManager.deselect();
    switch (cmd.ins) {
      case 0xa4: return this.select(cmd);
      case 0xb0: return this.readBinary(cmd);
      case 0xd6: return this.updateBinary(cmd);
      default: return sw(0x6d00);
    }
  }

  private toCardManager(cmd: CommandApdu): Buffer | null {
    const r = this.cardManager.process(cmd);
    if (r === TORN) {
      this.onTear();
      return null;
    }
    return this.answer(r.data, cmd.le, r.sw);
  }

  /** Answers `body` + 9000, honouring Le and the T=0 fault switches. */
  private answer(body: Buffer, le: number | undefined, okSw = 0x9000): Buffer {
    if (body.length === 0) return sw(okSw);
    if (this.faults.t0WrongLe && le !== undefined && le !== Math.min(body.length, 256)) return sw(0x6c00 | (body.length & 0xff));
    const out = le === undefined ? body : body.subarray(0, le);
    if (this.faults.t0GetResponse) {
      this.pendingResponse = Buffer.from(out);
      return sw(0x6100 | (out.length & 0xff));
    }
    return encodeResponse(out, okSw);
  }

  private getResponse(cmd: CommandApdu): Buffer {
    const pending = this.pendingResponse;
    if (!pending) return sw(0x6985);
    const le = cmd.le ?? 256;
    if (le >= pending.length) {
      this.pendingResponse = null;
      return encodeResponse(pending, 0x9000);
    }
    this.pendingResponse = pending.subarray(le);
    return encodeResponse(pending.subarray(0, le), 0x6100 | (this.pendingResponse.length & 0xff));
  }

  private getDataUid(cmd: CommandApdu): Buffer {
    if (cmd.p1 !== 0x00 || cmd.p2 !== 0x00) return sw(0x6a81);
    if (this.faults.t0WrongLe && cmd.le !== undefined && cmd.le !== this.uid.length) return sw(0x6c00 | this.uid.length);
    if (cmd.le !== undefined && cmd.le < 256 && cmd.le < this.uid.length) return sw(0x6c00 | this.uid.length);
    return this.answer(this.uid, undefined);
  }

  private select(cmd: CommandApdu): Buffer {
    const data = Buffer.from(cmd.data ?? []);
    const noFci = (cmd.p2 & 0x0c) === 0x0c;
    if (cmd.p1 === 0x04) {
      if (!data.equals(ICR1_AID)) return sw(0x6a82);
      this.selected = 'APP';
      const fci = Buffer.concat([Buffer.from([0x6f, ICR1_AID.length + 2, 0x84, ICR1_AID.length]), ICR1_AID]);
      return noFci ? sw(0x9000) : this.answer(fci, cmd.le);
    }
    if ((cmd.p1 === 0x00 || cmd.p1 === 0x02) && data.length === 2) {
      const fid = data.readUInt16BE(0);
      if (fid === MF_FID) {
        this.selected = 'MF';
        return sw(0x9000);
      }
      if (fid !== RECORD_EF_FID || this.selected === 'MF') return sw(0x6a82);
      this.selected = 'EF';
      return noFci ? sw(0x9000) : this.answer(this.fcp(), cmd.le);
    }
    return sw(0x6a86);
  }

  /** FCP: 80 file size, 82 descriptor (transparent EF), 83 FID, 88 SFI. */
  private fcp(): Buffer {
    const size = this.memory.length;
    const body = Buffer.from([0x80, 0x02, size >> 8, size & 0xff, 0x82, 0x01, 0x01, 0x83, 0x02, RECORD_EF_FID >> 8, RECORD_EF_FID & 0xff, 0x88, 0x01, RECORD_EF_SFI << 3]);
    return Buffer.concat([Buffer.from([0x62, body.length]), body]);
  }

  /** Resolves P1-P2 to an offset in the record EF, or a status word. */
  private target(cmd: CommandApdu): { offset: number } | { sw: number } {
    if (cmd.p1 & 0x80) {
      if ((cmd.p1 & 0x1f) !== RECORD_EF_SFI || this.selected === 'MF') return { sw: 0x6a82 };
      this.selected = 'EF';
      return { offset: cmd.p2 };
    }
    if (this.selected !== 'EF') return { sw: 0x6986 };
    return { offset: ((cmd.p1 & 0x7f) << 8) | cmd.p2 };
  }

  private readBinary(cmd: CommandApdu): Buffer {
    const t = this.target(cmd);
    if ('sw' in t) return sw(t.sw);
    if (t.offset >= this.memory.length) return sw(0x6b00);
    const le = cmd.le ?? 256;
    const available = Math.min(this.memory.length - t.offset, 256);
    if (this.faults.t0WrongLe && le !== available) return sw(0x6c00 | (available & 0xff));
    const body = Buffer.from(this.memory.subarray(t.offset, t.offset + Math.min(le, available)));
    return this.answer(body, undefined, le > available ? 0x6282 : 0x9000);
  }

  private async updateBinary(cmd: CommandApdu): Promise<Buffer | null> {
    const t = this.target(cmd);
    if ('sw' in t) return sw(t.sw);
    const data = cmd.data ?? new Uint8Array(0);
    if (data.length === 0) return sw(0x6700);
    if (t.offset >= this.memory.length) return sw(0x6b00);
    if (t.offset + data.length > this.memory.length) return sw(0x6a84);
    if (this.faults.memoryFailures > 0) {
      this.faults.memoryFailures--;
      // The EEPROM got part of the first page wrong: memory changed, and the card says so.
      this.memory.set(data.subarray(0, Math.min(data.length, this.pageSize / 2)).map((b) => b ^ 0xff), t.offset);
      return sw(0x6581);
    }
    // Page by page, as EEPROM programs: a card pulled out mid-way keeps only the pages written.
    let pos = 0;
    while (pos < data.length) {
      const pageEnd = (Math.floor((t.offset + pos) / this.pageSize) + 1) * this.pageSize - t.offset;
      let n = Math.min(pageEnd, data.length) - pos;
      let tear = false;
      if (this.faults.tearAfterBytes !== null && this.faults.tearAfterBytes <= n) {
        n = this.faults.tearAfterBytes;
        tear = true;
      }
      if (this.pageWriteMs > 0) await sleep(this.pageWriteMs);
      if (!this.isPresent()) return null;
      this.memory.set(data.subarray(pos, pos + n), t.offset + pos);
      pos += n;
      if (this.faults.tearAfterBytes !== null) this.faults.tearAfterBytes -= n;
      if (tear) {
        this.faults.tearAfterBytes = null;
        this.onTear();
        return null;
      }
    }
    return sw(0x9000);
  }
}

function sw(word: number): Buffer {
  return Buffer.from([(word >> 8) & 0xff, word & 0xff]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
