/**
 * `ApplicationLoader` on the real reader at the card printer's contact station: the
 * GlobalPlatform installer (application-installer.ts: SCP02 with the card's ISD, INSTALL [for
 * load] → LOAD → INSTALL [for install]) on the `StationChipEncoder`'s PC/SC session, after
 * checking the expected card is the one at the station. The installer's own GET STATUS makes a
 * retry on a card that already has the instance a no-op. Its `ChipError`s are `DeviceError`s, so
 * the terminal activity maps them like the other chip steps (a refusing card is spoiled).
 *
 * The selection of the record application is lost when the installer selects the ISD; the chip
 * driver selects it again on its next command (it answers 6986, see pcsc-chip-encoder.ts).
 */
import { installAids } from '../../domain/applications';
import type { ApplicationLoader, PackageToInstall } from '../devices/application-loader';
import type { OnProgress } from '../devices/types';
import { installApplication } from './application-installer';
import type { StaticKeys } from './scp02';
import type { StationChipEncoder } from './station-chip-encoder';

export class StationApplicationLoader implements ApplicationLoader {
  constructor(
    private readonly chip: StationChipEncoder,
    private readonly opts: { maxCommandData?: number; keys?: StaticKeys } = {},
  ) {}

  async install(uid: string, pkg: PackageToInstall, onProgress: OnProgress): Promise<{ installed: boolean; applications: string[] }> {
    await this.chip.uidAtStation(uid);
    const session = (await this.chip.encoder()).session;
    const aids = installAids(pkg.aid);
    const r = await installApplication(
      session,
      { bytes: pkg.bytes, sha256: pkg.sha256, packageAid: Buffer.from(aids.packageAid, 'hex'), moduleAid: Buffer.from(aids.moduleAid, 'hex'), instanceAid: Buffer.from(aids.instanceAid, 'hex') },
      { maxCommandData: this.opts.maxCommandData, keys: this.opts.keys, onProgress },
    );
    return { installed: r.installed, applications: r.applications };
  }
}
