/**
 * Failures keep their message and stack trace in an encoded attributes payload, which the
 * payload codec then encrypts (by default Temporal stores them in clear). Loaded by path into
 * the workflow bundle, so it imports nothing but @temporalio/common.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
