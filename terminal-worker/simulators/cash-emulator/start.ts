/**
 * startCashEmulator(): a socat pseudo-terminal pair and the cash unit emulator process on one end;
 * the driver opens `hostPath`. For `--simulate` and for tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startEmulatorOnPty, type EmulatorProcess } from '../pty-pair';
import type { CashModelState } from './physical-model';

export interface CashEmulatorOptions {
  /** directory for the pty links and the emulator's state file */
  dir: string;
  payItemMs?: number;
  escrowTimeoutMs?: number;
  /** initial float per denomination (only when the state file does not exist yet) */
  float?: Partial<Record<number, number>>;
  log?: (line: string) => void;
}

export interface CashEmulatorProcess extends EmulatorProcess {
  stateFile: string;
  /** the emulator's persisted physical model (hoppers, tray, cashbox, counters) */
  state(): CashModelState;
  /** a customer puts a coin or a note in */
  insert(valueMinor: number): Promise<string>;
}

export async function startCashEmulator(o: CashEmulatorOptions): Promise<CashEmulatorProcess> {
  const stateFile = path.join(o.dir, 'cash-unit-state.json');
  const args = ['--state', stateFile, '--pay-item-ms', String(o.payItemMs ?? 60), '--escrow-timeout-ms', String(o.escrowTimeoutMs ?? 10000)];
  if (o.float) args.push('--float', Object.entries(o.float).map(([v, n]) => `${v}=${n}`).join(','));
  const p = await startEmulatorOnPty({ dir: o.dir, name: 'cash-unit', mainJs: path.join(__dirname, 'main.js'), args, log: o.log });
  return Object.assign(p, {
    stateFile,
    state: () => JSON.parse(fs.readFileSync(stateFile, 'utf8')) as CashModelState,
    insert: (valueMinor: number) => p.control(`insert ${valueMinor}`),
  });
}
