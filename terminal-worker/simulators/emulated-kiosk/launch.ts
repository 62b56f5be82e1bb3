/**
 * Starts the emulated kiosk program as a child process and talks to its control channel. Used by
 * the terminal worker's `--simulate` mode, the test stack and the fault matrix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import type { KioskInfo } from './main';

const MAIN = path.join(__dirname, 'main.js');

export interface KioskLaunchOptions {
  stateDir: string;
  vpcdPort?: number;
  /** vpcd port of a customer card slot (35964: "Virtual PCD 00 01"); absent: no customer slot. */
  customerVpcdPort?: number;
  feedMs?: number;
  bandMs?: number;
  ejectMs?: number;
  /** null: nobody takes presented cards. */
  autoTakeMs?: number | null;
  chipMemory?: number;
  pageWriteMs?: number;
  contactRecoverMs?: number;
  /** Cash unit: time to pay one coin or note; a note left in escrow this long is handed back. */
  payItemMs?: number;
  escrowTimeoutMs?: number;
  /** Receipt printer: time per printed line and per cut. */
  lineMs?: number;
  cutMs?: number;
  /** Stop the kiosk when the starting process goes away (the worker's --simulate mode). */
  exitWithParent?: boolean;
  /** Where the kiosk's log goes (default `<stateDir>/kiosk.log`). */
  logFile?: string;
}

export interface KioskProcess extends KioskInfo {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** One control action (see EmulatedKiosk.control); returns the answer line, throws on "error …". */
  control(line: string): Promise<string>;
  status(): Promise<{ printer: any; station: any; customerSlot: { port: number; uid: string | null; inserted: boolean } | null; autoTakeMs: number | null }>;
  stop(): Promise<void>;
}

export async function launchEmulatedKiosk(o: KioskLaunchOptions): Promise<KioskProcess> {
  fs.mkdirSync(o.stateDir, { recursive: true });
  const args = ['--state-dir', o.stateDir];
  const opt = (name: string, v: number | null | undefined | string) => v !== undefined && args.push(`--${name}`, v === null ? 'off' : String(v));
  opt('vpcd-port', o.vpcdPort);
  opt('customer-vpcd-port', o.customerVpcdPort);
  opt('feed-ms', o.feedMs);
  opt('band-ms', o.bandMs);
  opt('eject-ms', o.ejectMs);
  opt('auto-take-ms', o.autoTakeMs);
  opt('chip-memory', o.chipMemory);
  opt('page-write-ms', o.pageWriteMs);
  opt('contact-recover-ms', o.contactRecoverMs);
  opt('pay-item-ms', o.payItemMs);
  opt('escrow-timeout-ms', o.escrowTimeoutMs);
  opt('line-ms', o.lineMs);
  opt('cut-ms', o.cutMs);
  if (o.exitWithParent) args.push('--exit-with-parent');
  const log = fs.openSync(o.logFile ?? path.join(o.stateDir, 'kiosk.log'), 'a');
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const info = await new Promise<KioskInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulated kiosk did not start within 15 s; see ${o.logFile ?? path.join(o.stateDir, 'kiosk.log')}`)), 15_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(6)) as KioskInfo);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      const file = o.logFile ?? path.join(o.stateDir, 'kiosk.log');
      reject(new Error(`the emulated kiosk exited (${code}): ${fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ') : ''}`));
    });
  });
  const control = (line: string) => kioskControl(info.controlPort, line);
  return {
    ...info,
    child,
    exited,
    control,
    status: async () => JSON.parse((await control('status')).slice(3)),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The kiosk running on `stateDir` (its kiosk.json, its process alive), or null. */
export function runningKiosk(stateDir: string): KioskInfo | null {
  let info: KioskInfo;
  try {
    info = JSON.parse(fs.readFileSync(path.join(stateDir, 'kiosk.json'), 'utf8')) as KioskInfo;
  } catch {
    return null;
  }
  try {
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}

/** Sends one action to a kiosk's control port; resolves with the answer line. */
export async function kioskControl(port: number, line: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  try {
    const answer = await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      readline.createInterface({ input: socket }).once('line', resolve);
      socket.write(`${line}\n`);
    });
    if (answer.startsWith('error') || answer.startsWith('unknown')) throw new Error(`emulated kiosk: ${line}: ${answer}`);
    return answer;
  } finally {
    socket.destroy();
  }
}
