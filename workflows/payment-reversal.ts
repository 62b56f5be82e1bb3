/**
 * The reversal queue's worker, one workflow per queued reversal (id `payment-reversal-<payment id>`):
 * sends the payment's reversal (0400, then 0420 and 0421 repeats; see sendReversal) until the host
 * acknowledges it. Started by the issuance as an abandoned child, so it outlives the issuance and
 * the customer never waits for it; the activity's unlimited retries with backoff are the
 * store-and-forward loop, and a crashed worker simply resumes it.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CenterActivities } from '../activities/center';

export interface PaymentReversalInput {
  paymentId: number;
  /** Longest wait between two transmissions (default 60 s; tests shorten it). */
  maxIntervalMs?: number;
}

export function reversalWorkflowId(paymentId: number): string {
  return `payment-reversal-${paymentId}`;
}

export async function paymentReversal(input: PaymentReversalInput): Promise<{ status: string; sends: number }> {
  const { sendReversal } = proxyActivities<Pick<CenterActivities, 'sendReversal'>>({
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: Math.min(1_000, input.maxIntervalMs ?? 1_000),
      backoffCoefficient: 2,
      maximumInterval: input.maxIntervalMs ?? 60_000,
      nonRetryableErrorTypes: ['InvariantBroken'],
    },
  });
  const r = await sendReversal(input.paymentId);
  return { status: r.status, sends: r.sends };
}
