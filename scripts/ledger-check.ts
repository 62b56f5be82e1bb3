/**
 * `npm run ledger:check`: checks the ledger's invariants against the center database named by
 * DATABASE_URL (or the embedded SQLite default) and prints one line per check. Exit code 1 if
 * any fails.
 */
import { checkLedger } from '../activities/center/ledger-check';
import { loadConfig } from '../lib/config';
import { createDb } from '../lib/db';
import { migrateLatest } from '../migrations';

async function main() {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, config.DATA_DIR);
  try {
    await migrateLatest(db);
    const checks = await checkLedger(db);
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    const failed = checks.filter((c) => !c.ok).length;
    process.stdout.write(failed === 0 ? `Ledger consistent: ${checks.length} checks passed.\n` : `${failed} of ${checks.length} checks FAILED.\n`);
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`ledger:check failed: ${(err as Error).message}\n`);
  process.exit(2);
});
