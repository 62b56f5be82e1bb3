/**
 * The terminal's prepaid card steps against the simulated kiosk (no Temporal): the value write in
 * the reload slot torn at every byte, retried, and refused on a chip that changed; the stock
 * stocker's feed adopting a card left by a crashed feed and rejecting unreadable ones.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTerminalActivities } from '../../activities/terminal';
import { parseCardRecord, type CardRecord } from '../../domain/card-record';
import { initialValueArea, SLOT_SIZE } from '../../domain/value-slots';
import { CardSigningKeys, newSigningKeyPem, signCardRecord } from '../../lib/card-signing';
import { createPrivateKey } from 'node:crypto';
import { MachineStateFile } from '../../terminal-worker/simulators/machine-state';
import { createSimulatedDevices } from '../../terminal-worker/simulators/simulated-devices';
import { insertCustomerCard, loadStockCards } from '../../terminal-worker/simulators/simulated-customer-slot';
import { ZERO_TIMINGS } from '../../terminal-worker/simulators/timings';

const keys = new CardSigningKeys(createPrivateKey(newSigningKeyPem()), 'test-key');
const record: CardRecord = { issuanceId: 'iss-x', cardId: 'C000000000001', issuerId: 'hikari-mobile', productType: 'prepaid', product: { valueMinor: 1000 }, userId: null, issuedAt: '2026-01-01T00:00:00.000Z', validFrom: null, validUntil: null };
const chip = Buffer.from(signCardRecord(keys, record, initialValueArea(1000))).toString('base64');

function kiosk() {
  const file = path.join(fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'prepaid-steps-')), 'machine.json');
  const devices = createSimulatedDevices(file, ZERO_TIMINGS, 5);
  return { file, machine: new MachineStateFile(file), acts: createTerminalActivities(devices) };
}
const valueOf = (base64: string) => parseCardRecord(Buffer.from(base64, 'base64')).value!.state;

test('a value write torn at every byte leaves the old value current; the retry writes the new one', async () => {
  for (let n = 0; n < SLOT_SIZE; n++) {
    const { file, machine, acts } = kiosk();
    insertCustomerCard(file, { uid: 'U1', chipBase64: chip });
    machine.update((st) => void (st.tearCustomerWriteAfterBytes = n));
    await expect(acts.writeCardValue('U1', { seq: 2, balanceMinor: 6000, flags: 0 })).rejects.toMatchObject({ type: 'CardSpoiled' });
    const pulled = machine.read().returnedCards!.at(-1)!;
    expect(valueOf(pulled.chipBase64)).toEqual({ seq: 1, balanceMinor: 1000, flags: 0 });
    // The signed part is untouched, whatever was torn.
    expect(parseCardRecord(Buffer.from(pulled.chipBase64, 'base64')).record).toEqual(record);

    insertCustomerCard(file, { uid: 'U1', chipBase64: pulled.chipBase64 });
    expect(await acts.writeCardValue('U1', { seq: 2, balanceMinor: 6000, flags: 0 })).toEqual({ written: true });
    expect(valueOf(machine.read().customerSlot!.chipBase64)).toEqual({ seq: 2, balanceMinor: 6000, flags: 0 });
  }
});

test('a retried write finds the value there; a chip that changed since it was read is not touched', async () => {
  const { file, machine, acts } = kiosk();
  insertCustomerCard(file, { uid: 'U1', chipBase64: chip });
  expect(await acts.writeCardValue('U1', { seq: 2, balanceMinor: 3000, flags: 0 })).toEqual({ written: true });
  const after = machine.read().customerSlot!.chipBase64;
  expect(await acts.writeCardValue('U1', { seq: 2, balanceMinor: 3000, flags: 0 })).toEqual({ written: false });
  expect(machine.read().customerSlot!.chipBase64).toBe(after);
  await expect(acts.writeCardValue('U1', { seq: 2, balanceMinor: 9000, flags: 0 })).rejects.toMatchObject({ type: 'CardChanged' });
  await expect(acts.writeCardValue('U1', { seq: 5, balanceMinor: 9000, flags: 0 })).rejects.toMatchObject({ type: 'CardChanged' });
  expect(machine.read().customerSlot!.chipBase64).toBe(after);
  await acts.ejectCustomerCard('U1');
  expect(machine.read().customerSlot).toBeNull();
  await expect(acts.readCustomerCard('rld-x', 300)).rejects.toMatchObject({ type: 'NoCardPresented' });
});

test('the stock feed reads the card identity, adopts a card a crashed feed left, rejects unreadable cards', async () => {
  const { file, machine, acts } = kiosk();
  loadStockCards(file, [
    { uid: 'S1', recordBase64: chip },
    { uid: 'S2', recordBase64: Buffer.from('garbage').toString('base64') },
    { uid: 'S3', recordBase64: chip },
  ]);
  const blanks = machine.read().stockerCount;
  const first = await acts.feedStockCard('iss-1');
  expect(first).toEqual({ uid: 'S1', recordBase64: chip, rejected: [] });
  // The worker died after the feed: the retried feed adopts the same card.
  expect(await acts.feedStockCard('iss-1')).toEqual(first);
  await acts.rejectCard('S1', 'test');
  const next = await acts.feedStockCard('iss-2');
  expect(next.uid).toBe('S3');
  expect(next.rejected.map((r) => r.uid)).toEqual(['S2']);
  expect(machine.read().rejectBin.map((c) => c.uid)).toEqual(['S1', 'S2']);
  expect(machine.read().stockerCount).toBe(blanks); // no blank card used
  await acts.rejectCard('S3', 'test');
  await expect(acts.feedStockCard('iss-3')).rejects.toMatchObject({ type: 'StockerEmpty' });
});
