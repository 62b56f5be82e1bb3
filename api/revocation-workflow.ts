/**
 * Starting the revocation workflow (workflows/revocation.ts) from the API, for every way a card
 * gets revoked: its issuer (issuer API), its registered owner at a kiosk, or a reissue. One
 * workflow per card (its ID is the card's), so a repeat or a concurrent request finds the running
 * one. The search attributes and memo name the card, the reason and who asked, never a person.
 */
import type { Client } from '@temporalio/client';
import { requesterLabel, revocationWorkflowId, type RevocationInput } from '../domain/revocation';
import { CardIdKey, IssuerIdKey, RevocationReasonKey } from '../domain/search-attributes';

export interface RevocationStarter {
  temporal: Client;
  centerTaskQueue: string;
}

/** Starts (or finds) the card's revocation workflow; `why` adds to the memo's "requested by". */
export async function startRevocationWorkflow(s: RevocationStarter, input: RevocationInput, issuerId: string, why?: string): Promise<string> {
  const workflowId = revocationWorkflowId(input.cardId);
  await s.temporal.workflow.start('revocation', {
    taskQueue: s.centerTaskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: CardIdKey, value: input.cardId },
      { key: IssuerIdKey, value: issuerId },
      { key: RevocationReasonKey, value: input.reason },
    ],
    memo: { card: input.cardId, reason: input.reason, requestedBy: why ? `${requesterLabel(input.requestedBy)}, ${why}` : requesterLabel(input.requestedBy), requestId: input.requestId },
  });
  return workflowId;
}

/**
 * Waits up to `waitMs` for the workflow's first step (the card_revocations row, after which
 * verification refuses the card) so the caller can answer "revoked" rather than "pending".
 */
export async function awaitRevocationRow<T>(read: () => Promise<T | undefined>, waitMs = 5000): Promise<T | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await read();
    if (row || Date.now() >= deadline) return row;
    await new Promise((r) => setTimeout(r, 25));
  }
}
