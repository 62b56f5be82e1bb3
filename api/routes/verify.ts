/**
 * Verification for gates, venues and phones (no authentication: the chip record is the
 * credential, and answers carry only what the card itself carries).
 *
 *   GET  /api/verify/keys            the center's public keys (key id, raw base64, JWK)
 *   POST /api/verify {record}        the chip's record bytes, base64: signature, then online status
 *   GET  /api/verify/cards/:cardId   online status only, by card id
 *
 * Answers `{valid, reason, card}`; a refused card is a 200 with its reason (a verdict, not an
 * error). Malformed requests are 400 in the API's error shape. See docs/verification.md.
 */
import { Router } from 'express';
import { z } from 'zod';
import { onlineVerdict } from '../../domain/card-verdict';
import type { CardSigningKeys } from '../../lib/card-signing';
import { CardStatusLoader } from '../../lib/card-status';
import type { Db } from '../../lib/db';
import { verifyRecordOffline } from '../../lib/gate-verifier';

export interface VerifyRouteOptions {
  db: Db;
  cardKeys: CardSigningKeys;
  now?: () => number;
}

/** A v2 record is a few hundred bytes; 8 KiB of base64 is far more than any chip holds. */
const VerifyBody = z.object({ record: z.string().min(1).max(8192).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64') }).strict();
const CardParams = z.object({ cardId: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be a card id') });

export function verifyRoutes({ db, cardKeys, now = Date.now }: VerifyRouteOptions): Router {
  const r = Router();
  const statuses = new CardStatusLoader(db);
  const published = { keys: cardKeys.published().map(({ keyId, publicKey, jwk, current }) => ({ keyId, publicKey, jwk, current })) };

  r.get('/keys', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(published);
  });

  r.post('/', async (req, res) => {
    const { record } = VerifyBody.parse(req.body ?? {});
    const at = now();
    const offline = verifyRecordOffline(Buffer.from(record, 'base64'), cardKeys.verifyKeys, at);
    if (!offline.parsed || (!offline.verdict.valid && offline.verdict.card === null)) return res.json(offline.verdict); // not ours: no lookup
    const status = await statuses.load(offline.parsed.record.cardId);
    const online = onlineVerdict(status, at, offline.parsed.record);
    // The center's answer wins, except that a chip past its signed dates stays refused.
    res.json(online.valid && !offline.verdict.valid ? { ...online, valid: false, reason: offline.verdict.reason } : online);
  });

  r.get('/cards/:cardId', async (req, res) => {
    const { cardId } = CardParams.parse(req.params);
    res.json(onlineVerdict(await statuses.load(cardId), now()));
  });

  return r;
}
