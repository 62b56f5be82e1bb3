/**
 * startReceiptEmulator(): a socat pseudo-terminal pair and the ESC/POS receipt printer emulator
 * process on one end; the driver opens `hostPath`. For `--simulate` and for tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startEmulatorOnPty, type EmulatorProcess } from '../pty-pair';
import type { ReceiptPrinterState } from './emulator';
import type { PrintedLine } from './escpos-interpreter';

export interface ReceiptEmulatorOptions {
  /** directory for the pty links, the state file and the printed receipts (`receipts/`) */
  dir: string;
  lineMs?: number;
  cutMs?: number;
  log?: (line: string) => void;
}

export interface PrintedReceipt {
  no: number;
  /** printed text lines, as the paper shows them */
  text: string[];
  lines: PrintedLine[];
  bytes: Buffer;
  png: string | null;
}

export interface ReceiptEmulatorProcess extends EmulatorProcess {
  stateFile: string;
  receiptsDir: string;
  state(): ReceiptPrinterState;
  /** every receipt cut off so far, oldest first */
  receipts(): PrintedReceipt[];
}

export async function startReceiptEmulator(o: ReceiptEmulatorOptions): Promise<ReceiptEmulatorProcess> {
  const stateFile = path.join(o.dir, 'receipt-printer-state.json');
  const receiptsDir = path.join(o.dir, 'receipts');
  const args = ['--state', stateFile, '--out-dir', receiptsDir, '--line-ms', String(o.lineMs ?? 15), '--cut-ms', String(o.cutMs ?? 100)];
  const p = await startEmulatorOnPty({ dir: o.dir, name: 'receipt-printer', mainJs: path.join(__dirname, 'main.js'), args, log: o.log });
  return Object.assign(p, {
    stateFile,
    receiptsDir,
    state: () => JSON.parse(fs.readFileSync(stateFile, 'utf8')) as ReceiptPrinterState,
    receipts: () => readReceipts(receiptsDir),
  });
}

export function readReceipts(dir: string): PrintedReceipt[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^receipt-\d{4}\.json$/.test(f))
    .sort()
    .map((f) => {
      const base = path.join(dir, f.replace(/\.json$/, ''));
      const doc = JSON.parse(fs.readFileSync(`${base}.json`, 'utf8')) as { receipt: number; lines: PrintedLine[] };
      return {
        no: doc.receipt,
        lines: doc.lines,
        text: doc.lines.map((l) => l.text),
        bytes: fs.readFileSync(`${base}.bin`),
        png: fs.existsSync(`${base}.png`) ? `${base}.png` : null,
      };
    });
}
