/**
 * The PC/SC chip encoder against the real stack: pcsclite → pcscd → Debian's vpcd reader driver
 * → our virtual card program. pcscd is started by scripts/ensure-pcscd.sh if it is not running.
 * Reader 0 ("Virtual PCD 00 00") is vpcd port 35963, reader 1 ("Virtual PCD 00 01") port 35964.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { decodeCardRecord, encodeCardRecord, type CardRecord } from '../../domain/card-record';
import { PcscChipEncoder } from '../../terminal-worker/drivers/pcsc-chip-encoder';
import { ChipError } from '../../terminal-worker/drivers/status-words';
import { DeviceError } from '../../terminal-worker/devices/types';
import { VirtualCardProcess } from './virtual-card-process';

const ROOT = path.resolve(__dirname, '../../..');
const UID = '04A1B2C3D4E5F6';
const READER0 = 'Virtual PCD 00 00';
const READER1 = 'Virtual PCD 00 01';

function record(productBytes = 600): Uint8Array {
  const r: CardRecord = { issuanceId: 'iss-T-001-42', cardId: 'card-42', issuerId: 'issuer-live', productType: 'ticket', product: { seat: 'A-12', notes: 'x'.repeat(productBytes) }, userId: null, issuedAt: '2025-01-01T10:00:00.000Z' };
  return encodeCardRecord(r);
}

async function expectChipError(p: Promise<unknown>, reason: ChipError['reason']): Promise<ChipError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ChipError ${reason}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChipError);
  expect(err).toBeInstanceOf(DeviceError);
  expect((err as ChipError).reason).toBe(reason);
  return err as ChipError;
}

let card: VirtualCardProcess | null = null;
let encoder: PcscChipEncoder | null = null;

async function setUp(cardArgs: string[], reader: string | number = 0, port = 35963): Promise<{ card: VirtualCardProcess; encoder: PcscChipEncoder }> {
  card = await VirtualCardProcess.start(['--port', String(port), '--uid', UID, '--page-write-ms', '1', ...cardArgs]);
  encoder = await PcscChipEncoder.open({ reader });
  return { card, encoder };
}

beforeAll(() => {
  try {
    execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`pcscd with vpcd is needed and could not be started by scripts/ensure-pcscd.sh (run it as root): ${e.stderr?.toString() ?? e.message}`);
  }
});

afterEach(async () => {
  await encoder?.close();
  await card?.stop();
  encoder = null;
  card = null;
  // Let pcscd see the card leave before the next test inserts one.
  await new Promise((r) => setTimeout(r, 600));
});

describe('PC/SC chip encoder on pcscd + vpcd + the virtual card', () => {
  test('a card inserted is seen and its UID read with FF CA', async () => {
    const { encoder } = await setUp([]);
    expect(encoder.readerName).toBe(READER0);
    expect(await encoder.waitForCard(5000)).toBe(UID);
  });

  test('reader chosen by name and by index', async () => {
    card = await VirtualCardProcess.start(['--port', '35964', '--uid', '04C0FFEE000001']);
    const byName = await PcscChipEncoder.open({ reader: READER1 });
    try {
      expect(byName.readerName).toBe(READER1);
      expect(await byName.waitForCard(5000)).toBe('04C0FFEE000001');
    } finally {
      await byName.close();
    }
    encoder = await PcscChipEncoder.open({ reader: 1 });
    expect(encoder.readerName).toBe(READER1);
    expect(await encoder.waitForCard(5000)).toBe('04C0FFEE000001');
    await expectChipError(PcscChipEncoder.open({ reader: 'No Such Reader', readerWaitMs: 1000 }), 'NO_READER');
  });

  test('card insert and remove events', async () => {
    const { card, encoder } = await setUp(['--removed']);
    const events: string[] = [];
    encoder.on('cardInserted', () => events.push('inserted'));
    encoder.on('cardRemoved', () => events.push('removed'));
    const waiting = encoder.waitForCard(5000);
    await card.control('insert');
    expect(await waiting).toBe(UID);
    await card.control('remove');
    await encoder.waitForRemoval(5000);
    await expectChipError(encoder.readUid(), 'NO_CARD');
    await card.control('insert');
    expect(await encoder.waitForCard(5000)).toBe(UID);
    expect(events).toEqual(['inserted', 'removed', 'inserted']);
  });

  test('a card record written in chunks reads back equal', async () => {
    const { card, encoder } = await setUp([]);
    const uid = await encoder.waitForCard(5000);
    expect(await encoder.read(uid)).toHaveLength(0);
    const data = record(600);
    const progress: number[] = [];
    await card.apduLog();
    await encoder.write(uid, data, (f) => progress.push(f));
    const updates = (await card.apduLog()).filter((h) => h.startsWith('00D6'));
    expect(updates.length).toBe(Math.ceil(data.length / encoder.chunkSize));
    expect(encoder.chunkSize).toBeLessThanOrEqual(255);
    expect(progress[progress.length - 1]).toBe(1);
    const back = await encoder.read(uid);
    expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
    expect(decodeCardRecord(back).cardId).toBe('card-42');
  });

  test('a record bigger than the card memory is refused with a typed error', async () => {
    const { encoder } = await setUp(['--memory', '512']);
    const uid = await encoder.waitForCard(5000);
    const err = await expectChipError(encoder.write(uid, record(600), () => {}), 'CARD_MEMORY_TOO_SMALL');
    expect(err.code).toBe('WRITE_FAILED');
    expect(err.message).toMatch(/holds 512 bytes/);
    expect(await encoder.read(uid)).toHaveLength(0);
  });

  test('tearing: a card pulled out mid-write holds a record that does not decode; a rewrite repairs it', async () => {
    const { card, encoder } = await setUp([]);
    const uid = await encoder.waitForCard(5000);
    const data = record(600);
    await card.control('tear-after 300');
    const err = await expectChipError(encoder.write(uid, data, () => {}), 'CARD_REMOVED');
    expect(err.code).toBe('NO_CARD');
    await encoder.waitForRemoval(5000);
    await card.control('insert');
    await encoder.waitForCard(5000);
    const torn = await encoder.inspect(uid);
    expect(torn.state).toBe('torn');
    expect(() => decodeCardRecord(torn.bytes)).toThrow(/checksum|truncated/);
    await encoder.write(uid, data, () => {});
    expect(decodeCardRecord(await encoder.read(uid)).issuanceId).toBe('iss-T-001-42');
  });

  test('memory failure 6581: retried a bounded number of times, then a typed error and the card spoiled', async () => {
    const { card, encoder } = await setUp([]);
    const uid = await encoder.waitForCard(5000);
    await card.control('memory-failure 1');
    await encoder.write(uid, record(100), () => {}); // one failure, the retry succeeds
    expect(decodeCardRecord(await encoder.read(uid)).cardId).toBe('card-42');
    await card.control('memory-failure always');
    const err = await expectChipError(encoder.write(uid, record(200), () => {}), 'MEMORY_FAILURE');
    expect(err.sw).toBe(0x6581);
    expect(err.spoiled).toBe(true);
    expect(err.message).toMatch(/spoiled after 3 write attempts.*6581.*memory failure/);
  });

  test('T=0: 61xx answered with GET RESPONSE', async () => {
    const { card, encoder } = await setUp(['--atr', 't0']);
    await card.control('t0-61 on');
    const uid = await encoder.waitForCard(5000);
    expect(uid).toBe(UID);
    await encoder.write(uid, record(300), () => {});
    expect(decodeCardRecord(await encoder.read(uid)).cardId).toBe('card-42');
    expect((await card.apduLog()).some((h) => h.startsWith('00C0'))).toBe(true);
  });

  test('T=0: 6Cxx answered by resending with the right Le', async () => {
    const { card, encoder } = await setUp(['--atr', 't0']);
    await card.control('t0-6c on');
    const uid = await encoder.waitForCard(5000);
    expect(uid).toBe(UID);
    await encoder.write(uid, record(300), () => {});
    expect(decodeCardRecord(await encoder.read(uid)).cardId).toBe('card-42');
    const log = await card.apduLog();
    expect(log.filter((h) => h === 'FFCA0000').length).toBeGreaterThanOrEqual(2);
  });

  test('a T=1 card works the same', async () => {
    const { encoder } = await setUp(['--atr', 't1']);
    const uid = await encoder.waitForCard(5000);
    await encoder.write(uid, record(300), () => {});
    expect(decodeCardRecord(await encoder.read(uid)).cardId).toBe('card-42');
  });

  test('a card that is not blank is detected', async () => {
    const { encoder } = await setUp(['--not-blank']);
    const uid = await encoder.waitForCard(5000);
    expect((await encoder.inspect(uid)).state).toBe('foreign');
    expect((await encoder.read(uid)).length).toBeGreaterThan(0);
    const err = await expectChipError(encoder.assertBlank(uid), 'NOT_BLANK');
    expect(err.code).toBe('WRONG_CARD');
  });

  test('a card of the wrong type (foreign ATR) is refused', async () => {
    const { encoder } = await setUp(['--atr', 'wrong']);
    await encoder.session.waitForCard(5000);
    const err = await expectChipError(encoder.readUid(), 'WRONG_CARD_TYPE');
    expect(err.message).toMatch(/not an ICR1 card \(ATR 3B8F/);
  });

  test('a card without the ICR1 application is refused even with an accepted ATR', async () => {
    const { encoder: e0 } = await setUp(['--atr', 'wrong']);
    await e0.close();
    encoder = await PcscChipEncoder.open({ reader: 0, acceptAtr: () => true });
    await encoder.session.waitForCard(5000);
    await expectChipError(encoder.readUid(), 'WRONG_CARD_TYPE');
  });

  test('another card at the station, and a UID bound to another issuance, are refused', async () => {
    const { encoder } = await setUp([]);
    const uid = await encoder.waitForCard(5000);
    await expectChipError(encoder.write('04000000000000', record(10), () => {}), 'WRONG_CARD');
    expect(await encoder.bindCard('iss-A')).toBe(uid);
    expect(await encoder.bindCard('iss-A')).toBe(uid);
    const err = await expectChipError(encoder.bindCard('iss-B'), 'UID_BOUND_ELSEWHERE');
    expect(err.message).toMatch(/already bound to issuance iss-A/);
  });
});
