/** On an existing cluster the start command registers the project's search attributes once. */
import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ensureSearchAttributes } from '../../lib/temporal';
import { temporalTestAddress } from '../support/env';

test('registers missing search attributes on a namespace, then finds them there', async () => {
  const connection = await Connection.connect({ address: temporalTestAddress() });
  try {
    const namespace = `ns-${randomBytes(4).toString('hex')}`;
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    for (let i = 0; i < 50; i++) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect((await ensureSearchAttributes(connection, namespace)).sort()).toEqual(['CardId', 'IssuanceStage', 'IssuerId', 'ProductType', 'RevocationReason', 'TerminalId']);
    expect(await ensureSearchAttributes(connection, namespace)).toEqual([]);
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(listed.customAttributes ?? {})).toEqual(expect.arrayContaining(['CardId', 'IssuanceStage', 'IssuerId', 'ProductType', 'RevocationReason', 'TerminalId']));
  } finally {
    await connection.close();
  }
});
