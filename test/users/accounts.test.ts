/**
 * Registered users' accounts on the real API and MariaDB: registration (bad input changes
 * nothing), the scrypt PIN hash (no PIN or personal data in the DB's other tables or the logs),
 * lockout after five wrong PINs (even the right PIN refused, concurrent tries capped, survives in
 * the DB), the operator's identity check and unlock, sessions (terminal-bound, expiry, logout).
 */
import { OPERATOR_TOKENS_ENV, api, asOperator, login, person, photoPng, register, tinyJpeg, OPERATOR_TOKEN } from './support';
import { parsePinHash, PIN_SCRYPT_PARAMS, verifyPin } from '../../lib/pin-hash';
import { LOCKED_MESSAGE } from '../../domain/users';
import { startStack, type Stack } from '../support/stack';

process.env.OPERATOR_TOKENS = OPERATOR_TOKENS_ENV;

let stack: Stack;
const logged: string[] = [];
let restoreStdout: (() => void) | undefined;

beforeAll(async () => {
  stack = await startStack();
  // Everything this process prints from here on (the API runs in it) is scanned for personal data.
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => (logged.push(String(chunk)), write(chunk as string, ...(rest as [])))) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => (logged.push(String(chunk)), writeErr(chunk as string, ...(rest as [])))) as typeof process.stderr.write;
  restoreStdout = () => {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  };
}, 120_000);
afterAll(async () => {
  restoreStdout?.();
  await stack?.stop();
});

const userCount = async () => Number((await stack.db('users').count({ n: '*' }))[0].n);
const photoCount = async () => Number((await stack.db('user_photos').count({ n: '*' }))[0].n);

test('registration: a user ID is issued, the profile reads back, the PIN is stored only as an scrypt hash', async () => {
  const p = person({ pin: '70319' });
  const r = await api(stack, 'POST', '/users', { ...p, photo: { contentType: 'image/png', base64: photoPng().toString('base64') } });
  expect(r.status).toBe(201);
  expect(r.body.userId).toMatch(/^U\d{9}$/);
  expect(r.body).toMatchObject({ name: p.name, nameKana: p.nameKana, birthDate: p.birthDate, address: p.address, phone: p.phone, commuteFrom: 'Shinjuku', hasPhoto: true, identity: { status: 'unchecked', checkedBy: null }, locked: false });
  expect(r.body.message).toContain(r.body.userId);
  expect(JSON.stringify(r.body)).not.toContain('70319');

  const row = await stack.db('users').where({ id: r.body.userId }).first();
  expect(row.pin_hash).toMatch(/^scrypt\$N=32768,r=8,p=1\$/);
  expect(parsePinHash(row.pin_hash).params).toEqual(PIN_SCRYPT_PARAMS);
  expect(await verifyPin('70319', row.pin_hash)).toBe(true);
  expect(await verifyPin('70318', row.pin_hash)).toBe(false);
  for (const v of Object.values(row)) if (typeof v === 'string') expect(v).not.toContain('70319');
  const photo = await stack.db('user_photos').where({ user_id: r.body.userId }).first('content_type', 'width', 'height');
  expect(photo).toMatchObject({ content_type: 'image/png', width: 60, height: 80 });

  const token = await login(stack, r.body.userId, '70319');
  const me = await api(stack, 'GET', '/users/me', undefined, token);
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ userId: r.body.userId, name: p.name, hasPhoto: true });
  expect(me.body).not.toHaveProperty('pinHash');
});

