/**
 * ISO 8583 over TCP: every message is a 2-byte big-endian length then the packed message.
 * `FrameDecoder` turns arbitrary TCP chunks (split anywhere, or several messages coalesced) into
 * whole messages. `Iso8583Client` keeps one connection to one payment host and correlates answers
 * by STAN (field 11) and the expected response MTI.
 *
 * Errors after a request was written tell the caller the outcome is unknown (reverse it):
 * `Iso8583NoAnswerError` — the deadline passed with the connection up (host slow or silent);
 * `Iso8583ConnectionError` — the connection closed or failed before the answer.
 * An answer that arrives after its deadline is emitted as 'late-response' (a late approval must
 * still be reversed). A dropped connection is re-opened by the next request.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { pack, responseMtiFor, unpack, type FieldTable, type Iso8583Fields, type Iso8583Message } from '../domain/iso8583';

export const MAX_FRAME_BYTES = 0xffff;

export function frame(payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_BYTES) throw new Error(`ISO 8583 message of ${payload.length} bytes exceeds the 2-byte length frame (${MAX_FRAME_BYTES})`);
  const header = Buffer.alloc(2);
  header.writeUInt16BE(payload.length);
  return Buffer.concat([header, payload]);
}

export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds one TCP chunk; returns every message now complete, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.pending.length >= 2) {
      const len = this.pending.readUInt16BE(0);
      if (this.pending.length < 2 + len) break;
      out.push(Buffer.from(this.pending.subarray(2, 2 + len)));
      this.pending = this.pending.subarray(2 + len);
    }
    return out;
  }

  /** Bytes received but not yet a whole message. */
  get bufferedBytes(): number {
    return this.pending.length;
  }
}

export class Iso8583NoAnswerError extends Error {
  readonly outcomeUnknown = true;
  constructor(readonly mti: string, readonly stan: string, readonly timeoutMs: number) {
    super(`no answer from the payment host within ${timeoutMs} ms to ${mti} STAN ${stan} (connection still open); outcome unknown — reverse it`);
    this.name = 'Iso8583NoAnswerError';
  }
}

export class Iso8583ConnectionError extends Error {
  readonly outcomeUnknown: boolean;
  constructor(message: string, sent: boolean) {
    super(sent ? `${message}; the request was sent, outcome unknown — reverse it` : `${message}; the request was not sent`);
    this.name = 'Iso8583ConnectionError';
    this.outcomeUnknown = sent;
  }
}

export interface Iso8583ClientOptions {
  host: string;
  port: number;
  table: FieldTable;
  /** Per-request deadline unless the request gives its own. Default 30 s. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

interface Pending {
  mti: string;
  stan: string;
  responseMti: string;
  resolve(m: Iso8583Message): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class Iso8583Client extends EventEmitter {
  private socket?: net.Socket;
  private connecting?: Promise<net.Socket>;
  private readonly pending = new Map<string, Pending>();
  private readonly expired = new Set<string>();
  private closed = false;

  constructor(private readonly options: Iso8583ClientOptions) {
    super();
  }

  get connected(): boolean {
    return Boolean(this.socket && !this.socket.destroyed);
  }

  /** Opens the connection (requests also open it on demand). */
  async connect(): Promise<void> {
    await this.ensureSocket();
  }

  /**
   * Sends one request and waits for its answer (same STAN, response MTI). Field 11 is required.
   * Repeating a request after it completed is allowed (the host's duplicate detection answers it);
   * sending the same STAN while it is still in flight is refused.
   */
  async request(mti: string, fields: Iso8583Fields, opts: { timeoutMs?: number } = {}): Promise<Iso8583Message> {
    const stan = fields[11];
    if (!stan) throw new Error(`ISO 8583 ${mti} needs a STAN (field 11) to be correlated`);
    const responseMti = responseMtiFor(mti);
    const key = `${responseMti}|${stan}`;
    if (this.pending.has(key)) throw new Error(`a ${mti} with STAN ${stan} is already waiting for its answer`);
    const bytes = frame(pack(mti, fields, this.options.table));
    const socket = await this.ensureSocket();
    const timeoutMs = opts.timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
    return new Promise<Iso8583Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        this.expired.add(key);
        if (this.expired.size > 1_000) this.expired.delete(this.expired.values().next().value as string);
        reject(new Iso8583NoAnswerError(mti, stan, timeoutMs));
      }, timeoutMs);
      this.pending.set(key, { mti, stan, responseMti, resolve, reject, timer });
      this.expired.delete(key);
      socket.write(bytes);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    this.failAll('connection closed by the client');
    if (socket && !socket.destroyed) await new Promise<void>((resolve) => socket.end(resolve));
    socket?.destroy();
  }

  private ensureSocket(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(new Iso8583ConnectionError('client is closed', false));
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    const { host, port, connectTimeoutMs = 5_000 } = this.options;
    this.connecting = new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const decoder = new FrameDecoder();
      const timer = setTimeout(() => socket.destroy(new Error(`connect timed out after ${connectTimeoutMs} ms`)), connectTimeoutMs);
      socket.setNoDelay(true);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.socket = socket;
        this.connecting = undefined;
        resolve(socket);
      });
      socket.on('data', (chunk) => {
        for (const payload of decoder.push(chunk)) this.onMessage(payload);
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        if (this.connecting && this.socket !== socket) {
          this.connecting = undefined;
          reject(new Iso8583ConnectionError(`cannot connect to payment host ${host}:${port}: ${err.message}`, false));
        }
      });
      socket.on('close', () => {
        clearTimeout(timer);
        if (this.socket === socket) {
          this.socket = undefined;
          this.failAll(`connection to payment host ${host}:${port} dropped before the answer`);
        }
      });
    });
    return this.connecting;
  }

  private onMessage(payload: Buffer): void {
    let message: Iso8583Message;
    try {
      message = unpack(payload, this.options.table);
    } catch (err) {
      this.emit('malformed', err);
      return;
    }
    const key = `${message.mti}|${message.fields[11] ?? ''}`;
    const waiting = this.pending.get(key);
    if (!waiting) {
      this.emit(this.expired.delete(key) ? 'late-response' : 'unmatched', message);
      return;
    }
    clearTimeout(waiting.timer);
    this.pending.delete(key);
    waiting.resolve(message);
  }

  private failAll(reason: string): void {
    for (const [key, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(key);
      p.reject(new Iso8583ConnectionError(`${reason} (${p.mti} STAN ${p.stan})`, true));
    }
  }
}
