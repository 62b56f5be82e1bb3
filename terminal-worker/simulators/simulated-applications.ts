/**
 * The simulated chip's GlobalPlatform card manager, on the state-file kiosk: applications live on
 * the card in the transport (`SimCard.applications`), so tests can see what got installed on the
 * cards handed out. Like the virtual card (virtual-card/card-manager.ts): a card holds at most
 * SIM_APPLICATION_SPACE bytes of packages (a fuller one refuses, as `6A84` does), and a load cut
 * short is dropped whole (the application is recorded only once it is complete).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApplicationLoader, PackageToInstall } from '../devices/application-loader';
import { DeviceError, type OnProgress } from '../devices/types';
import { MachineStateFile } from './machine-state';
import type { SimTimings } from './timings';

/** Non-volatile space for application packages on a simulated card (the virtual card's default). */
export const SIM_APPLICATION_SPACE = 32 * 1024;

export class SimApplicationLoader implements ApplicationLoader {
  constructor(private readonly m: MachineStateFile, private readonly t: SimTimings) {}

  private cardAtStation(uid: string) {
    const card = this.m.read().transport;
    if (!card) throw new DeviceError('NO_CARD', 'no card at the contact station');
    if (card.uid !== uid) throw new DeviceError('WRONG_CARD', `expected card ${uid} at the contact station, found ${card.uid}`);
    return card;
  }

  async install(uid: string, pkg: PackageToInstall, onProgress: OnProgress): Promise<{ installed: boolean; applications: string[] }> {
    const card = this.cardAtStation(uid);
    const apps = card.applications ?? [];
    const same = apps.find((a) => a.aid === pkg.aid);
    if (same) {
      if (same.sha256 !== pkg.sha256) throw new DeviceError('WRITE_FAILED', `card ${uid} already holds another package under AID ${pkg.aid} (the card manager refuses: 6985)`);
      return { installed: false, applications: apps.map((a) => a.aid) };
    }
    const used = apps.reduce((n, a) => n + a.bytes, 0);
    if (used + pkg.bytes.length > SIM_APPLICATION_SPACE) {
      throw new DeviceError('WRITE_FAILED', `card ${uid} has no room for package ${pkg.packageId} (${pkg.bytes.length} bytes, ${SIM_APPLICATION_SPACE - used} free): the card manager answered 6A84`);
    }
    const totalMs = (this.t.chipWritePerKbMs * pkg.bytes.length) / 1024;
    const steps = totalMs > 0 ? 8 : 1;
    for (let i = 1; i <= steps; i++) {
      if (totalMs > 0) await sleep(totalMs / steps);
      onProgress(i / steps);
    }
    return this.m.update((st) => {
      if (!st.transport || st.transport.uid !== uid) throw new DeviceError('NO_CARD', `card ${uid} left the contact station during the load; the partial load was dropped`);
      st.transport.applications = [...(st.transport.applications ?? []), { aid: pkg.aid, packageId: pkg.packageId, sha256: pkg.sha256, bytes: pkg.bytes.length }];
      return { installed: true, applications: st.transport.applications.map((a) => a.aid) };
    });
  }
}

/**
 * The customer inserts an issued card (one this kiosk handed out) into the card slot: it goes back
 * into the transport, at the contact station, as a card to add an application to. Stands for the
 * customer's hand in tests and demos.
 */
export function insertIssuedCard(machineFile: string, uid: string): void {
  new MachineStateFile(machineFile).update((st) => {
    if (st.transport) throw new Error(`the card slot is busy: card ${st.transport.uid} is in the transport`);
    const i = st.dispensed.findIndex((c) => c.uid === uid);
    if (i < 0) throw new Error(`card ${uid} was not handed out by this kiosk`);
    const [card] = st.dispensed.splice(i, 1);
    st.transport = card;
  });
}
