/**
 * `npm run stock:manufacture -- --value <prepaid value id> --count <n> [--terminal <id>]`:
 * the card manufacturer's step of activation at sale (docs/prepaid.md). Marks the prepaid value as
 * sold from stock, makes `n` stock cards signed by the center (activities/center/stock-cards.ts)
 * in the database named by DATABASE_URL (or the embedded SQLite default), and prints their chip
 * images as JSON. With --terminal, loads them into that terminal's stock stocker: the emulated
 * kiosk's card printer (its second hopper, emulated-kiosk/stock-hopper.ts) when that terminal has
 * run one on this machine ($DATA_DIR/terminals/<id>/kiosk/printer-state.json), else the state-file
 * kiosk ($DATA_DIR/terminals/<id>/machine.json, what the simulated kiosk feeds from).
 */
import fs from 'node:fs';
import path from 'node:path';
import { manufactureStockCards } from '../activities/center/stock-cards';
import { cardSigningKeys } from '../lib/card-signing';
import { loadConfig } from '../lib/config';
import { createDb } from '../lib/db';
import { TERMINAL_ID_PATTERN } from '../domain/issuance';
import { migrateLatest } from '../migrations';
import { loadStockCards } from '../terminal-worker/simulators/simulated-customer-slot';
import { loadStockIntoEmulatedKiosk } from '../terminal-worker/simulators/emulated-kiosk/stock-hopper';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const valueId = Number(arg('value'));
  const count = Number(arg('count') ?? 10);
  const terminal = arg('terminal');
  if (!Number.isSafeInteger(valueId) || valueId < 1) throw new Error('--value must be a prepaid value id');
  if (terminal !== undefined && !TERMINAL_ID_PATTERN.test(terminal)) throw new Error('--terminal must be a terminal id');
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, config.DATA_DIR);
  try {
    await migrateLatest(db);
    if ((await db('prepaid_values').where({ id: valueId }).update({ sold_from_stock: true })) !== 1) throw new Error(`there is no prepaid value ${valueId}`);
    const batch = await manufactureStockCards(db, cardSigningKeys(process.env, config.DATA_DIR), { valueId, count });
    let where = '';
    if (terminal) {
      const kioskDir = path.join(config.DATA_DIR, 'terminals', terminal, 'kiosk');
      if (fs.existsSync(path.join(kioskDir, 'printer-state.json'))) {
        const state = await loadStockIntoEmulatedKiosk(kioskDir, batch.cards);
        where = `, loaded into ${terminal}'s emulated card printer's stock hopper (${state})`;
      } else {
        loadStockCards(path.join(config.DATA_DIR, 'terminals', terminal, 'machine.json'), batch.cards);
        where = `, loaded into ${terminal}'s state-file stock stocker`;
      }
    }
    process.stdout.write(`${JSON.stringify(batch, null, 2)}\n`);
    process.stderr.write(`Made ${batch.cards.length} stock cards in batch ${batch.batchId}${where}.\n`);
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`stock:manufacture failed: ${(err as Error).message}\n`);
  process.exit(2);
});
