/**
 * Configuration from the environment, validated once. Every setting has a default that makes
 * `npm start` work on a fresh machine; see docs/configuration.md.
 */
import path from 'node:path';
import { z } from 'zod';

const durationMs = z.coerce.number().int().nonnegative();

const schema = z.object({
  DATA_DIR: z.string().default(path.resolve(process.cwd(), 'data')),
  DATABASE_URL: z.string().optional(),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_CLI: z.string().optional(),
  TEMPORAL_PORT: z.coerce.number().int().positive().default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().positive().default(8233),
  CENTER_TASK_QUEUE: z.string().default('center'),
  /** Threads running the center worker's workflow code (see docs/configuration.md for why 2). */
  CENTER_WORKFLOW_THREADS: z.coerce.number().int().min(1).max(16).default(2),
  API_PORT: z.coerce.number().int().nonnegative().default(3000),
  API_PUBLIC_URL: z.string().optional(),
  DEMO_ISSUER_PORT: z.coerce.number().int().nonnegative().default(4000),
  /** `npm start`'s payment host simulators: card company, prepaid company, bank on this port, +2, +4 (control APIs on +1, +3, +5); 0 = any free ports. */
  PAYMENT_SIM_PORT: z.coerce.number().int().nonnegative().default(5830),
  TERMINAL_ID: z.string().default('T-001'),
  HOLD_TTL_MS: durationMs.default(180_000),
  /** Browser origins of the Temporal Web UI allowed to call the codec endpoint (comma-separated). */
  TEMPORAL_UI_ORIGINS: z
    .string()
    .default('http://localhost:8233,http://127.0.0.1:8233')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean)),
  /** Finance/operator API credentials: "name:token,name:token" (tokens of 16+ characters). */
  OPERATOR_TOKENS: z
    .string()
    .default('')
    .transform((s, ctx) => {
      const out: { name: string; token: string }[] = [];
      for (const entry of s.split(',').map((e) => e.trim()).filter(Boolean)) {
        const i = entry.indexOf(':');
        const name = i > 0 ? entry.slice(0, i).trim() : '';
        const token = i > 0 ? entry.slice(i + 1).trim() : '';
        if (!/^[A-Za-z0-9._@-]{1,100}$/.test(name) || token.length < 16) {
          ctx.addIssue({ code: 'custom', message: 'each entry must be name:token with a name of letters, digits, ._@- and a token of at least 16 characters' });
          return z.NEVER;
        }
        out.push({ name, token });
      }
      return out;
    }),
  /** Settlement periods: daily, closing at this local time in this zone (see docs/settlement.md). */
  SETTLEMENT_CLOSE_TIME: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM').default('00:00'),
  SETTLEMENT_TIME_ZONE: z.string().refine(isTimeZone, 'is not a known IANA time zone').default('Asia/Tokyo'),
  /** Business days after the period's last local date on which the bank transfer is dated. */
  SETTLEMENT_PAYOUT_LAG_DAYS: z.coerce.number().int().min(1).max(30).default(2),
  /** The operator's own bank account, from which payouts leave (Zengin header record). */
  PAYOUT_REQUESTER_CODE: z.string().regex(/^\d{10}$/, 'must be 10 digits').default('0000000001'),
  PAYOUT_REQUESTER_NAME: z.string().min(1).max(40).default('ﾃﾞﾓｾﾝﾀ-'),
  PAYOUT_BANK_CODE: z.string().regex(/^\d{4}$/, 'must be 4 digits').default('0001'),
  PAYOUT_BANK_NAME: z.string().min(1).max(15).default('ﾐｽﾞﾎ'),
  PAYOUT_BRANCH_CODE: z.string().regex(/^\d{3}$/, 'must be 3 digits').default('001'),
  PAYOUT_BRANCH_NAME: z.string().min(1).max(15).default('ﾄｳｷﾖｳ'),
  PAYOUT_ACCOUNT_TYPE: z.enum(['1', '2', '4']).default('1'),
  PAYOUT_ACCOUNT_NUMBER: z.string().regex(/^\d{7}$/, 'must be 7 digits').default('1234567'),
});

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set" (so `DATABASE_URL= npm start` picks the default).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function temporalAddress(config: Config): string {
  return config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
}
