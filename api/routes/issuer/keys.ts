/**
 * API keys: operators create and revoke an issuer's keys (operator bearer token, see
 * api/operator-auth.ts); an issuer can see which key and issuer it is authenticated as.
 */
import { z } from 'zod';
import type { Db } from '../../../lib/db';
import { ApiError } from '../../errors';
import { createIssuerApiKey, revokeIssuerApiKey } from '../../issuer-auth';
import { isoTime, text } from './common';
import { route, type AnyRoute } from './route-def';

const issuerId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'is not an issuer id');
const keyId = z.string().regex(/^[0-9a-f]{16}$/, 'is not a key id');

const ApiKey = z
  .object({ keyId: z.string(), issuerId: z.string(), label: z.string(), createdBy: z.string(), createdAt: z.string(), lastUsedAt: z.string().nullable(), revokedAt: z.string().nullable(), revokedBy: z.string().nullable() })
  .meta({ id: 'ApiKey' });
const NewApiKey = ApiKey.extend({ apiKey: z.string().describe('The key itself: shown only now, stored only as a hash') }).meta({ id: 'NewApiKey' });

const keyDto = (r: Record<string, unknown>) => ({
  keyId: String(r.key_id),
  issuerId: String(r.issuer_id),
  label: String(r.label),
  createdBy: String(r.created_by),
  createdAt: isoTime(r.created_at_ms as number)!,
  lastUsedAt: isoTime(r.last_used_at_ms as number | null),
  revokedAt: isoTime(r.revoked_at_ms as number | null),
  revokedBy: (r.revoked_by as string | null) ?? null,
});

export function keyRouteDefs(db: Db): AnyRoute[] {
  const knownIssuer = async (id: string) => {
    const row = await db('issuers').where({ id }).first('id');
    if (!row) throw new ApiError(404, 'unknown_issuer', `No issuer ${id}.`);
  };
  return [
    route({
      method: 'post',
      path: '/operator/issuers/:issuerId/api-keys',
      operationId: 'createIssuerApiKey',
      summary: 'Create an API key for an issuer (operators only); the key is in the answer, once',
      tag: 'Operator',
      auth: 'operator',
      params: z.object({ issuerId }).strict(),
      body: z.object({ label: text(100) }).strict().meta({ id: 'ApiKeyCreate' }),
      errors: [404],
      responses: { 201: { description: 'Created', schema: NewApiKey } },
      async handler({ params, body, operator }) {
        const created = await createIssuerApiKey(db, { issuerId: params.issuerId, label: body.label, createdBy: operator });
        const row = await db('issuer_api_keys').where({ key_id: created.keyId }).first();
        return { status: 201, json: { ...keyDto(row), apiKey: created.apiKey } };
      },
    }),
    route({
      method: 'get',
      path: '/operator/issuers/:issuerId/api-keys',
      operationId: 'listIssuerApiKeys',
      summary: 'An issuer\'s API keys (operators only; never the keys themselves)',
      tag: 'Operator',
      auth: 'operator',
      params: z.object({ issuerId }).strict(),
      errors: [404],
      responses: { 200: { description: 'The keys', schema: z.object({ apiKeys: z.array(ApiKey) }) } },
      async handler({ params }) {
        await knownIssuer(params.issuerId);
        const rows = await db('issuer_api_keys').where({ issuer_id: params.issuerId }).orderBy('created_at_ms');
        return { json: { apiKeys: rows.map(keyDto) } };
      },
    }),
    route({
      method: 'delete',
      path: '/operator/issuers/:issuerId/api-keys/:keyId',
      operationId: 'revokeIssuerApiKey',
      summary: 'Revoke an issuer\'s API key at once (operators only; revoking twice is harmless)',
      tag: 'Operator',
      auth: 'operator',
      params: z.object({ issuerId, keyId }).strict(),
      errors: [404],
      responses: { 200: { description: 'Revoked', schema: ApiKey } },
      async handler({ params, operator }) {
        await knownIssuer(params.issuerId);
        if (!(await revokeIssuerApiKey(db, { issuerId: params.issuerId, keyId: params.keyId, revokedBy: operator }))) throw new ApiError(404, 'unknown_key', `Issuer ${params.issuerId} has no key ${params.keyId}.`);
        return { json: keyDto(await db('issuer_api_keys').where({ key_id: params.keyId }).first()) };
      },
    }),
    route({
      method: 'get',
      path: '/issuer/me',
      operationId: 'whoAmI',
      summary: 'The issuer and key this request is authenticated as',
      tag: 'Account',
      auth: 'issuer',
      responses: { 200: { description: 'You', schema: z.object({ issuerId: z.string(), name: z.string(), currency: z.string(), keyId: z.string() }).meta({ id: 'Me' }) } },
      async handler({ issuer }) {
        const row = await db('issuers').where({ id: issuer.issuerId }).first('id', 'name', 'currency');
        return { json: { issuerId: row.id, name: row.name, currency: row.currency, keyId: issuer.keyId } };
      },
    }),
  ];
}
