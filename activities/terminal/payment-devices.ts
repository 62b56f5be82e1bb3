/**
 * The terminal's payment device step: read the customer's card (and PIN) on the card reader / PIN
 * pad. What it returns is already encrypted (terminal-worker/devices/payment-devices.ts): the card
 * read under the card reader key, the PIN block under the terminal PIN key. It heartbeats while
 * the customer takes their time, and gives up (non-retryable NoCardPresented) after `timeoutMs`.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { PaymentDeviceError, type EncryptedCardRead, type PaymentCardDevice } from '../../terminal-worker/devices/payment-devices';

export function createPaymentDeviceActivities(device: PaymentCardDevice | undefined) {
  return {
    async readPaymentCard(issuanceId: string, opts: { withPin: boolean; timeoutMs: number }): Promise<EncryptedCardRead> {
      if (!device) throw ApplicationFailure.nonRetryable('This terminal has no card reader.', 'NoCardReader');
      const deadline = Date.now() + opts.timeoutMs;
      for (;;) {
        let read: EncryptedCardRead | null;
        try {
          read = await device.read({ withPin: opts.withPin, timeoutMs: Math.max(1, Math.min(1_000, deadline - Date.now())) });
        } catch (err) {
          if (err instanceof PaymentDeviceError) throw ApplicationFailure.nonRetryable(err.code === 'PIN_CANCELLED' ? 'The PIN entry was cancelled.' : 'The card could not be read. Please try again.', 'CardNotRead');
          throw err;
        }
        if (read) return read;
        if (Date.now() >= deadline) throw ApplicationFailure.nonRetryable(`No card was presented for ${issuanceId}.`, 'NoCardPresented');
        try {
          Context.current().heartbeat({ step: 'waiting for the card' });
        } catch {
          // outside an activity (unit use): nothing to report to
        }
      }
    },
  };
}
