/**
 * The terminal worker's own settings (on top of lib/config.ts: TERMINAL_ID, TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, DATA_DIR): Temporal mTLS, the IC reader, the card printer's, cash unit's and
 * receipt printer's serial lines, shutdown, and what `--simulate` runs. Validated once at start; see docs/configuration.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { z } from 'zod';

const ms = z.coerce.number().int().nonnegative();
const optionalPath = z.string().optional();

const schema = z.object({
  /** mTLS to the Temporal frontend: client certificate and key (PEM), the server's CA, SNI override. */
  TEMPORAL_TLS_CERT: optionalPath,
  TEMPORAL_TLS_KEY: optionalPath,
  TEMPORAL_TLS_CA: optionalPath,
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),

  /** The IC reader at the printer's contact station: its exact PC/SC name, or its index in pcscd's list. */
  CARD_READER: z.string().default('0'),
  /** Largest APDU command data the reader takes (its datasheet; ≤ 255). */
  CARD_READER_MAX_APDU_DATA: z.coerce.number().int().min(16).max(255).default(255),
  /** EEPROM page size the writes are aligned to. */
  CHIP_PAGE_SIZE: z.coerce.number().int().min(1).max(255).default(32),
  /** Write attempts (write, read back, compare) before a card is spoiled. */
  CHIP_WRITE_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  /** How long a card fed to the contact station may take to show up in the reader. */
  CARD_AT_STATION_WAIT_MS: ms.default(5000),

  /**
   * The customer card slot's reader (reloads, adding applications): its exact PC/SC name or its
   * index in pcscd's list. Unset: no PC/SC slot (the state-file slot stands in). Must not be CARD_READER's.
   */
  CUSTOMER_READER: z.string().optional(),
  /** How long a read or write on the customer's card waits for it to be in the slot. */
  CUSTOMER_CARD_WAIT_MS: ms.default(2000),
  /**
   * --simulate with emulators: the emulated kiosk's customer card slot on vpcd's second reader
   * (EMULATOR_CUSTOMER_VPCD_PORT), so customers' cards go through the PC/SC driver. Off when that
   * reader is in use by another kiosk (the fault matrix).
   */
  EMULATOR_CUSTOMER_SLOT: z.enum(['on', 'off']).default('on'),
  EMULATOR_CUSTOMER_VPCD_PORT: z.coerce.number().int().positive().default(35964),

  /** The card printer's serial device (e.g. /dev/ttyUSB0, /dev/serial/by-id/…). Required unless --simulate. */
  CARD_PRINTER_PORT: z.string().optional(),
  CARD_PRINTER_BAUD_RATE: z.coerce.number().int().positive().default(115200),
  /** How long one printer command may take before the printer counts as not answering. */
  CARD_PRINTER_TIMEOUT_MS: ms.default(10000),
  /** A presented card not taken within this time is pulled back into the reject bin. */
  CARD_TAKE_TIMEOUT_MS: ms.default(30000),

  /** The center's API, where the terminal fetches application packages before installing them on cards. */
  CENTER_API_URL: z.string().url().default('http://localhost:3000'),
  /** The ccTalk cash unit's serial device (coin acceptor, bill validator, changer on one bus). Unset: simulated cash unit. */
  CASH_UNIT_PORT: z.string().optional(),
  CASH_UNIT_BAUD_RATE: z.coerce.number().int().positive().default(9600),
  /** The ESC/POS receipt printer's serial device. Unset: simulated receipt printer. */
  RECEIPT_PRINTER_PORT: z.string().optional(),
  RECEIPT_PRINTER_BAUD_RATE: z.coerce.number().int().positive().default(38400),
  /** Where the cash unit and receipt drivers keep their durable journals (default $DATA_DIR/terminals/<id>/journals). */
  DEVICE_JOURNAL_DIR: z.string().optional(),

  /** How long SIGTERM waits for the step in progress to finish before cancelling it. */
  TERMINAL_SHUTDOWN_GRACE_MS: ms.default(30000),

  /**
   * What --simulate runs: `emulators` (card printer, cash unit and receipt printer emulators on
   * socat pty pairs + virtual card on vpcd, driven by the real drivers), `state-file` (the in-process simulators), or `auto` (emulators
   * when pcscd with vpcd and socat are there, else state-file).
   */
  TERMINAL_SIMULATOR: z.enum(['auto', 'emulators', 'state-file']).default('auto'),
  /** Where the emulated kiosk keeps its state (default $DATA_DIR/terminals/<id>/kiosk). */
  EMULATOR_DIR: z.string().optional(),
  /** The vpcd port the emulated kiosk's contact station uses: 35963 is reader "Virtual PCD 00 00", 35964 "00 01". */
  EMULATOR_VPCD_PORT: z.coerce.number().int().positive().default(35963),
  /** Emulated customer: takes a presented card after this many ms ("off": never). Default SIM_PRESENT_MS. */
  EMULATOR_AUTO_TAKE_MS: z.string().optional(),
});

export type TerminalConfig = z.infer<typeof schema>;

export function loadTerminalConfig(env: NodeJS.ProcessEnv = process.env): TerminalConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid terminal configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  if (Boolean(c.TEMPORAL_TLS_CERT) !== Boolean(c.TEMPORAL_TLS_KEY)) throw new Error('Invalid terminal configuration: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS client certificate and its key)');
  for (const k of ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA'] as const) {
    const p = c[k];
    if (p && !fs.existsSync(p)) throw new Error(`Invalid terminal configuration: ${k} names ${p}, which does not exist`);
  }
  return c;
}

/** The reader choice: a number is an index in pcscd's list, anything else an exact name. */
export function readerChoice(c: TerminalConfig): string | number {
  return /^\d+$/.test(c.CARD_READER) ? Number(c.CARD_READER) : c.CARD_READER;
}

/** The customer slot's reader choice (as readerChoice), or null when none is configured. */
export function customerReaderChoice(c: TerminalConfig): string | number | null {
  const r = c.CUSTOMER_READER;
  if (r === undefined) return null;
  const choice = /^\d+$/.test(r) ? Number(r) : r;
  if (choice === readerChoice(c)) throw new Error(`Invalid terminal configuration: CUSTOMER_READER names the contact station's reader (CARD_READER=${c.CARD_READER}); the customer card slot needs a reader of its own`);
  return choice;
}

/** TLS options for the Temporal connection, or undefined for plain TCP. */
export function temporalTls(c: TerminalConfig): TLSConfig | undefined {
  if (!c.TEMPORAL_TLS_CERT && !c.TEMPORAL_TLS_CA && !c.TEMPORAL_TLS_SERVER_NAME) return undefined;
  return {
    serverNameOverride: c.TEMPORAL_TLS_SERVER_NAME,
    serverRootCACertificate: c.TEMPORAL_TLS_CA ? fs.readFileSync(c.TEMPORAL_TLS_CA) : undefined,
    clientCertPair: c.TEMPORAL_TLS_CERT && c.TEMPORAL_TLS_KEY ? { crt: fs.readFileSync(c.TEMPORAL_TLS_CERT), key: fs.readFileSync(c.TEMPORAL_TLS_KEY) } : undefined,
  };
}

export function emulatorDir(c: TerminalConfig, dataDir: string, terminalId: string): string {
  return c.EMULATOR_DIR ?? path.join(dataDir, 'terminals', terminalId, 'kiosk');
}

export function deviceJournalDir(c: TerminalConfig, dataDir: string, terminalId: string): string {
  return c.DEVICE_JOURNAL_DIR ?? path.join(dataDir, 'terminals', terminalId, 'journals');
}
