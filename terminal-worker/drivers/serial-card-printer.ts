/**
 * CardPath over a serial line: drives a card printer that speaks domain/printer-protocol.ts
 * (Evolis-style `ESC cmd;params CR`). One command at a time; replies framed on CR by serialport's
 * DelimiterParser. On open it syncs (`Rsy;<nonce>`, skipping stale replies a dead predecessor left
 * in the line, which also marks a print sequence that predecessor left open as interrupted) and
 * sets the bezel delay. The face is rendered here and downloaded as 8 PNG bands (`Db`), each
 * printed as it arrives, so a host that dies mid-print leaves a half-printed card at the print head
 * (`status()` says printState 'printing', `printerStatus()` says interrupted).
 * Printer error replies become PrinterFaultError, a DeviceError with the printer's own code.
 * The chip UID: a real printer does not know it (the chip reader at the contact station reads it);
 * the emulator's cards carry one, returned by `Sis` and `Rst`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { DelimiterParser, SerialPort } from 'serialport';
import { Cmd, ERROR_MEANINGS, PANEL_BANDS, encodeCommand, parseReply, parseStatus, type ErrorCode, type PrinterStatus } from '../../domain/printer-protocol';
import { DeviceError, type CardFace, type CardPath, type CardPathStatus, type OnProgress } from '../devices/types';
import { panelBands, renderFacePixels } from './face-renderer';

export type PrinterErrorCode = ErrorCode | 'NOT_TAKEN' | 'TIMEOUT' | 'PROTOCOL';

/** DeviceError's code set is the activities' vocabulary; the printer's own code is `printerCode`. */
function baseCode(code: PrinterErrorCode): DeviceError['code'] {
  if (code === 'FEEDER_EMPTY') return 'STOCKER_EMPTY';
  if (code === 'NOT_TAKEN') return 'NOT_TAKEN';
  if (code === 'NO_CARD') return 'NO_CARD';
  if (code === 'TIMEOUT' || code === 'PROTOCOL') return 'UNAVAILABLE';
  return 'JAM'; // the printer is out of service until someone fixes it (JAM, COVER_OPEN, RIBBON_OUT, …)
}

export class PrinterFaultError extends DeviceError {
  constructor(readonly printerCode: PrinterErrorCode, message: string) {
    super(baseCode(printerCode), message);
    this.name = 'PrinterFaultError';
  }
}

export interface SerialCardPrinterOptions {
  path: string;
  baudRate?: number;
  commandTimeoutMs?: number;
  /** How long a presented card waits in the bezel before the printer pulls it back to the reject bin. */
  bezelDelayMs?: number;
  pollMs?: number;
  /** Fetches the issuer's image (PNG bytes) for a face; default: data: URLs, files and http(s). */
  loadImage?: (url: string) => Promise<Uint8Array | null>;
}

interface Pending {
  accept: (line: string) => boolean;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

async function defaultLoadImage(url: string): Promise<Uint8Array | null> {
  if (url.startsWith('data:')) return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
  if (/^https?:/.test(url)) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
  }
  return fs.existsSync(url) ? fs.readFileSync(url) : null;
}

export class SerialCardPrinter implements CardPath {
  private port: SerialPort | null = null;
  private pending: Pending | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** A command went unanswered: the line is reopened and resynchronised before the next one. */
  private stale = false;
  private reopening: Promise<void> | null = null;
  private readonly o: Required<SerialCardPrinterOptions>;

  constructor(options: SerialCardPrinterOptions) {
    this.o = { baudRate: 115200, commandTimeoutMs: 10000, bezelDelayMs: 30000, pollMs: 150, loadImage: defaultLoadImage, ...options };
  }

  static async open(options: SerialCardPrinterOptions): Promise<SerialCardPrinter> {
    const p = new SerialCardPrinter(options);
    await p.connect();
    return p;
  }

