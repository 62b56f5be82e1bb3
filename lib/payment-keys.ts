/**
 * Payment host keys by reference. The DB names a key (`payment_hosts.zpk_ref`); the key itself
 * comes from configuration:
 *   PAYMENT_KEYS="bank-zpk:<32 or 48 hex digits>,card-zpk:<…>"
 * The reference `dev-test-zpk` is built in and stands for the published development test ZPK
 * (lib/pin-encryption.ts, docs/payment-host-protocol.md) so the demo and the tests run with no
 * setup; PAYMENT_KEYS_STRICT=1 (for production) refuses it. Keys are never logged; errors name
 * the reference only.
 */
import { DEVELOPMENT_TEST_ZPK } from './pin-encryption';

export const DEV_TEST_ZPK_REF = 'dev-test-zpk';

export class PaymentKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PaymentKeyError';
  }
}

export interface PaymentKeyProvider {
  /** The hex key a reference names; throws PaymentKeyError when it is not configured. */
  resolve(ref: string): string;
}

export function paymentKeyProvider(env: NodeJS.ProcessEnv = process.env): PaymentKeyProvider {
  const keys = new Map<string, string>();
  for (const part of (env.PAYMENT_KEYS ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    const ref = colon > 0 ? part.slice(0, colon).trim() : '';
    const hex = colon > 0 ? part.slice(colon + 1).trim() : '';
    if (!ref || !/^([0-9A-Fa-f]{32}|[0-9A-Fa-f]{48})$/.test(hex)) throw new PaymentKeyError('PAYMENT_KEYS must look like "ref:<32 or 48 hex digits>,ref2:…"');
    keys.set(ref, hex.toUpperCase());
  }
  const strict = env.PAYMENT_KEYS_STRICT === '1';
  return {
    resolve(ref: string): string {
      const key = keys.get(ref);
      if (key) return key;
      if (ref === DEV_TEST_ZPK_REF && !strict) return DEVELOPMENT_TEST_ZPK;
      throw new PaymentKeyError(`payment key "${ref}" is not configured (PAYMENT_KEYS)${ref === DEV_TEST_ZPK_REF ? '; the development test key is refused under PAYMENT_KEYS_STRICT=1' : ''}`);
    },
  };
}
