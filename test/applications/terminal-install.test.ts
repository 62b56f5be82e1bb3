/**
 * The terminal's application steps against the state-file kiosk, with a package source standing
 * for the center: the SHA-256 check before the card is touched, a retried install that finds the
 * application already there, refusals mapped like the other chip steps, and a customer's card
 * taken in and handed back.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createTerminalActivities } from '../../activities/terminal';
import type { ApplicationRef } from '../../domain/applications';
import { PackageSourceError, type PackageSource } from '../../terminal-worker/devices/application-loader';
import { insertIssuedCard } from '../../terminal-worker/simulators/simulated-applications';
import { createSimulatedDevices } from '../../terminal-worker/simulators/simulated-devices';
import { ZERO_TIMINGS } from '../../terminal-worker/simulators/timings';
import { packageBytes } from './support';

const AID = 'A000000476544B01';
const bytes = packageBytes(AID, 3000);
const ref: ApplicationRef = { packageId: 7, aid: AID, sha256: createHash('sha256').update(bytes).digest('hex'), name: 'gate', version: '1.0.0' };

function setup(source?: Partial<Record<number, Buffer | PackageSourceError>>) {
  const file = path.join(fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'apps-')), 'machine.json');
  const devices = createSimulatedDevices(file, ZERO_TIMINGS, 10);
  const fetched: number[] = [];
  const packages: PackageSource = {
    async fetch(id) {
      fetched.push(id);
      const v = (source ?? { 7: bytes })[id];
      if (!v) throw new PackageSourceError('NOT_FOUND', `no package ${id}`);
      if (v instanceof Error) throw v;
      return v;
    },
  };
  return { file, devices, fetched, acts: createTerminalActivities(devices, { packages }), machine: devices.machine };
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

test('install, then a retried install on the same card: installed once, the retry changes nothing', async () => {
  const { acts, machine } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  expect(await acts.installApplication(uid, ref)).toEqual({ aid: AID, installed: true });
  expect(await acts.installApplication(uid, ref)).toEqual({ aid: AID, installed: false });
  expect(machine.read().transport!.applications).toEqual([{ aid: AID, packageId: 7, sha256: ref.sha256, bytes: bytes.length }]);
});

test('bytes that do not match the SHA-256: PackageChecksum, not retryable, the card untouched', async () => {
  const damaged = Buffer.from(bytes);
  damaged[100] ^= 1;
  const { acts, machine } = setup({ 7: damaged });
  const { uid } = await acts.feedBlankCard('iss-1');
  const err = await failure(acts.installApplication(uid, ref));
  expect(err.type).toBe('PackageChecksum');
  expect(err.nonRetryable).toBe(true);
  expect(err.message).toContain(`not the issuer's ${ref.sha256}`);
  expect(machine.read().transport!.applications).toBeUndefined();
});

test('a package the center does not offer is not retried; an unreachable center is', async () => {
  const missing = setup({});
  const a = await missing.acts.feedBlankCard('iss-1');
  const gone = await failure(missing.acts.installApplication(a.uid, ref));
  expect([gone.type, gone.nonRetryable]).toEqual(['PackageUnavailable', true]);

  const down = setup({ 7: new PackageSourceError('UNREACHABLE', 'connection refused') });
  const b = await down.acts.feedBlankCard('iss-1');
  const later = await failure(down.acts.installApplication(b.uid, ref));
  expect([later.type, later.nonRetryable]).toEqual(['PackageUnavailable', false]);
  expect(down.machine.read().transport!.applications).toBeUndefined();
});

test('a malformed package reference is refused before anything is fetched', async () => {
  const { acts, fetched } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  const err = await failure(acts.installApplication(uid, { ...ref, aid: 'not hex' }));
  expect([err.type, err.nonRetryable]).toEqual(['InvalidRequest', true]);
  expect(fetched).toEqual([]);
});

test('a card already holding another package under the same AID refuses: the card is spoiled', async () => {
  const { acts, machine } = setup();
  const { uid } = await acts.feedBlankCard('iss-1');
  machine.update((s) => {
    s.transport!.applications = [{ aid: AID, packageId: 3, sha256: 'ab'.repeat(32), bytes: 10 }];
  });
  const err = await failure(acts.installApplication(uid, ref));
  expect(err.type).toBe('CardSpoiled');
  expect(err.message).toMatch(/another package under AID/);
  expect(machine.read().transport!.applications).toHaveLength(1);
});

test('installing on a card that is not at the contact station spoils nothing else', async () => {
  const { acts, machine } = setup();
  await acts.feedBlankCard('iss-1');
  const err = await failure(acts.installApplication('04FFFFFFFFFFFF', ref));
  expect(err.type).toBe('CardSpoiled');
  expect(err.message).toMatch(/expected card 04FFFFFFFFFFFF/);
  expect(machine.read().transport!.applications).toBeUndefined();
});

test('a customer\'s issued card: taken in from the slot, read, handed back once', async () => {
  const { acts, machine, file } = setup();
  const record = Buffer.from('ICR1 record').toString('base64');
  const { uid } = await acts.feedBlankCard('iss-1');
  await acts.writeChip(uid, record);
  await acts.printFace(uid, { title: 'T', lines: [], imageUrl: null, cardId: 'C1' });
  await acts.presentCard(uid);

  const none = await failure(acts.takeCustomerCard('add-1', 300));
  expect(none.type).toBe('NoCardPresented');

  insertIssuedCard(file, uid);
  expect(await acts.takeCustomerCard('add-1', 1000)).toEqual({ uid, recordBase64: record });
  expect(await acts.installApplication(uid, ref)).toEqual({ aid: AID, installed: true });
  expect(await acts.returnCustomerCard(uid)).toEqual({ returned: true });
  expect(await acts.returnCustomerCard(uid)).toEqual({ returned: false });
  const s = machine.read();
  expect(s.transport).toBeNull();
  expect(s.dispensed.map((c) => c.uid)).toEqual([uid]);
  expect(s.dispensed[0].applications?.map((a) => a.aid)).toEqual([AID]);
  expect(() => insertIssuedCard(file, '04AAAAAAAAAAAA')).toThrow(/not handed out by this kiosk/);
});
