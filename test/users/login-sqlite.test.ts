/**
 * The PIN lockout and sessions on SQLite (the embedded default), without the stack: the same
 * conditional UPDATEs as on MariaDB (test/users/accounts), a lock that outlives the connection
 * (a restart), and session expiry against an injected clock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb, type Db } from '../../lib/db';
import { hashPin } from '../../lib/pin-hash';
import { checkUserPin, unlockUser } from '../../lib/user-login';
import { findUserSession, openUserSession, endUserSession } from '../../lib/user-sessions';
import { migrateLatest } from '../../migrations';

let dir: string;
let db: Db;
const file = () => `sqlite:${path.join(dir, 'center.sqlite')}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'users-sqlite-'));
  db = createDb(file(), dir);
  await migrateLatest(db);
  const now = Date.now();
  const profile = { name: 'Test Person', birth_date: '1980-01-01', address: 'Somewhere 1', phone: '0312345678', created_at_ms: now, updated_at_ms: now };
  await db('users').insert([
    { id: 'U000000001', ...profile, pin_hash: await hashPin('4826') },
    { id: 'U000000002', ...profile, pin_hash: await hashPin('4826') },
  ]);
});
afterAll(async () => {
  await db?.destroy();
});

test('wrong PINs count down, the fifth locks, the right PIN is refused after; the lock survives a reconnect', async () => {
  for (let left = 4; left >= 1; left--) expect(await checkUserPin(db, 'U000000001', '1111')).toEqual({ ok: false, reason: 'wrong_pin', triesLeft: left });
  expect(await checkUserPin(db, 'U000000001', '1111')).toEqual({ ok: false, reason: 'locked' });
  expect(await checkUserPin(db, 'U000000001', '4826')).toEqual({ ok: false, reason: 'locked' });
  await db.destroy();
  db = createDb(file(), dir);
  expect(await checkUserPin(db, 'U000000001', '4826')).toEqual({ ok: false, reason: 'locked' });
  expect(await unlockUser(db, 'U000000001')).toBe(true);
  expect(await checkUserPin(db, 'U000000001', '4826')).toEqual({ ok: true, userId: 'U000000001' });
  expect(await checkUserPin(db, 'U000000009', '4826')).toEqual({ ok: false, reason: 'unknown_user' });
});

test('ten wrong PINs at once stop the counter at five', async () => {
  const results = await Promise.all(Array.from({ length: 10 }, () => checkUserPin(db, 'U000000002', '1111')));
  expect(results.filter((r) => !r.ok && r.reason === 'wrong_pin').length).toBeLessThanOrEqual(4);
  const row = await db('users').where({ id: 'U000000002' }).first('failed_pin_attempts', 'locked_at_ms');
  expect(Number(row.failed_pin_attempts)).toBe(5);
  expect(row.locked_at_ms).not.toBeNull();
});

test('a session opens at one terminal, expires by the clock and ends at logout', async () => {
  const t0 = 1_800_000_000_000;
  const { token, expiresAtMs } = await openUserSession(db, 'U000000001', 'T-001', 60_000, t0);
  expect(expiresAtMs).toBe(t0 + 60_000);
  expect(await findUserSession(db, token, t0 + 59_999)).toEqual({ userId: 'U000000001', terminalId: 'T-001', expiresAtMs });
  expect(await findUserSession(db, token, t0 + 60_000)).toBe('expired');
  expect(await findUserSession(db, 'us_' + 'A'.repeat(43), t0)).toBeNull();
  expect(await findUserSession(db, 'garbage', t0)).toBeNull();
  const second = await openUserSession(db, 'U000000001', 'T-001', 60_000, t0);
  await endUserSession(db, second.token, t0 + 1);
  expect(await findUserSession(db, second.token, t0 + 2)).toBe('expired');
});
