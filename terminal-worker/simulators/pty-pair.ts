/**
 * Runs a serial device emulator as its own process on one end of a pseudo-terminal pair made by
 * socat (`socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`); the driver opens the other
 * end like a real serial port. The emulator reads control lines on stdin and answers each with
 * `control <line>: <answer>` on stdout, and prints READY once its port is open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EmulatorProcess {
  /** the path the driver opens */
  hostPath: string;
  /** the path the emulator holds */
  devicePath: string;
  /** everything the emulator printed so far */
  output(): string;
  /** sends one control line and resolves with the emulator's answer */
  control(line: string, timeoutMs?: number): Promise<string>;
  /** stops the emulator, then socat */
  stop(): Promise<void>;
  readonly emulator: ChildProcess;
  readonly socat: ChildProcess;
}

async function waitFor(what: string, fn: () => boolean, ms: number, out: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output:\n${out()}`);
    await sleep(20);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startEmulatorOnPty(opts: { dir: string; name: string; mainJs: string; args: string[]; log?: (line: string) => void }): Promise<EmulatorProcess> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const devicePath = path.join(opts.dir, `${opts.name}-device`);
  const hostPath = path.join(opts.dir, `${opts.name}-host`);
  for (const p of [devicePath, hostPath]) fs.rmSync(p, { force: true });
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], { stdio: 'ignore' });
  let out = '';
  const output = () => out;
  try {
    await waitFor('socat pty links', () => fs.existsSync(devicePath) && fs.existsSync(hostPath), 10000, output);
  } catch (err) {
    socat.kill('SIGKILL');
    throw err;
  }
  const emulator = spawn(process.execPath, [opts.mainJs, '--pty', devicePath, ...opts.args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: Array<{ prefix: string; resolve: (answer: string) => void }> = [];
  readline.createInterface({ input: emulator.stdout! }).on('line', (line) => {
    out += `${line}\n`;
    opts.log?.(line);
    const i = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) {
      const w = waiting.splice(i, 1)[0]!;
      w.resolve(line.slice(w.prefix.length));
    }
  });
  emulator.stderr!.on('data', (d) => (out += d));
  try {
    await waitFor(`${opts.name} emulator READY`, () => out.includes('READY') || emulator.exitCode !== null, 15000, output);
    if (emulator.exitCode !== null) throw new Error(`${opts.name} emulator exited: ${out}`);
  } catch (err) {
    emulator.kill('SIGKILL');
    socat.kill('SIGKILL');
    throw err;
  }
  return {
    hostPath,
    devicePath,
    output,
    emulator,
    socat,
    control(line: string, timeoutMs = 10000) {
      const l = line.trim();
      return new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the ${opts.name} emulator did not answer "${l}" within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        waiting.push({ prefix: `control ${l}: `, resolve: (a) => (clearTimeout(t), resolve(a)) });
        emulator.stdin!.write(`${l}\n`);
      });
    },
    async stop() {
      await stopChild(emulator);
      await stopChild(socat);
    },
  };
}
