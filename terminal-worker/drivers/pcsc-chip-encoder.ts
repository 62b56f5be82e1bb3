/**
 * `ChipEncoder` on a real PC/SC reader (pcsclite → pcscd): the IC reader/writer of a terminal.
 *
 * Card model: an ISO 7816-4 card with the "ICR1" application (AID F0 49 43 52 31 00 01) holding
 * one transparent EF (FID 0101) for the card record (domain/card-record.ts). A blank card's EF is
 * all zeros. Steps:
 *   connect → check the ATR (card type) → SELECT AID → SELECT EF (FCP gives the EF size)
 *   UID:   FF CA 00 00 00
 *   read:  READ BINARY the 9-byte header; a valid header says how long the record is; otherwise
 *          the whole EF is read and trailing zeros dropped (a blank card reads as 0 bytes)
 *   write: UPDATE BINARY in page-aligned chunks ≤ the reader's command size, read back, compare,
 *          decode; bounded retries; after the last one the error says `spoiled: true`.
 * Every failure is a `ChipError` (a `DeviceError` with a precise `reason` and status word).
 */
import { EventEmitter } from 'node:events';
import type { ChipEncoder, OnProgress } from '../devices/types';
import { decodeCardRecord, CardRecordError } from '../../domain/card-record';
import { MAX_SHORT_DATA, MAX_SHORT_LE, hex } from './apdu';
import { PcscSession, type ReaderChoice } from './pcsc-session';
import { ChipError, statusWordError } from './status-words';

export const ICR1_AID = Buffer.from('F0494352310001', 'hex');
export const RECORD_EF_FID = 0x0101;
const RECORD_MAGIC = Buffer.from('ICR1');
const RECORD_HEADER = 9;
const RECORD_TRAILER = 4;

/** Our cards' ATRs carry "ICR1" in their historical bytes; anything else is another card type. */
export function isIcr1Atr(atr: Buffer): boolean {
  return atr.includes(RECORD_MAGIC);
}

/** Who holds which card: the center's binding of UIDs to issuances (in memory by default). */
export interface UidBindings {
  boundTo(uid: string): Promise<string | undefined>;
  bind(uid: string, issuanceId: string): Promise<void>;
}

export class MemoryUidBindings implements UidBindings {
  private readonly map = new Map<string, string>();
  async boundTo(uid: string) {
    return this.map.get(uid);
  }
  async bind(uid: string, issuanceId: string) {
    this.map.set(uid, issuanceId);
  }
}

export interface PcscChipEncoderOptions extends ReaderChoice {
  acceptAtr?: (atr: Buffer) => boolean;
  /** Largest command data the reader takes (SCARD_ATTR_MAXINPUT minus the header); ≤ 255. */
  maxCommandData?: number;
  /** EEPROM page size the chunks are aligned to. */
  pageSize?: number;
  /** Write attempts before the card is spoiled (first try included). */
  writeAttempts?: number;
  uidBindings?: UidBindings;
}

export type ChipContent = { state: 'blank'; bytes: Buffer } | { state: 'record'; bytes: Buffer } | { state: 'torn'; bytes: Buffer; why: string } | { state: 'foreign'; bytes: Buffer };

/** Events (re-emitted from the reader): 'cardInserted' (atr), 'cardRemoved'. */
export class PcscChipEncoder extends EventEmitter implements ChipEncoder {
  private efSize: number | null = null;
  private readonly chunk: number;
  private readonly attempts: number;
  private readonly acceptAtr: (atr: Buffer) => boolean;
  readonly uidBindings: UidBindings;

  private constructor(
    readonly session: PcscSession,
    opts: PcscChipEncoderOptions,
  ) {
    super();
    const page = opts.pageSize ?? 32;
    const max = Math.min(opts.maxCommandData ?? MAX_SHORT_DATA, MAX_SHORT_DATA);
    this.chunk = max >= page ? max - (max % page) : max;
    this.attempts = opts.writeAttempts ?? 3;
    this.acceptAtr = opts.acceptAtr ?? isIcr1Atr;
    this.uidBindings = opts.uidBindings ?? new MemoryUidBindings();
    session.on('cardInserted', (atr: Buffer | null) => this.emit('cardInserted', atr));
    session.on('cardRemoved', () => {
      this.efSize = null;
      this.emit('cardRemoved');
    });
  }

  static async open(opts: PcscChipEncoderOptions): Promise<PcscChipEncoder> {
    return new PcscChipEncoder(await PcscSession.open(opts), opts);
  }

  get readerName(): string {
    return this.session.readerName;
  }
  get chunkSize(): number {
    return this.chunk;
  }

  /** Waits for a card, checks it is one of ours, and returns its UID. */
  async waitForCard(timeoutMs = 10000): Promise<string> {
    await this.session.waitForCard(timeoutMs);
    return this.readUid();
  }

  waitForRemoval(timeoutMs = 10000): Promise<void> {
    return this.session.waitForRemoval(timeoutMs);
  }

