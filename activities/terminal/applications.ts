/**
 * Terminal steps for applications on CPU cards:
 * - `installApplication`: fetch the package bytes from the center (the workflow passes only the
 *   package id and SHA-256), check the SHA-256 — a mismatch is refused before anything reaches
 *   the card (`PackageChecksum`, not retried: the same bytes would come again) — then install on
 *   the card at the contact station. A card that already holds the application answers
 *   `installed: false` (a retried step); a card that refuses is spoiled like any chip failure.
 * - `takeCustomerCard` / `returnCustomerCard`: an issued card the customer inserted for an
 *   application to be added, and handing it back. A terminal whose customer card slot can install
 *   (`CustomerCardSlot.applications`: the PC/SC slot) takes the card there; otherwise the card goes
 *   through the card printer's slot into the transport, to the contact station.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isApplicationRef, type ApplicationRef, type InstallOutcome } from '../../domain/applications';
import { PackageSourceError, type PackageSource } from '../../terminal-worker/devices/application-loader';
import type { TerminalDevices } from '../../terminal-worker/devices/types';

export const ApplicationErrorTypes = {
  PackageChecksum: 'PackageChecksum',
  PackageUnavailable: 'PackageUnavailable',
  NoApplicationLoader: 'NoApplicationLoader',
  NoCardPresented: 'NoCardPresented',
} as const;

type DeviceStep = <T>(fn: () => Promise<T>) => Promise<T>;

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (unit use): nothing to report to
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createApplicationActivities(devices: TerminalDevices, packages: PackageSource | undefined, device: DeviceStep) {
  const { cardPath, chip } = devices;
  /** The customer card slot when it can install applications itself. */
  const slot = devices.customerCard?.applications ? devices.customerCard : null;
  /** Whether the card `uid` is in that slot (rather than in the transport). */
  const inSlot = async (uid: string) => (slot ? (await slot.inserted())?.uid === uid : false);

  async function fetchChecked(ref: ApplicationRef): Promise<Buffer> {
    if (!packages) throw ApplicationFailure.nonRetryable('This terminal has no connection to the center\'s package store (CENTER_API_URL).', ApplicationErrorTypes.PackageUnavailable);
    let bytes: Buffer;
    try {
      bytes = await packages.fetch(ref.packageId);
    } catch (err) {
      if (err instanceof PackageSourceError && err.code === 'NOT_FOUND') throw ApplicationFailure.nonRetryable(err.message, ApplicationErrorTypes.PackageUnavailable);
      throw ApplicationFailure.retryable((err as Error).message, ApplicationErrorTypes.PackageUnavailable);
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== ref.sha256) {
      throw ApplicationFailure.nonRetryable(
        `Application package ${ref.packageId} (${ref.name} ${ref.version}) as received has SHA-256 ${actual}, not the issuer's ${ref.sha256}: the bytes are damaged; nothing was sent to the card.`,
        ApplicationErrorTypes.PackageChecksum,
      );
    }
    return bytes;
  }

  return {
    async installApplication(uid: string, ref: ApplicationRef): Promise<InstallOutcome> {
      if (!isApplicationRef(ref)) throw ApplicationFailure.nonRetryable(`Not an application package reference: ${JSON.stringify(ref)?.slice(0, 200)}`, 'InvalidRequest');
      const loader = devices.applications ?? devices.customerCard?.applications;
      if (!loader) throw ApplicationFailure.nonRetryable('This terminal cannot install applications on cards.', ApplicationErrorTypes.NoApplicationLoader);
      const bytes = await fetchChecked(ref);
      return device(async () => {
        const here = (await inSlot(uid)) ? slot!.applications! : loader;
        const r = await here.install(uid, { packageId: ref.packageId, aid: ref.aid, sha256: ref.sha256, bytes }, (f) => heartbeat({ step: 'installing', aid: ref.aid, fraction: f }));
        return { aid: ref.aid, installed: r.installed };
      });
    },

    /**
     * Waits up to `timeoutMs` for the customer's card in the installing customer card slot or in
     * the transport (an issued, printed card) and reads its chip. A card already there (a retried step) is taken at once.
     */
    async takeCustomerCard(tag: string, timeoutMs: number): Promise<{ uid: string; recordBase64: string }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const inserted = slot ? await device(() => slot.inserted()) : null;
        if (inserted) {
          const bytes = await device(() => slot!.read(inserted.uid));
          return { uid: inserted.uid, recordBase64: Buffer.from(bytes).toString('base64') };
        }
        const { transport } = await device(() => cardPath.status());
        if (transport && transport.printState === 'printed') {
          const bytes = await device(() => chip.read(transport.uid));
          return { uid: transport.uid, recordBase64: Buffer.from(bytes).toString('base64') };
        }
        if (Date.now() >= deadline) throw ApplicationFailure.nonRetryable(`No card was inserted for ${tag}.`, ApplicationErrorTypes.NoCardPresented);
        heartbeat({ step: 'waiting for the customer\'s card' });
        await sleep(Math.min(200, Math.max(1, deadline - Date.now())));
      }
    },

    /** Hands the customer's card back: from the slot, or through the output slot (nothing to do once it has left). */
    async returnCustomerCard(uid: string): Promise<{ returned: boolean }> {
      return device(async () => {
        if (await inSlot(uid)) {
          await slot!.eject(uid);
          return { returned: true };
        }
        const { transport } = await cardPath.status();
        if (!transport || transport.uid !== uid) return { returned: false };
        await cardPath.present((f) => heartbeat({ step: 'returning the card', fraction: f }));
        return { returned: true };
      });
    },
  };
}
