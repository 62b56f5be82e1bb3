/**
 * The API's error shape for Temporal being slow or out of reach: a Query whose worker did not
 * answer in time (DEADLINE_EXCEEDED) or a server that cannot be reached (UNAVAILABLE) is a 503 the
 * kiosk page retries by itself, with Retry-After; any other service error stays a 500.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ServiceError } from '@temporalio/client';
import { errorHandler } from '../../api/errors';

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

let server: http.Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.get('/query-timeout', () => {
    throw new ServiceError('Failed to query Workflow', { cause: grpcError(4, 'query timed out before a worker could process it') });
  });
  app.get('/unavailable', () => {
    throw new ServiceError('Failed to start Workflow', { cause: grpcError(14, 'connection refused') });
  });
  app.get('/invalid-argument', () => {
    throw new ServiceError('Failed to start Workflow', { cause: grpcError(3, 'bad request') });
  });
  app.use(errorHandler);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

test('a Query that timed out waiting for the worker is a 503 to retry, not an internal error', async () => {
  const res = await fetch(`${base}/query-timeout`);
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  expect(await res.json()).toEqual({ error: { code: 'busy', message: 'The center is busy right now. Please try again in a moment.' } });
});

test('an unreachable Temporal server is a 503 as well', async () => {
  const res = await fetch(`${base}/unavailable`);
  expect(res.status).toBe(503);
  expect((await res.json()).error.code).toBe('busy');
});

test('other service errors stay 500 internal', async () => {
  const res = await fetch(`${base}/invalid-argument`);
  expect(res.status).toBe(500);
  expect((await res.json()).error.code).toBe('internal');
});