  /** The UID by the PC/SC pseudo-APDU GET DATA `FF CA 00 00 00`, uppercase hex. */
  async readUid(): Promise<string> {
    await this.openApplication();
    const res = await this.session.transmit({ cla: 0xff, ins: 0xca, p1: 0x00, p2: 0x00, le: 256 });
    if (res.sw !== 0x9000) throw statusWordError(res.sw, 'GET DATA (UID)');
    return hex(res.data);
  }

  /** Binds the card at the station to `issuanceId`; refuses one already bound to another issuance. */
  async bindCard(issuanceId: string): Promise<string> {
    const uid = await this.readUid();
    const holder = await this.uidBindings.boundTo(uid);
    if (holder && holder !== issuanceId) throw new ChipError('UID_BOUND_ELSEWHERE', `card ${uid} is already bound to issuance ${holder}; refusing it for ${issuanceId}`);
    await this.uidBindings.bind(uid, issuanceId);
    return uid;
  }

  async read(uid: string): Promise<Uint8Array> {
    return (await this.inspect(uid)).bytes;
  }

  /** What the card holds: blank, a good record, a torn record, or someone else's data. */
  async inspect(uid: string): Promise<ChipContent> {
    await this.cardAtStation(uid);
    const size = this.efSize!;
    const head = await this.readBinary(0, Math.min(RECORD_HEADER, size));
    if (head.subarray(0, 4).equals(RECORD_MAGIC) && head.length === RECORD_HEADER) {
      const total = RECORD_HEADER + head.readUInt32BE(5) + RECORD_TRAILER;
      if (total <= size) {
        const bytes = await this.readBinary(0, total);
        try {
          decodeCardRecord(bytes);
          return { state: 'record', bytes };
        } catch (err) {
          if (err instanceof CardRecordError) return { state: 'torn', bytes, why: err.message };
          throw err;
        }
      }
    }
    const all = await this.readBinary(0, size);
    let end = all.length;
    while (end > 0 && all[end - 1] === 0) end--;
    const bytes = all.subarray(0, end);
    return end === 0 ? { state: 'blank', bytes } : { state: 'foreign', bytes };
  }

  /** Refuses a card whose chip is not blank (NOT_BLANK). */
  async assertBlank(uid: string): Promise<void> {
    const c = await this.inspect(uid);
    if (c.state !== 'blank') throw new ChipError('NOT_BLANK', `card ${uid} is not blank: its chip holds ${c.state === 'foreign' ? 'foreign data' : `a ${c.state} card record`} (${c.bytes.length} bytes)`);
  }