test('bad registrations answer 4xx with a clear message and change nothing', async () => {
  const before = [await userCount(), await photoCount()];
  const cases: Array<[Record<string, unknown>, number, RegExp]> = [
    [person({ pin: '12a4' }), 400, /pin: The PIN must be 4 to 8 digits/],
    [person({ pin: '123' }), 400, /4 to 8 digits/],
    [person({ pin: '123456789' }), 400, /4 to 8 digits/],
    [person({ pin: '7777' }), 400, /one digit repeated/],
    [person({ pin: '3456' }), 400, /consecutive digits/],
    [person({ name: '' }), 400, /name: must not be empty/],
    [person({ birthDate: '1990-02-30' }), 400, /birthDate: is not a real date/],
    [person({ birthDate: '2999-01-01' }), 400, /birthDate: must be in the past/],
    [person({ phone: 'call me' }), 400, /phone: must be a phone number/],
    [person({ email: 'not-an-address' }), 400, /email: must be an e-mail address/],
    [person({ nameKana: 'Yamada' }), 400, /nameKana: must be written in kana/],
    [person({ gender: 'robot' }), 400, /gender/],
    [person({ favouriteColour: 'blue' }), 400, /Unrecognized key/i],
    [{ name: 'Only a name' }, 400, /birthDate/],
    [person({ photo: { contentType: 'image/png', base64: Buffer.from('not a png at all').toString('base64') } }), 422, /neither a PNG nor a JPEG/],
    [person({ photo: { contentType: 'image/png', base64: tinyJpeg().toString('base64') } }), 422, /is a image\/jpeg but was sent as image\/png/],
    [person({ photo: { contentType: 'image/gif', base64: 'R0lGODlh' } }), 400, /must be image\/png or image\/jpeg/],
    [person({ photo: { contentType: 'image/png', base64: photoPng([1, 2, 3], 8, 8).toString('base64') } }), 422, /each side must be/],
    [person({ photo: { contentType: 'image/png', base64: Buffer.alloc(390 * 1024, 1).toString('base64') } }), 400, /at most 384 KiB/],
  ];
  for (const [body, status, message] of cases) {
    const r = await api(stack, 'POST', '/users', body);
    expect({ body, status: r.status }).toEqual({ body, status });
    expect(r.body.error.message).toMatch(message);
    expect(JSON.stringify(r.body)).not.toMatch(/pin_hash|scrypt/);
  }
  const malformed = await api(stack, 'POST', '/users', '{"name": ');
  expect(malformed.status).toBe(400);
  expect(malformed.body.error.code).toBe('malformed_json');
  expect([await userCount(), await photoCount()]).toEqual(before);

  // A JPEG photo is a valid registration (the kiosk page converts to PNG; an API client may not).
  const jpeg = await api(stack, 'POST', '/users', person({ photo: { contentType: 'image/jpeg', base64: tinyJpeg().toString('base64') } }));
  expect(jpeg.status).toBe(201);
  expect(jpeg.body.hasPhoto).toBe(true);
});

test('five wrong PINs lock the account with a clear message; the right PIN is refused after that; the lock is in the DB', async () => {
  const u = await register(stack);
  const terminal = stack.terminalIds[0];
  for (let i = 1; i <= 4; i++) {
    const r = await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: '9999' });
    expect(r.status).toBe(401);
    expect(r.body.error).toEqual({ code: 'wrong_credentials', message: `The user ID or PIN is wrong. ${5 - i} ${5 - i === 1 ? 'try' : 'tries'} left before the account is locked.` });
  }
  const fifth = await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: '9999' });
  expect(fifth.status).toBe(423);
  expect(fifth.body.error).toEqual({ code: 'account_locked', message: LOCKED_MESSAGE });
  expect(LOCKED_MESSAGE).toMatch(/^This account is locked after five wrong PINs; please contact/);

  const right = await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: u.pin });
  expect(right.status).toBe(423);
  expect(right.body.error.code).toBe('account_locked');
  expect(right.body).not.toHaveProperty('token');
  const row = await stack.db('users').where({ id: u.userId }).first('failed_pin_attempts', 'locked_at_ms');
  expect(Number(row.failed_pin_attempts)).toBe(5);
  expect(row.locked_at_ms).not.toBeNull();
  expect(Number((await stack.db('user_sessions').where({ user_id: u.userId }).count({ n: '*' }))[0].n)).toBe(0);

  // An operator unlocks after checking the person; the counter starts again.
  const noAuth = await api(stack, 'POST', `/operator/users/${u.userId}/unlock`, {});
  expect(noAuth.status).toBe(401);
  const wrongToken = await api(stack, 'POST', `/operator/users/${u.userId}/unlock`, {}, 'not-an-operator-token-at-all');
  expect(wrongToken.status).toBe(403);
  expect((await stack.db('users').where({ id: u.userId }).first('locked_at_ms')).locked_at_ms).not.toBeNull();
  const unlocked = await asOperator(stack, 'POST', `/${u.userId}/unlock`, {});
  expect(unlocked.status).toBe(200);
  expect(unlocked.body.locked).toBe(false);
  await login(stack, u.userId, u.pin);
});

