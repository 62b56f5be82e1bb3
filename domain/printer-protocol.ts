/**
 * The card printer's command language, shared by the serial driver and the printer emulator.
 * Modelled on Evolis's raw commands: a command is `ESC <mnemonic>[;param]… CR`; every command is
 * answered by one line `OK[;field]…` or `ERR;<code>;<message>` ending in CR. Parameters and
 * replies never contain ESC, CR or `;` (bitmaps travel base64-encoded). Pure: no I/O.
 * See docs/card-printer-protocol.md.
 */

export const ESC = '\x1b';
export const CR = '\r';

/** Command mnemonics (ours, in Evolis's family-letter style: R read, S sequence, P parameter, D download). */
export const Cmd = {
  /** Firmware identity. Reply `OK;<model>;<version>`. */
  firmware: 'Rfv',
  /** Full status. Reply `OK;key=value;…` (see PrinterStatus). */
  status: 'Rst',
  /** Session sync: `Rsy;<nonce>`, reply `OK;<nonce>`. A host sends it on connecting and skips
   * replies until its nonce comes back; it also marks a print sequence left open as interrupted. */
  sync: 'Rsy',
  /** UIDs of cards the customer took. Reply `OK;<uid>,<uid>,…`. */
  dispensed: 'Rdu',
  /** Insert a card from the feeder and stop it under the contact station. Reply `OK;<uid>`. */
  insertToContact: 'Sis',
  /**
   * Insert a card from the second input hopper, of pre-personalised cards (pre-loaded prepaid stock,
   * docs/prepaid.md), and stop it under the contact station. Reply `OK;<uid>`; `ERR;FEEDER_EMPTY`
   * when that hopper is empty; a printer without one answers `ERR;UNKNOWN_COMMAND`.
   */
  insertStockToContact: 'Sih',
  /** Start a print sequence: the card moves to the print head. */
  sequenceStart: 'Ss',
  /** Download one band of the front panel: `Db;k;<index>;<count>;<base64 PNG>`; printed as it arrives. */
  downloadBand: 'Db',
  /** End the print sequence: the card is printed and waits at the print head exit. */
  sequenceEnd: 'Se',
  /** Eject to the customer (bezel); pulled back to the reject bin if not taken in time. */
  eject: 'Ser',
  /** Move the card to the reject bin: `Srj;<reason>`. */
  reject: 'Srj',
  /** Bezel delay: `Pbd;<ms>`, how long a presented card waits before it is pulled back. */
  bezelDelay: 'Pbd',
} as const;

