/**
 * The terminal's own card reader and PIN pad (terminal-worker/devices/payment-devices.ts):
 * - the simulated device returns the card read encrypted (P2PE) and the PIN block under the
 *   terminal PIN key, never the number or the PIN in clear;
 * - on the real stack, credit and debit read at the terminal: the center tokenises the read and
 *   translates the PIN block to the bank's key, and the bank verifies the PIN;
 * - no card presented in time: back to the choice screen.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptCardRead, translatePinBlock } from '../../lib/card-edge';
import { newKeySpec, parseKeySpec } from '../../lib/payload-keys';
import { paymentKeyProvider } from '../../lib/payment-keys';
import { DEVELOPMENT_TEST_ZPK, decryptPinBlock } from '../../lib/pin-encryption';
import { pinBlockFormat0 } from '../../domain/pin-block';
import { createSimulatedPaymentCardDevice, presentSimulatedCard } from '../../terminal-worker/devices/payment-devices';
import { Kiosk } from '../support/kiosk-client';
import { startStack, type Stack } from '../support/stack';

describe('the simulated card reader and PIN pad', () => {
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMP_DIR ?? os.tmpdir(), 'card-reader-'));
  const slotFile = path.join(dir, 'card-slot.json');
  const readerKeys = parseKeySpec(newKeySpec('r1'));
  const tpk = '89ABCDEF0123456776543210FEDCBA98';
  const device = createSimulatedPaymentCardDevice({ slotFile, readerKeys, pinKeys: paymentKeyProvider({ PAYMENT_KEYS: `tpk-1:${tpk}` }), tpkRef: 'tpk-1', pollMs: 20 });

  test('a read is encrypted end to end; the PIN leaves only as a block under the terminal PIN key', async () => {
    presentSimulatedCard(slotFile, { pan: '43219876543210987', pin: '1234', expiry: '2812' });
    const read = (await device.read({ withPin: true, timeoutMs: 1_000 }))!;
    expect(read).toMatchObject({ last4: '0987', entryMode: 'chip', tpkRef: 'tpk-1', readerKeyId: 'r1' });
    expect(JSON.stringify(read)).not.toMatch(/43219876543210987|1234(?![0-9A-F])/);
    expect(fs.existsSync(slotFile)).toBe(false); // the card was taken from the slot
    expect(await decryptCardRead(read.encryptedCard, read.readerKeyId, readerKeys)).toEqual({ pan: '43219876543210987', expiry: '2812' });
    expect(decryptPinBlock(Buffer.from(read.pinBlock!, 'hex'), tpk).toString('hex').toUpperCase()).toBe('0412AC89ABCDEF67');
    // Translated to the host's zone PIN key, it is the documented block under the test ZPK.
    expect(translatePinBlock(read.pinBlock!, tpk, DEVELOPMENT_TEST_ZPK)).toBe('C967C8198151A458');
    expect(pinBlockFormat0('1234', '43219876543210987').toString('hex').toUpperCase()).toBe('0412AC89ABCDEF67');
  });

  test('nothing presented: null after the wait; a cancelled PIN entry is an error', async () => {
    expect(await device.read({ withPin: false, timeoutMs: 100 })).toBeNull();
    presentSimulatedCard(slotFile, { pan: '4111111111111111' });
    await expect(device.read({ withPin: true, timeoutMs: 500 })).rejects.toThrow(/PIN entry was cancelled/);
  });
});

describe('on the real stack', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ issuanceDefaults: { payment: { cardReadTimeoutMs: 2_000, authorizeTimeoutMs: 6_000, reversalMaxIntervalMs: 2_000 } } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const start = async () => {
    const kiosk = new Kiosk(stack.apiUrl, stack.terminalIds[0]);
    await kiosk.start();
    await kiosk.select({ kind: 'prepaid', valueId: Number((await stack.db('prepaid_values').orderBy('value_minor').first('id')).id) });
    await kiosk.confirm();
    return kiosk;
  };

  test('credit read by the terminal: tokenised by the center, authorised, card made', async () => {
    const kiosk = await start();
    stack.presentCard(stack.terminalIds[0], { pan: '4111222233334444', entryMode: 'chip' });
    expect((await kiosk.payment('credit', 'terminal')).status).toBe(200);
    const done = await kiosk.waitForStage('completed');
    expect(done.payment).toMatchObject({ method: 'credit', last4: '4444' });
    const payment = await stack.db('payments').where({ issuance_id: kiosk.issuanceId }).first();
    expect(payment).toMatchObject({ status: 'captured', card_last4: '4444' });
    expect(stack.paymentHosts.card.received.find((m) => m.fields[11] === payment.stan)?.fields).toMatchObject({ 2: '4111222233334444', 22: '051' });
  });

  test('debit read by the terminal: the PIN block is translated to the bank key and verified by the bank; a wrong PIN is 55', async () => {
    const pan = '4902555566667777';
    stack.paymentHosts.bank.setAccount(pan, { pin: '9051', balance: 10_000 });
    const kiosk = await start();
    stack.presentCard(stack.terminalIds[0], { pan, pin: '1111' });
    await kiosk.payment('debit', 'terminal');
    const back = await kiosk.waitForPaymentResult();
    expect(back.payment?.lastDecline?.code).toBe('55');
    stack.presentCard(stack.terminalIds[0], { pan, pin: '9051' });
    await kiosk.payment('debit', 'terminal');
    await kiosk.waitForStage('completed');
    expect(stack.paymentHosts.bank.balanceOf(pan)).toBe(9_000);
  });

  test('no card presented in time: back to the choice screen', async () => {
    const kiosk = await start();
    await kiosk.payment('credit', 'terminal');
    const back = await kiosk.waitFor((p) => p.stage === 'confirmed' && p.payment?.state === 'choosing');
    expect(back.message).toBe('No card was inserted. Please choose how to pay.');
    expect(await stack.db('payments').where({ issuance_id: kiosk.issuanceId })).toHaveLength(0);
    await kiosk.cancel();
  });
});
