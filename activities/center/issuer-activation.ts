/**
 * Asking an issuer's server to activate a stock card at the moment of sale (patent claim 7): one
 * POST to the issuer's activation_url, signed like the notifications (lib/webhook-signature.ts),
 * with a deadline, answered synchronously with {approved, activationRef} or {approved: false, reason}.
 *
 * The request id is stable per (sale, card), so a repeated request (a retried activity) is one
 * activation for the issuer, which answers it with the same reference.
 */
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signPayload } from '../../lib/webhook-signature';

export interface ActivationRequest {
  cardId: string;
  issuanceId: string;
  terminalId: string;
  valueMinor: number;
  currency: string;
}

export type ActivationAnswer = { approved: true; activationRef: string } | { approved: false; reason: string } | { approved: null; reason: string };

export function activationRequestId(issuanceId: string, cardId: string): string {
  return `act-${issuanceId}-${cardId}`;
}

/** approved: null means no usable answer by the deadline (timeout, network error, HTTP error). */
export async function requestActivation(
  issuer: { activationUrl: string; webhookSecret: string },
  req: ActivationRequest,
  opts: { fetch?: typeof fetch; timeoutMs: number; nowMs: number },
): Promise<ActivationAnswer> {
  const id = activationRequestId(req.issuanceId, req.cardId);
  const body = JSON.stringify({ id, type: 'card.activation_requested', created: Math.floor(opts.nowMs / 1000), data: req });
  const signature = signPayload(issuer.webhookSecret, body, Math.floor(opts.nowMs / 1000));
  try {
    const res = await (opts.fetch ?? fetch)(issuer.activationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, [EVENT_ID_HEADER]: id },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    if (!res.ok) return { approved: null, reason: `the issuer answered HTTP ${res.status}` };
    const answer = (await res.json()) as { approved?: unknown; activationRef?: unknown; reason?: unknown };
    if (answer.approved === true && typeof answer.activationRef === 'string' && /^[\x21-\x7e]{1,100}$/.test(answer.activationRef)) {
      return { approved: true, activationRef: answer.activationRef };
    }
    if (answer.approved === false) return { approved: false, reason: typeof answer.reason === 'string' ? answer.reason.slice(0, 200) : 'no reason given' };
    return { approved: null, reason: 'the issuer gave no valid answer' };
  } catch (err) {
    const name = (err as Error).name;
    return { approved: null, reason: name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${opts.timeoutMs} ms` : `could not reach the issuer: ${(err as Error).message}` };
  }
}
