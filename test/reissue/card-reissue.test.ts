/**
 * Reissue on the real stack (Temporal dev server, MariaDB, workers, API, demo issuer, two kiosks):
 * the issuer reissues a lost card — it is refused at once and a pickup code comes back; a repeat
 * changes nothing; bad codes and other issuers change nothing; two kiosks entering the code at
 * once make one card; the replacement carries the same seat / pass / prepaid value and validity
 * with a new card id, linked both ways; a reissue fee is paid in cash; a failure after payment
 * refunds and leaves the reissue collectable; the ledger's invariants hold throughout.
 */
import { createIssuerApiKey } from '../../api/issuer-auth';
import { checkLedger } from '../../activities/center/ledger-check';
import { parseCardRecord } from '../../domain/card-record';
import type { Progress } from '../../domain/issuance';
import { newSigningKeyPem } from '../../lib/card-signing';
import { GateVerifier } from '../../lib/gate-verifier';
import { verifySignature } from '../../lib/webhook-signature';
import { DEMO_ISSUERS } from '../../migrations/seeds/demo';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';
import { freeSeat, snapshot } from '../support/assertions';
import { call, Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';
import { until } from '../support/until';

process.env.CARD_SIGNING_KEY = newSigningKeyPem();
process.env.ISSUER_API_CHECK_RESPONSES = '1';

let stack: Stack;
const keys: Record<string, string> = {};
let gate: GateVerifier;

beforeAll(async () => {
  stack = await startStack({ terminals: 2 });
  for (const issuerId of Object.values(DEMO_ISSUERS)) keys[issuerId] = (await createIssuerApiKey(stack.db, { issuerId, label: 'test', createdBy: 'test' })).apiKey;
  gate = await GateVerifier.fromCenter(stack.apiUrl);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function issuerCall(issuerId: string | null, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.apiUrl}/api${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(issuerId ? { authorization: `Bearer ${keys[issuerId]}` } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A card bought for cash (¥10,000 notes) at the first kiosk: its id, issuance and the chip as handed out. */
async function buyCard(selection: Parameters<Kiosk['buyWithCash']>[0]) {
  const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
  await kiosk.buyWithNotes(selection);
  const done = await kiosk.waitForStage('completed');
  return { cardId: done.cardId!, issuanceId: kiosk.issuanceId, chip: await chipOf(done.cardId!) };
}

async function chipOf(cardId: string): Promise<Buffer> {
  const card = await stack.db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', cardId).first('c.uid', 'i.terminal_id');
  const out = stack.machine(card.terminal_id).dispensed.find((c) => c.uid === card.uid)!;
  return Buffer.from(out.chipBase64, 'base64');
}

const enterCode = (kiosk: Kiosk, pickupCode: string) => kiosk.enterPickupCode(pickupCode);

const count = async (table: string, where: Record<string, unknown> = {}) => Number((await stack.db(table).where(where).count({ n: '*' }))[0].n);
const ledgerProblems = async () => (await checkLedger(stack.db)).filter((c) => !c.ok);

describe('a concert ticket, reissued with the fee waived', () => {
  let original: { cardId: string; issuanceId: string; chip: Buffer };
  let seatId: number;
  let code: string;

  beforeAll(async () => {
    seatId = (await freeSeat(stack.db)).id;
    original = await buyCard({ kind: 'seat', seatId });
  }, 120_000);

  test('bad requests and another issuer change nothing', async () => {
    const before = await snapshot(stack.db);
    const other = await issuerCall(DEMO_ISSUERS.railway, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'x-1' });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    expect((await issuerCall(null, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'x-1' })).status).toBe(401);
    const badReason = await issuerCall(DEMO_ISSUERS.promoter, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'misplaced', requestId: 'x-1' });
    expect(badReason.status).toBe(400);
    expect(badReason.body.error.code).toBe('invalid_input');
    expect((await issuerCall(DEMO_ISSUERS.promoter, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'x-1', extra: 1 })).status).toBe(400);
    expect((await issuerCall(DEMO_ISSUERS.promoter, 'POST', '/issuer/cards/CNOSUCHCARD/reissue', { reason: 'lost', requestId: 'x-1' })).status).toBe(404);
    const none = await issuerCall(DEMO_ISSUERS.promoter, 'GET', `/issuer/cards/${original.cardId}/reissue`);
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('not_reissued');
    expect(await count('card_reissues')).toBe(0);
    expect(await count('card_revocations')).toBe(0);
    expect(await snapshot(stack.db)).toEqual(before);
    expect((await gate.verify(original.chip)).valid).toBe(true);
  });

  test('the issuer reissues the card: it is refused at once, a pickup code comes back; a repeat changes nothing', async () => {
    const first = await issuerCall(DEMO_ISSUERS.promoter, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'rq-1', waiveFee: true });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ cardId: original.cardId, status: 'pending', reason: 'lost', feeMinor: 0, feeWaived: true, revoked: true, newCardId: null, requestId: 'rq-1' });
    expect(first.body.pickupCode).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    code = first.body.pickupCode;
    expect(await gate.verify(original.chip)).toMatchObject({ valid: false, reason: 'revoked', online: true });

    const again = await issuerCall(DEMO_ISSUERS.promoter, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'stolen', requestId: 'rq-2' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ cardId: original.cardId, status: 'pending', pickupCode: null, reason: 'lost', requestId: 'rq-1', createdAt: first.body.createdAt });
    expect(await count('card_reissues')).toBe(1);
    expect(await count('card_revocations')).toBe(1);
    // The code is kept only as a hash.
    const row = await stack.db('card_reissues').where({ original_card_id: original.cardId }).first();
    expect(JSON.stringify(row)).not.toContain(code.replace(/-/g, ''));
    const revocation = stack.temporal.workflow.getHandle(`revocation-${original.cardId}`);
    expect(await revocation.result()).toMatchObject({ cardId: original.cardId, alreadyRevoked: false });
    await until('the card.revoked event at the issuer', () => stack.issuer.events.has(`evt-card.revoked-${original.cardId}`), 20_000);
  });

  test('a wrong or malformed code at the kiosk: a clear error and nothing changes', async () => {
    const before = await snapshot(stack.db);
    const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
    const malformed = await enterCode(kiosk, 'ABC');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/pickup code/);
    const wrong = await call(stack.apiUrl, 'POST', `/api/issuances/${kiosk.issuanceId}/select`, { requestId: 'wrong-code-1', selection: { kind: 'reissue', pickupCode: 'ZZZZ-ZZZZ-ZZZZ' } });
    expect(wrong.status).toBe(404);
    expect(wrong.body.error).toMatchObject({ code: 'unknown_item', message: expect.stringMatching(/pickup code is not valid/) });
    expect((await kiosk.cancel()).status).toBe(200);
    expect(await snapshot(stack.db)).toEqual(before);
    expect((await stack.db('card_reissues').first()).status).toBe('pending');
  });

  test('two kiosks enter the code at once: one makes the card, the other is told; the replacement is identical and linked', async () => {
    const [a, b] = stack.terminalIds.map((t) => new Kiosk(stack.apiUrl, t));
    const answers = await Promise.all([enterCode(a, code.toLowerCase()), enterCode(b, code.replace(/-/g, ' '))]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = answers[0].status === 200 ? a : b;
    const loser = winner === a ? b : a;
    const refused = answers.find((r) => r.status === 409)!;
    expect(refused.body.error).toMatchObject({ code: 'item_unavailable', message: expect.stringMatching(/being collected at another kiosk/) });
    expect((await loser.cancel()).status).toBe(200);

    const item = answers.find((r) => r.status === 200)!.body.item;
    expect(item.quote).toMatchObject({ priceMinor: 0, customerFeeMinor: 0, totalMinor: 0 });
    expect(item.lines).toContain(`Replacement for card ${original.cardId}`);
    expect((await winner.confirm()).status).toBe(200);
    const done = await winner.waitForStage('completed');
    const newCardId = done.cardId!;
    expect(newCardId).not.toBe(original.cardId);
    expect(done.paymentMethod).toBeNull();
    // Two cards left the kiosks in all: the original and its one replacement.
    expect(stack.terminalIds.flatMap((t) => stack.machine(t).dispensed)).toHaveLength(2);

    // Same seat, same validity, a new card id, signed by the center; the old card stays dead.
    const chip = await chipOf(newCardId);
    const was = parseCardRecord(original.chip).record;
    const now = parseCardRecord(chip).record;
    expect(now.cardId).toBe(newCardId);
    expect(now.product).toMatchObject({ ...was.product, replacesCardId: original.cardId });
    expect({ from: now.validFrom, until: now.validUntil }).toEqual({ from: was.validFrom, until: was.validUntil });
    expect(await gate.verify(chip)).toMatchObject({ valid: true, reason: null, online: true, card: { cardId: newCardId } });
    expect(await gate.verify(original.chip)).toMatchObject({ valid: false, reason: 'revoked' });

    // Linked both ways.
    const newCard = await issuerCall(DEMO_ISSUERS.promoter, 'GET', `/issuer/cards/${newCardId}`);
    expect(newCard.body).toMatchObject({ cardId: newCardId, replacementFor: original.cardId, replacedBy: null, content: { kind: 'seat', seatId } });
    expect((await issuerCall(DEMO_ISSUERS.promoter, 'GET', `/issuer/cards/${original.cardId}`)).body).toMatchObject({ replacementFor: null, replacedBy: newCardId });
    expect((await issuerCall(DEMO_ISSUERS.promoter, 'GET', `/issuer/cards/${original.cardId}/reissue`)).body).toMatchObject({ status: 'completed', newCardId, pickupCode: null });
    expect((await issuerCall(DEMO_ISSUERS.railway, 'GET', `/issuer/cards/${original.cardId}/reissue`)).status).toBe(404);

    // The seat is sold once, still to the original sale; the replacement's sale is of nothing.
    expect(await count('seats', { sold_issuance_id: original.issuanceId })).toBe(1);
    expect(await count('seats', { sold_issuance_id: winner.issuanceId })).toBe(0);
    expect(await stack.db('sales').where({ issuance_id: winner.issuanceId }).first()).toMatchObject({ card_id: newCardId, price_minor: 0, customer_fee_minor: 0, operator_fee_minor: 0, issuer_net_minor: 0 });
    expect(await count('payments', { issuance_id: winner.issuanceId })).toBe(0);

    // The issuer is told with a signed card.reissued event.
    const eventId = `evt-card.reissued-${winner.issuanceId}`;
    await until('the card.reissued event at the issuer', () => stack.issuer.events.has(eventId), 20_000);
    expect(stack.issuer.events.get(eventId)!.payload).toMatchObject({ type: 'card.reissued', data: { originalCardId: original.cardId, cardId: newCardId, originalIssuanceId: original.issuanceId, reissueFeeMinor: 0, requestId: 'rq-1' } });
    expect(stack.issuer.rejected).toEqual([]);
    const stored = await stack.db('issuer_notifications').where({ event_id: eventId }).first();
    const secret = (await stack.db('issuers').where({ id: DEMO_ISSUERS.promoter }).first('webhook_secret')).webhook_secret;
    expect(verifySignature(secret, stored.payload, 'v1=forged', Math.floor(Date.now() / 1000)).ok).toBe(false);

    // The code is used up; asking again changes nothing.
    const late = await enterCode(new Kiosk(stack.apiUrl, stack.terminalIds[0]), code);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/already been collected/);
    const repeat = await issuerCall(DEMO_ISSUERS.promoter, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'rq-1', newCode: true });
    expect(repeat.status).toBe(409);
    expect(repeat.body.error.code).toBe('reissue_completed');
    expect(await ledgerProblems()).toEqual([]);
  });

  test('the replacement is lost too: it is reissued in turn, still the same seat', async () => {
    const first = (await stack.db('card_reissues').where({ original_card_id: original.cardId }).first('new_card_id')).new_card_id as string;
    const opened = await issuerCall(DEMO_ISSUERS.promoter, 'POST', `/issuer/cards/${first}/reissue`, { reason: 'stolen', requestId: 'rq-3', waiveFee: true });
    expect(opened.status).toBe(201);
    const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[1]);
    const held = await enterCode(kiosk, opened.body.pickupCode);
    expect(held.body.item.lines).toContain(`Replacement for card ${first}`);
    expect((await kiosk.confirm()).status).toBe(200);
    const done = await kiosk.waitForStage('completed');
    const record = parseCardRecord(await chipOf(done.cardId!)).record;
    expect(record.product).toMatchObject({ kind: 'seat', seatId, replacesCardId: first });
    expect(await gate.verify(await chipOf(first))).toMatchObject({ valid: false, reason: 'revoked' });
    expect(await gate.verify(await chipOf(done.cardId!))).toMatchObject({ valid: true });
    expect((await issuerCall(DEMO_ISSUERS.promoter, 'GET', `/issuer/cards/${first}`)).body).toMatchObject({ replacementFor: original.cardId, replacedBy: done.cardId });
    expect(await count('seats', { sold_issuance_id: original.issuanceId })).toBe(1);
    expect(await ledgerProblems()).toEqual([]);
  });
});

