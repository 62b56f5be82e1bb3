/**
 * The remote codec endpoint for the Temporal Web UI (and `temporal --codec-endpoint`): decodes
 * and encodes payloads with the same keys the workers use, so an operator can read encrypted
 * workflow history. Only authenticated operators get through (`authenticate`), and the browser
 * may call it from the Web UI's origin with credentials (CORS).
 *
 * Protocol (Temporal's): POST {endpoint}/decode and /encode with
 *   {"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}
 * answered in the same shape.
 */
import express, { Router, type RequestHandler } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const body = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })).max(1000),
});

function fromJson(p: z.infer<typeof body>['payloads'][number]): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload) {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export interface CodecRouteOptions {
  codec: PayloadCodec;
  authenticate: RequestHandler;
  /** Origins allowed to call from a browser (the Temporal Web UI's). */
  allowedOrigins: string[];
}

export function codecRoutes(opts: CodecRouteOptions): Router {
  const r = Router();
  r.use((req, res, next) => {
    const origin = req.get('origin');
    if (origin && opts.allowedOrigins.includes(origin)) {
      res.set('Access-Control-Allow-Origin', origin);
      res.set('Access-Control-Allow-Credentials', 'true');
      res.set('Access-Control-Allow-Headers', 'content-type,x-namespace,authorization');
      res.set('Access-Control-Allow-Methods', 'POST,OPTIONS');
      res.set('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });
  r.use(opts.authenticate);
  r.use(express.json({ limit: '4mb' }));
  for (const direction of ['decode', 'encode'] as const) {
    r.post(`/${direction}`, async (req, res) => {
      const { payloads } = body.parse(req.body ?? {});
      const out = await opts.codec[direction](payloads.map(fromJson));
      res.json({ payloads: out.map(toJson) });
    });
  }
  return r;
}
