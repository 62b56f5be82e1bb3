/**
 * Iso8583Client ↔ payment host simulator over real loopback TCP: approvals, every decline code,
 * debit PIN and balance checks, slow / silent / drop, duplicate transmission, repeated reversals,
 * sign-on and echo, and the HTTP control API.
 */
import http from 'node:http';
import { defaultFieldTable, describeResponseCode, type Iso8583Fields } from '../../domain/iso8583';
import { DEVELOPMENT_TEST_ZPK, encryptPinForHost } from '../../lib/pin-encryption';
import { Iso8583Client, Iso8583ConnectionError, Iso8583NoAnswerError } from '../../lib/iso8583-framing';
import { createPaymentHostControlApp, hostOutcomes, startPaymentHostSimulator, type PaymentHostSimulator } from '../../demo/payment-host-simulator';

const PAN = '43219876543210987';
const DEBIT_PAN = '4000001234562';
let sim: PaymentHostSimulator;
let client: Iso8583Client;
let stanCounter = 0;

function nextStan(): string {
  return String(++stanCounter).padStart(6, '0');
}

function request(pan: string, amount: number, extra: Iso8583Fields = {}): Iso8583Fields {
  return {
    2: pan, 3: '000000', 4: String(amount).padStart(12, '0'), 7: '1121093015', 11: nextStan(), 12: '093015', 13: '1121',
    22: '051', 41: 'T-001   ', 42: 'KIOSK-MERCHANT1', 49: '392', ...extra,
  };
}

function reversalOf(mti: string, original: Iso8583Fields, stan: string): Iso8583Fields {
  return { ...original, 11: stan, 52: undefined, 90: `${mti}${original[11]}${original[7]}${'0'.repeat(22)}` };
}

beforeAll(async () => {
  sim = await startPaymentHostSimulator({ table: defaultFieldTable, accounts: { [DEBIT_PAN]: { pin: '92389', balance: 10_000 } } });
  client = new Iso8583Client({ host: sim.host, port: sim.port, table: defaultFieldTable, requestTimeoutMs: 2_000 });
  await client.connect();
});

afterAll(async () => {
  await client.close();
  await sim.close();
});

beforeEach(() => sim.clearOutcomes());

test('0800 sign-on and echo are answered 0810 / 00', async () => {
  const signOn = await client.request('0800', { 7: '1121093000', 11: nextStan(), 70: '001' });
  const echo = await client.request('0800', { 7: '1121093001', 11: nextStan(), 70: '301' });
  expect([signOn.mti, signOn.fields[39], signOn.fields[70]]).toEqual(['0810', '00', '001']);
  expect([echo.mti, echo.fields[39], echo.fields[70]]).toEqual(['0810', '00', '301']);
});

test('an approved 0100 gets 0110 / 00 with RRN and approval code', async () => {
  const req = request(PAN, 1500);
  const res = await client.request('0100', req);
  expect(res.mti).toBe('0110');
  expect(res.fields).toMatchObject({ 11: req[11], 4: '000000001500', 39: '00' });
  expect(res.fields[37]).toMatch(/^\d{12}$/);
  expect(res.fields[38]).toMatch(/^A\d{5}$/);
  expect(describeResponseCode(res.fields[39]).outcome).toBe('approved');
});

test.each(['05', '14', '51', '54', '55', '61', '75', '91', '94', '96'])('decline %s comes back as that code and maps to an outcome', async (code) => {
  sim.setOutcome(PAN, hostOutcomes.decline(code));
  const res = await client.request('0200', request(PAN, 1500));
  expect(res.mti).toBe('0210');
  expect(res.fields[39]).toBe(code);
  expect(res.fields[38]).toBeUndefined();
  expect(describeResponseCode(code).outcome).toBe(code === '91' || code === '96' ? 'retry' : code === '94' ? 'unknown' : 'declined');
});

test('debit 0200: right PIN debits the balance, wrong PIN is 55, short balance is 51, three wrong PINs are 75', async () => {
  const before = sim.balanceOf(DEBIT_PAN)!;
  const pinBlock = encryptPinForHost('92389', DEBIT_PAN, DEVELOPMENT_TEST_ZPK);
  const ok = await client.request('0200', request(DEBIT_PAN, 3000, { 52: pinBlock }));
  expect(ok.fields[39]).toBe('00');
  expect(sim.balanceOf(DEBIT_PAN)).toBe(before - 3000);
  expect((await client.request('0200', request(DEBIT_PAN, 100_000, { 52: pinBlock }))).fields[39]).toBe('51');
  const wrong = encryptPinForHost('1111', DEBIT_PAN, DEVELOPMENT_TEST_ZPK);
  expect((await client.request('0200', request(DEBIT_PAN, 100, { 52: wrong }))).fields[39]).toBe('55');
  expect((await client.request('0200', request(DEBIT_PAN, 100)))).toMatchObject({ fields: { 39: '55' } });
  expect((await client.request('0200', request(DEBIT_PAN, 100, { 52: wrong }))).fields[39]).toBe('75');
  expect((await client.request('0200', request(DEBIT_PAN, 100, { 52: pinBlock }))).fields[39]).toBe('75');
  expect(sim.balanceOf(DEBIT_PAN)).toBe(before - 3000);
  sim.setAccount(DEBIT_PAN, { pin: '92389', balance: 10_000 });
});

