/**
 * The host side of a ccTalk bus on a serial port: one request at a time, each frame built and
 * checked by domain/cctalk.ts, frames cut by serialport's CCTalkParser (it splits the byte stream
 * on the length byte and drops a partial frame after 50 ms of silence; it does not check the
 * checksum, which decodeFrame does). On a real two-wire ccTalk bus the host hears its own
 * message echoed before the reply: frames not addressed to the host are skipped, so the same
 * code works with and without the echo.
 *
 * Timeouts are retried for commands that are safe to repeat (reads, inhibits); a command that
 * moves money is sent with `retries: 0` and its fate is found out from the device's counters
 * instead (see cctalk-cash-unit.ts). BUSY is retried after a pause; NAK is an error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CCTalkParser, SerialPort } from 'serialport';
import { HEADER_NAMES, HOST_ADDRESS, Header, decodeFrame, encodeFrame, type Frame } from '../../domain/cctalk';

export type CcTalkErrorKind = 'TIMEOUT' | 'NAK' | 'BUSY' | 'PROTOCOL' | 'CLOSED';

export class CcTalkError extends Error {
  constructor(readonly kind: CcTalkErrorKind, readonly address: number, readonly header: number, message: string) {
    super(message);
    this.name = 'CcTalkError';
  }
}

export interface CcTalkBusOptions {
  path: string;
  /** ccTalk's default is 9600 baud */
  baudRate?: number;
  hostAddress?: number;
  /** per attempt */
  timeoutMs?: number;
  /** extra attempts after a timeout, for commands that are safe to repeat */
  retries?: number;
  busyRetryMs?: number;
  log?: (line: string) => void;
}

export interface RequestOptions {
  retries?: number;
  timeoutMs?: number;
}

interface Pending {
  dest: number;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class CcTalkBus {
  private port: SerialPort | null = null;
  private pending: Pending | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** a reply may still be on its way after a timeout: wait and drop it before the next request */
  private dirty = false;
  private readonly o: Required<CcTalkBusOptions>;

  constructor(options: CcTalkBusOptions) {
    this.o = { baudRate: 9600, hostAddress: HOST_ADDRESS, timeoutMs: 300, retries: 2, busyRetryMs: 100, log: () => {}, ...options };
  }

  static async open(options: CcTalkBusOptions): Promise<CcTalkBus> {
    const bus = new CcTalkBus(options);
    await bus.connect();
    return bus;
  }

  async connect(): Promise<void> {
    const port = new SerialPort({ path: this.o.path, baudRate: this.o.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(new CcTalkError('CLOSED', 0, 0, `cannot open the ccTalk port ${this.o.path}: ${err.message}`)) : resolve())),
    );
    port.pipe(new CCTalkParser(50)).on('data', (buf: Buffer) => this.onFrame(buf));
    port.on('error', (err) => this.o.log(`ccTalk port error: ${err.message}`));
    this.port = port;
    this.dirty = true; // a predecessor may have left a reply in the line
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private onFrame(buf: Buffer): void {
    let f: Frame;
    try {
      f = decodeFrame(buf);
    } catch (err) {
      this.o.log(`ccTalk: dropped a bad frame (${(err as Error).message})`);
      return;
    }
    if (f.dest !== this.o.hostAddress) return; // our own message echoed by the bus, or traffic between others
    const p = this.pending;
    if (!p || f.src !== p.dest) {
      this.o.log(`ccTalk: dropped a stale reply from address ${f.src}`);
      return;
    }
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve(f);
  }

  private once(dest: number, header: number, data: number[], timeoutMs: number): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const port = this.port;
      if (!port) return reject(new CcTalkError('CLOSED', dest, header, 'the ccTalk port is not open'));
      const timer = setTimeout(() => {
        this.pending = null;
        this.dirty = true;
        reject(new CcTalkError('TIMEOUT', dest, header, `no reply from ccTalk address ${dest} to ${HEADER_NAMES[header] ?? header} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = { dest, resolve, reject, timer };
      port.write(encodeFrame({ dest, src: this.o.hostAddress, header, data }));
    });
  }

  /** Sends a command and returns the reply's data; one request on the bus at a time. */
  request(dest: number, header: number, data: number[] = [], opts: RequestOptions = {}): Promise<Buffer> {
    const retries = opts.retries ?? this.o.retries;
    const timeoutMs = opts.timeoutMs ?? this.o.timeoutMs;
    const run = async (): Promise<Buffer> => {
      for (let attempt = 0; ; attempt++) {
        if (this.dirty) {
          await sleep(60); // longer than the parser's inter-byte gap: a late reply arrives and is dropped
          this.dirty = false;
        }
        let f: Frame;
        try {
          f = await this.once(dest, header, data, timeoutMs);
        } catch (err) {
          if (err instanceof CcTalkError && err.kind === 'TIMEOUT' && attempt < retries) continue;
          throw err;
        }
        if (f.header === Header.reply) return Buffer.from(f.data);
        if (f.header === Header.busy) {
          if (attempt < retries) {
            await sleep(this.o.busyRetryMs);
            continue;
          }
          throw new CcTalkError('BUSY', dest, header, `ccTalk address ${dest} is busy (${HEADER_NAMES[header] ?? header})`);
        }
        if (f.header === Header.nak) throw new CcTalkError('NAK', dest, header, `ccTalk address ${dest} refused ${HEADER_NAMES[header] ?? header} (NAK)`);
        throw new CcTalkError('PROTOCOL', dest, header, `ccTalk address ${dest} answered ${HEADER_NAMES[header] ?? header} with header ${f.header}`);
      }
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }
}
