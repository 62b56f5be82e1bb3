/**
 * Terminal steps for prepaid cards: feeding a pre-loaded card from the stock stocker and reading
 * its identity (activation at sale), and the reload slot: read the customer's card, write its new
 * value with the anti-tearing scheme (domain/value-slots.ts), hand it back. Like the other device
 * steps, each reads the physical state first, so a retry after a crash carries on safely.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CardRecordError, parseCardRecord } from '../../domain/card-record';
import { planSlotWrite, selectCurrentSlot, type ValueState } from '../../domain/value-slots';
import { DeviceError, type TerminalDevices } from '../../terminal-worker/devices/types';
import { device, heartbeat, TerminalErrorTypes } from './index';

const FEED_TRIES = 3;

/** The workflow cancelled this activity (seen at a heartbeat); false outside an activity. */
function cancelRequested(): boolean {
  try {
    return Context.current().cancellationSignal.aborted;
  } catch {
    return false;
  }
}

/** The chip holds a card record (any: the center decides whether it is a sellable stock card). */
function holdsRecord(bytes: Uint8Array): boolean {
  try {
    parseCardRecord(bytes);
    return true;
  } catch (err) {
    if (err instanceof CardRecordError) return false;
    throw err;
  }
}

export function createPrepaidCardActivities(devices: TerminalDevices) {
  const { cardPath, chip } = devices;
  const slot = () => {
    if (!devices.customerCard) throw ApplicationFailure.nonRetryable('this terminal has no slot for customers\' cards', TerminalErrorTypes.DeviceFault);
    return devices.customerCard;
  };

  return {
    /**
     * A pre-loaded prepaid card at the contact station, and its chip's record (the card's
     * identity, which the center checks and the issuer activates). A card with a record already
     * in the transport (a feed whose worker died) is adopted; anything else there is rejected.
     */
    async feedStockCard(issuanceId: string): Promise<{ uid: string; recordBase64: string; rejected: Array<{ uid: string; reason: string }> }> {
      if (!cardPath.feedStock) throw ApplicationFailure.nonRetryable('this terminal has no stocker of prepaid stock cards', TerminalErrorTypes.StockerEmpty);
      return device(async () => {
        const rejected: Array<{ uid: string; reason: string }> = [];
        const { transport } = await cardPath.status();
        if (transport) {
          const bytes = transport.printState === 'blank' ? await chip.read(transport.uid).catch(() => null) : null;
          if (bytes && holdsRecord(bytes)) return { uid: transport.uid, recordBase64: Buffer.from(bytes).toString('base64'), rejected };
          const reason = `left in the transport (${transport.printState}) before ${issuanceId}`;
          await cardPath.reject(reason);
          rejected.push({ uid: transport.uid, reason });
        }
        for (let i = 1; ; i++) {
          const uid = await cardPath.feedStock!();
          const bytes = await chip.read(uid).catch(() => new Uint8Array());
          if (holdsRecord(bytes)) return { uid, recordBase64: Buffer.from(bytes).toString('base64'), rejected };
          const reason = `stock card ${uid} has no readable record (${bytes.length} bytes)`;
          await cardPath.reject(reason);
          rejected.push({ uid, reason });
          if (i >= FEED_TRIES) throw new DeviceError('WRONG_CARD', `${i} cards in a row from the stock stocker were unreadable`);
        }
      });
    },

    /** Waits for the customer's card in the reload slot and reads its chip. */
    async readCustomerCard(reloadId: string, timeoutMs: number): Promise<{ uid: string; recordBase64: string }> {
      const s = slot();
      return device(async () => {
        const until = Date.now() + timeoutMs;
        for (;;) {
          const card = await s.inserted();
          if (card) return { uid: card.uid, recordBase64: Buffer.from(await s.read(card.uid)).toString('base64') };
          // The terminal runs one step at a time: a wait the customer gave up on must end at once.
          if (cancelRequested()) throw ApplicationFailure.nonRetryable(`the wait for a card for ${reloadId} was cancelled`, 'NoCardPresented');
          if (Date.now() >= until) throw ApplicationFailure.nonRetryable(`no card was inserted for ${reloadId}`, 'NoCardPresented');
          heartbeat();
          await sleep(200);
        }
      });
    },

    /**
     * Makes `target` the chip's current value slot: writes the other slot, reads it back. A chip
     * already at `target` (a retry after the write) is left alone; a chip that is neither the
     * state before nor `target` changed under us and is not touched.
     */
    async writeCardValue(uid: string, target: ValueState): Promise<{ written: boolean }> {
      const s = slot();
      return device(async () => {
        const parsed = parseCardRecord(await s.read(uid));
        if (!parsed.valueArea || parsed.valueAreaOffset === null) throw ApplicationFailure.nonRetryable(`card ${uid} has no value area`, 'CardChanged');
        const current = selectCurrentSlot(parsed.valueArea);
        const same = (v: ValueState | undefined) => v && v.seq === target.seq && v.balanceMinor === target.balanceMinor && v.flags === target.flags;
        if (same(current?.state)) return { written: false };
        if (!current || current.state.seq !== target.seq - 1) throw ApplicationFailure.nonRetryable(`the value on card ${uid} changed since it was read`, 'CardChanged');
        const plan = planSlotWrite(parsed.valueArea, target);
        await s.writeAt(uid, parsed.valueAreaOffset + plan.offset, plan.bytes, (f) => heartbeat({ step: 'writing value', fraction: f }));
        const after = parseCardRecord(await s.read(uid));
        if (!same(selectCurrentSlot(after.valueArea!)?.state)) throw new DeviceError('WRITE_FAILED', `card ${uid} does not read back the new value`);
        return { written: true };
      });
    },

    async ejectCustomerCard(uid: string): Promise<void> {
      const s = slot();
      await device(() => s.eject(uid));
    },
  };
}