describe('a commuter pass, with a reissue fee paid in cash', () => {
  test('a failure after payment refunds and the code works again; then it is collected with the same pass and validity', async () => {
    const fare = await stack.db('commuter_fares as f').join('commuter_routes as r', 'r.id', 'f.route_id').join('products as p', 'p.id', 'r.product_id').where('p.issuer_id', DEMO_ISSUERS.railway).orderBy('f.id').first('f.id', 'f.price_minor');
    const original = await buyCard({ kind: 'fare', fareId: Number(fare.id) });
    const spare = await buyCard({ kind: 'fare', fareId: Number(fare.id) });
    const rule = await stack.db('fee_rules').where({ issuer_id: DEMO_ISSUERS.railway }).orderBy('id', 'desc').first();
    await stack.db('fee_rules').insert({ issuer_id: DEMO_ISSUERS.railway, product_type: null, bps: rule.bps, fixed_minor: rule.fixed_minor, reissue_fee_minor: 500, effective_from_ms: Date.now() - 1, created_at_ms: Date.now() });

    const waived = await issuerCall(DEMO_ISSUERS.railway, 'POST', `/issuer/cards/${spare.cardId}/reissue`, { reason: 'stolen', requestId: 'w-1', waiveFee: true });
    expect(waived.body).toMatchObject({ status: 'pending', feeMinor: 0, feeWaived: true, revoked: true });
    const opened = await issuerCall(DEMO_ISSUERS.railway, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'f-1' });
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({ feeMinor: 500, feeWaived: false });

    // A new code replaces the first one.
    const renewed = await issuerCall(DEMO_ISSUERS.railway, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'f-2', newCode: true });
    expect(renewed.status).toBe(200);
    expect(renewed.body.pickupCode).toMatch(/^[0-9A-Z]{4}-/);
    expect(renewed.body.pickupCode).not.toBe(opened.body.pickupCode);
    const stale = await enterCode(new Kiosk(stack.apiUrl, stack.terminalIds[0]), opened.body.pickupCode);
    expect(stale.status).toBe(404);
    const code: string = renewed.body.pickupCode;

    // The second kiosk has no blank cards: paid, then refunded; the reissue is collectable again.
    const second = stack.terminalIds[1];
    new MachineStateFile(stack.machineFile(second)).update((s) => void (s.stockerCount = 0));
    const failing = new Kiosk(stack.apiUrl, second);
    const held = await enterCode(failing, code);
    expect(held.status).toBe(200);
    expect(held.body.item.quote).toMatchObject({ priceMinor: 0, customerFeeMinor: 500, totalMinor: 500 });
    expect((await failing.confirm()).status).toBe(200);
    expect((await failing.payment('cash')).status).toBe(200);
    expect((await failing.insertCash(1000)).status).toBe(200);
    const refunded = await failing.waitForStage('refunded');
    expect(refunded.message).toMatch(/Out of blank cards/);
    const machine = stack.machine(second);
    expect(machine.payouts[`change:${failing.issuanceId}`]).toBe(500);
    expect(machine.payouts[`refund:${failing.issuanceId}`]).toBe(500);
    expect(await stack.db('card_reissues').where({ original_card_id: original.cardId }).first('status', 'claim_issuance_id', 'new_card_id')).toEqual({ status: 'pending', claim_issuance_id: null, new_card_id: null });
    expect(await count('sales', { issuance_id: failing.issuanceId })).toBe(0);
    new MachineStateFile(stack.machineFile(second)).update((s) => void (s.stockerCount = 500)); // restocked for the suites below

    // Collected at the first kiosk, paying the fee in cash.
    const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
    expect((await enterCode(kiosk, code)).status).toBe(200);
    expect((await kiosk.confirm()).status).toBe(200);
    expect((await kiosk.payment('cash')).status).toBe(200);
    expect((await kiosk.insertCash(500)).status).toBe(200);
    const done: Progress = await kiosk.waitForStage('completed');
    const chip = await chipOf(done.cardId!);
    const was = parseCardRecord(original.chip).record;
    const now = parseCardRecord(chip).record;
    expect(now.product).toMatchObject({ ...was.product, replacesCardId: original.cardId });
    expect({ from: now.validFrom, until: now.validUntil }).toEqual({ from: was.validFrom, until: was.validUntil });
    expect(await gate.verify(chip)).toMatchObject({ valid: true, card: { cardId: done.cardId } });
    expect(await gate.verify(original.chip)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(await stack.db('sales').where({ issuance_id: kiosk.issuanceId }).first()).toMatchObject({ price_minor: 0, customer_fee_minor: 500, operator_fee_minor: 0, issuer_net_minor: 0 });
    expect((await issuerCall(DEMO_ISSUERS.railway, 'GET', `/issuer/cards/${original.cardId}/reissue`)).body).toMatchObject({ status: 'completed', newCardId: done.cardId, feeMinor: 500 });
    await until('the card.reissued event', () => stack.issuer.events.has(`evt-card.reissued-${kiosk.issuanceId}`), 20_000);
    expect(stack.issuer.events.get(`evt-card.reissued-${kiosk.issuanceId}`)!.payload).toMatchObject({ data: { reissueFeeMinor: 500, feeWaived: false } });
    expect(await ledgerProblems()).toEqual([]);
  });
});

