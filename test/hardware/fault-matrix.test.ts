/**
 * A real subset of the physical crash-recovery fault matrix (`npm run faults` runs all of it), on
 * real pcscd (vpcd) and real pseudo-terminals, each cell a whole cash issuance through the stack
 * with the terminal worker on the real drivers:
 *   - SIGKILL mid chip write (the chip is left torn; the restarted worker rewrites and verifies it);
 *   - SIGKILL mid print (the half-printed card goes to the reject bin, counted; a new card is made);
 *   - SIGKILL while the card waits in the bezel (the customer takes it meanwhile; no second card);
 *   - the card pulled mid-write (tearing: the card is spoiled, rejected, counted; a new card is made).
 * Each cell checks one good card or the money back, no half-written chip accepted, every spoiled
 * card counted, and what the workflow history says.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CELLS, matrixTable, runCell, startPcscd, type CellResult } from '../support/fault-matrix';
import { startStack, type Stack } from '../support/stack';

const SUBSET = ['kill-mid-chip-write', 'kill-mid-print', 'kill-mid-dispense', 'card-pulled-mid-write'];
let stack: Stack;
let dir: string;
const results: CellResult[] = [];

beforeAll(async () => {
  startPcscd();
  stack = await startStack({ workers: 'processes', terminals: 0 });
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR!, 'faults-'));
});
afterAll(async () => {
  if (results.length) process.stdout.write(`${matrixTable(results)}\n`);
  await stack?.stop();
});

test.each(SUBSET)('fault matrix cell %s: one good card or the money back, every card counted', async (id) => {
  const cell = CELLS.find((c) => c.id === id)!;
  const r = await runCell(stack, cell, results.length + 1, { dir });
  results.push(r);
  if (r.diagnosis.length) process.stdout.write(`${id}:\n${r.diagnosis.map((l) => `  | ${l}`).join('\n')}\n`);
  expect(r.problems).toEqual([]);
  expect(r.stage).toBe(cell.expect === 'card' ? 'completed' : 'refunded');
  expect(r.dispensed).toBe(cell.expect === 'card' ? 1 : 0);
  expect(r.cardsFed).toBe(r.dispensed + r.spoiled);
}, 180_000);
