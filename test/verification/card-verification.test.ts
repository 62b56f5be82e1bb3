/**
 * Verification and revocation on the real stack (Temporal dev server, MariaDB, workers, API, demo
 * issuer): a card sold for cash verifies with the center's signature and online status; its
 * issuer revokes it through the issuer API and it is refused at once; a repeat is harmless;
 * another issuer cannot touch it; a tampered chip fails; the issuer gets a signed card.revoked event.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { createIssuerApiKey } from '../../api/issuer-auth';
import { crc32 } from '../../domain/crc32';
import { parseCardRecord } from '../../domain/card-record';
import { CardIdKey, IssuerIdKey, RevocationReasonKey } from '../../domain/search-attributes';
import { newSigningKeyPem } from '../../lib/card-signing';
import { GateVerifier } from '../../lib/gate-verifier';
import { verifySignature } from '../../lib/webhook-signature';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

// One key for the API and the in-process center worker of this suite.
process.env.CARD_SIGNING_KEY = newSigningKeyPem();

let stack: Stack;
let cardId: string;
let chip: Buffer;
const keys: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack();
  for (const issuerId of [DEMO_ISSUERS.promoter, DEMO_ISSUERS.railway]) {
    keys[issuerId] = (await createIssuerApiKey(stack.db, { issuerId, label: 'test', createdBy: 'test' })).apiKey;
  }
  const seat = await freeSeat(stack.db);
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 10000]);
  cardId = (await kiosk.waitForStage('completed')).cardId!;
  const card = await stack.db('cards').where({ id: cardId }).first('uid');
  const handedOut = stack.machine(stack.terminalIds[0]).dispensed.find((c) => c.uid === card.uid)!;
  chip = Buffer.from(handedOut.chipBase64, 'base64');
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function post(path: string, body: unknown, token?: string) {
  const res = await fetch(`${stack.apiUrl}/api${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}
async function get(path: string) {
  const res = await fetch(`${stack.apiUrl}/api${path}`);
  return { status: res.status, body: (await res.json()) as any };
}
const revocationCount = async () => Number((await stack.db('card_revocations').where({ card_id: cardId }).count({ n: '*' }))[0].n);

test('the chip holds a v2 record signed with the published key, and the card verifies valid', async () => {
  const parsed = parseCardRecord(chip);
  expect(parsed.version).toBe(2);
  expect(parsed.record.cardId).toBe(cardId);
  expect(parsed.record.product).toMatchObject({ kind: 'seat', venue: expect.any(String), row: expect.any(String), seat: expect.any(Number) });
  expect(parsed.value!.state).toEqual({ seq: 1, balanceMinor: 0, flags: 0 });

  const published = await get('/verify/keys');
  expect(published.body.keys.map((k: any) => k.keyId)).toContain(parsed.keyId);
  expect(published.body.keys[0].jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: published.body.keys[0].keyId });

  const gate = await GateVerifier.fromCenter(stack.apiUrl);
  expect(gate.verifyOffline(chip)).toMatchObject({ valid: true, reason: null, card: { cardId } });
  const verdict = await gate.verify(chip);
  expect(verdict).toMatchObject({ valid: true, reason: null, online: true, card: { cardId, issuerId: DEMO_ISSUERS.promoter, productType: 'concert' } });
  expect(verdict.card!.validUntil).toBe(parsed.record.validUntil);
  expect((await get(`/verify/cards/${cardId}`)).body).toMatchObject({ valid: true, reason: null });
  expect((await get('/verify/cards/CDOESNOTEXIST')).body).toEqual({ valid: false, reason: 'unknown_card', card: null });
});

test('a tampered chip fails: a changed seat with a recomputed CRC fails the signature; a torn one does not decode', async () => {
  const forged = Buffer.from(chip.toString('latin1').replace(/"seat":(\d+)/, (_m, n: string) => `"seat":${n[0] === '1' ? '2' : '1'}${n.slice(1)}`), 'latin1');
  expect(forged.equals(chip)).toBe(false);
  const parsed = parseCardRecord(chip);
  forged.writeUInt32BE(crc32(forged.subarray(0, parsed.valueAreaOffset!)), forged.length - 4);
  expect((await post('/verify', { record: forged.toString('base64') })).body).toEqual({ valid: false, reason: 'bad_signature', card: null });
  const torn = Buffer.from(chip);
  torn[20] ^= 0x01;
  expect((await post('/verify', { record: torn.toString('base64') })).body).toEqual({ valid: false, reason: 'malformed_record', card: null });
  const bad = await post('/verify', { record: 'not base64!' });
  expect(bad.status).toBe(400);
  expect(bad.body.error.code).toBe('invalid_input');
  expect((await post('/verify', {})).status).toBe(400);
  const badId = await get('/verify/cards/not%20a%20card!');
  expect(badId.status).toBe(400);
  expect(badId.body.error.code).toBe('invalid_input');
});

test('bad revocation requests and another issuer change nothing', async () => {
  const wrongReason = await post(`/issuer/cards/${cardId}/revocations`, { reason: 'misplaced', requestId: 'r-0' }, keys[DEMO_ISSUERS.promoter]);
  expect(wrongReason.status).toBe(400);
  expect(wrongReason.body.error.code).toBe('invalid_input');
  const noAuth = await post(`/issuer/cards/${cardId}/revocations`, { reason: 'lost', requestId: 'r-0' });
  expect(noAuth.status).toBe(401);
  const other = await post(`/issuer/cards/${cardId}/revocations`, { reason: 'fraud', requestId: 'r-x' }, keys[DEMO_ISSUERS.railway]);
  expect(other.status).toBe(404);
  expect(other.body.error.code).toBe('not_found');
  expect(await revocationCount()).toBe(0);
  await expect(stack.temporal.workflow.getHandle(`revocation-${cardId}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  expect((await get(`/verify/cards/${cardId}`)).body.valid).toBe(true);
});

test('the issuer revokes the card: refused at once with reason revoked, a repeat is harmless, the issuer is told', async () => {
  const first = await post(`/issuer/cards/${cardId}/revocations`, { reason: 'lost', requestId: 'req-1' }, keys[DEMO_ISSUERS.promoter]);
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ cardId, status: 'revoked', reason: 'lost', requestId: 'req-1', alreadyRevoked: false, workflowId: `revocation-${cardId}` });

  const gate = await GateVerifier.fromCenter(stack.apiUrl);
  expect(await gate.verify(chip)).toMatchObject({ valid: false, reason: 'revoked', online: true, card: { cardId, revocationReason: 'lost' } });
  expect(gate.verifyOffline(chip).valid).toBe(true); // the chip alone cannot know: revocation is online
  expect((await get(`/verify/cards/${cardId}`)).body).toMatchObject({ valid: false, reason: 'revoked' });

  const again = await post(`/issuer/cards/${cardId}/revocations`, { reason: 'stolen', requestId: 'req-2' }, keys[DEMO_ISSUERS.promoter]);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ status: 'revoked', reason: 'lost', requestId: 'req-1', alreadyRevoked: true, revokedAt: first.body.revokedAt });
  expect(await revocationCount()).toBe(1);

  const handle = stack.temporal.workflow.getHandle(`revocation-${cardId}`);
  const result = await handle.result();
  expect(result).toMatchObject({ cardId, alreadyRevoked: false, eventId: `evt-card.revoked-${cardId}` });
  const desc = await handle.describe();
  expect(desc.type).toBe('revocation');
  expect(desc.typedSearchAttributes.get(CardIdKey)).toBe(cardId);
  expect(desc.typedSearchAttributes.get(IssuerIdKey)).toBe(DEMO_ISSUERS.promoter);
  expect(desc.typedSearchAttributes.get(RevocationReasonKey)).toBe('lost');
  expect(await desc.memo).toMatchObject({ card: cardId, reason: 'lost', requestId: 'req-1', requestedBy: expect.stringContaining(DEMO_ISSUERS.promoter) });

  await until('the card.revoked event at the issuer', () => stack.issuer.events.has(`evt-card.revoked-${cardId}`), 20_000);
  const event = stack.issuer.events.get(`evt-card.revoked-${cardId}`)!;
  expect(event.deliveries).toBe(1);
  expect(event.payload).toMatchObject({ type: 'card.revoked', data: { cardId, reason: 'lost', requestId: 'req-1', requestedBy: { kind: 'issuer' } } });
  expect(stack.issuer.rejected).toEqual([]);
  const row = await stack.db('issuer_notifications').where({ event_id: `evt-card.revoked-${cardId}` }).first();
  expect(row.status).toBe('delivered');
  const secret = (await stack.db('issuers').where({ id: DEMO_ISSUERS.promoter }).first('webhook_secret')).webhook_secret;
  expect(verifySignature(secret, row.payload, 'v1=forged', Math.floor(Date.now() / 1000)).ok).toBe(false);

  const lookup = await fetch(`${stack.apiUrl}/api/issuer/cards/${cardId}/revocation`, { headers: { authorization: `Bearer ${keys[DEMO_ISSUERS.railway]}` } });
  expect(lookup.status).toBe(404);
});
