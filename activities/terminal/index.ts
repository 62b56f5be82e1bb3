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
import { createPrepaidCardActivities } from './prepaid-cards';
import { createApplicationActivities } from './applications';
import type { PackageSource } from '../../terminal-worker/devices/application-loader';
import { createCashAcceptanceActivities } from './cash-acceptance';

export const TerminalErrorTypes = {
  CardSpoiled: 'CardSpoiled',
  StockerEmpty: 'StockerEmpty',
  DeviceFault: 'DeviceFault',
  /** The customer did not take the presented card; the printer pulled it into the reject bin. */
  CardNotTaken: 'CardNotTaken',
  /** The terminal is shutting down: the step was handed back to be resumed by the next worker. */
  HandedBack: 'HandedBack',
  /** The cash unit could not pay it all; details[0] = { paidMinor, unpaidMinor }. Final. */
  CashShort: 'CashShort',
  /** The receipt printer is out of paper (or open): nothing printed. Final. */
  PaperOut: 'PaperOut',
} as const;

/** How many unusable cards (not blank, wrong type, not answering) one feed may reject before giving up. */
const FEED_TRIES = 3;
/** Long device steps report at least this often, whatever their own progress. */
const HEARTBEAT_EVERY_MS = 1000;

export function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Called outside an activity (unit tests of the functions): nothing to report to.
  }
}

export interface TerminalActivityOptions {
  /** True once the worker is shutting down: a step waiting on the customer hands its card back. */
  stopping?: () => boolean;
  /** Where application packages are fetched from (the center's API); absent: none can be installed. */
  packages?: PackageSource;
}

function spoiled(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, TerminalErrorTypes.CardSpoiled);
}

function translate(err: unknown): unknown {
  if (!(err instanceof DeviceError)) return err;
  if (err.code === 'STOCKER_EMPTY') return ApplicationFailure.nonRetryable(`Out of blank cards: ${err.message}`, TerminalErrorTypes.StockerEmpty);
  if (err.code === 'WRONG_CARD' || err.code === 'NO_CARD' || err.code === 'WRITE_FAILED') return spoiled(err.message);
  if (err.code === 'NOT_TAKEN') return ApplicationFailure.nonRetryable(err.message, TerminalErrorTypes.CardNotTaken);
  if (err.code === 'CASH_SHORT') return ApplicationFailure.create({ message: err.message, type: TerminalErrorTypes.CashShort, nonRetryable: true, details: [err.details ?? {}] });
  if (err.code === 'PAPER_OUT') return ApplicationFailure.nonRetryable(err.message, TerminalErrorTypes.PaperOut);
  return ApplicationFailure.retryable(err.message, TerminalErrorTypes.DeviceFault);
}

/** Runs a device step: heartbeats all along (so a dead worker is noticed at once) and types its errors. */
export async function device<T>(fn: () => Promise<T>): Promise<T> {
  const ticker = setInterval(() => heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await fn();
  } catch (err) {
    throw translate(err);
  } finally {
    clearInterval(ticker);
  }
}

/** Whether the card at the contact station is unusable for a new issuance (rather than the reader being gone). */
function unusableCard(err: unknown): boolean {
  return err instanceof DeviceError && (err.code === 'WRONG_CARD' || err.code === 'NO_CARD' || err.code === 'WRITE_FAILED');
}

export function createTerminalActivities(devices: TerminalDevices, options: TerminalActivityOptions = {}) {
  const { cardPath, chip, cash, receipt } = devices;
  const stopping = options.stopping ?? (() => false);

  return {
    ...createPaymentDeviceActivities(devices.payment),
    ...createPrepaidCardActivities(devices),
    ...createApplicationActivities(devices, options.packages, device),
    ...createCashAcceptanceActivities(devices, device),
    /**
     * A blank card at the contact station; returns its chip UID. A blank card already there (a
     * feed whose worker died) is adopted; any other card left in the transport goes to the reject
     * bin. A fed card that is not blank, of the wrong type or silent is rejected and another fed
     * (at most FEED_TRIES); every rejected card is in the result, and so in the workflow history.
     */
    async feedBlankCard(issuanceId: string): Promise<{ uid: string; rejected: Array<{ uid: string | null; reason: string }> }> {
      return device(async () => {
        const rejected: Array<{ uid: string | null; reason: string }> = [];
        const { transport } = await cardPath.status();
        if (transport) {
          let reason = `left in the transport (${transport.printState}) before ${issuanceId}`;
          if (transport.printState === 'blank') {
            const chipBytes = await chip.read(transport.uid).catch((err: unknown) => {
              if (!unusableCard(err)) throw err;
              reason = `left in the transport before ${issuanceId}, unreadable: ${(err as Error).message}`;
              return null;
            });
            if (chipBytes && chipBytes.length === 0) return { uid: transport.uid, rejected };
            if (chipBytes) reason = `left in the transport before ${issuanceId} with ${chipBytes.length} bytes on its chip`;
          }
          await cardPath.reject(reason);
          rejected.push({ uid: transport.uid, reason });
        }
        for (let i = 1; ; i++) {
          try {
            const uid = await cardPath.feed();
            const chipBytes = await chip.read(uid);
            if (chipBytes.length === 0) return { uid, rejected };
            throw new DeviceError('WRONG_CARD', `card ${uid} from the stocker is not blank (${chipBytes.length} bytes on its chip)`);
          } catch (err) {
            if (!unusableCard(err)) throw err;
            const st = await cardPath.status();
            if (!st.transport) throw err;
            const reason = `unusable card from the stocker: ${(err as Error).message}`;
            await cardPath.reject(reason);
            rejected.push({ uid: st.transport.uid, reason });
            if (i >= FEED_TRIES) throw new DeviceError('WRONG_CARD', `${i} cards in a row from the stocker were unusable; the last: ${(err as Error).message}`);
          }
        }
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
        const { transport, lastPresented } = await cardPath.status();
        if (!transport && lastPresented?.uid === uid && lastPresented.outcome === 'retracted') {
          throw new DeviceError('NOT_TAKEN', `card ${uid} was not taken and was pulled back into the reject bin`);
        }
        if (!transport || transport.uid !== uid) throw spoiled(`card ${uid} is not in the transport to present`);
        if (transport.printState !== 'printed') throw spoiled(`card ${uid} is not printed; refusing to hand it out`);
        await cardPath.present((f) => {
          heartbeat({ step: 'dispensing', fraction: f });
          // Waiting for the customer may take long: a terminal shutting down hands the step back
          // (the card stays in the bezel; the next worker resumes waiting or sees it taken).
          if (stopping()) throw ApplicationFailure.retryable(`terminal shutting down while card ${uid} waits in the bezel; handed back`, TerminalErrorTypes.HandedBack);
        });
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
