/** Child processes of the system under test, which a test can SIGKILL and start again. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface ManagedProcess {
  role: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const DIST = path.resolve(__dirname, '..', '..');

export function startNodeProcess(role: string, script: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
  const child = spawn(process.execPath, [path.join(DIST, script), ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    role,
    child,
    output: () => out,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}
