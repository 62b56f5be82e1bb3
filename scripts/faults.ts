/**
 * `npm run faults`: the physical crash-recovery fault matrix (test/support/fault-matrix.ts) against
 * real pcscd (vpcd) and real pseudo-terminals, on the whole system: a Temporal dev server of its
 * own (or TEMPORAL_ADDRESS), the center database (SQLite in a temporary directory, or a fresh schema
 * on DATABASE_URL=mysql://…), the API, the demo issuer, the center worker and, per cell, a fresh
 * emulated kiosk and terminal worker processes on the real drivers.
 *
 *   npm run faults                       every cell
 *   npm run faults -- kill-mid-print …   only the cells named
 *
 * Prints one line per cell as it goes, then the matrix as a table; the last line is JSON:
 * {"cells":N,"ok":N,"seconds":S,"failed":[…]}. Exits 1 when a cell is not ok.
 * The cells' contact station is vpcd reader 1 (port 35964, FAULTS_VPCD_PORT to change): nothing
 * else may use that reader meanwhile. Needs pcscd with vpcd (scripts/ensure-pcscd.sh) and socat (scripts/ensure-serial-tools.sh); the
 * "reader gone" cells stop pcscd (by its pid file) and start it again with ensure-pcscd.sh.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { benchTemporal, say } from '../bench/support';
import { FAILURE_CONVERTER_PATH } from '../lib/payload-codec';
import { newKeySpec } from '../lib/payload-keys';
import { emulatorsUnavailable } from '../terminal-worker/simulators/emulated-kiosk/availability';
import { vpcdReaderName } from '../terminal-worker/simulators/emulated-kiosk/kiosk';
import { CELLS, matrixTable, runFaultMatrix, startPcscd } from '../test/support/fault-matrix';
import { startStack } from '../test/support/stack';

async function main(): Promise<void> {
  const t0 = Date.now();
  const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const cells = only.length ? CELLS.filter((c) => only.includes(c.id)) : CELLS;
  if (only.length && cells.length !== only.length) throw new Error(`unknown cells: ${only.filter((o) => !CELLS.some((c) => c.id === o)).join(', ')}; known: ${CELLS.map((c) => c.id).join(', ')}`);
  startPcscd();
  const missing = emulatorsUnavailable(Number(process.env.FAULTS_VPCD_PORT || 35964));
  if (missing) throw new Error(`the fault matrix needs the emulated kiosk: ${missing}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-'));
  const temporal = await benchTemporal(dir);
  say(`Temporal: ${temporal.description}`);
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, code);
  process.env.TEMPORAL_TEST_ADDRESS = temporal.address;
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
  process.env.TEST_TMP_DIR = dir;
  process.env.PAYLOAD_KEYS ??= newKeySpec('faults');
  const mysql = process.env.DATABASE_URL && /^mysql2?:\/\//.test(process.env.DATABASE_URL) ? process.env.DATABASE_URL : null;
  if (mysql) process.env.TEST_MYSQL_URL = mysql.replace(/\/[^/]*$/, '');

  const stack = await startStack({ database: mysql ? 'mysql' : 'sqlite', workers: 'processes', terminals: 0 });
  const vpcdPort = Number(process.env.FAULTS_VPCD_PORT || 35964);
  say(`Center: ${mysql ? 'MariaDB/MySQL' : 'SQLite'}; ${cells.length} cells; pcscd + vpcd reader "${vpcdReaderName(vpcdPort)}" (port ${vpcdPort}), socat pty pairs`);
  let results;
  try {
    results = await runFaultMatrix(stack, cells, { dir: path.join(dir, 'cells'), log: say });
  } finally {
    await stack.stop();
    await temporal.stop();
  }
  const ok = results.filter((r) => r.ok).length;
  const seconds = Math.round((Date.now() - t0) / 1000);
  say('');
  say(matrixTable(results));
  for (const r of results.filter((x) => !x.ok)) {
    say(`FAIL ${r.cell.id}: ${r.problems.join('; ')}`);
    for (const line of r.diagnosis) say(`  | ${line}`);
  }
  say(`(fed: cards taken from the stocker; out: handed to the customer; bin: in the reject bin; returned: change + refund paid out of ¥20,000 inserted; state in ${dir})`);
  say(JSON.stringify({ cells: results.length, ok, seconds, failed: results.filter((r) => !r.ok).map((r) => r.cell.id) }));
  process.exit(ok === results.length ? 0 : 1);
}

main().catch((err) => {
  say(`faults: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
