/**
 * The issuer API, for card issuers' own servers, mounted at /api (before the app's JSON parser:
 * each route parses its own body with its own size limit):
 *
 *   /api/issuer/…                       issuer routes (Authorization: Bearer <issuer API key>)
 *   /api/operator/issuers/:id/api-keys  operators create, list and revoke issuers' keys
 *   /api/issuer/openapi.json            the OpenAPI 3.1 document of all of them (no auth)
 *
 * See docs/issuer-api.md.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../../lib/db';
import { buildOpenApiDocument } from '../../openapi';
import type { OperatorToken } from '../../operator-auth';
import { catalogueRouteDefs } from './catalogue';
import { keyRouteDefs } from './keys';
import { mediaRouteDefs } from './media';
import { notificationRouteDefs } from './notifications';
import { reissueRouteDefs } from './reissues';
import { revocationRouteDefs, type RevocationRouteDeps } from './revocations';
import { mountRoutes, route, type AnyRoute } from './route-def';
import { settlementRouteDefs } from './settlements';

export interface IssuerApiOptions {
  db: Db;
  operatorTokens: OperatorToken[];
  now?: () => number;
  /** The workflow engine for revocations and reissues; without it those routes answer 503. */
  revocations?: RevocationRouteDeps;
}

export const ISSUER_API_VERSION = '1.0.0';

/** Every route of the issuer API, the document's own route included. */
export function issuerApiRouteDefs(db: Db, revocations?: RevocationRouteDeps): AnyRoute[] {
  const defs: AnyRoute[] = [...keyRouteDefs(db), ...catalogueRouteDefs(db), ...mediaRouteDefs(db), ...notificationRouteDefs(db), ...settlementRouteDefs(db), ...revocationRouteDefs(db, revocations), ...reissueRouteDefs(db, revocations)];
  let doc: Record<string, unknown> | undefined;
  const openapi = route({
    method: 'get',
    path: '/issuer/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document',
    tag: 'Account',
    auth: 'none',
    responses: { 200: { description: 'The OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()).meta({ id: 'OpenApiDocument' }) } },
    async handler() {
      doc ??= issuerApiDocument(all);
      return { json: doc };
    },
  });
  const all = [...defs, openapi];
  return all;
}

export function issuerApiDocument(defs: AnyRoute[]): Record<string, unknown> {
  return buildOpenApiDocument(defs, {
    title: 'IC card issuance — issuer API',
    version: ISSUER_API_VERSION,
    description: 'For card issuers\' own servers: catalogue, faces and application packages, sales, notifications and their delivery log, settlements, revocation of issued cards. Errors are always `{"error":{"code","message","details"?}}`. See docs/issuer-api.md.',
  });
}

export function issuerApiRoutes(opts: IssuerApiOptions): Router {
  const r = Router();
  mountRoutes(r, issuerApiRouteDefs(opts.db, opts.revocations), opts);
  return r;
}
