/** Registered users in tests: register, log in, and call the API as the logged-in user or an operator. */
import { PNG } from 'pngjs';
import type { Stack } from '../support/stack';

export const OPERATOR_TOKEN = 'ops-token-for-user-tests-0123456789';
/** The operator tokens the suites' API reads (set before the stack starts). */
export const OPERATOR_TOKENS_ENV = `helpdesk.sato:${OPERATOR_TOKEN}`;

export interface Res {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function api(stack: Stack, method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<Res> {
  const res = await fetch(`${stack.apiUrl}/api${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? (body as BodyInit) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

let n = 0;
/** A valid registration; each call a different person. */
export function person(over: Record<string, unknown> = {}) {
  n += 1;
  return {
    name: `Hanako Yamada ${n}`,
    nameKana: 'ヤマダ ハナコ',
    birthDate: '1990-04-01',
    gender: 'female',
    postalCode: '160-0022',
    address: `Shinjuku 3-${n}-1, Shinjuku-ku, Tokyo`,
    phone: `090-1234-${String(1000 + n).padStart(4, '0')}`,
    email: `hanako${n}@example.jp`,
    occupation: 'engineer',
    workplaceName: 'Tachikawa Works',
    workplaceAddress: 'Tachikawa 1-1',
    householdSize: 3,
    commuteFrom: 'Shinjuku',
    commuteTo: 'Tachikawa',
    pin: '4826',
    ...over,
  };
}

/** A small solid-colour PNG (a stand-in for a face photo). */
export function photoPng(rgb: [number, number, number] = [200, 60, 40], width = 60, height = 80): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([...rgb, 255], i * 4);
  return PNG.sync.write(png);
}

/** The smallest JPEG inspectImage accepts: SOI, a baseline frame header (80 × 60), EOI. */
export function tinyJpeg(): Buffer {
  return Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x50, 0x00, 0x3c, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xff, 0xd9]);
}

export async function register(stack: Stack, over: Record<string, unknown> = {}): Promise<{ userId: string; pin: string; profile: Record<string, unknown> }> {
  const p = person(over);
  const r = await api(stack, 'POST', '/users', p);
  if (r.status !== 201) throw new Error(`registration failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { userId: r.body.userId, pin: p.pin as string, profile: p };
}

export async function login(stack: Stack, userId: string, pin: string, terminalId = stack.terminalIds[0]): Promise<string> {
  const r = await api(stack, 'POST', `/kiosk/${terminalId}/login`, { userId, pin });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export const asOperator = (stack: Stack, method: string, path: string, body?: unknown) => api(stack, method, `/operator/users${path}`, body, OPERATOR_TOKEN);
