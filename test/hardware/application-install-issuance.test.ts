/**
 * A whole issuance of a CPU card product on the real drivers (assemble-devices.ts: serial card
 * printer over a socat pty to the printer emulator, the PC/SC reader through pcscd + vpcd to the
 * emulated kiosk's virtual card): the GlobalPlatform installer puts the product's application on
 * the card at the contact station between verifying the chip and printing, on the first try.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { encryptedDataConverter } from '../../lib/payload-codec';
import { payloadKeyProvider } from '../../lib/payload-keys';
import { commuterFare, storePackage } from '../applications/support';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

const ROOT = path.resolve(__dirname, '../../..');
let stack: Stack;

beforeAll(async () => {
  execFileSync('bash', [path.join(ROOT, 'scripts/ensure-pcscd.sh')], { stdio: 'pipe' });
  stack = await startStack({ devices: 'emulated', timings: { payoutMs: 0, receiptMs: 0 } });
});
afterAll(async () => {
  await stack?.stop();
});

test('a commuter pass with an application, on the real drivers: installed by GlobalPlatform at the contact station', async () => {
  const tid = stack.terminalIds[0];
  const { productId, fareId } = await commuterFare(stack.db);
  const pkg = await storePackage(stack.db, 'kanto-railway', { aid: 'A000000476544B81', name: 'gate', bodyBytes: 3000, productIds: [productId] });
  const kiosk = new Kiosk(stack.apiUrl, tid);
  const issuanceId = await kiosk.buyWithCash({ kind: 'fare', fareId }, [10000, 5000]);
  const done = await kiosk.waitForStage('completed', 90_000);

  const cards = await stack.db('cards').where({ issuance_id: issuanceId });
  expect(cards.map((c) => c.status)).toEqual(['issued']);
  expect(stack.printerModel(tid).rejectBin).toEqual([]);
  expect(await stack.db('card_applications').where({ card_id: done.cardId, aid: pkg.aid, source: 'issuance' })).toHaveLength(1);

  // The terminal's answer, decoded from the (encrypted) history: the card had to be loaded, and was.
  const events = (await stack.temporal.workflow.getHandle(issuanceId).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'installApplication')!;
  const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  const codec = encryptedDataConverter(payloadKeyProvider(process.env, stack.env.DATA_DIR!)).payloadCodecs![0];
  const [plain] = await codec.decode(completed.activityTaskCompletedEventAttributes!.result!.payloads! as never);
  expect(defaultPayloadConverter.fromPayload(plain)).toEqual({ aid: pkg.aid, installed: true });
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  expect(started.activityTaskStartedEventAttributes!.attempt).toBe(1);
});
