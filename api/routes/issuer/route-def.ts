/**
 * One definition per issuer API route: method, path, the zod schemas of its path parameters,
 * query and body, its responses, and its handler. `mountRoutes` registers the definitions on an
 * express router and validates every request with those schemas; api/openapi.ts builds the
 * OpenAPI document from the very same definitions, so the document cannot drift from what the
 * routes accept.
 *
 * Order per request: authentication, then the body (JSON with a per-route size limit, or raw bytes
 * of an allowed content type), then params, query and body parsed by their schemas (a ZodError
 * becomes 400 invalid_input in api/errors.ts), then the handler.
 *
 * With ISSUER_API_CHECK_RESPONSES=1 (the tests set it) every JSON response is also parsed by its
 * documented schema, so the documented responses are checked too.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Db } from '../../../lib/db';
import { ApiError } from '../../errors';
import { issuerAuth, issuerOf, type IssuerContext } from '../../issuer-auth';
import { operatorAuth, operatorOf, type OperatorToken } from '../../operator-auth';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Auth = 'issuer' | 'operator' | 'none';

export interface ResponseDef {
  description: string;
  /** JSON body schema (application/json unless contentType says otherwise). */
  schema?: z.ZodType;
  /** Non-JSON responses: the media type (the body is then described as a string/bytes). */
  contentType?: string;
}

export interface BinaryBodyDef {
  contentTypes: string[];
  maxBytes: number;
  description: string;
}

export interface Reply {
  status?: number;
  json?: unknown;
  /** A non-JSON body (with contentType). */
  body?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface HandlerContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The raw bytes of a binary body (routes with binaryBody). */
  bytes: Buffer;
  contentType: string | undefined;
  /** Set on issuer routes. */
  issuer: IssuerContext;
  /** Set on operator routes: the operator's name. */
  operator: string;
  req: Request;
  res: Response;
}

export interface RouteDef<P extends z.ZodType | undefined = z.ZodType | undefined, Q extends z.ZodType | undefined = z.ZodType | undefined, B extends z.ZodType | undefined = z.ZodType | undefined> {
  method: Method;
  /** Express-style path under /api, e.g. /issuer/products/:productId */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: Auth;
  params?: P;
  query?: Q;
  body?: B;
  /** JSON body size limit (express.json syntax); default 100kb. */
  jsonLimit?: string;
  binaryBody?: BinaryBodyDef;
  responses: Record<number, ResponseDef>;
  /** Error statuses this route can answer beyond the common ones (400, 401, and 404 for issuer routes). */
  errors?: number[];
  handler(ctx: HandlerContext<Out<P>, Out<Q>, Out<B>>): Promise<Reply>;
}

/** Typed constructor: infers the handler's params/query/body types from the schemas. */
export function route<P extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(def: RouteDef<P, Q, B>): AnyRoute {
  return def as unknown as AnyRoute;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any>;

/** The error shape of api/errors.ts, for the document. */
export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. invalid_input, not_found, item_in_use.'),
      message: z.string().describe('What went wrong, for a person.'),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error', description: 'Every error: a 4xx for the caller\'s mistakes, a 5xx for ours.' });

export const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (bad JSON, a field failing its schema); nothing was changed.',
  401: 'No API key, or a key that is unknown or revoked.',
  403: 'Authenticated, but not allowed.',
  404: 'No such resource for this issuer (other issuers\' resources answer the same).',
  409: 'Conflicts with the current state (e.g. a change to something already on issued cards); nothing was changed.',
  413: 'The body is larger than this route accepts.',
  415: 'The body\'s content type is not accepted here.',
  422: 'Well-formed but refused (e.g. an image that is not what it claims); nothing was changed.',
};

export function errorStatuses(def: AnyRoute): number[] {
  const s = new Set<number>([400, ...(def.auth === 'none' ? [] : [401]), ...(def.auth === 'operator' ? [403] : []), ...(def.auth === 'issuer' && def.params ? [404] : []), ...(def.errors ?? [])]);
  if (def.body || def.binaryBody) {
    s.add(413);
    s.add(415);
  }
  return [...s].sort((a, b) => a - b);
}

export interface MountOptions {
  db: Db;
  operatorTokens: OperatorToken[];
  now?: () => number;
}

const checkResponses = () => process.env.ISSUER_API_CHECK_RESPONSES === '1';

function bodyParser(def: AnyRoute): RequestHandler[] {
  if (def.binaryBody) {
    const b = def.binaryBody;
    return [
      (req, _res, next) => {
        const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
        if (!b.contentTypes.includes(type)) return next(new ApiError(415, 'unsupported_media_type', `Send the body as ${b.contentTypes.join(' or ')} (got ${type || 'no content type'}).`));
        next();
      },
      express.raw({ type: () => true, limit: b.maxBytes }),
    ];
  }
  if (def.body) {
    return [
      (req, _res, next) => {
        if (req.get('content-length') !== '0' && !req.is('application/json')) return next(new ApiError(415, 'unsupported_media_type', 'Send the body as JSON (Content-Type: application/json).'));
        next();
      },
      express.json({ limit: def.jsonLimit ?? '100kb' }),
    ];
  }
  return [];
}

export function mountRoutes(router: Router, defs: AnyRoute[], opts: MountOptions): void {
  const issuerAuthenticate = issuerAuth(opts.db, opts.now);
  const operatorAuthenticate = operatorAuth(opts.operatorTokens);
  for (const def of defs) {
    const auth: RequestHandler[] = def.auth === 'issuer' ? [issuerAuthenticate] : def.auth === 'operator' ? [operatorAuthenticate] : [];
    const handler: RequestHandler = async (req, res) => {
      const params = def.params ? def.params.parse(req.params) : undefined;
      const query = def.query ? def.query.parse(req.query ?? {}) : undefined;
      let body: unknown;
      if (def.body) {
        if (req.body === undefined) throw new ApiError(415, 'unsupported_media_type', 'Send the body as JSON (Content-Type: application/json).');
        body = def.body.parse(req.body);
      }
      const bytes = def.binaryBody ? (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)) : Buffer.alloc(0);
      const ctx: HandlerContext<unknown, unknown, unknown> = {
        params,
        query,
        body,
        bytes,
        contentType: (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase() || undefined,
        get issuer() {
          return issuerOf(res);
        },
        get operator() {
          return operatorOf(req, res);
        },
        req,
        res,
      };
      const reply = await def.handler(ctx as never);
      const status = reply.status ?? 200;
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.set(k, v);
      if (reply.body !== undefined) {
        res.status(status).type(reply.contentType ?? 'application/octet-stream').send(reply.body);
        return;
      }
      if (status === 204) {
        res.status(204).end();
        return;
      }
      if (checkResponses()) {
        const documented = def.responses[status];
        if (!documented) throw new Error(`${def.operationId} answered ${status}, which its definition does not document`);
        if (documented.schema) {
          const check = documented.schema.safeParse(reply.json);
          if (!check.success) throw new Error(`${def.operationId} answered a ${status} body that does not match its documented schema: ${check.error.message}`);
        }
      }
      res.status(status).json(reply.json);
    };
    router[def.method](def.path, ...auth, ...bodyParser(def), handler);
  }
}

/** Express path → OpenAPI path: /issuer/products/:productId → /issuer/products/{productId}. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}
