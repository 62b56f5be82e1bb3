/**
 * The kiosk page's "insert my card" on an emulated kiosk: the customer's hand at the customer card
 * slot (terminal-worker/simulators/emulated-kiosk/customer-slot.ts), which the terminal reads and
 * writes through its PC/SC driver like a real slot.
 *
 *   POST   /api/kiosk/:terminalId/customer-card   {cardId} → the card (made at this kiosk) goes into the slot
 *   DELETE /api/kiosk/:terminalId/customer-card             → the customer pulls it out
 *
 * A kiosk without an emulated customer slot (a real reader, or the state-file simulators) answers
 * 409: there the card is inserted by hand (or by the state file's insertCustomerCard).
 */
import { Router } from 'express';
import { z } from 'zod';
import { CARD_ID_PATTERN } from '../../domain/applications';
import { TERMINAL_ID_PATTERN } from '../../domain/issuance';
import type { Db } from '../../lib/db';
import { loadConfig } from '../../lib/config';
import { kioskControl } from '../../terminal-worker/simulators/emulated-kiosk/launch';
import { emulatedKioskInfo } from '../emulated-kiosk-info';
import { ApiError } from '../errors';

export interface KioskCustomerCardRouteOptions {
  db: Db;
  /** Where emulated kiosks on this machine write kiosk.json (default DATA_DIR). */
  dataDir?: string;
}

const terminalId = z.string().regex(TERMINAL_ID_PATTERN, 'is not a terminal id');
const insertBody = z.object({ cardId: z.string().regex(CARD_ID_PATTERN, 'is not a card id (C and 12 hex digits, as printed on the card)') }).strict();

export function kioskCustomerCardRoutes(opts: KioskCustomerCardRouteOptions): Router {
  const r = Router();

  /** The control port of the terminal's emulated customer slot; 404/409 when there is none. */
  async function slotOf(raw: string): Promise<number> {
    const tid = terminalId.parse(raw);
    if (!(await opts.db('terminals').where({ id: tid, active: true }).first('id'))) throw new ApiError(404, 'unknown_terminal', `Terminal ${tid} is not registered or not active.`);
    const info = emulatedKioskInfo(opts.dataDir ?? loadConfig().DATA_DIR, tid);
    if (!info?.customerReaderName) throw new ApiError(409, 'no_emulated_slot', `Terminal ${tid} has no emulated customer card slot: insert the card into the kiosk's reader by hand.`);
    return info.controlPort;
  }

  /** The kiosk's answer, or the reason it refused as an API error. */
  async function act(port: number, line: string): Promise<string> {
    try {
      return await kioskControl(port, line);
    } catch (err) {
      const why = (err as Error).message.replace(/^emulated kiosk: .*?: error /, '');
      if (/already holds/.test(why)) throw new ApiError(409, 'slot_busy', `The card slot already holds a card: ${why}.`);
      if (/no chip/.test(why)) throw new ApiError(404, 'card_not_here', `That card was not made at this kiosk, so it cannot be inserted here (${why}).`);
      throw new ApiError(502, 'kiosk_unreachable', `The emulated kiosk did not answer: ${why}`);
    }
  }

  r.post('/kiosk/:terminalId/customer-card', async (req, res) => {
    const body = insertBody.parse(req.body ?? {}); // bad input is refused before anything is looked up
    const port = await slotOf(req.params.terminalId);
    const answer = await act(port, `customer insert card ${body.cardId}`);
    res.json({ inserted: true, uid: answer.replace(/^ok inserted /, '') });
  });

  r.delete('/kiosk/:terminalId/customer-card', async (req, res) => {
    const port = await slotOf(req.params.terminalId);
    const answer = await act(port, 'customer remove');
    res.json({ removed: answer.startsWith('ok removed') });
  });

  return r;
}
