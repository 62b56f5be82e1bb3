/**
 * The card side of Debian's `vsmartcard-vpcd` reader driver (running inside pcscd).
 *
 * vpcd listens on TCP (reader 0 on 35963, reader 1 on 35964). A card "is inserted" while a client
 * is connected. Every message in both directions is a 2-byte big-endian length and a payload.
 * A 1-byte payload from vpcd is a control: 0 power off, 1 power on, 2 reset, 4 ATR request (we
 * answer with the framed ATR). A longer payload is a command APDU; we answer with the framed
 * response APDU. Closing the socket is pulling the card out.
 */
import net from 'node:net';

export interface VpcdCard {
  atr(): Uint8Array;
  powerOff(): void;
  powerOn(): void;
  reset(): void;
  /** Returns the response APDU, or null to stay silent (the card was torn away mid-command). */
  apdu(command: Uint8Array): Promise<Uint8Array | null>;
}

export const VPCD_POWER_OFF = 0;
export const VPCD_POWER_ON = 1;
export const VPCD_RESET = 2;
export const VPCD_GET_ATR = 4;

export class VpcdLink {
  private socket: net.Socket | null = null;
  private buffer = Buffer.alloc(0);
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly card: VpcdCard,
    private readonly host: string,
    private readonly port: number,
    private readonly log: (line: string) => void = () => {},
  ) {}

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Inserts the card: connects to vpcd. Resolves once connected. */
  insert(): Promise<void> {
    if (this.socket) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      s.once('connect', () => {
        this.socket = s;
        this.buffer = Buffer.alloc(0);
        this.log(`inserted into vpcd ${this.host}:${this.port}`);
        resolve();
      });
      s.once('error', (err) => {
        if (!this.socket) reject(new Error(`cannot reach vpcd at ${this.host}:${this.port} (is pcscd running?): ${err.message}`));
      });
      s.on('data', (chunk) => this.onData(chunk));
      s.on('close', () => {
        if (this.socket === s) {
          this.socket = null;
          this.log('removed (socket closed)');
        }
      });
    });
  }

  /** Pulls the card out: closes the socket at once (a command in flight gets no answer). */
  remove(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.destroy();
      this.log('removed');
    }
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 2) {
      const len = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + len) return;
      const payload = Buffer.from(this.buffer.subarray(2, 2 + len));
      this.buffer = this.buffer.subarray(2 + len);
      const socket = this.socket;
      // Commands are handled one at a time, in order (a write may take a while).
      this.queue = this.queue.then(() => this.handle(socket, payload)).catch((err) => this.log(`error: ${(err as Error).message}`));
    }
  }

  private async handle(socket: net.Socket | null, payload: Buffer): Promise<void> {
    if (!socket || socket !== this.socket) return;
    if (payload.length === 1) {
      switch (payload[0]) {
        case VPCD_POWER_OFF: return this.card.powerOff();
        case VPCD_POWER_ON: return this.card.powerOn();
        case VPCD_RESET: return this.card.reset();
        case VPCD_GET_ATR: return this.send(socket, this.card.atr());
        default: this.log(`unknown vpcd control ${payload[0]}`);
      }
      return;
    }
    const response = await this.card.apdu(payload);
    if (response && socket === this.socket) this.send(socket, response);
  }

  private send(socket: net.Socket, payload: Uint8Array): void {
    const head = Buffer.alloc(2);
    head.writeUInt16BE(payload.length, 0);
    socket.write(Buffer.concat([head, Buffer.from(payload)]));
  }
}
