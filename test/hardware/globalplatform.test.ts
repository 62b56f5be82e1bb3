/**
 * GlobalPlatform application installation against the real stack: pcsclite → pcscd → vpcd
 * reader 0 (port 35963) → the virtual card's card manager. Reader 1 belongs to the fault matrix.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { installApplication, listApplications, type ApplicationPackage } from '../../terminal-worker/drivers/application-installer';
import { GpSecureChannel } from '../../terminal-worker/drivers/gp-secure-channel';
import { installForLoad, loadCommands, tlv } from '../../terminal-worker/drivers/globalplatform';
import { PcscSession } from '../../terminal-worker/drivers/pcsc-session';
import { ChipError } from '../../terminal-worker/drivers/status-words';
import { VirtualCardProcess } from './virtual-card-process';

const ROOT = path.resolve(__dirname, '../../..');
const PORT = 35963;

/** A package with this project's test header declaring its module AID, and `size` bytes of body. */
function makePackage(size: number, instance = 'A0000004764943520101'): ApplicationPackage {
  const packageAid = Buffer.from('A00000047649435201', 'hex');
  const moduleAid = Buffer.from('A0000004764943520100', 'hex');
  const body = crypto.randomBytes(size);
  const bytes = Buffer.concat([Buffer.from('ICRPKG1'), Buffer.from([1, moduleAid.length]), moduleAid, body]);
  return { bytes, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), packageAid, moduleAid, instanceAid: Buffer.from(instance, 'hex') };
}

interface GpState {
  loadFiles: { aid: string; size: number }[];
  instances: string[];
  used: number;
  capacity: number;
}

let card: VirtualCardProcess | null = null;
let session: PcscSession | null = null;

async function setUp(args: string[] = []): Promise<{ card: VirtualCardProcess; session: PcscSession }> {
  card = await VirtualCardProcess.start(['--port', String(PORT), '--uid', '04A1B2C3D4E5F6', ...args]);
  session = await PcscSession.open({ reader: 0 });
  await session.waitForCard(5000);
  return { card, session };
}

async function expectChipError(p: Promise<unknown>, reason: ChipError['reason']): Promise<ChipError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ChipError ${reason}, but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChipError);
  expect((err as ChipError).reason).toBe(reason);
  return err as ChipError;
}

beforeAll(() => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
});

afterEach(async () => {
  await session?.close();
  await card?.stop();
  session = null;
  card = null;
  await new Promise((r) => setTimeout(r, 600));
});