  async write(uid: string, data: Uint8Array, onProgress: OnProgress): Promise<void> {
    await this.cardAtStation(uid);
    const want = Buffer.from(data);
    if (want.length > this.efSize!) throw new ChipError('CARD_MEMORY_TOO_SMALL', `record of ${want.length} bytes does not fit card ${uid}: its record file holds ${this.efSize} bytes`);
    let last: ChipError | null = null;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        await this.writeOnce(want, onProgress);
        await this.verify(want);
        onProgress(1);
        return;
      } catch (err) {
        if (!(err instanceof ChipError) || !retryable(err)) throw err;
        last = err;
      }
    }
    last!.spoiled = true;
    last!.message = `card ${uid} spoiled after ${this.attempts} write attempts: ${last!.message}`;
    throw last!;
  }

  /**
   * Writes `data` at `offset` of the record EF (one value slot, domain/value-slots.ts) in
   * page-aligned chunks and reads it back. No retries: a card pulled out mid-write keeps the pages
   * written, which the anti-tearing scheme tolerates; the caller reads the card again to decide.
   */
  async writeAt(uid: string, offset: number, data: Uint8Array, onProgress: OnProgress): Promise<void> {
    await this.cardAtStation(uid);
    const want = Buffer.from(data);
    if (offset < 0 || offset + want.length > this.efSize!) throw new ChipError('CARD_MEMORY_TOO_SMALL', `write of ${want.length} bytes at ${offset} is outside card ${uid}'s record file of ${this.efSize} bytes`);
    for (let done = 0; done < want.length; ) {
      const at = offset + done;
      // Up to the next chunk boundary, so each UPDATE BINARY stays within the pages it programs.
      const n = Math.min(want.length - done, this.chunk - (at % this.chunk));
      const res = await this.transmitInEf({ cla: 0x00, ins: 0xd6, p1: (at >> 8) & 0x7f, p2: at & 0xff, data: want.subarray(done, done + n) });
      if (res.sw !== 0x9000) throw statusWordError(res.sw, `UPDATE BINARY of ${n} bytes at offset ${at}`);
      done += n;
      onProgress((0.9 * done) / want.length);
    }
    const have = await this.readBinary(offset, want.length);
    if (!have.equals(want)) throw new ChipError('VERIFY_MISMATCH', `card ${uid} reads back other bytes than were written at offset ${offset}`);
    onProgress(1);
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  private async writeOnce(want: Buffer, onProgress: OnProgress): Promise<void> {
    for (let off = 0; off < want.length; off += this.chunk) {
      const part = want.subarray(off, off + this.chunk);
      const res = await this.transmitInEf({ cla: 0x00, ins: 0xd6, p1: (off >> 8) & 0x7f, p2: off & 0xff, data: part });
      if (res.sw !== 0x9000) throw statusWordError(res.sw, `UPDATE BINARY of ${part.length} bytes at offset ${off}`);
      onProgress((0.9 * (off + part.length)) / want.length);
    }
  }

  private async verify(want: Buffer): Promise<void> {
    const have = await this.readBinary(0, want.length);
    if (!have.equals(want)) {
      const at = have.findIndex((b, i) => b !== want[i]);
      throw new ChipError('VERIFY_MISMATCH', `read-back differs from what was written (first difference at byte ${at})`);
    }
    if (want.subarray(0, 4).equals(RECORD_MAGIC)) {
      try {
        decodeCardRecord(have);
      } catch (err) {
        throw new ChipError('VERIFY_MISMATCH', `the card record read back does not decode: ${(err as Error).message}`);
      }
    }
  }

  /** READ BINARY of [offset, offset+length) in chunks of at most 256 bytes. */
  private async readBinary(offset: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < length) {
      const at = offset + got;
      const le = Math.min(length - got, MAX_SHORT_LE);
      const res = await this.transmitInEf({ cla: 0x00, ins: 0xb0, p1: (at >> 8) & 0x7f, p2: at & 0xff, le });
      if (res.sw !== 0x9000 && res.sw !== 0x6282) throw statusWordError(res.sw, `READ BINARY of ${le} bytes at offset ${at}`);
      // A T=0 card answering 6Cxx may give more than asked; keep what was asked for.
      const data = res.data.subarray(0, Math.min(res.data.length, length - got));
      if (data.length === 0) break;
      parts.push(data);
      got += data.length;
      if (res.sw === 0x6282) break;
    }
    return Buffer.concat(parts);
  }

  /**
   * A command on the record EF. A card reset behind our back (another application sharing the
   * reader, a power cycle by pcscd) forgets its selection and answers 6986: select again, once.
   */
  private async transmitInEf(cmd: Parameters<PcscSession['transmit']>[0]): Promise<{ data: Buffer; sw: number }> {
    const res = await this.session.transmit(cmd);
    if (res.sw !== 0x6986) return res;
    this.efSize = null;
    await this.openApplication();
    return this.session.transmit(cmd);
  }

    /** Checks the card at the station is `uid`, and that its application is open. */
  private async cardAtStation(uid: string): Promise<void> {
    const atStation = await this.readUid();
    if (atStation !== uid.toUpperCase()) throw new ChipError('WRONG_CARD', `expected card ${uid} at the contact station, found ${atStation}`);
  }

  /** Connect, check the card type, SELECT the application and the record EF (once per insertion). */
  private async openApplication(): Promise<void> {
    if (this.efSize !== null && this.session.connected) return;
    await this.session.connect();
    const atr = this.session.cardAtr ?? Buffer.alloc(0);
    if (!this.acceptAtr(atr)) throw new ChipError('WRONG_CARD_TYPE', `the card in "${this.readerName}" is not an ICR1 card (ATR ${hex(atr)})`);
    const app = await this.session.transmit({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: ICR1_AID });
    if (app.sw !== 0x9000) throw new ChipError('WRONG_CARD_TYPE', `the card has no ICR1 application (SELECT ${hex(ICR1_AID)} → ${app.sw.toString(16).toUpperCase()})`, { sw: app.sw });
    const ef = await this.session.transmit({ cla: 0x00, ins: 0xa4, p1: 0x00, p2: 0x04, data: Buffer.from([RECORD_EF_FID >> 8, RECORD_EF_FID & 0xff]), le: 256 });
    if (ef.sw !== 0x9000) throw statusWordError(ef.sw, 'SELECT record EF 0101');
    this.efSize = fileSizeFromFcp(ef.data);
  }
}

/** Tag 80 (file size) of an FCP template (62 L …). */
export function fileSizeFromFcp(fcp: Buffer): number {
  if (fcp[0] !== 0x62) throw new ChipError('WRONG_CARD_TYPE', `SELECT EF returned no FCP template (${hex(fcp)})`);
  for (let i = 2; i + 1 < fcp.length; ) {
    const tag = fcp[i];
    const len = fcp[i + 1];
    if (tag === 0x80) return fcp.subarray(i + 2, i + 2 + len).reduce((n, b) => n * 256 + b, 0);
    i += 2 + len;
  }
  throw new ChipError('WRONG_CARD_TYPE', `FCP has no file size (${hex(fcp)})`);
}

function retryable(err: ChipError): boolean {
  return err.reason === 'MEMORY_FAILURE' || err.reason === 'VERIFY_MISMATCH' || err.reason === 'STATUS_WORD' || err.reason === 'TRANSMIT_FAILED';
}
