/**
 * Loading pre-loaded prepaid stock cards (activities/center/stock-cards.ts) into the emulated card
 * printer's second input hopper (`Sih`, docs/card-printer-protocol.md). Each card is a chip image
 * in `chips/<uid>.bin` (with its `<uid>.json`, like any card the kiosk has seen), so the virtual
 * card the contact station inserts when the card is fed carries the stock card's record; its UID
 * goes into the printer model's `stockHopper`.
 *
 * A running kiosk is loaded through its control channel (`stock load <uid> <base64>`: the emulator
 * owns its state files while it runs); a stopped one by writing its files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PhysicalModel } from '../printer-emulator/physical-model';
import { DEFAULT_CHIP } from './kiosk';
import { kioskControl, runningKiosk } from './launch';

export interface StockCardImage {
  uid: string;
  recordBase64: string;
}

const UID = /^[0-9A-F]{2,20}$/;

/** Throws, before anything is written, when a card cannot be loaded (bad UID, no fit, known already, twice). */
export function checkStockCards(chipsDir: string, cards: StockCardImage[], memorySize = DEFAULT_CHIP.memorySize): void {
  const seen = new Set<string>();
  for (const { uid, recordBase64 } of cards) {
    if (!UID.test(uid)) throw new Error(`a stock card's UID must be upper-case hex, got ${JSON.stringify(uid)}`);
    const size = Buffer.from(recordBase64, 'base64').length;
    if (size === 0 || size > memorySize) throw new Error(`stock card ${uid}: a record of ${size} bytes does not fit a chip of ${memorySize}`);
    if (seen.has(uid) || fs.existsSync(path.join(chipsDir, `${uid}.json`))) throw new Error(`card ${uid} is already known to this kiosk; a stock card is loaded once`);
    seen.add(uid);
  }
}

/** Writes a stock card's chip image (padded to the chip's size) where the contact station finds it. */
export function writeStockChip(chipsDir: string, uid: string, record: Buffer, memorySize = DEFAULT_CHIP.memorySize): void {
  checkStockCards(chipsDir, [{ uid, recordBase64: record.toString('base64') }], memorySize);
  fs.mkdirSync(chipsDir, { recursive: true });
  const memory = Buffer.alloc(memorySize);
  record.copy(memory);
  fs.writeFileSync(path.join(chipsDir, `${uid}.bin`), memory);
  fs.writeFileSync(path.join(chipsDir, `${uid}.json`), JSON.stringify({ atr: 't0', memorySize }));
}

/** Loads the cards into the emulated kiosk on `stateDir`; says whether it was running. */
export async function loadStockIntoEmulatedKiosk(stateDir: string, cards: StockCardImage[]): Promise<'running' | 'stopped'> {
  checkStockCards(path.join(stateDir, 'chips'), cards);
  const live = runningKiosk(stateDir);
  if (live) {
    for (const c of cards) await kioskControl(live.controlPort, `stock load ${c.uid} ${c.recordBase64}`);
    return 'running';
  }
  for (const c of cards) writeStockChip(path.join(stateDir, 'chips'), c.uid, Buffer.from(c.recordBase64, 'base64'));
  new PhysicalModel(path.join(stateDir, 'printer-state.json')).change((s) => s.stockHopper.push(...cards.map((c) => c.uid)));
  return 'stopped';
}