test('a right PIN resets the counter', async () => {
  const u = await register(stack);
  const terminal = stack.terminalIds[0];
  for (let i = 0; i < 4; i++) expect((await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: '9999' })).status).toBe(401);
  await login(stack, u.userId, u.pin);
  expect(Number((await stack.db('users').where({ id: u.userId }).first('failed_pin_attempts')).failed_pin_attempts)).toBe(0);
  const wrong = await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: '9999' });
  expect(wrong.body.error.message).toMatch(/4 tries left/);
});

test('twelve wrong PINs at once: the counter stops at five, at most four are told "tries left", the rest are locked out', async () => {
  const u = await register(stack);
  const terminal = stack.terminalIds[0];
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: `90${10 + i}` })));
  expect(results.every((r) => r.status === 401 || r.status === 423)).toBe(true);
  expect(results.filter((r) => r.status === 401).length).toBeLessThanOrEqual(4);
  expect(results.filter((r) => r.status === 423).length).toBeGreaterThanOrEqual(8);
  const row = await stack.db('users').where({ id: u.userId }).first('failed_pin_attempts', 'locked_at_ms');
  expect(Number(row.failed_pin_attempts)).toBe(5);
  expect(row.locked_at_ms).not.toBeNull();
  expect((await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: u.userId, pin: u.pin })).status).toBe(423);
});

test('unknown user IDs and malformed logins are refused without a session', async () => {
  const terminal = stack.terminalIds[0];
  const unknown = await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: 'U000000000', pin: '4826' });
  expect(unknown.status).toBe(401);
  expect(unknown.body.error).toEqual({ code: 'wrong_credentials', message: 'The user ID or PIN is wrong.' });
  expect((await api(stack, 'POST', `/kiosk/${terminal}/login`, { userId: 'bob', pin: '4826' })).status).toBe(400);
  expect((await api(stack, 'POST', `/kiosk/NOPE-1/login`, { userId: 'U000000001', pin: '4826' })).status).toBe(404);
});

