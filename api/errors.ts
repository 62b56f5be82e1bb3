/**
 * Every error leaves the API as JSON of one shape: `{ "error": { "code", "message", "details"? } }`
 * with a 4xx for the caller's mistakes and 5xx for ours.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, ActivityFailure } from '@temporalio/common';
import { ZodError } from 'zod';
import { logger } from '../lib/logger';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message);
  }
}

/** Update failures the workflow raised on purpose map to a status the kiosk can act on. */
const UPDATE_FAILURE_STATUS: Record<string, [number, string]> = {
  ItemUnavailable: [409, 'item_unavailable'],
  UnknownItem: [404, 'unknown_item'],
  UnknownTerminal: [404, 'unknown_terminal'],
  WrongStage: [409, 'wrong_stage'],
  InvalidRequest: [422, 'invalid_request'],
  SlipExpired: [409, 'slip_closed'],
  PaymentMethodUnavailable: [422, 'payment_method_unavailable'],
  HolderPhotoRequired: [422, 'photo_required'],
};

export function fromUpdateFailure(err: WorkflowUpdateFailedError): ApiError {
  let cause: unknown = err.cause;
  while (cause instanceof ActivityFailure && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    const [status, code] = UPDATE_FAILURE_STATUS[cause.type ?? ''] ?? [422, 'rejected'];
    return new ApiError(status, code, cause.message);
  }
  return new ApiError(422, 'rejected', (cause as Error)?.message ?? err.message);
}

export const notFound: RequestHandler = (req, _res, next) => next(new ApiError(404, 'not_found', `No route for ${req.method} ${req.path}`));

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let e: ApiError;
  if (err instanceof ApiError) e = err;
  else if (err instanceof ZodError) {
    e = new ApiError(400, 'invalid_input', err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '), err.issues);
  } else if (err?.type === 'entity.parse.failed') e = new ApiError(400, 'malformed_json', 'The request body is not valid JSON.');
  else if (err?.type === 'entity.too.large') e = new ApiError(413, 'too_large', 'The request body is too large.');
  else if (err instanceof WorkflowUpdateFailedError) e = fromUpdateFailure(err);
  else if (/workflow execution already completed/i.test(err?.message ?? '')) e = new ApiError(409, 'issuance_finished', 'This issuance has already finished.');
  else if (err instanceof WorkflowNotFoundError) e = new ApiError(404, 'unknown_issuance', 'No such issuance.');
  else if (isTemporalBusy(err)) {
    // The workflow's worker did not answer in time (a Query waits for it) or the server is out of
    // reach: nothing was lost and a retry with the same requestId is answered once, so the kiosk
    // is told to try again (it retries 503 by itself) rather than shown an internal error.
    logger.warn({ path: req.path, grpcCode: (err as ServiceError).cause && (err.cause as { code?: number }).code }, 'Temporal busy or unreachable; answered 503');
    res.setHeader('Retry-After', '1');
    e = new ApiError(503, 'busy', 'The center is busy right now. Please try again in a moment.');
  } else {
    logger.error({ err, path: req.path }, 'unhandled API error');
    e = new ApiError(500, 'internal', 'Something went wrong on our side. Please try again.');
  }
  res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } });
};

/** gRPC status codes meaning "not now" rather than "wrong": DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const BUSY_GRPC_CODES = new Set([4, 8, 14]);

function isTemporalBusy(err: unknown): boolean {
  if (!(err instanceof ServiceError)) return false;
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && BUSY_GRPC_CODES.has(code);
}
