/**
 * The printer emulator: speaks the card printer protocol (domain/printer-protocol.ts) on one end
 * of a pseudo-terminal pair and moves cards in a PhysicalModel. Commands run one at a time, in
 * order; motions take time (feed, each panel band, eject). Every printed face (and every
 * half-printed one, band by band) is written to `<outDir>/<uid>.png`. Operator/customer actions
 * (take the card, jam, open the cover, …) come through `control()`; main.ts feeds it stdin lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelimiterParser } from 'serialport';
import { PNG } from 'pngjs';
import { Cmd, ESC, ERROR_MEANINGS, PANEL_HEIGHT, PANEL_WIDTH, errReply, formatStatus, okReply, parseCommand, type ErrorCode } from '../../../domain/printer-protocol';
import { PhysicalModel } from './physical-model';
import { openPtyDeviceEnd, type PtyDeviceEnd } from '../pty-device-end';

export interface EmulatorTimings {
  feedMs: number;
  bandMs: number;
  ejectMs: number;
}

class CommandError extends Error {
  constructor(readonly code: ErrorCode, message = ERROR_MEANINGS[code]) {
    super(message);
  }
}

export class PrinterEmulator {
  private port: PtyDeviceEnd | null = null;
  private queue: Promise<void> = Promise.resolve();
  private panel: PNG | null = null;
  private bezelTimer: NodeJS.Timeout | null = null;

  constructor(readonly model: PhysicalModel, readonly outDir: string, readonly t: EmulatorTimings, private readonly log: (line: string) => void = () => {}) {
    fs.mkdirSync(outDir, { recursive: true });
    // Whatever sequence was open when the emulator stopped was interrupted.
    model.change((s) => {
      if (s.card?.print === 'printing') s.card.interrupted = true;
    });
    this.armBezelTimer();
  }

  async open(ptyPath: string): Promise<void> {
    const port = openPtyDeviceEnd(ptyPath, (l) => this.log(l));
    const parser = port.input.pipe(new DelimiterParser({ delimiter: '\r' }));
    parser.on('data', (frame: Buffer) => {
      const text = frame.toString('latin1');
      const at = text.lastIndexOf(ESC); // bytes before the last ESC are a frame cut off by a dead host
      if (at < 0) return;
      this.queue = this.queue.then(() => this.handle(text.slice(at + 1)));
    });
    this.port = port;
  }

  async close(): Promise<void> {
    if (this.bezelTimer) clearTimeout(this.bezelTimer);
    await this.queue;
    const port = this.port;
    this.port = null;
    await port?.close();
  }

  private async handle(frame: string): Promise<void> {
    const { mnemonic, params } = parseCommand(frame);
    let reply: string;
    try {
      reply = okReply(await this.execute(mnemonic, params));
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      reply = errReply(err.code, err.message);
    }
    this.log(`${mnemonic}${params.length ? ';' + params.map((p) => (p.length > 24 ? `<${p.length} chars>` : p)).join(';') : ''} -> ${reply.trim()}`);
    this.port?.write(reply);
  }

  /** Jam and cover checks that every motion command makes first. */
  private motion(): void {
    const s = this.model.s;
    if (s.coverOpen) throw new CommandError('COVER_OPEN');
    if (s.jam) throw new CommandError('JAM');
    if (s.jamNext) {
      this.model.change((st) => {
        st.jamNext = false;
        st.jam = true;
      });
      throw new CommandError('JAM', 'the card jammed in the transport; open the cover and clear it');
    }
  }

  private card(what: string) {
    const c = this.model.s.card;
    if (!c) throw new CommandError('NO_CARD', `no card in the transport to ${what}`);
    return c;
  }

  private async execute(mnemonic: string, p: string[]): Promise<Array<string | number>> {
    const m = this.model;
    switch (mnemonic) {
      case Cmd.firmware:
        return ['ICC-EMU-1', '1.0'];
      case Cmd.sync:
        m.change((s) => {
          if (s.card?.print === 'printing') s.card.interrupted = true;
        });
        return [p[0] ?? ''];
      case Cmd.status:
        return formatStatus(m.status());
      case Cmd.dispensed:
        return [m.s.dispensed.map((d) => d.uid).join(',')];
      case Cmd.bezelDelay: {
        const ms = Number(p[0]);
        if (!Number.isInteger(ms) || ms < 0) throw new CommandError('BAD_PARAM', `bezel delay must be whole milliseconds, got "${p[0] ?? ''}"`);
        m.change((s) => (s.bezelDelayMs = ms));
        return [ms];
      }
      case Cmd.insertToContact: {
        this.motion();
        if (m.s.card) throw new CommandError('CARD_PRESENT', `a card (${m.s.card.uid}) is already in the transport`);
        if (m.s.stocker <= 0) throw new CommandError('FEEDER_EMPTY');
        await sleep(this.t.feedMs);
        return [m.newCard().uid];
      }
      case Cmd.insertStockToContact: {
        this.motion();
        if (m.s.card) throw new CommandError('CARD_PRESENT', `a card (${m.s.card.uid}) is already in the transport`);
        if (m.s.stockHopper.length === 0) throw new CommandError('FEEDER_EMPTY', 'the stock hopper is empty; load pre-personalised cards');
        await sleep(this.t.feedMs);
        return [m.newStockCard().uid];
      }
      case Cmd.sequenceStart: {
        this.motion();
        const c = this.card('print');
        if (c.print !== 'blank' || c.pos === 'BEZEL') throw new CommandError('NO_CARD', `card ${c.uid} is not a blank card in the transport (${c.print}, ${c.pos})`);
        if (m.s.ribbon <= 0) throw new CommandError('RIBBON_OUT');
        m.change((s) => {
          s.ribbon -= 1;
          Object.assign(s.card!, { pos: 'PRINT_HEAD', print: 'printing', bandsPrinted: 0, interrupted: false, face: `${c.uid}.png` });
        });
        this.panel = new PNG({ width: PANEL_WIDTH, height: PANEL_HEIGHT });
        this.panel.data.fill(255);
        return [];
      }
      case Cmd.downloadBand:
        return this.band(p);
      case Cmd.sequenceEnd: {
        const c = this.card('finish printing');
        if (c.print !== 'printing' || c.interrupted || c.bandsPrinted !== c.bands) throw new CommandError('NO_SEQUENCE', `no complete print sequence for card ${c.uid} (${c.bandsPrinted}/${c.bands} bands${c.interrupted ? ', interrupted' : ''})`);
        m.change((s) => (s.card!.print = 'printed'));
        this.panel = null;
        return [c.face ?? ''];
      }
      case Cmd.eject: {
        this.motion();
        const c = this.card('eject');
        if (c.pos === 'BEZEL') return [c.uid];
        await sleep(this.t.ejectMs);
        m.change((s) => {
          Object.assign(s.card!, { pos: 'BEZEL', presentedAt: Date.now() });
          s.lastPresented = { uid: c.uid, outcome: 'waiting' };
        });
        this.armBezelTimer();
        return [c.uid];
      }
      case Cmd.reject: {
        this.motion();
        const c = this.card('reject');
        if (m.faults().includes('REJECT_BIN_FULL')) throw new CommandError('REJECT_BIN_FULL');
        m.toRejectBin(p.join(' ') || 'rejected by host');
        return [c.uid];
      }
      default:
        throw new CommandError('UNKNOWN_COMMAND', `unknown command "${mnemonic}"`);
    }
  }

  /** `Db;k;<index>;<count>;<base64 PNG>`: prints one band of the front panel as it arrives. */
  private async band(p: string[]): Promise<Array<string | number>> {
    this.motion();
    const c = this.card('print');
    const [panelName, indexS, countS, data] = p;
    const index = Number(indexS);
    if (c.print !== 'printing' || c.interrupted || !this.panel) throw new CommandError('NO_SEQUENCE', `card ${c.uid} has no open print sequence`);
    if (panelName !== 'k' || Number(countS) !== c.bands || index !== c.bandsPrinted || !data) throw new CommandError('BAD_PARAM', `expected band ${c.bandsPrinted} of ${c.bands} for panel k, got ${panelName};${indexS};${countS}`);
    let band: PNG;
    try {
      band = PNG.sync.read(Buffer.from(data, 'base64'));
    } catch (err) {
      throw new CommandError('BAD_IMAGE', `band ${index} is not a PNG: ${(err as Error).message}`);
    }
    const top = Math.round((index * PANEL_HEIGHT) / c.bands);
    const rows = Math.round(((index + 1) * PANEL_HEIGHT) / c.bands) - top;
    if (band.width !== PANEL_WIDTH || band.height !== rows) throw new CommandError('BAD_IMAGE', `band ${index} must be ${PANEL_WIDTH}x${rows}, got ${band.width}x${band.height}`);
    if (this.model.s.ribbon < 0) throw new CommandError('RIBBON_OUT');
    await sleep(this.t.bandMs);
    band.data.copy(this.panel.data, top * PANEL_WIDTH * 4);
    this.writeFace(c.face!, this.panel);
    this.model.change((s) => (s.card!.bandsPrinted = index + 1));
    return [index + 1, c.bands];
  }

  private writeFace(name: string, png: PNG): void {
    const file = path.join(this.outDir, name);
    fs.writeFileSync(`${file}.tmp`, PNG.sync.write(png, { filterType: 1 }));
    fs.renameSync(`${file}.tmp`, file);
  }

  /** Bezel behaviour: a presented card not taken within the bezel delay is pulled back into the reject bin. */
  private armBezelTimer(): void {
    if (this.bezelTimer) clearTimeout(this.bezelTimer);
    const c = this.model.s.card;
    if (!c || c.pos !== 'BEZEL' || c.presentedAt === null) return;
    const left = Math.max(0, c.presentedAt + this.model.s.bezelDelayMs - Date.now());
    this.bezelTimer = setTimeout(() => {
      this.queue = this.queue.then(() => this.retract());
    }, left);
  }

  private retract(): void {
    const c = this.model.s.card;
    if (!c || c.pos !== 'BEZEL') return;
    if (this.model.faults().includes('REJECT_BIN_FULL')) {
      this.log(`card ${c.uid} not taken, but the reject bin is full: it stays in the bezel`);
      return;
    }
    this.model.toRejectBin(`not taken within ${this.model.s.bezelDelayMs} ms`);
    this.model.change((s) => (s.lastPresented = { uid: c.uid, outcome: 'retracted' }));
    this.log(`card ${c.uid} not taken: pulled back into the reject bin`);
  }

  /**
   * Operator and customer actions: `take`, `jam`, `jam-next`, `clear-jam`, `cover open|closed`,
   * `ribbon <n>`, `stocker <n>`, `bin-capacity <n>`, `empty-bin`, `stock-hopper <uid>,<uid>,…` (cards
   * added to the stock hopper; their chips are the contact station's business). Returns a one-line answer.
   */
  control(line: string): string {
    const [verb, arg] = line.trim().split(/\s+/);
    const n = Number(arg);
    const m = this.model;
    switch (verb) {
      case 'take':
        return m.take() ? 'taken' : 'no card in the bezel';
      case 'jam': m.change((s) => (s.jam = true)); break;
      case 'jam-next': m.change((s) => (s.jamNext = true)); break;
      case 'clear-jam': m.change((s) => { s.jam = false; s.jamNext = false; }); break;
      case 'cover': m.change((s) => (s.coverOpen = arg === 'open')); break;
      case 'ribbon': m.change((s) => (s.ribbon = n)); break;
      case 'stocker': m.change((s) => (s.stocker = n)); break;
      case 'bin-capacity': m.change((s) => (s.rejectBinCapacity = n)); break;
      case 'empty-bin': m.change((s) => (s.rejectBin = [])); break;
      case 'stock-hopper': {
        const uids = (arg ?? '').split(',').filter(Boolean);
        if (uids.length === 0 || !uids.every((u) => /^[0-9A-F]{2,20}$/.test(u))) return 'error stock-hopper takes upper-case hex chip UIDs separated by commas';
        m.change((s) => s.stockHopper.push(...uids));
        return `ok stock hopper ${m.s.stockHopper.length}`;
      }
      default:
        return `unknown control "${line.trim()}"`;
    }
    return `ok ${formatStatus(m.status()).join(' ')}`;
  }
}
