/**
 * Starting an issuance workflow (workflows/issuance.ts) from the API: from the kiosk's first touch
 * and from a registered user's "buy again". The workflow ID comes from the kiosk's request id, so
 * a retried request finds the issuance it already started. The starter sets the terminal and the
 * first stage as search attributes; the workflow upserts the rest as it goes.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { IssuanceStageKey, TerminalIdKey } from '../domain/search-attributes';
import { issuance } from '../workflows/issuance';
import type { IssuanceInput } from '../workflows/issuance-messages';

export function startIssuanceWorkflow(temporal: Client, centerTaskQueue: string, input: IssuanceInput): Promise<WorkflowHandle<typeof issuance>> {
  return temporal.workflow.start(issuance, {
    taskQueue: centerTaskQueue,
    workflowId: input.issuanceId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: TerminalIdKey, value: input.terminalId },
      { key: IssuanceStageKey, value: 'selecting' },
    ],
  });
}