describe('races', () => {
  test('six codes, each entered at both kiosks at the same moment: one winner and one card each', async () => {
    const value = await stack.db('prepaid_values as v').join('products as p', 'p.id', 'v.product_id').orderBy('v.id').first('v.id', 'p.issuer_id');
    const codes: Array<{ cardId: string; code: string }> = [];
    for (let i = 0; i < 6; i++) {
      const { cardId } = await buyCard({ kind: 'prepaid', valueId: Number(value.id) });
      const opened = await issuerCall(value.issuer_id, 'POST', `/issuer/cards/${cardId}/reissue`, { reason: 'lost', requestId: `race-${i}` });
      expect(opened.status).toBe(201);
      codes.push({ cardId, code: opened.body.pickupCode });
    }
    for (const { cardId, code } of codes) {
      const kiosks = stack.terminalIds.map((t) => new Kiosk(stack.apiUrl, t));
      const answers = await Promise.all(kiosks.map((k) => k.enterPickupCode(code)));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
      const winner = kiosks[answers.findIndex((r) => r.status === 200)];
      await kiosks.find((k) => k !== winner)!.cancel();
      expect((await winner.confirm()).status).toBe(200);
      const done = await winner.waitForStage('completed');
      expect(await stack.db('card_reissues').where({ original_card_id: cardId }).first('status', 'new_card_id')).toEqual({ status: 'completed', new_card_id: done.cardId });
    }
    const originals = codes.map((c) => c.cardId);
    const replacements = await stack.db('cards as c').join('card_reissues as r', 'r.new_card_id', 'c.id').whereIn('r.original_card_id', originals).select('c.id', 'c.status');
    expect(replacements).toHaveLength(6);
    expect(replacements.every((c: { status: string }) => c.status === 'issued')).toBe(true);
    expect(await ledgerProblems()).toEqual([]);
  });
});

