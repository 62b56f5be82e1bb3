/**
 * Command-line arguments of the emulator processes (`--name value` pairs), shared by the card
 * printer, cash unit and receipt printer emulators' entry points.
 */
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
