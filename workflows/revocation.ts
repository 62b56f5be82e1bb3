/**
 * Revocation of an issued card, started by its issuer through the issuer API
 * (api/routes/issuer/revocations.ts) or by its registered owner at a kiosk (api/routes/users.ts).
 *
 * Workflow ID = `revocation-<cardId>` (domain/revocation.ts): one revocation runs at a time per
 * card, and a repeated request finds the running one or, once it has finished, a new run that
 * finds the card already revoked and the event already delivered (both steps are idempotent).
 * The starter sets the search attributes (CardId, IssuerId, RevocationReason: no personal data)
 * and a memo naming the card, the reason and who asked.
 *
 * Steps: mark the card revoked (verification refuses it from then on), then notify the issuer
 * with a signed card.revoked event, retried with backoff until the issuer acknowledges.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CenterActivities } from '../activities/center';
import type { RevocationInput, RevocationResult } from '../domain/revocation';

const center = proxyActivities<Pick<CenterActivities, 'revokeCard'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

const issuerCalls = proxyActivities<Pick<CenterActivities, 'notifyCardRevoked'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

export async function revocation(input: RevocationInput): Promise<RevocationResult> {
  const { revokedAtMs, alreadyRevoked } = await center.revokeCard(input, workflowInfo().workflowId);
  const { eventId } = await issuerCalls.notifyCardRevoked(input.cardId);
  return { cardId: input.cardId, revokedAtMs, alreadyRevoked, eventId };
}
