/**
 * What the emulator processes' entry points share (card printer, cash unit, receipt printer):
 * their command-line arguments (`--name value` pairs) and their control loop (one command per
 * stdin line, answered as `control <command>: <answer>`; READY once open; SIGTERM/SIGINT close).
 */
import readline from 'node:readline';

export interface EmulatorArgs {
  has(name: string): boolean;
  get(name: string): string | undefined;
  /** The value of a required argument; throws naming it when it is missing. */
  need(name: string): string;
  /** A numeric argument, or the default when it is absent. */
  num(name: string, fallback: number): number;
}

export function parseEmulatorArgs(argv: string[], usage: string): EmulatorArgs {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i]!.startsWith('--') || argv[i + 1] === undefined) throw new Error(`usage: ${usage}; bad argument "${argv[i]}"`);
    out.set(argv[i]!.slice(2), argv[i + 1]!);
  }
  return {
    has: (k) => out.has(k),
    get: (k) => out.get(k),
    need: (k) => {
      const v = out.get(k);
      if (!v) throw new Error(`--${k} is required`);
      return v;
    },
    num: (k, d) => (out.has(k) ? Number(out.get(k)) : d),
  };
}

/**
 * Serves an open emulator: control commands from stdin, answers through `write` (a line without
 * its newline), READY on stdout, and a clean close on SIGTERM or SIGINT.
 */
export function serveEmulator(emulator: { control(line: string): string; close(): Promise<void> }, write: (line: string) => void): void {
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim()) write(`control ${line.trim()}: ${emulator.control(line)}`);
  });
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write('READY\n');
}