describe('a prepaid card', () => {
  test('the replacement carries the balance the center records for the lost card, not what the lost chip says', async () => {
    const value = await stack.db('prepaid_values as v').join('products as p', 'p.id', 'v.product_id').orderBy('v.id').first('v.id', 'v.value_minor', 'p.issuer_id');
    const original = await buyCard({ kind: 'prepaid', valueId: Number(value.id) });
    expect(parseCardRecord(original.chip).value!.state.balanceMinor).toBe(Number(value.value_minor));
    // The center's record of the card's balance (as a reload keeps it, activities/center/reloads.ts)
    // differs from the value sold: the replacement starts from the center's balance.
    const centerBalance = Number(value.value_minor) + 2000;
    await stack.db('card_balances').insert({ card_id: original.cardId, balance_minor: centerBalance, updated_at_ms: Date.now() });
    const opened = await issuerCall(value.issuer_id, 'POST', `/issuer/cards/${original.cardId}/reissue`, { reason: 'lost', requestId: 'p-1' });
    expect(opened.status).toBe(201);
    const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
    expect((await enterCode(kiosk, opened.body.pickupCode)).status).toBe(200);
    expect((await kiosk.confirm()).status).toBe(200);
    const done = await kiosk.waitForStage('completed');
    const parsed = parseCardRecord(await chipOf(done.cardId!));
    expect(parsed.value!.state.balanceMinor).toBe(centerBalance);
    expect(Number((await stack.db('card_balances').where({ card_id: done.cardId }).first('balance_minor')).balance_minor)).toBe(centerBalance);
    expect(parsed.record.product).toMatchObject({ kind: 'prepaid', valueId: Number(value.id), replacesCardId: original.cardId });
    expect(await ledgerProblems()).toEqual([]);
  });
});
