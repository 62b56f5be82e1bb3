/**
 * The virtual cards' chip images on disk (`<kiosk state dir>/chips/<UID>.bin`): what a card's
 * memory holds between insertions, so a card written at the contact station or in the customer
 * slot keeps its bytes when it moves, and tests can read what a chip holds.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Saves a chip's memory atomically (written aside, then renamed), so a kill never leaves half an image. */
export function saveChipImage(chipsDir: string, uid: string, memory: Uint8Array): void {
  const file = path.join(chipsDir, `${uid}.bin`);
  fs.writeFileSync(`${file}.tmp`, memory);
  fs.renameSync(`${file}.tmp`, file);
}