test('slow beyond the deadline: Iso8583NoAnswerError; the late answer is reported as late-response', async () => {
  sim.setOutcome(PAN, hostOutcomes.slow(800));
  const late = new Promise((resolve) => client.once('late-response', resolve));
  const req = request(PAN, 1500);
  const err = await client.request('0100', req, { timeoutMs: 200 }).catch((e) => e);
  expect(err).toBeInstanceOf(Iso8583NoAnswerError);
  expect(err.message).toMatch(/no answer from the payment host within 200 ms to 0100 STAN \d{6} \(connection still open\); outcome unknown/);
  expect(await late).toMatchObject({ mti: '0110', fields: { 11: req[11], 39: '00' } });
});

test('slow within the deadline is just an answer', async () => {
  sim.setOutcome(PAN, hostOutcomes.slow(100, hostOutcomes.decline('05')));
  expect((await client.request('0100', request(PAN, 1500), { timeoutMs: 1_000 })).fields[39]).toBe('05');
});

test('silent: timeout, the connection stays up, and the hold it placed is released by a reversal', async () => {
  sim.setOutcome(PAN, hostOutcomes.silent());
  const req = request(PAN, 1500);
  await expect(client.request('0100', req, { timeoutMs: 300 })).rejects.toBeInstanceOf(Iso8583NoAnswerError);
  expect(client.connected).toBe(true);
  const releasesBefore = sim.releaseCount();
  const rev = await client.request('0400', reversalOf('0100', req, nextStan()));
  expect([rev.mti, rev.fields[39]]).toEqual(['0410', '00']);
  expect(sim.releaseCount()).toBe(releasesBefore + 1);
});

test('drop: Iso8583ConnectionError (not a timeout), and the next request reconnects', async () => {
  sim.setOutcome(PAN, hostOutcomes.drop());
  const err = await client.request('0100', request(PAN, 1500), { timeoutMs: 2_000 }).catch((e) => e);
  expect(err).toBeInstanceOf(Iso8583ConnectionError);
  expect(err.outcomeUnknown).toBe(true);
  expect(err.message).toMatch(/connection to payment host .* dropped before the answer \(0100 STAN \d{6}\); the request was sent, outcome unknown/);
  sim.clearOutcomes();
  expect((await client.request('0800', { 7: '1121093100', 11: nextStan(), 70: '301' })).fields[39]).toBe('00');
});

test('a duplicate transmission (same STAN, terminal, time) gets the original answer and one charge', async () => {
  const charges = sim.chargeCount();
  const req = request(PAN, 2500);
  const first = await client.request('0200', req);
  const second = await client.request('0200', req);
  expect(second).toEqual(first);
  expect(sim.chargeCount()).toBe(charges + 1);
  expect(sim.transactions().find((t) => t.key.startsWith(req[11]!))).toMatchObject({ duplicatesReceived: 1, charged: true });
  // same STAN from another terminal is a different transaction
  const other = await client.request('0200', { ...req, 41: 'T-002   ' });
  expect(other.fields[37]).not.toBe(first.fields[37]);
  expect(sim.chargeCount()).toBe(charges + 2);
});

test('a reversal sent three times (0400, then 0421 twice) releases the hold once and is acknowledged each time', async () => {
  sim.setAccount(DEBIT_PAN, { balance: 10_000 });
  const req = request(DEBIT_PAN, 4000);
  expect((await client.request('0100', req)).fields[39]).toBe('00');
  expect(sim.balanceOf(DEBIT_PAN)).toBe(6_000);
  const releases = sim.releaseCount();
  const rev = reversalOf('0100', req, nextStan());
  const answers = [await client.request('0400', rev), await client.request('0421', rev), await client.request('0421', rev)];
  expect(answers.map((a) => `${a.mti}/${a.fields[39]}`)).toEqual(['0410/00', '0430/00', '0430/00']);
  expect(sim.releaseCount()).toBe(releases + 1);
  expect(sim.balanceOf(DEBIT_PAN)).toBe(10_000);
  expect(sim.transactions().find((t) => t.key.startsWith(req[11]!))).toMatchObject({ released: true, reversalsReceived: 3 });
});

test('0420 advice for an original the host never saw is answered 25 (nothing to undo)', async () => {
  const ghost = request(PAN, 1000);
  const res = await client.request('0420', reversalOf('0200', ghost, nextStan()));
  expect([res.mti, res.fields[39]]).toEqual(['0430', '25']);
});

test('connecting to a closed port is a connection error saying the request was not sent', async () => {
  const dead = new Iso8583Client({ host: '127.0.0.1', port: 1, table: defaultFieldTable });
  const err = await dead.request('0800', { 11: '000001', 70: '301' }).catch((e) => e);
  expect(err).toBeInstanceOf(Iso8583ConnectionError);
  expect(err.outcomeUnknown).toBe(false);
  await dead.close();
});

test('the control API sets outcomes and accounts, validates input and never shows full PANs', async () => {
  const server = http.createServer(createPaymentHostControlApp(sim));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const put = (path: string, body: unknown) => fetch(`${base}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await put(`/outcomes/${PAN}`, { kind: 'decline', code: '51' })).status).toBe(200);
    expect((await client.request('0100', request(PAN, 1500))).fields[39]).toBe('51');
    const bad = await put('/outcomes/default', { kind: 'slow', ms: -1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/ms/);
    const acct = await put(`/accounts/${DEBIT_PAN}`, { pin: '1234', balance: 500 });
    expect(await acct.json()).toEqual({ pin: 'set', balance: 500, pan: '*********4562' });
    const state = (await (await fetch(`${base}/state`)).json()) as { charges: number };
    expect(JSON.stringify(state)).not.toContain(PAN);
    expect(state.charges).toBe(sim.chargeCount());
  } finally {
    await new Promise((r) => server.close(r));
  }
});
