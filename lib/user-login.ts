/**
 * Logging a registered user in with user ID + PIN, and the lockout.
 *
 * Every try first reserves one of the five allowed failures with a single conditional UPDATE
 * (`failed_pin_attempts < 5 AND locked_at_ms IS NULL`), then checks the PIN:
 *   - wrong: the reservation stays; the try that reaches five sets `locked_at_ms`;
 *   - right: the counter goes back to 0, but only if the account is still unlocked.
 * So at most five PIN checks can ever be in flight or spent between two successes, however many
 * requests arrive at once, and once locked even the right PIN is refused until an operator unlocks.
 */
import type { Knex } from 'knex';
import { MAX_PIN_FAILURES, triesLeft } from '../domain/users';
import { dummyPinHash, verifyPin } from './pin-hash';

export type LoginOutcome =
  | { ok: true; userId: string }
  | { ok: false; reason: 'unknown_user' }
  | { ok: false; reason: 'locked' }
  | { ok: false; reason: 'wrong_pin'; triesLeft: number };

export async function checkUserPin(db: Knex, userId: string, pin: string, now: () => number = Date.now): Promise<LoginOutcome> {
  const user = await db('users').where({ id: userId }).first('id', 'pin_hash', 'locked_at_ms');
  if (!user) {
    await verifyPin(pin, await dummyPinHash()); // same time as a real check
    return { ok: false, reason: 'unknown_user' };
  }
  if (user.locked_at_ms !== null) return { ok: false, reason: 'locked' };
  const reserved = await db('users')
    .where({ id: userId })
    .whereNull('locked_at_ms')
    .where('failed_pin_attempts', '<', MAX_PIN_FAILURES)
    .increment('failed_pin_attempts', 1);
  if (reserved !== 1) return { ok: false, reason: 'locked' };

  if (await verifyPin(pin, user.pin_hash)) {
    const reset = await db('users').where({ id: userId }).whereNull('locked_at_ms').update({ failed_pin_attempts: 0 });
    return reset === 1 ? { ok: true, userId } : { ok: false, reason: 'locked' };
  }
  await db('users').where({ id: userId }).whereNull('locked_at_ms').where('failed_pin_attempts', '>=', MAX_PIN_FAILURES).update({ locked_at_ms: now() });
  const after = await db('users').where({ id: userId }).first('failed_pin_attempts', 'locked_at_ms');
  if (after.locked_at_ms !== null) return { ok: false, reason: 'locked' };
  return { ok: false, reason: 'wrong_pin', triesLeft: triesLeft(Number(after.failed_pin_attempts)) };
}

/** An operator unlocks an account (after checking the person): the counter starts again at 0. */
export async function unlockUser(db: Knex, userId: string): Promise<boolean> {
  return (await db('users').where({ id: userId }).update({ failed_pin_attempts: 0, locked_at_ms: null })) === 1;
}
