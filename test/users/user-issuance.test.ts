/**
 * Registered users buying and losing cards on the real stack (Temporal dev server, MariaDB,
 * workers, API, demo issuer): an issuance as a logged-in user writes the user ID on the chip and
 * the name on a pass's face; "renew my pass" continues the old validity; a product printing the
 * holder's photo is refused without a PNG photo and printed with it; the owner reports a card lost
 * at a kiosk (refused by verification at once, issuer told, the Web UI shows who asked), and
 * cannot touch anyone else's card.
 */
import { createHash } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createIssuerApiKey } from '../../api/issuer-auth';
import { parseCardRecord } from '../../domain/card-record';
import { CardIdKey, IssuerIdKey, RevocationReasonKey } from '../../domain/search-attributes';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { freeSeat } from '../support/assertions';
import { Kiosk, newRequestId } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';
import { api, login, OPERATOR_TOKENS_ENV, photoPng, register, tinyJpeg } from './support';

process.env.OPERATOR_TOKENS = OPERATOR_TOKENS_ENV;
process.env.ISSUER_API_CHECK_RESPONSES = '1';

let stack: Stack;
let terminal: string;
beforeAll(async () => {
  stack = await startStack();
  terminal = stack.terminalIds[0];
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function fareId(origin: string, months: number): Promise<number> {
  const f = await stack.db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').where({ 'r.origin': origin, 'f.months': months }).first('f.id');
  return Number(f.id);
}

/** Pays the confirmed item in 10,000-yen notes and waits for the card. */
async function payCashAndWait(kiosk: Kiosk): Promise<string> {
  const p = await kiosk.progress();
  expect((await kiosk.confirm()).status).toBe(200);
  expect((await kiosk.payment('cash')).status).toBe(200);
  for (let paid = 0; paid < p.item!.quote.totalMinor; paid += 10_000) expect((await kiosk.insertCash(10_000)).status).toBe(200);
  const done = await kiosk.waitForStage('completed');
  return done.cardId!;
}

/** Start (as the logged-in user when a token is given), select, pay cash, wait for the card. */
async function buy(selection: Parameters<Kiosk['select']>[0], token?: string): Promise<{ issuanceId: string; cardId: string }> {
  const kiosk = new Kiosk(stack.apiUrl, terminal);
  const started = await api(stack, 'POST', `/kiosk/${terminal}/issuances`, { requestId: newRequestId() }, token);
  expect(started.status).toBe(201);
  kiosk.issuanceId = started.body.issuanceId;
  const sel = await kiosk.select(selection);
  if (sel.status !== 200) throw new Error(`select refused: ${JSON.stringify(sel.body)}`);
  return { issuanceId: kiosk.issuanceId, cardId: await payCashAndWait(kiosk) };
}

function chipOf(cardUid: string): Buffer {
  const card = stack.machine(terminal).dispensed.find((c) => c.uid === cardUid)!;
  return Buffer.from(card.chipBase64, 'base64');
}
async function dispensed(cardId: string) {
  const { uid } = await stack.db('cards').where({ id: cardId }).first('uid');
  return stack.machine(terminal).dispensed.find((c) => c.uid === uid)!;
}

test('a pass bought as a logged-in user: user ID on the chip and the issuance, name on the face, nothing personal in the Web UI', async () => {
  const u = await register(stack);
  const token = await login(stack, u.userId, u.pin);
  const { issuanceId, cardId } = await buy({ kind: 'fare', fareId: await fareId('Shinjuku', 1) }, token);

  expect((await stack.db('issuances').where({ id: issuanceId }).first('user_id')).user_id).toBe(u.userId);
  const card = await dispensed(cardId);
  const record = parseCardRecord(chipOf(card.uid)).record;
  expect(record).toMatchObject({ cardId, issuanceId, userId: u.userId, productType: 'commuter' });
  expect(card.face!.lines).toEqual(['Kanto Railway commuter pass', 'Shinjuku ⇄ Tachikawa', '1 month', `Holder: ${u.profile.name}`]);
  expect(card.face!.holderPhotoSha256).toBeUndefined();

  const desc = await stack.temporal.workflow.getHandle(issuanceId).describe();
  const visible = JSON.stringify({ sa: desc.typedSearchAttributes.getAll(), memo: await desc.memo });
  for (const personal of [u.profile.name, u.profile.address, u.profile.phone, u.userId]) expect(visible).not.toContain(personal as string);

  // An anonymous purchase still carries no user.
  const anon = await buy({ kind: 'prepaid', valueId: Number((await stack.db('prepaid_values').first('id')).id) });
  expect(parseCardRecord(chipOf((await dispensed(anon.cardId)).uid)).record.userId).toBeNull();
  expect((await dispensed(anon.cardId)).face!.lines.some((l) => l.startsWith('Holder'))).toBe(false);

  const purchases = await api(stack, 'GET', '/users/me/purchases', undefined, token);
  expect(purchases.body.purchases).toEqual([expect.objectContaining({ issuanceId, cardId, productType: 'commuter', canBuyAgain: true, revoked: false })]);
  const cards = await api(stack, 'GET', '/users/me/cards', undefined, token);
  expect(cards.body.cards).toEqual([expect.objectContaining({ cardId, status: 'valid', revocation: null })]);
});

test('renew my pass: one touch starts the same fare, the new pass starts where the old one ends', async () => {
  const u = await register(stack);
  const token = await login(stack, u.userId, u.pin);
  const first = await buy({ kind: 'fare', fareId: await fareId('Shibuya', 3) }, token);
  const oldCard = await stack.db('cards').where({ id: first.cardId }).first('valid_from_ms', 'valid_until_ms');

  const renewal = await api(stack, 'POST', `/users/me/purchases/${first.issuanceId}/again`, { requestId: newRequestId() }, token);
  expect(renewal.status).toBe(201);
  expect(renewal.body).toMatchObject({ renews: first.cardId, item: { productType: 'commuter', selection: { kind: 'fare', fareId: await fareId('Shibuya', 3) } }, progress: { stage: 'selected' } });
  const kiosk = new Kiosk(stack.apiUrl, terminal);
  kiosk.issuanceId = renewal.body.issuanceId;

  // A renewal is for the same pass: choosing another fare on it is refused.
  const other = await kiosk.select({ kind: 'fare', fareId: await fareId('Ueno', 1) });
  expect(other.status).toBe(422);
  expect(other.body.error.message).toMatch(/same commuter pass/);
  const renewedCardId = await payCashAndWait(kiosk);

  const row = await stack.db('issuances').where({ id: renewal.body.issuanceId }).first('user_id', 'renews_card_id');
  expect(row).toEqual({ user_id: u.userId, renews_card_id: first.cardId });
  const newCard = await stack.db('cards').where({ id: renewedCardId }).first('valid_from_ms', 'valid_until_ms', 'uid');
  expect(Number(newCard.valid_from_ms)).toBe(Number(oldCard.valid_until_ms));
  const record = parseCardRecord(chipOf(newCard.uid)).record;
  expect(record.validFrom).toBe(new Date(Number(oldCard.valid_until_ms)).toISOString());
  expect(record.userId).toBe(u.userId);
  // Three months on from the old end (JST dates), about 89-92 days.
  const days = (Number(newCard.valid_until_ms) - Number(newCard.valid_from_ms)) / 86_400_000;
  expect(days).toBeGreaterThanOrEqual(89);
  expect(days).toBeLessThanOrEqual(92);

  // A seat cannot be bought again; someone else's purchase is not found.
  const concert = await buy({ kind: 'seat', seatId: (await freeSeat(stack.db)).id }, token);
  const seatAgain = await api(stack, 'POST', `/users/me/purchases/${concert.issuanceId}/again`, { requestId: newRequestId() }, token);
  expect(seatAgain.status).toBe(409);
  expect(seatAgain.body.error.code).toBe('not_repeatable');
  const stranger = await register(stack);
  const strangerToken = await login(stack, stranger.userId, stranger.pin);
  const before = Number((await stack.db('issuances').count({ n: '*' }))[0].n);
  const notMine = await api(stack, 'POST', `/users/me/purchases/${first.issuanceId}/again`, { requestId: newRequestId() }, strangerToken);
  expect(notMine.status).toBe(404);
  expect(Number((await stack.db('issuances').count({ n: '*' }))[0].n)).toBe(before);

  // Buying a prepaid value again; when the item is no longer on sale the new issuance is ended, not left waiting.
  const value = await stack.db('prepaid_values').orderBy('id', 'desc').first('id', 'product_id');
  const prepaid = await buy({ kind: 'prepaid', valueId: Number(value.id) }, token);
  await stack.db('products').where({ id: value.product_id }).update({ active: false });
  try {
    const requestId = newRequestId();
    const gone = await api(stack, 'POST', `/users/me/purchases/${prepaid.issuanceId}/again`, { requestId }, token);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('unknown_item');
    const progress = await stack.temporal.workflow.getHandle(`iss-${terminal}-${requestId}`).result();
    expect(progress.stage).toBe('cancelled');
  } finally {
    await stack.db('products').where({ id: value.product_id }).update({ active: true });
  }
  const repeat = await api(stack, 'POST', `/users/me/purchases/${prepaid.issuanceId}/again`, { requestId: newRequestId() }, token);
  expect(repeat.status).toBe(201);
  expect(repeat.body).toMatchObject({ renews: null, item: { productType: 'prepaid', selection: { kind: 'prepaid', valueId: Number(value.id) } } });
  const k = new Kiosk(stack.apiUrl, terminal);
  k.issuanceId = repeat.body.issuanceId;
  expect((await k.cancel()).status).toBe(200);
});

test("a product printing the holder's photo: refused without a PNG photo, printed with it", async () => {
  // The railway's photo pass: a face template asking for the holder's photo.
  const pass = await stack.db('products').where({ issuer_id: DEMO_ISSUERS.railway }).first();
  const now = Date.now();
  const [templateId] = await stack.db('face_templates').insert({ issuer_id: DEMO_ISSUERS.railway, name: 'Photo pass', image_id: pass.face_image_id, holder_photo: true, created_at_ms: now, updated_at_ms: now });
  const [productId] = await stack.db('products').insert({ issuer_id: DEMO_ISSUERS.railway, node_id: pass.node_id, type: 'commuter', name: 'Kanto Railway student pass', currency: 'JPY', issuance_fee_minor: 0, face_image_id: pass.face_image_id, face_template_id: templateId, active: true });
  const [routeId] = await stack.db('commuter_routes').insert({ product_id: productId, origin: 'Kokubunji', destination: 'Shinjuku', via: null });
  const [photoFare] = await stack.db('commuter_fares').insert({ route_id: routeId, months: 1, price_minor: 6000 });
  const selection = { kind: 'fare' as const, fareId: Number(photoFare) };
  const issuances = async () => Number((await stack.db('issuances').count({ n: '*' }))[0].n);

  const tryToSelect = async (token?: string) => {
    const started = await api(stack, 'POST', `/kiosk/${terminal}/issuances`, { requestId: newRequestId() }, token);
    const kiosk = new Kiosk(stack.apiUrl, terminal);
    kiosk.issuanceId = started.body.issuanceId;
    const r = await kiosk.select(selection);
    await kiosk.cancel();
    return r;
  };
  const before = await issuances();
  const anonymous = await tryToSelect();
  expect(anonymous.status).toBe(422);
  expect(anonymous.body.error).toEqual({ code: 'photo_required', message: "This card carries the holder's photo: please log in with your user ID and PIN (a registration with a photo) to buy it." });
  const noPhoto = await register(stack);
  const r1 = await tryToSelect(await login(stack, noPhoto.userId, noPhoto.pin));
  expect(r1.body.error).toEqual({ code: 'photo_required', message: "This card carries the holder's photo, and your registration has no photo. Please add a photo to your registration first." });
  const jpeg = await register(stack, { photo: { contentType: 'image/jpeg', base64: tinyJpeg().toString('base64') } });
  const r2 = await tryToSelect(await login(stack, jpeg.userId, jpeg.pin));
  expect(r2.body.error.code).toBe('photo_required');
  expect(r2.body.error.message).toMatch(/your photo is a JPEG: the card printer prints PNG photos/);
  expect(await issuances()).toBe(before); // refused before anything was held

  const png = photoPng([30, 90, 200]);
  const holder = await register(stack, { photo: { contentType: 'image/png', base64: png.toString('base64') } });
  const { issuanceId, cardId } = await buy(selection, await login(stack, holder.userId, holder.pin));
  const card = await dispensed(cardId);
  expect(card.face!.holderPhotoSha256).toBe(createHash('sha256').update(png).digest('hex'));
  expect(card.face!.lines).toContain(`Holder: ${holder.profile.name}`);
  expect(parseCardRecord(chipOf(card.uid)).record.userId).toBe(holder.userId);
  // The photo travelled only inside encrypted payloads: the raw history holds no PNG bytes.
  const history = JSON.stringify(await stack.temporal.workflow.getHandle(issuanceId).fetchHistory());
  expect(history).not.toContain(png.toString('base64').slice(0, 40));
});

test('the owner reports a card lost at a kiosk: refused at once, issuer told, the Web UI shows card, reason and who asked; other cards untouched', async () => {
  const owner = await register(stack);
  const token = await login(stack, owner.userId, owner.pin);
  const mine = await buy({ kind: 'seat', seatId: (await freeSeat(stack.db)).id }, token);
  const anonymousCard = (await buy({ kind: 'seat', seatId: (await freeSeat(stack.db)).id })).cardId;
  const other = await register(stack);
  const otherToken = await login(stack, other.userId, other.pin);
  const othersCard = (await buy({ kind: 'prepaid', valueId: Number((await stack.db('prepaid_values').first('id')).id) }, otherToken)).cardId;
  const revocations = async () => Number((await stack.db('card_revocations').count({ n: '*' }))[0].n);
  const before = await revocations();

  // Someone else's card, an anonymous card, an unknown card: 404, nothing started.
  for (const cardId of [othersCard, anonymousCard, 'CFFFFFFFFFFFF']) {
    const r = await api(stack, 'POST', `/users/me/cards/${cardId}/report-lost`, { requestId: newRequestId() }, token);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    await expect(stack.temporal.workflow.getHandle(`revocation-${cardId}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }
  expect((await api(stack, 'POST', `/users/me/cards/${mine.cardId}/report-lost`, { requestId: newRequestId() })).status).toBe(401);
  expect((await api(stack, 'POST', `/users/me/cards/${mine.cardId}/report-lost`, { requestId: newRequestId(), reason: 'fraud' }, token)).status).toBe(400);
  expect(await revocations()).toBe(before);
  expect((await api(stack, 'GET', `/verify/cards/${othersCard}`)).body.valid).toBe(true);

  const requestId = newRequestId();
  const lost = await api(stack, 'POST', `/users/me/cards/${mine.cardId}/report-lost`, { requestId, reason: 'lost' }, token);
  expect(lost.status).toBe(201);
  expect(lost.body).toMatchObject({ cardId: mine.cardId, status: 'revoked', reason: 'lost', alreadyRevoked: false, workflowId: `revocation-${mine.cardId}` });
  expect((await api(stack, 'GET', `/verify/cards/${mine.cardId}`)).body).toMatchObject({ valid: false, reason: 'revoked' });
  const again = await api(stack, 'POST', `/users/me/cards/${mine.cardId}/report-lost`, { requestId: newRequestId(), reason: 'stolen' }, token);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ status: 'revoked', reason: 'lost', alreadyRevoked: true });
  expect(await revocations()).toBe(before + 1);
  const row = await stack.db('card_revocations').where({ card_id: mine.cardId }).first();
  expect(row).toMatchObject({ requested_by_kind: 'owner', requested_by_id: owner.userId, reason: 'lost', request_id: requestId });

  const handle = stack.temporal.workflow.getHandle(`revocation-${mine.cardId}`);
  expect(await handle.result()).toMatchObject({ cardId: mine.cardId, alreadyRevoked: false });
  const desc = await handle.describe();
  expect(desc.typedSearchAttributes.get(CardIdKey)).toBe(mine.cardId);
  expect(desc.typedSearchAttributes.get(IssuerIdKey)).toBe(DEMO_ISSUERS.promoter);
  expect(desc.typedSearchAttributes.get(RevocationReasonKey)).toBe('lost');
  expect(await desc.memo).toMatchObject({ card: mine.cardId, reason: 'lost', requestedBy: `registered owner ${owner.userId} at kiosk ${terminal}` });
  expect(JSON.stringify(desc.typedSearchAttributes.getAll())).not.toContain(owner.userId);

  await until('the card.revoked event at the issuer', () => stack.issuer.events.has(`evt-card.revoked-${mine.cardId}`), 20_000);
  const event = stack.issuer.events.get(`evt-card.revoked-${mine.cardId}`)!;
  expect(event.payload).toMatchObject({ type: 'card.revoked', data: { cardId: mine.cardId, reason: 'lost', requestedBy: { kind: 'owner', userId: owner.userId } } });
  expect(JSON.stringify(event.payload)).not.toContain(owner.profile.name as string);
  expect(stack.issuer.rejected).toEqual([]);

  // The issuer sees who asked; a later issuer request is harmless.
  const key = (await createIssuerApiKey(stack.db, { issuerId: DEMO_ISSUERS.promoter, label: 'test', createdBy: 'test' })).apiKey;
  const seen = await api(stack, 'GET', `/issuer/cards/${mine.cardId}/revocation`, undefined, key);
  expect(seen.status).toBe(200);
  expect(seen.body).toMatchObject({ reason: 'lost', requestedBy: { kind: 'owner', userId: owner.userId } });
  const issuerRepeat = await api(stack, 'POST', `/issuer/cards/${mine.cardId}/revocations`, { reason: 'fraud', requestId: 'issuer-1' }, key);
  expect(issuerRepeat.status).toBe(200);
  expect(issuerRepeat.body).toMatchObject({ alreadyRevoked: true, requestedBy: { kind: 'owner' } });

  const cards = await api(stack, 'GET', '/users/me/cards', undefined, token);
  expect(cards.body.cards).toEqual([expect.objectContaining({ cardId: mine.cardId, status: 'revoked', revocation: expect.objectContaining({ reason: 'lost', by: 'owner' }) })]);
  expect((await api(stack, 'GET', `/verify/cards/${othersCard}`)).body.valid).toBe(true);
  expect((await api(stack, 'GET', `/verify/cards/${anonymousCard}`)).body.valid).toBe(true);
});
