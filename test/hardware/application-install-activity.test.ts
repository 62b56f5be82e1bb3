/**
 * The terminal's `installApplication` activity on the real drivers: StationChipEncoder and the
 * GlobalPlatform installer (StationApplicationLoader) over pcsclite → pcscd → vpcd reader 0
 * (port 35963) → the virtual card's card manager, as assemble-devices.ts wires them on a kiosk.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createTerminalActivities } from '../../activities/terminal';
import { installAids, type ApplicationRef } from '../../domain/applications';
import type { PackageSource } from '../../terminal-worker/devices/application-loader';
import type { TerminalDevices } from '../../terminal-worker/devices/types';
import { StationApplicationLoader } from '../../terminal-worker/drivers/station-application-loader';
import { StationChipEncoder } from '../../terminal-worker/drivers/station-chip-encoder';
import { packageBytes } from '../applications/support';
import { VirtualCardProcess } from './virtual-card-process';

const ROOT = path.resolve(__dirname, '../../..');
const UID = '04C0FFEE0A0B0C';
const AID = 'A000000476544B51';

let card: VirtualCardProcess | null = null;
let chip: StationChipEncoder | null = null;

interface GpState {
  loadFiles: { aid: string; size: number }[];
  instances: string[];
}

function refFor(bytes: Buffer): ApplicationRef {
  return { packageId: 1, aid: AID, sha256: createHash('sha256').update(bytes).digest('hex'), name: 'gate', version: '1.0.0' };
}

async function setUp(pkg: Buffer, args: string[] = []) {
  card = await VirtualCardProcess.start(['--port', '35963', '--uid', UID, ...args]);
  chip = new StationChipEncoder({ reader: 0, maxCommandData: 255, cardWaitMs: 5000 });
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('not used here')) });
  const devices = { cardPath: unused, cash: unused, receipt: unused, chip, applications: new StationApplicationLoader(chip, { maxCommandData: 255 }) } as unknown as TerminalDevices;
  const packages: PackageSource = { fetch: async () => pkg };
  return { card, acts: createTerminalActivities(devices, { packages }) };
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

beforeAll(() => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
});

afterEach(async () => {
  await chip?.close();
  await card?.stop();
  chip = null;
  card = null;
  await new Promise((r) => setTimeout(r, 600));
});

test('written card → GP install over SCP02 → the record still reads back; a retry sends no INSTALL or LOAD', async () => {
  const bytes = packageBytes(AID, 1200);
  const { card, acts } = await setUp(bytes);
  const record = Buffer.from('a card record, for this test only').toString('base64');
  await acts.writeChip(UID, record);
  await card.apduLog();

  expect(await acts.installApplication(UID, refFor(bytes))).toEqual({ aid: AID, installed: true });
  const log = await card.apduLog();
  expect(log).toContain('80500000'); // INITIALIZE UPDATE: the secure channel was opened
  expect(log.filter((h) => h === '84E60200' || h === '84E60C00')).toEqual(['84E60200', '84E60C00']);
  const gp = (await card.control('gp')) as GpState;
  expect(gp.instances).toEqual([AID]);
  expect(gp.loadFiles.map((f) => f.aid)).toEqual([installAids(AID).packageAid]);

  // The installer selected the ISD; the chip driver selects the record application again by itself.
  expect(await acts.verifyChip(UID, record)).toEqual({ bytes: Buffer.from(record, 'base64').length });

  await card.apduLog();
  expect(await acts.installApplication(UID, refFor(bytes))).toEqual({ aid: AID, installed: false });
  expect((await card.apduLog()).some((h) => /^84E[68]/.test(h))).toBe(false);
  expect(((await card.control('gp')) as GpState).instances).toEqual([AID]);
});

test('damaged package bytes: PackageChecksum and not one APDU sent', async () => {
  const bytes = packageBytes(AID, 600);
  const damaged = Buffer.from(bytes);
  damaged[50] ^= 0x80;
  const { card, acts } = await setUp(damaged);
  await card.apduLog();
  const err = await failure(acts.installApplication(UID, refFor(bytes)));
  expect([err.type, err.nonRetryable]).toEqual(['PackageChecksum', true]);
  expect(await card.apduLog()).toEqual([]);
});

test('a card without room (6A84) refuses: CardSpoiled, nothing left on it', async () => {
  const bytes = packageBytes(AID, 3000);
  const { card, acts } = await setUp(bytes, ['--gp-memory', '1024']);
  const err = await failure(acts.installApplication(UID, refFor(bytes)));
  expect([err.type, err.nonRetryable]).toEqual(['CardSpoiled', true]);
  expect(err.message).toMatch(/6A84/);
  expect(await card.control('gp')).toMatchObject({ loadFiles: [], instances: [] });
});
