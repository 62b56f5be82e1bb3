/**
 * One PC/SC reader through `pcsclite` (→ pcscd): reader chosen by name or index, card
 * insert/remove events, connect, and APDU exchange with the T=0 rules applied
 * (`61xx` → GET RESPONSE, `6Cxx` → resend with Le = xx).
 */
import { EventEmitter } from 'node:events';
import pcsclite from 'pcsclite';
import { decodeResponse, encodeCommand, type CommandApdu, type ResponseApdu } from './apdu';
import { ChipError } from './status-words';

type PcscLite = ReturnType<typeof pcsclite>;
/** The reader object pcsclite hands out (its typings do not export the interface). */
interface CardReader extends EventEmitter {
  name: string;
  connected: boolean;
  SCARD_SHARE_SHARED: number;
  SCARD_PROTOCOL_T0: number;
  SCARD_PROTOCOL_T1: number;
  SCARD_STATE_PRESENT: number;
  SCARD_LEAVE_CARD: number;
  connect(options: { share_mode?: number; protocol?: number }, cb: (err: unknown, protocol: number) => void): void;
  disconnect(disposition: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: (err: unknown, response: Buffer) => void): void;
  close(): void;
}

export interface ReaderChoice {
  /** Exact reader name, or a zero-based index in the order pcscd lists its readers. */
  reader: string | number;
  /** How long to wait for pcscd to list the reader (ms). */
  readerWaitMs?: number;
}

/** Events: 'cardInserted' (atr: Buffer), 'cardRemoved' (). */
export class PcscSession extends EventEmitter {
  private atr: Buffer | null = null;
  private present = false;
  private protocol: number | null = null;

  private constructor(
    private readonly pcsc: PcscLite,
    private readonly reader: CardReader,
  ) {
    super();
  }

  get readerName(): string {
    return this.reader.name;
  }
  get cardPresent(): boolean {
    return this.present;
  }
  get cardAtr(): Buffer | null {
    return this.atr;
  }
  get connected(): boolean {
    return this.protocol !== null;
  }

  /** Lists the readers pcscd knows, in its order (waits `settleMs` for the list to arrive). */
  static async listReaders(settleMs = 800): Promise<string[]> {
    const pcsc = pcsclite();
    const names: string[] = [];
    pcsc.on('reader', (r: CardReader) => {
      names.push(r.name);
      r.close();
    });
    pcsc.on('error', () => {});
    await sleep(settleMs);
    pcsc.close();
    return names;
  }

  static async open(choice: ReaderChoice): Promise<PcscSession> {
    let pcsc: PcscLite;
    try {
      pcsc = pcsclite();
    } catch (err) {
      // SCardEstablishContext fails when pcscd is not running (or was stopped: the reader is gone).
      throw new ChipError('NO_READER', `pcscd is not available: ${(err as Error).message} (run scripts/ensure-pcscd.sh)`);
    }
    const seen: CardReader[] = [];
    // pcsclite reports each reader's state once at once and then only on change: record it early.
    const lastStatus = new Map<CardReader, { state: number; atr?: Buffer }>();
    const waitMs = choice.readerWaitMs ?? 3000;
    const reader = await new Promise<CardReader>((resolve, reject) => {
      let settle: NodeJS.Timeout | null = null;
      const fail = setTimeout(() => {
        pcsc.close();
        reject(new ChipError('NO_READER', `PC/SC reader ${JSON.stringify(choice.reader)} not found within ${waitMs} ms; pcscd lists: ${seen.map((r) => JSON.stringify(r.name)).join(', ') || 'no readers (is pcscd running? run scripts/ensure-pcscd.sh)'}`));
      }, waitMs);
      const pick = (): boolean => {
        const found = typeof choice.reader === 'number' ? seen[choice.reader] : seen.find((r) => r.name === choice.reader);
        if (!found || !lastStatus.has(found)) return false;
        clearTimeout(fail);
        if (settle) clearTimeout(settle);
        for (const r of seen) if (r !== found) r.close();
        resolve(found);
        return true;
      };
      // By index: the readers of one listing arrive together; pick once the burst is over.
      const pickWhenSettled = () => {
        if (settle) clearTimeout(settle);
        settle = setTimeout(function tryPick() {
          if (!pick()) settle = setTimeout(tryPick, 50);
        }, 150);
      };
      pcsc.on('error', (err: Error) => {
        clearTimeout(fail);
        reject(new ChipError('NO_READER', `pcscd is not available: ${err.message} (run scripts/ensure-pcscd.sh)`));
      });
      pcsc.on('reader', (r: CardReader) => {
        seen.push(r);
        r.on('error', () => {});
        r.on('status', (st: { state: number; atr?: Buffer }) => {
          lastStatus.set(r, st);
          if (typeof choice.reader === 'string') pick();
        });
        if (typeof choice.reader === 'string') pick();
        else pickWhenSettled();
      });
    });
    const session = new PcscSession(pcsc, reader);
    reader.removeAllListeners('status');
    session.watch(lastStatus.get(reader)!);
    return session;
  }