  async connect(): Promise<void> {
    const port = new SerialPort({ path: this.o.path, baudRate: this.o.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(new PrinterFaultError('PROTOCOL', `cannot open the card printer port ${this.o.path}: ${err.message}`)) : resolve())));
    port.pipe(new DelimiterParser({ delimiter: '\r' })).on('data', (line: Buffer) => {
      const p = this.pending;
      if (p && p.accept(line.toString('latin1'))) {
        this.pending = null;
        clearTimeout(p.timer);
        p.resolve(line.toString('latin1'));
      }
    });
    port.on('error', (err) => this.pending?.reject(err));
    this.port = port;
    const nonce = randomBytes(4).toString('hex');
    await this.raw(encodeCommand(Cmd.sync, [nonce]), (l) => l === `OK;${nonce}`);
    await this.exchange(Cmd.bezelDelay, [this.o.bezelDelayMs]);
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Sends one frame and waits for the first reply line that `accept` takes; one at a time. */
  private raw(frame: string, accept: (line: string) => boolean = () => true): Promise<string> {
    const run = () => new Promise<string>((resolve, reject) => {
      if (!this.port) return reject(new PrinterFaultError('PROTOCOL', 'the card printer port is not open'));
      const timer = setTimeout(() => {
        this.pending = null;
        this.stale = true;
        reject(new PrinterFaultError('TIMEOUT', `the card printer did not answer ${JSON.stringify(frame.slice(1, 24))} within ${this.o.commandTimeoutMs} ms`));
      }, this.o.commandTimeoutMs);
      this.pending = { accept, resolve, reject, timer };
      this.port.write(frame);
    });
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /**
   * After a command timed out, its answer may still come, and would be taken for the next
   * command's: so the port is closed and opened again (a fresh read path too) and resynchronised
   * with a nonce (`Rsy`), which skips any late answer, before anything else is sent.
   */
  private reopen(): Promise<void> {
    this.reopening ??= (async () => {
      this.stale = false;
      try {
        await this.close();
        await this.connect();
      } catch (err) {
        this.stale = true;
        throw err;
      } finally {
        this.reopening = null;
      }
    })();
    return this.reopening;
  }

  /** Sends a command (on a fresh line after a timeout); an `ERR` reply throws a PrinterFaultError with a clear message. */
  private async command(mnemonic: string, params: Array<string | number> = []): Promise<string[]> {
    if (this.stale || this.reopening) await this.reopen();
    return this.exchange(mnemonic, params);
  }

  private async exchange(mnemonic: string, params: Array<string | number>): Promise<string[]> {
    const reply = parseReply(await this.raw(encodeCommand(mnemonic, params)));
    if (reply.ok) return reply.fields;
    const meaning = ERROR_MEANINGS[reply.code] ?? 'unknown printer error';
    throw new PrinterFaultError(reply.code, `card printer refused ${mnemonic}: ${reply.code} — ${reply.message || meaning}`);
  }

  async printerStatus(): Promise<PrinterStatus> {
    return parseStatus(await this.command(Cmd.status));
  }

  async status(): Promise<CardPathStatus> {
    const s = await this.printerStatus();
    return { transport: s.card && { uid: s.card.uid, printState: s.card.print }, stockerCount: s.stocker, rejectBinCount: s.rejectBin, lastPresented: s.lastPresented };
  }

  async feed(): Promise<string> {
    const [uid] = await this.command(Cmd.insertToContact);
    if (!uid) throw new PrinterFaultError('PROTOCOL', 'the card printer fed a card but reported no UID');
    return uid;
  }

  /** A card from the stock hopper of pre-personalised cards (`Sih`) to the contact station. */
  async feedStock(): Promise<string> {
    const [uid] = await this.command(Cmd.insertStockToContact).catch((err: unknown) => {
      // A printer without the second hopper: no stock cards here, as final as an empty hopper.
      if (err instanceof PrinterFaultError && err.printerCode === 'UNKNOWN_COMMAND') throw new PrinterFaultError('FEEDER_EMPTY', 'this card printer has no stock hopper of pre-loaded cards');
      throw err;
    });
    if (!uid) throw new PrinterFaultError('PROTOCOL', 'the card printer fed a stock card but reported no UID');
    return uid;
  }

  async print(face: CardFace, onProgress: OnProgress): Promise<void> {
    const image = face.imageUrl ? await this.o.loadImage(face.imageUrl).catch(() => null) : null;
    const bands = panelBands(renderFacePixels(face, { image, photo: face.holderPhotoPng ? Buffer.from(face.holderPhotoPng, 'base64') : null }), PANEL_BANDS);
    await this.command(Cmd.sequenceStart);
    for (let i = 0; i < bands.length; i++) {
      await this.command(Cmd.downloadBand, ['k', i, bands.length, bands[i]!.toString('base64')]);
      onProgress((i + 1) / bands.length);
    }
    await this.command(Cmd.sequenceEnd);
  }

  async present(onProgress: OnProgress): Promise<void> {
    const [uid] = await this.command(Cmd.eject);
    const started = Date.now();
    const deadline = started + this.o.bezelDelayMs + 10000;
    for (;;) {
      const s = await this.printerStatus();
      const out = s.lastPresented?.uid === uid ? s.lastPresented.outcome : 'waiting';
      if (out === 'taken') return onProgress(1);
      if (out === 'retracted') throw new PrinterFaultError('NOT_TAKEN', `card ${uid} was not taken within ${this.o.bezelDelayMs} ms and was pulled back into the reject bin`);
      if (Date.now() > deadline) {
        const why = s.faults.length ? s.faults.join(', ') : 'no outcome';
        throw new PrinterFaultError(s.faults.includes('REJECT_BIN_FULL') ? 'REJECT_BIN_FULL' : 'TIMEOUT', `card ${uid} is still in the bezel after ${Date.now() - started} ms (${why})`);
      }
      onProgress(Math.min(0.99, (Date.now() - started) / this.o.bezelDelayMs));
      await new Promise((r) => setTimeout(r, this.o.pollMs));
    }
  }

  async reject(reason: string): Promise<void> {
    try {
      await this.command(Cmd.reject, [reason.replace(/[\x1b\r;]/g, ' ').slice(0, 200)]);
    } catch (err) {
      if (err instanceof PrinterFaultError && err.printerCode === 'NO_CARD') return; // nothing to reject
      throw err;
    }
  }

  async dispensedUids(): Promise<string[]> {
    const [list] = await this.command(Cmd.dispensed);
    return list ? list.split(',') : [];
  }
}