test('sessions: bound to their kiosk, expire, end at logout; no session means 401', async () => {
  const u = await register(stack);
  const token = await login(stack, u.userId, u.pin);
  expect((await api(stack, 'GET', '/users/me', undefined, token)).status).toBe(200);
  expect((await api(stack, 'GET', '/users/me')).body.error.code).toBe('login_required');
  expect((await api(stack, 'GET', '/users/me', undefined, 'us_' + 'x'.repeat(43))).status).toBe(401);
  // Only the token's hash is stored.
  const rows = await stack.db('user_sessions').where({ user_id: u.userId });
  expect(rows).toHaveLength(1);
  expect(rows[0].token_sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(JSON.stringify(rows)).not.toContain(token);
  expect(Number(rows[0].expires_at_ms) - Number(rows[0].created_at_ms)).toBe(10 * 60_000);

  // Another kiosk's issuance cannot use it.
  const elsewhere = await api(stack, 'POST', `/kiosk/OTHER-KIOSK/issuances`, { requestId: 'elsewhere-0001' }, token);
  expect([401, 404]).toContain(elsewhere.status);

  // Expiry: the server compares the stored expiry with its clock.
  await stack.db('user_sessions').where({ user_id: u.userId }).update({ expires_at_ms: Date.now() - 1 });
  const expired = await api(stack, 'GET', '/users/me', undefined, token);
  expect(expired.status).toBe(401);
  expect(expired.body.error).toEqual({ code: 'session_expired', message: 'Your login has expired. Please log in again with your user ID and PIN.' });
  const startExpired = await api(stack, 'POST', `/kiosk/${stack.terminalIds[0]}/issuances`, { requestId: 'expired-session-01' }, token);
  expect(startExpired.status).toBe(401);

  const again = await login(stack, u.userId, u.pin);
  expect((await api(stack, 'POST', '/users/me/logout', undefined, again)).body).toEqual({ loggedOut: true });
  expect((await api(stack, 'GET', '/users/me', undefined, again)).body.error.code).toBe('session_expired');
});

test('the operator sets the identity check after seeing a document; bad input and non-operators change nothing', async () => {
  const u = await register(stack);
  expect((await api(stack, 'POST', `/operator/users/${u.userId}/identity-check`, { status: 'verified', document: 'passport' })).status).toBe(401);
  const bad = await asOperator(stack, 'POST', `/${u.userId}/identity-check`, { status: 'probably', document: 'passport' });
  expect(bad.status).toBe(400);
  expect((await asOperator(stack, 'POST', `/U000000000/identity-check`, { status: 'verified', document: 'passport' })).status).toBe(404);
  expect((await stack.db('users').where({ id: u.userId }).first('identity_status')).identity_status).toBe('unchecked');

  const ok = await asOperator(stack, 'POST', `/${u.userId}/identity-check`, { status: 'verified', document: 'driving_licence' });
  expect(ok.status).toBe(200);
  expect(ok.body.identity).toMatchObject({ status: 'verified', document: 'driving_licence', checkedBy: 'helpdesk.sato', checkedAt: expect.any(String) });
  const token = await login(stack, u.userId, u.pin);
  expect((await api(stack, 'GET', '/users/me', undefined, token)).body.identity.status).toBe('verified');
  expect((await asOperator(stack, 'GET', `/${u.userId}`)).body).toMatchObject({ userId: u.userId, identity: { status: 'verified' } });
  const rejected = await asOperator(stack, 'POST', `/${u.userId}/identity-check`, { status: 'rejected', document: 'other' });
  expect(rejected.body.identity).toMatchObject({ status: 'rejected', checkedBy: 'helpdesk.sato' });
});

test('a photo can be added later (raw PNG/JPEG, checked) and the operator can look at it', async () => {
  const u = await register(stack);
  const token = await login(stack, u.userId, u.pin);
  const gif = await api(stack, 'PUT', '/users/me/photo', Buffer.from('GIF89a'), token, { 'content-type': 'image/gif' });
  expect(gif.status).toBe(415);
  const lie = await api(stack, 'PUT', '/users/me/photo', Buffer.from('hello'), token, { 'content-type': 'image/png' });
  expect(lie.status).toBe(422);
  expect(await stack.db('user_photos').where({ user_id: u.userId }).first()).toBeUndefined();
  const png = photoPng([10, 200, 30]);
  const ok = await api(stack, 'PUT', '/users/me/photo', png, token, { 'content-type': 'image/png' });
  expect(ok.status).toBe(200);
  expect(ok.body.hasPhoto).toBe(true);
  const res = await fetch(`${stack.apiUrl}/api/operator/users/${u.userId}/photo`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
  expect(res.status).toBe(200);
  expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  expect((await fetch(`${stack.apiUrl}/api/operator/users/${u.userId}/photo`)).status).toBe(401);
});

test('no PIN and no personal data in the logs or in tables other than users', async () => {
  const p = person({ pin: '58203' });
  const r = await api(stack, 'POST', '/users', p);
  await api(stack, 'POST', `/kiosk/${stack.terminalIds[0]}/login`, { userId: r.body.userId, pin: '58204' });
  await login(stack, r.body.userId, '58203');
  const text = logged.join('');
  for (const secret of ['58203', '58204', p.name as string, p.address as string, p.phone as string, p.email as string]) expect(text).not.toContain(secret);
  const sessions = JSON.stringify(await stack.db('user_sessions').select());
  expect(sessions).not.toContain('58203');
  expect(sessions).not.toContain(p.name as string);
});