  /** Follows the reader's state from its first reported status on. */
  private watch(initial: { state: number; atr?: Buffer }): void {
    this.reader.on('error', (err: Error) => this.emit('readerError', err));
    const onStatus = (status: { state: number; atr?: Buffer }) => {
      const present = (status.state & this.reader.SCARD_STATE_PRESENT) !== 0;
      if (present && !this.present) {
        this.present = true;
        this.atr = status.atr ? Buffer.from(status.atr) : null;
        this.emit('cardInserted', this.atr);
      } else if (!present && this.present) {
        this.present = false;
        this.atr = null;
        void this.disconnect();
        this.emit('cardRemoved');
      } else if (present && status.atr) {
        this.atr = Buffer.from(status.atr);
      }
    };
    onStatus(initial);
    this.reader.on('status', onStatus);
  }

  /** Resolves when a card is in the reader (at once if it already is). */
  waitForCard(timeoutMs: number): Promise<Buffer> {
    if (this.present && this.atr) return Promise.resolve(this.atr);
    return this.waitFor('cardInserted', timeoutMs, 'no card was inserted').then(() => this.atr ?? Buffer.alloc(0));
  }

  waitForRemoval(timeoutMs: number): Promise<void> {
    if (!this.present) return Promise.resolve();
    return this.waitFor('cardRemoved', timeoutMs, 'the card was not removed').then(() => undefined);
  }

  private waitFor(event: string, timeoutMs: number, what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, onEvent);
        reject(new ChipError('NO_CARD', `${what} within ${timeoutMs} ms at reader "${this.reader.name}"`));
      }, timeoutMs);
      const onEvent = (v: unknown) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.once(event, onEvent);
    });
  }

  /** Connects to the card (shared, T=0 or T=1 as the card offers). */
  async connect(): Promise<number> {
    if (this.protocol !== null) return this.protocol;
    if (!this.present) throw new ChipError('NO_CARD', `no card in reader "${this.reader.name}"`);
    const r = this.reader;
    this.protocol = await new Promise<number>((resolve, reject) => {
      r.connect({ share_mode: r.SCARD_SHARE_SHARED, protocol: r.SCARD_PROTOCOL_T0 | r.SCARD_PROTOCOL_T1 }, (err, protocol) => {
        if (err) reject(new ChipError('NO_CARD', `cannot connect to the card in "${r.name}": ${(err as Error).message}`));
        else resolve(protocol);
      });
    });
    return this.protocol;
  }

  async disconnect(): Promise<void> {
    this.protocol = null;
    if (!this.reader.connected) return;
    await new Promise<void>((resolve) => this.reader.disconnect(this.reader.SCARD_LEAVE_CARD, () => resolve()));
  }

  /** One exchange as the card answers it (no T=0 handling). */
  async transmitRaw(cmd: CommandApdu): Promise<ResponseApdu> {
    const protocol = await this.connect();
    const bytes = encodeCommand(cmd);
    const raw = await new Promise<Buffer>((resolve, reject) => {
      this.reader.transmit(bytes, 258, protocol, (err, response) => {
        if (err) reject(err as Error);
        else resolve(response);
      });
    }).catch(async (err: Error) => {
      await this.disconnect();
      await sleep(50); // let the status thread report a removal that caused this
      const removed = !this.present || /0x80100069|0x80100068|removed|reset/i.test(err.message);
      throw new ChipError(removed ? 'CARD_REMOVED' : 'TRANSMIT_FAILED', `${removed ? 'the card was removed or reset during' : 'PC/SC transmit failed for'} APDU ${bytes.subarray(0, 4).toString('hex').toUpperCase()}: ${err.message}`);
    });
    if (raw.length < 2) {
      // vpcd answers an empty response when the card vanished mid-command; pcscd notices on its next poll.
      await this.disconnect();
      const removed = await this.waitForRemoval(1500).then(() => true, () => false);
      throw new ChipError(removed ? 'CARD_REMOVED' : 'TRANSMIT_FAILED', `${removed ? 'the card was removed during' : 'no status word from the card for'} APDU ${bytes.subarray(0, 4).toString('hex').toUpperCase()}`);
    }
    return decodeResponse(raw);
  }

  /** One command with the T=0 rules: 6Cxx → resend with Le=xx; 61xx → GET RESPONSE until done. */
  async transmit(cmd: CommandApdu): Promise<ResponseApdu> {
    let res = await this.transmitRaw(cmd);
    if (res.sw >> 8 === 0x6c) res = await this.transmitRaw({ ...cmd, le: res.sw & 0xff || 256 });
    const parts = [res.data];
    while (res.sw >> 8 === 0x61) {
      res = await this.transmitRaw({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le: res.sw & 0xff || 256 });
      parts.push(res.data);
    }
    return { data: Buffer.concat(parts), sw: res.sw };
  }

  async close(): Promise<void> {
    await this.disconnect().catch(() => {});
    this.reader.close();
    this.pcsc.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