describe('GlobalPlatform install over pcscd + vpcd + the virtual card', () => {
  test('INSTALL [for load] → LOAD blocks → INSTALL [for install]; GET STATUS lists the instance', async () => {
    const { card, session } = await setUp();
    const pkg = makePackage(1500);
    await card.apduLog();
    const progress: number[] = [];
    const result = await installApplication(session, pkg, { onProgress: (f) => progress.push(f) });
    expect(result.installed).toBe(true);
    expect(result.applications).toEqual([pkg.instanceAid.toString('hex').toUpperCase()]);
    const log = await card.apduLog();
    // The real sequence, in order: SELECT ISD, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE (C-MAC), …
    expect(log.slice(0, 3)).toEqual(['00A40400', '80500000', '84820100']);
    const gp = log.filter((h) => h.startsWith('84E6') || h.startsWith('84E8'));
    const blocks = Math.ceil(tlv(0xc4, pkg.bytes).length / (255 - 8));
    expect(result.loadBlocks).toBe(blocks);
    expect(gp[0]).toBe('84E60200');
    expect(gp.slice(1, 1 + blocks)).toEqual(Array.from({ length: blocks }, (_, i) => `84E8${i === blocks - 1 ? '80' : '00'}${i.toString(16).toUpperCase().padStart(2, '0')}`));
    expect(gp[1 + blocks]).toBe('84E60C00');
    expect(progress[progress.length - 1]).toBe(1);
    const state = (await card.control('gp')) as GpState;
    expect(state.instances).toEqual([pkg.instanceAid.toString('hex').toUpperCase()]);
    expect(state.loadFiles).toEqual([{ aid: pkg.packageAid.toString('hex').toUpperCase(), size: tlv(0xc4, pkg.bytes).length }]);
    // Another session lists it too (the card keeps it across a new channel).
    expect(await listApplications(session)).toEqual(result.applications);
  });

  test('a second install is a no-op: GET STATUS already lists the instance, no INSTALL or LOAD is sent', async () => {
    const { card, session } = await setUp();
    const pkg = makePackage(600);
    expect((await installApplication(session, pkg)).installed).toBe(true);
    await card.apduLog();
    const again = await installApplication(session, pkg);
    expect(again).toEqual({ installed: false, deletedStaleLoadFile: false, loadBlocks: 0, applications: [pkg.instanceAid.toString('hex').toUpperCase()] });
    const log = await card.apduLog();
    expect(log.some((h) => /^84E[68]/.test(h))).toBe(false);
    expect(log).toContain('84F24002');
  });

  test('a package whose SHA-256 differs is refused before any APDU', async () => {
    const { card, session } = await setUp();
    const pkg = makePackage(400);
    await card.apduLog();
    const damaged = { ...pkg, bytes: Buffer.from(pkg.bytes) };
    damaged.bytes[damaged.bytes.length - 1] ^= 0x01;
    const err = await expectChipError(installApplication(session, damaged), 'PACKAGE_CHECKSUM');
    expect(err.message).toMatch(/nothing was sent/);
    expect(await card.apduLog()).toEqual([]);
  });

  test('a card pulled out mid-LOAD: CARD_REMOVED, and the reinserted card is installed cleanly', async () => {
    const { card, session } = await setUp();
    const pkg = makePackage(2000);
    await card.control('gp-tear-after 700');
    await expectChipError(installApplication(session, pkg), 'CARD_REMOVED');
    await session.waitForRemoval(5000);
    await card.control('insert');
    await session.waitForCard(5000);
    // The partial load was dropped with the power: no load file, no space held.
    expect(await card.control('gp')).toMatchObject({ loadFiles: [], instances: [], used: 0 });
    await card.apduLog();
    const result = await installApplication(session, pkg);
    expect(result.installed).toBe(true);
    const log = await card.apduLog();
    expect(log.filter((h) => h === '84E60200')).toHaveLength(1);
    expect((await card.control('gp')) as GpState).toMatchObject({ instances: [pkg.instanceAid.toString('hex').toUpperCase()], used: tlv(0xc4, pkg.bytes).length });
  });

  test('a card pulled out after LOAD but before INSTALL [for install]: the stale load file is deleted and reloaded', async () => {
    const { card, session } = await setUp();
    const pkg = makePackage(900);
    // The first half of an install, driven by hand: load completes, then the card leaves.
    const channel = await GpSecureChannel.open(session);
    expect((await channel.send(installForLoad(pkg.packageAid, tlv(0xc4, pkg.bytes).length))).sw).toBe(0x9000);
    for (const b of loadCommands(pkg.bytes, 247)) expect((await channel.send(b)).sw).toBe(0x9000);
    await card.control('remove');
    await session.waitForRemoval(5000);
    await card.control('insert');
    await session.waitForCard(5000);
    expect((await card.control('gp')) as GpState).toMatchObject({ instances: [], loadFiles: [{ aid: pkg.packageAid.toString('hex').toUpperCase() }] });
    await card.apduLog();
    const result = await installApplication(session, pkg);
    expect(result).toMatchObject({ installed: true, deletedStaleLoadFile: true });
    const log = await card.apduLog();
    expect(log.indexOf('84E40080')).toBeGreaterThan(-1);
    expect(log.indexOf('84E40080')).toBeLessThan(log.indexOf('84E60200'));
    expect((await card.control('gp')) as GpState).toMatchObject({ loadFiles: [{ aid: pkg.packageAid.toString('hex').toUpperCase() }], instances: [pkg.instanceAid.toString('hex').toUpperCase()] });
  });

  test('a package larger than the card\'s free space: CARD_MEMORY_TOO_SMALL (6A84), nothing kept', async () => {
    const { card, session } = await setUp(['--gp-memory', '1024']);
    const err = await expectChipError(installApplication(session, makePackage(3000)), 'CARD_MEMORY_TOO_SMALL');
    expect(err.sw).toBe(0x6a84);
    expect(err.code).toBe('WRITE_FAILED');
    expect(err.message).toMatch(/INSTALL \[for load\].*6A84/);
    expect(await card.control('gp')).toMatchObject({ loadFiles: [], instances: [], used: 0, capacity: 1024 });
    // A package that fits still installs on the same card.
    expect((await installApplication(session, makePackage(500))).installed).toBe(true);
  });

  test('wrong ISD keys: the card cryptogram does not match, SECURE_CHANNEL, nothing installed', async () => {
    const { card, session } = await setUp();
    const other = crypto.randomBytes(16);
    await expectChipError(installApplication(session, makePackage(300), { keys: { enc: other, mac: other, dek: other } }), 'SECURE_CHANNEL');
    expect(await card.control('gp')).toMatchObject({ instances: [] });
  });

  test('LOAD blocks follow the reader\'s command size (maxCommandData − 8 for the C-MAC)', async () => {
    const { card, session } = await setUp();
    const pkg = makePackage(700);
    await card.apduLog();
    const result = await installApplication(session, pkg, { maxCommandData: 64 });
    const loads = (await card.apduLog()).filter((h) => h.startsWith('84E8'));
    expect(loads).toHaveLength(Math.ceil(tlv(0xc4, pkg.bytes).length / 56));
    expect(result.loadBlocks).toBe(loads.length);
    expect(result.applications).toEqual([pkg.instanceAid.toString('hex').toUpperCase()]);
  });

  test('T=0 61xx: GET STATUS answers fetched with GET RESPONSE', async () => {
    const { card, session } = await setUp();
    await card.control('t0-61 on');
    const pkg = makePackage(300);
    expect((await installApplication(session, pkg)).applications).toEqual([pkg.instanceAid.toString('hex').toUpperCase()]);
    expect((await card.apduLog()).some((h) => h.startsWith('00C0'))).toBe(true);
  });
});
