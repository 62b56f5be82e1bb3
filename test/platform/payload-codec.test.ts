/**
 * Payload encryption: round trips, key rotation, tampering; and on the real stack, workflow
 * history read without the key holds nothing of the sale in clear, while the keyed client reads it.
 */
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec } from '../../lib/payload-codec';
import { newKeySpec, parseKeySpec } from '../../lib/payload-keys';
import { freeSeat } from '../support/assertions';
import { Kiosk } from '../support/kiosk-client';
import { temporalTestAddress } from '../support/env';
import { startStack, type Stack } from '../support/stack';

describe('EncryptionCodec', () => {
  const payload = defaultPayloadConverter.toPayload({ holder: 'Sato Hanako', pan: '4321987654321098' });

  test('round trip, and the ciphertext shows nothing', async () => {
    const codec = new EncryptionCodec(parseKeySpec(newKeySpec('a')));
    const [sealed] = await codec.encode([payload]);
    expect(Buffer.from(sealed.metadata!.encoding!).toString()).toBe('binary/encrypted');
    expect(Buffer.from(sealed.metadata!['encryption-key-id']!).toString()).toBe('a');
    expect(Buffer.from(sealed.data!).toString('latin1')).not.toMatch(/Sato|4321/);
    const [opened] = await codec.decode([sealed]);
    expect(defaultPayloadConverter.fromPayload(opened)).toEqual({ holder: 'Sato Hanako', pan: '4321987654321098' });
    // Plain payloads pass through decode untouched.
    expect(await codec.decode([payload])).toEqual([payload]);
  });

  test('old keys still decrypt after rotation; an unknown key or tampering fails loudly', async () => {
    const oldSpec = newKeySpec('old');
    const newSpec = newKeySpec('new');
    const [sealedOld] = await new EncryptionCodec(parseKeySpec(oldSpec)).encode([payload]);
    const rotated = new EncryptionCodec(parseKeySpec(`${newSpec},${oldSpec}`, 'new'));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([sealedOld]))[0])).toMatchObject({ holder: 'Sato Hanako' });
    expect(Buffer.from((await rotated.encode([payload]))[0].metadata!['encryption-key-id']!).toString()).toBe('new');
    await expect(new EncryptionCodec(parseKeySpec(newSpec)).decode([sealedOld])).rejects.toThrow(/no payload key "old"/);
    const tampered = { ...sealedOld, data: Uint8Array.from(sealedOld.data!) };
    tampered.data[20] ^= 1;
    await expect(rotated.decode([tampered])).rejects.toThrow();
  });

  test('the history reader used below sees clear payload text', () => {
    expect(readableText({ events: [{ input: { payloads: [payload] } }] })).toContain('Sato Hanako');
  });

  test('bad key configuration is refused with a clear message', () => {
    expect(() => parseKeySpec('k1:AAAA')).toThrow(/must be 32 bytes/);
    expect(() => parseKeySpec('nonsense')).toThrow(/id:base64key/);
    expect(() => parseKeySpec(newKeySpec('a'), 'b')).toThrow(/"b" is not among/);
  });
});

describe('on the real stack', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ terminals: 2 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('history without the key shows no sale details; with it, everything', async () => {
    const seat = await freeSeat(stack.db);
    // A refusal too, so a failure message is in history.
    const rival = new Kiosk(stack.apiUrl, stack.terminalIds[1]);
    await rival.start();
    const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
    await kiosk.buyWithCash({ kind: 'seat', seatId: seat.id }, [10000, 5000]);
    expect((await rival.select({ kind: 'seat', seatId: seat.id })).status).toBe(409);
    const done = await kiosk.waitForStage('completed');

    const connection = await Connection.connect({ address: temporalTestAddress() });
    try {
      const keyless = new Client({ connection });
      for (const id of [kiosk.issuanceId, rival.issuanceId]) {
        const raw = readableText(await keyless.workflow.getHandle(id).fetchHistory());
        expect(raw).toContain('binary/encrypted'); // payloads are there, sealed
        for (const secret of ['Neon Harbors', 'Tokyo Garden', seat.price.toLocaleString('en-US'), done.cardId!, 'has just been taken', 'Sunrise Promotions', 'row A']) {
          expect(raw).not.toContain(secret);
        }
      }
      // (Search attributes — terminal, issuer id, product type, stage — are indexed in clear by design.)
      // The keyed client (the API's) reads the result in clear.
      const result = await stack.temporal.workflow.getHandle(kiosk.issuanceId).result();
      expect(result.cardId).toBe(done.cardId);
      expect(result.item?.title).toMatch(/Neon Harbors/);
    } finally {
      await connection.close();
    }
  });
});

/** Every string and every byte array (as UTF-8) in a history, so payload contents are searchable. */
function readableText(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (v == null) return;
    if (typeof v === 'string') out.push(v);
    else if (v instanceof Uint8Array) out.push(Buffer.from(v).toString('utf8'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object') Object.values(v as object).forEach(walk);
  };
  walk(value);
  return out.join('\n');
}
