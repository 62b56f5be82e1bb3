/**
 * Test helper: runs the virtual card program (terminal-worker/simulators/virtual-card/main.ts,
 * compiled) as a child process against vpcd, and talks to its control channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';

const MAIN = path.resolve(__dirname, '../../terminal-worker/simulators/virtual-card/main.js');

export class VirtualCardProcess {
  private stderr = '';
  private constructor(
    private readonly child: ChildProcess,
    readonly controlPort: number,
  ) {
    child.stderr!.on('data', (d) => (this.stderr += d));
  }

  static async start(args: string[]): Promise<VirtualCardProcess> {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const line = await new Promise<string>((resolve, reject) => {
      const rl = readline.createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error(`virtual card did not start: ${err}`)), 10000);
      rl.once('line', (l) => {
        clearTimeout(timer);
        resolve(l);
      });
      child.once('exit', (code) => reject(new Error(`virtual card exited (${code}): ${err}`)));
    });
    const m = /control=(\d+)/.exec(line);
    if (!m) throw new Error(`unexpected first line from the virtual card: ${line}`);
    return new VirtualCardProcess(child, Number(m[1]));
  }

  /** Sends one control command; returns the JSON after "ok", or throws the "error" text. */
  async control(command: string): Promise<unknown> {
    const socket = net.connect({ host: '127.0.0.1', port: this.controlPort });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        socket.once('error', reject);
        readline.createInterface({ input: socket }).once('line', resolve);
        socket.write(`${command}\n`);
      });
      if (line.startsWith('error')) throw new Error(`virtual card: ${line}`);
      const rest = line.slice(2).trim();
      return rest ? JSON.parse(rest) : undefined;
    } finally {
      socket.destroy();
    }
  }

  /** APDU headers (CLA INS P1 P2, hex) the card has seen since the last call. */
  async apduLog(): Promise<string[]> {
    return (await this.control('log')) as string[];
  }

  get log(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
