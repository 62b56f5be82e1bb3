/**
 * Activities that run on a terminal's own worker, one at a time, against its devices. Each one
 * reads the physical state first and is idempotent, so a worker killed at any moment and
 * restarted carries on safely:
 * - a blank card left in the transport is adopted rather than wasted;
 * - a chip already holding the exact record is not rewritten; a torn one is rewritten;
 * - a card whose printing was interrupted is never handed out: it goes to the reject bin and
 *   the workflow produces a new one;
 * - payouts and receipts are tagged by issuance, so they happen at most once.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { DeviceError, type CardFace, type TerminalDevices } from '../../terminal-worker/devices/types';
import { createPaymentDeviceActivities } from './payment-devices';

export const TerminalErrorTypes = {
  CardSpoiled: 'CardSpoiled',
  StockerEmpty: 'StockerEmpty',
  DeviceFault: 'DeviceFault',
} as const;

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Called outside an activity (unit tests of the functions): nothing to report to.
  }
}

function spoiled(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, TerminalErrorTypes.CardSpoiled);
}

function translate(err: unknown): unknown {
  if (!(err instanceof DeviceError)) return err;
  if (err.code === 'STOCKER_EMPTY') return ApplicationFailure.nonRetryable(`Out of blank cards: ${err.message}`, TerminalErrorTypes.StockerEmpty);
  if (err.code === 'WRONG_CARD' || err.code === 'NO_CARD' || err.code === 'WRITE_FAILED') return spoiled(err.message);
  return ApplicationFailure.retryable(err.message, TerminalErrorTypes.DeviceFault);
}

async function device<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translate(err);
  }
}

export function createTerminalActivities(devices: TerminalDevices) {
  const { cardPath, chip, cash, receipt } = devices;

  return {
    ...createPaymentDeviceActivities(devices.payment),
    /** A blank card into the transport; returns its chip UID. */
    async feedBlankCard(issuanceId: string): Promise<{ uid: string }> {
      return device(async () => {
        const { transport } = await cardPath.status();
        if (transport) {
          const chipBytes = await chip.read(transport.uid);
          if (transport.printState === 'blank' && chipBytes.length === 0) return { uid: transport.uid };
          await cardPath.reject(`left in the transport before ${issuanceId}`);
        }
        return { uid: await cardPath.feed() };
      });
    },

    async writeChip(uid: string, recordBase64: string): Promise<{ written: boolean }> {
      return device(async () => {
        const want = Buffer.from(recordBase64, 'base64');
        const have = Buffer.from(await chip.read(uid));
        if (have.equals(want)) return { written: false };
        await chip.write(uid, want, (f) => heartbeat({ step: 'writing', fraction: f }));
        return { written: true };
      });
    },

    /** Reads the chip back; a mismatch spoils the card. */
    async verifyChip(uid: string, recordBase64: string): Promise<{ bytes: number }> {
      return device(async () => {
        const have = Buffer.from(await chip.read(uid));
        if (!have.equals(Buffer.from(recordBase64, 'base64'))) throw spoiled(`chip of card ${uid} does not read back what was written`);
        return { bytes: have.length };
      });
    },

    async printFace(uid: string, face: CardFace): Promise<{ printed: boolean }> {
      return device(async () => {
        const { transport } = await cardPath.status();
        if (!transport || transport.uid !== uid) throw spoiled(`card ${uid} is no longer at the print head`);
        if (transport.printState === 'printed') return { printed: false };
        if (transport.printState === 'printing') {
          await cardPath.reject('printing was interrupted');
          throw spoiled(`printing of card ${uid} was interrupted; the card went to the reject bin`);
        }
        await cardPath.print(face, (f) => heartbeat({ step: 'printing', fraction: f }));
        return { printed: true };
      });
    },

    async presentCard(uid: string): Promise<{ presented: boolean }> {
      return device(async () => {
        if ((await cardPath.dispensedUids()).includes(uid)) return { presented: false };
        const { transport } = await cardPath.status();
        if (!transport || transport.uid !== uid) throw spoiled(`card ${uid} is not in the transport to present`);
        if (transport.printState !== 'printed') throw spoiled(`card ${uid} is not printed; refusing to hand it out`);
        await cardPath.present((f) => heartbeat({ step: 'dispensing', fraction: f }));
        return { presented: true };
      });
    },

    async rejectCard(uid: string, reason: string): Promise<void> {
      return device(async () => {
        const { transport } = await cardPath.status();
        if (transport?.uid === uid) await cardPath.reject(reason);
      });
    },

    async payoutCash(tag: string, amountMinor: number): Promise<{ paidMinor: number }> {
      if (amountMinor <= 0) return { paidMinor: 0 };
      return device(async () => ({ paidMinor: (await cash.payout(tag, amountMinor)).paidMinor }));
    },

    async printReceipt(issuanceId: string, lines: string[]): Promise<void> {
      await device(() => receipt.print(`receipt:${issuanceId}`, lines));
    },
  };
}

export type TerminalActivities = ReturnType<typeof createTerminalActivities>;
