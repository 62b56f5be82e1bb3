/**
 * The issuer API's OpenAPI 3.1 document, generated from the route definitions
 * (api/routes/issuer/route-def.ts): paths, parameters, request bodies and responses come from the
 * same zod schemas the routes parse requests with (z.toJSONSchema, JSON Schema 2020-12, which is
 * OpenAPI 3.1's dialect). Schemas with an id (`.meta({ id })`) become components; request schemas
 * are converted as the input they accept, response schemas as the output they produce.
 */
import { z } from 'zod';
import { ERROR_DESCRIPTIONS, ErrorResponse, errorStatuses, openApiPath, type AnyRoute } from './routes/issuer/route-def';

type Json = Record<string, unknown>;

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
  serverUrl?: string;
}

function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(node as Json)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/') ? `#/components/schemas/${v.slice('#/$defs/'.length)}` : rewriteRefs(v);
    }
    return out;
  }
  return node;
}

export class SchemaConverter {
  readonly components: Record<string, Json> = {};

  /** JSON Schema for a zod schema; named sub-schemas go to components.schemas. */
  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const js = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
    const defs = (js.$defs ?? {}) as Record<string, Json>;
    delete js.$defs;
    delete js.$schema;
    for (const [name, def] of Object.entries(defs)) {
      const rewritten = rewriteRefs(def) as Json;
      const existing = this.components[name];
      if (existing && JSON.stringify(existing) !== JSON.stringify(rewritten)) {
        throw new Error(`OpenAPI: schema id "${name}" stands for two different schemas (as ${io}); give them different ids`);
      }
      this.components[name] = rewritten;
    }
    return rewriteRefs(js) as Json;
  }
}

function parameters(conv: SchemaConverter, where: 'path' | 'query', schema: z.ZodType | undefined): Json[] {
  if (!schema) return [];
  const shape = (schema as z.ZodObject).shape as Record<string, z.ZodType>;
  return Object.entries(shape).map(([name, field]) => {
    const js = conv.convert(field, 'input');
    const description = js.description;
    delete js.description;
    return { name, in: where, required: where === 'path' || !field.safeParse(undefined).success, ...(description ? { description } : {}), schema: js };
  });
}

export function buildOpenApiDocument(defs: AnyRoute[], info: OpenApiInfo): Json {
  const conv = new SchemaConverter();
  conv.convert(ErrorResponse, 'output');
  const errorRef = { $ref: '#/components/schemas/Error' };
  const paths: Record<string, Record<string, Json>> = {};
  const tags = new Set<string>();
  for (const def of defs) {
    tags.add(def.tag);
    const op: Json = {
      operationId: def.operationId,
      summary: def.summary,
      ...(def.description ? { description: def.description } : {}),
      tags: [def.tag],
      security: def.auth === 'issuer' ? [{ issuerApiKey: [] }] : def.auth === 'operator' ? [{ operatorToken: [] }] : [],
    };
    const params = [...parameters(conv, 'path', def.params), ...parameters(conv, 'query', def.query)];
    if (params.length) op.parameters = params;
    if (def.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: conv.convert(def.body, 'input') } }, ...(def.jsonLimit ? { description: `JSON, at most ${def.jsonLimit}` } : {}) };
    } else if (def.binaryBody) {
      const b = def.binaryBody;
      op.requestBody = {
        required: true,
        description: `${b.description}: the raw bytes, at most ${b.maxBytes} bytes`,
        content: Object.fromEntries(b.contentTypes.map((ct) => [ct, { schema: { type: 'string', contentMediaType: ct } }])),
        'x-max-bytes': b.maxBytes,
      };
    }
    const responses: Json = {};
    for (const [status, r] of Object.entries(def.responses)) {
      if (r.schema) responses[status] = { description: r.description, content: { 'application/json': { schema: conv.convert(r.schema, 'output') } } };
      else if (r.contentType) responses[status] = { description: r.description, content: { [r.contentType]: { schema: { type: 'string' } } } };
      else responses[status] = { description: r.description };
    }
    for (const status of errorStatuses(def)) {
      responses[String(status)] ??= { description: ERROR_DESCRIPTIONS[status] ?? 'Error', content: { 'application/json': { schema: errorRef } } };
    }
    op.responses = responses;
    const p = openApiPath(`/api${def.path}`);
    paths[p] ??= {};
    if (paths[p][def.method]) throw new Error(`OpenAPI: ${def.method.toUpperCase()} ${p} is defined twice`);
    paths[p][def.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      schemas: conv.components,
      securitySchemes: {
        issuerApiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'icc_<key id>_<secret>', description: 'An API key an operator created for your issuer.' },
        operatorToken: { type: 'http', scheme: 'bearer', description: 'An operator token (OPERATOR_TOKENS).' },
      },
    },
  };
}
