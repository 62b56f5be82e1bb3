/**
 * The IC reader/writer at the card printer's contact station, as the terminal's `ChipEncoder`:
 * a `PcscChipEncoder` (pcsclite → pcscd) that
 * - waits for the card the printer has just moved to the station (pcscd polls its readers, so a
 *   card shows up a few hundred ms after it arrives), and checks it is the expected UID;
 * - reopens the reader after pcscd or the reader went away, and tells a reader that is gone
 *   (`UNAVAILABLE`: retry later, the card is not at fault) from a card that failed (`NO_CARD`,
 *   `WRITE_FAILED`, …: the card is spoiled).
 */
import type { ChipEncoder, OnProgress } from '../devices/types';
import { PcscChipEncoder, type ChipContent, type PcscChipEncoderOptions } from './pcsc-chip-encoder';
import { ChipError } from './status-words';

export interface StationChipOptions extends PcscChipEncoderOptions {
  /** How long to wait for a card to show up at the station (ms). */
  cardWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StationChipEncoder implements ChipEncoder {
  private enc: PcscChipEncoder | null = null;
  private opening: Promise<PcscChipEncoder> | null = null;
  private readonly cardWaitMs: number;
  /** The UID last read at the station: another one means another card (fresh selection needed). */
  private stationUid: string | null = null;
  /** Cards the reader has seen arrive (insert events, and a card present when the reader was opened). */
  private insertions = 0;

  constructor(private readonly o: StationChipOptions) {
    this.cardWaitMs = o.cardWaitMs ?? 5000;
  }

  /** Opens the reader (once; again after it was lost). */
  async encoder(): Promise<PcscChipEncoder> {
    if (this.enc) return this.enc;
    this.opening ??= PcscChipEncoder.open({ ...this.o, readerWaitMs: this.o.readerWaitMs ?? 3000 })
      .then((e) => {
        this.enc = e;
        e.session.on('readerError', () => void this.drop());
        e.on('cardInserted', () => this.insertions++);
        if (e.session.cardPresent) this.insertions++;
        return e;
      })
      .finally(() => {
        this.opening = null;
      });
    return this.opening;
  }

  get readerName(): string | null {
    return this.enc?.readerName ?? null;
  }

  /**
   * The UID of the card at the station, waiting up to `timeoutMs` for one to be there (and, with
   * `expected`, for that one: the previous card may still be leaving).
   */
  async uidAtStation(expected: string | null, timeoutMs = this.cardWaitMs): Promise<string> {
    return this.guard(async () => {
      const deadline = Date.now() + timeoutMs;
      let last: ChipError | null = null;
      for (;;) {
        const enc = await this.encoder();
        try {
          await enc.session.waitForCard(Math.max(1, deadline - Date.now()));
          const uid = await enc.readUid();
          if (this.stationUid !== null && uid !== this.stationUid) {
            // A card swapped faster than pcscd polls keeps the old handle and its cached selection.
            this.stationUid = null;
            await this.drop();
            continue;
          }
          this.stationUid = uid;
          if (!expected || uid === expected.toUpperCase()) return uid;
          last = new ChipError('WRONG_CARD', `expected card ${expected} at the contact station, found ${uid}`);
        } catch (err) {
          if (!(err instanceof ChipError) || !['NO_CARD', 'CARD_REMOVED', 'TRANSMIT_FAILED'].includes(err.reason)) throw err;
          last = err;
        }
        if (Date.now() >= deadline) throw last;
        await sleep(100);
      }
    });
  }

  /** A mark to wait for the next card's arrival from (before the printer moves a card to the station). */
  async insertionMark(): Promise<number | null> {
    try {
      await this.encoder();
      return this.insertions;
    } catch {
      return null; // the reader is gone: the wait after the feed will find out
    }
  }

  /**
   * Waits until the reader has seen a card arrive since `mark`: until then what pcscd reports may
   * still be the card that just left (it polls the slot), with that card's ATR and handle.
   */
  async waitForArrival(mark: number | null, timeoutMs = this.cardWaitMs): Promise<void> {
    if (mark === null) return;
    const deadline = Date.now() + timeoutMs;
    while (this.insertions <= mark && Date.now() < deadline) await sleep(25);
    if (this.insertions > mark) {
      // A new card: forget what was selected on the previous one.
      this.stationUid = null;
      if (this.enc) await this.enc.session.disconnect();
    }
  }

  async read(uid: string): Promise<Uint8Array> {
    return (await this.inspect(uid)).bytes;
  }

  async inspect(uid: string): Promise<ChipContent> {
    return this.guard(async () => {
      await this.uidAtStation(uid);
      return (await this.encoder()).inspect(uid);
    });
  }

  async write(uid: string, data: Uint8Array, onProgress: OnProgress): Promise<void> {
    return this.guard(async () => {
      await this.uidAtStation(uid);
      await (await this.encoder()).write(uid, data, onProgress);
    });
  }

  /** Writes part of the record EF (a value slot); see PcscChipEncoder.writeAt. */
  async writeAt(uid: string, offset: number, data: Uint8Array, onProgress: OnProgress): Promise<void> {
    return this.guard(async () => {
      await this.uidAtStation(uid);
      await (await this.encoder()).writeAt(uid, offset, data, onProgress);
    });
  }

  /**
   * Runs a reader operation; when it fails in a way a lost reader also causes, reopens the reader:
   * if that fails, the reader (or pcscd) is gone and the error says so (`UNAVAILABLE`).
   */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ChipError && err.reason === 'NO_READER') {
        await this.drop();
        throw err;
      }
      if (!(err instanceof ChipError) || !['NO_CARD', 'CARD_REMOVED', 'TRANSMIT_FAILED'].includes(err.reason)) throw err;
      await this.drop();
      try {
        await this.encoder();
      } catch (reopen) {
        if (reopen instanceof ChipError && reopen.reason === 'NO_READER') {
          throw new ChipError('NO_READER', `the IC reader is gone (${reopen.message}); it failed with: ${err.message}`);
        }
        throw reopen;
      }
      throw err;
    }
  }

  private async drop(): Promise<void> {
    const e = this.enc;
    this.stationUid = null;
    this.enc = null;
    await e?.close().catch(() => {});
  }

  async close(): Promise<void> {
    await this.drop();
  }
}