/** Error codes in `ERR;<code>;<message>` replies. The first five are the printer's fault states. */
export const FAULT_CODES = ['RIBBON_OUT', 'FEEDER_EMPTY', 'JAM', 'COVER_OPEN', 'REJECT_BIN_FULL'] as const;
export type FaultCode = (typeof FAULT_CODES)[number];
export const ERROR_CODES = [...FAULT_CODES, 'NO_CARD', 'CARD_PRESENT', 'NO_SEQUENCE', 'BAD_IMAGE', 'BAD_PARAM', 'UNKNOWN_COMMAND'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Where a card in the machine is. */
export type CardPosition = 'CONTACT' | 'PRINT_HEAD' | 'BEZEL';
export type CardPrint = 'blank' | 'printing' | 'printed';

/** Panel geometry: 1016 × 648 dots at 300 dpi (CR80 card, landscape). */
export const PANEL_WIDTH = 1016;
export const PANEL_HEIGHT = 648;
export const PANEL_BANDS = 8;

export interface PrinterStatus {
  /** READY when no fault is raised, else FAULT. */
  state: 'READY' | 'FAULT';
  faults: FaultCode[];
  card: { uid: string; pos: CardPosition; print: CardPrint; bandsPrinted: number; bands: number; interrupted: boolean } | null;
  stocker: number;
  rejectBin: number;
  rejectBinCapacity: number;
  ribbon: number;
  dispensedCount: number;
  /** The last card presented in the bezel and what became of it. */
  lastPresented: { uid: string; outcome: 'waiting' | 'taken' | 'retracted' } | null;
}

export function encodeCommand(mnemonic: string, params: Array<string | number> = []): string {
  for (const p of params) {
    const s = String(p);
    if (/[\x1b\r;]/.test(s)) throw new Error(`protocol parameter must not contain ESC, CR or ';': ${JSON.stringify(s)}`);
  }
  return ESC + [mnemonic, ...params.map(String)].join(';') + CR;
}

/** Parses a command frame without its CR (the ESC may be present or already stripped). */
export function parseCommand(frame: string): { mnemonic: string; params: string[] } {
  const body = frame.startsWith(ESC) ? frame.slice(1) : frame;
  const [mnemonic, ...params] = body.split(';');
  return { mnemonic: mnemonic ?? '', params };
}

export const okReply = (fields: Array<string | number> = []): string => ['OK', ...fields.map(String)].join(';') + CR;
export const errReply = (code: ErrorCode, message: string): string => `ERR;${code};${message.replace(/[\x1b\r;]/g, ' ')}` + CR;

export type Reply = { ok: true; fields: string[] } | { ok: false; code: ErrorCode; message: string };

export function parseReply(line: string): Reply {
  const parts = line.replace(/\r$/, '').split(';');
  if (parts[0] === 'OK') return { ok: true, fields: parts.slice(1) };
  if (parts[0] === 'ERR' && parts.length >= 2) return { ok: false, code: parts[1] as ErrorCode, message: parts.slice(2).join(';') };
  throw new Error(`malformed printer reply: ${JSON.stringify(line)}`);
}

export function formatStatus(s: PrinterStatus): string[] {
  const c = s.card;
  return [
    `state=${s.state}`,
    `faults=${s.faults.join(',')}`,
    `uid=${c?.uid ?? ''}`,
    `pos=${c?.pos ?? ''}`,
    `print=${c?.print ?? ''}`,
    `bands=${c ? `${c.bandsPrinted}/${c.bands}` : ''}`,
    `job=${c?.print === 'printing' ? (c.interrupted ? 'interrupted' : 'open') : ''}`,
    `stocker=${s.stocker}`,
    `bin=${s.rejectBin}/${s.rejectBinCapacity}`,
    `ribbon=${s.ribbon}`,
    `dispensed=${s.dispensedCount}`,
    `out=${s.lastPresented ? `${s.lastPresented.uid}:${s.lastPresented.outcome}` : ''}`,
  ];
}

export function parseStatus(fields: string[]): PrinterStatus {
  const kv = new Map(fields.map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as const));
  const get = (k: string) => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`printer status lacks "${k}"`);
    return v;
  };
  const [printed, bands] = (kv.get('bands') || '0/0').split('/').map(Number);
  const [bin, binCap] = get('bin').split('/').map(Number);
  const out = get('out');
  return {
    state: get('state') as PrinterStatus['state'],
    faults: get('faults') ? (get('faults').split(',') as FaultCode[]) : [],
    card: get('uid') ? { uid: get('uid'), pos: get('pos') as CardPosition, print: get('print') as CardPrint, bandsPrinted: printed, bands, interrupted: kv.get('job') === 'interrupted' } : null,
    stocker: Number(get('stocker')),
    rejectBin: bin,
    rejectBinCapacity: binCap,
    ribbon: Number(get('ribbon')),
    dispensedCount: Number(get('dispensed')),
    lastPresented: out ? { uid: out.slice(0, out.lastIndexOf(':')), outcome: out.slice(out.lastIndexOf(':') + 1) as 'waiting' | 'taken' | 'retracted' } : null,
  };
}

/** Human-readable meaning of each error code, used in driver error messages and the docs. */
export const ERROR_MEANINGS: Record<ErrorCode, string> = {
  RIBBON_OUT: 'the print ribbon is used up; replace the ribbon',
  FEEDER_EMPTY: 'the card feeder (stocker) is empty; load blank cards',
  JAM: 'a card is jammed in the transport; open the cover and clear it',
  COVER_OPEN: 'the printer cover is open; close it',
  REJECT_BIN_FULL: 'the reject bin is full; empty it',
  NO_CARD: 'there is no card where the command needs one',
  CARD_PRESENT: 'a card is already in the transport',
  NO_SEQUENCE: 'a panel band arrived outside a print sequence (Ss … Se)',
  BAD_IMAGE: 'the panel band is not a PNG of the panel width',
  BAD_PARAM: 'a parameter is missing or malformed',
  UNKNOWN_COMMAND: 'the printer does not know this command',
};
