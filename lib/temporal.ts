/** Connections to Temporal for clients and workers, from one place. */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { SEARCH_ATTRIBUTE_ARGS } from '../domain/search-attributes';

/** The SDK's own worker logs at WARN unless LOG_LEVEL asks for more (its INFO lines are chatty). */
export function installWorkerRuntime(level = (process.env.TEMPORAL_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel): void {
  Runtime.install({ logger: new DefaultLogger(level) });
}

/**
 * Registers the project's search attributes on an existing cluster (the dev server gets them as
 * start flags). Attributes already there are left alone.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTE_ARGS.map((a) => a.split('=')[0]).filter((name) => !have.has(name));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  }
  return missing;
}

export async function connectClient(address: string, namespace: string, dataConverter?: DataConverter): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace, dataConverter });
}

/** A worker's connection; `tls` for a cluster that wants (m)TLS (terminal-worker/config.ts reads it). */
export async function connectWorker(address: string, tls?: TLSConfig): Promise<NativeConnection> {
  return NativeConnection.connect({ address, tls });
}

/** Waits until a Temporal frontend answers (the dev server takes a few seconds to start). */
export async function waitForTemporal(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const c = await Connection.connect({ address, connectTimeout: 2_000 });
      await c.healthService.check({});
      await c.close();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`Temporal at ${address} did not answer within ${timeoutMs} ms: ${(lastError as Error)?.message}`);
}
