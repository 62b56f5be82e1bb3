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
  API_PORT: z.coerce.number().int().nonnegative().default(3000),
  API_PUBLIC_URL: z.string().optional(),
  DEMO_ISSUER_PORT: z.coerce.number().int().nonnegative().default(4000),
  TERMINAL_ID: z.string().default('T-001'),
  HOLD_TTL_MS: durationMs.default(180_000),
});

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
