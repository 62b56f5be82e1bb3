/** How long each simulated device step takes (ms). Zero for benchmarks; a few seconds for demos. */
export interface SimTimings {
  feedMs: number;
  chipWritePerKbMs: number;
  printMs: number;
  presentMs: number;
  payoutMs: number;
  receiptMs: number;
}

export const DEMO_TIMINGS: SimTimings = { feedMs: 800, chipWritePerKbMs: 1500, printMs: 4000, presentMs: 1500, payoutMs: 600, receiptMs: 700 };
export const ZERO_TIMINGS: SimTimings = { feedMs: 0, chipWritePerKbMs: 0, printMs: 0, presentMs: 0, payoutMs: 0, receiptMs: 0 };

/** Reads SIM_<NAME>_MS overrides from the environment on top of a base set. */
export function timingsFromEnv(env: NodeJS.ProcessEnv, base: SimTimings): SimTimings {
  const pick = (key: string, fallback: number) => {
    const v = env[key];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${key} must be a non-negative number of milliseconds, got "${v}"`);
    return n;
  };
  return {
    feedMs: pick('SIM_FEED_MS', base.feedMs),
    chipWritePerKbMs: pick('SIM_CHIP_WRITE_PER_KB_MS', base.chipWritePerKbMs),
    printMs: pick('SIM_PRINT_MS', base.printMs),
    presentMs: pick('SIM_PRESENT_MS', base.presentMs),
    payoutMs: pick('SIM_PAYOUT_MS', base.payoutMs),
    receiptMs: pick('SIM_RECEIPT_MS', base.receiptMs),
  };
}
