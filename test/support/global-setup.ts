/**
 * Once per test run: a real Temporal dev server (the CLI's, in memory, with the project's search
 * attributes) and the workflow bundle built once for every worker the suites start. MariaDB is
 * started by .ci/run (or by hand); this checks that it answers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { bundleWorkflowCode } from '@temporalio/worker';
import { findTemporalCli, startDevServer } from '../../lib/temporal-dev-server';
import { waitForTemporal } from '../../lib/temporal';
import { FAILURE_CONVERTER_PATH } from '../../lib/payload-codec';
import { newKeySpec } from '../../lib/payload-keys';
import { freePort } from '../../lib/free-port';
import { TEST_MYSQL_URL } from './env';

export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'icc-test-'));
  const port = await freePort();
  const server = startDevServer({ cli: findTemporalCli(), port, logFile: path.join(dir, 'temporal.log') });
  (globalThis as Record<string, unknown>).__temporalServer = server;
  const address = `127.0.0.1:${port}`;

  const mysql = knex({ client: 'mysql2', connection: TEST_MYSQL_URL });
  try {
    await mysql.raw('select 1');
  } catch (err) {
    throw new Error(`MariaDB/MySQL is not reachable at ${TEST_MYSQL_URL} (${(err as Error).message}). Start it as .ci/run does, or set TEST_MYSQL_URL.`);
  } finally {
    await mysql.destroy();
  }

  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, code);

  await waitForTemporal(address);
  process.env.TEMPORAL_TEST_ADDRESS = address;
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
  process.env.TEST_TMP_DIR = dir;
  // One payload key for the run, shared by the suites' clients and worker processes.
  process.env.PAYLOAD_KEYS = newKeySpec('test');
  // And one card vault key, so the API (tokenising) and worker processes (detokenising) agree.
  process.env.CARD_VAULT_KEYS = newKeySpec('vault-test');
  process.env.CARD_READER_KEYS = newKeySpec('reader-test');
}
