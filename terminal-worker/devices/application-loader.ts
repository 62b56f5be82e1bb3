/**
 * Installing issuers' applications on CPU cards at the contact station, and where the terminal
 * gets the package bytes.
 *
 * `ApplicationLoader` is implemented by the GlobalPlatform installer over PC/SC
 * (drivers/station-application-loader.ts) and by the state-file simulator
 * (simulators/simulated-applications.ts). `install` is idempotent: a card that already holds the
 * application (same AID) answers `installed: false` and nothing is sent or changed.
 *
 * `PackageSource` fetches a package's bytes from the center (GET
 * /api/terminals/:terminalId/application-packages/:packageId); workflows carry only its id and
 * SHA-256, which the terminal activity checks before anything reaches the card.
 */
import type { OnProgress } from './types';

export interface PackageToInstall {
  packageId: number;
  /** The application AID (upper-case hex); see domain/applications.ts installAids for the GP AIDs. */
  aid: string;
  sha256: string;
  bytes: Buffer;
}

export interface ApplicationLoader {
  install(uid: string, pkg: PackageToInstall, onProgress: OnProgress): Promise<{ installed: boolean; applications: string[] }>;
}

export class PackageSourceError extends Error {
  constructor(
    /** NOT_FOUND: the center does not offer this package (retrying will not help); UNREACHABLE: try again. */
    readonly code: 'NOT_FOUND' | 'UNREACHABLE',
    message: string,
  ) {
    super(message);
    this.name = 'PackageSourceError';
  }
}

export interface PackageSource {
  fetch(packageId: number): Promise<Buffer>;
}

/** The center's package route over HTTP(S). */
export function httpPackageSource(centerUrl: string, terminalId: string, timeoutMs = 30_000): PackageSource {
  const base = centerUrl.replace(/\/+$/, '');
  return {
    async fetch(packageId) {
      const url = `${base}/api/terminals/${encodeURIComponent(terminalId)}/application-packages/${packageId}`;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new PackageSourceError('UNREACHABLE', `the center (${base}) could not be reached for package ${packageId}: ${(err as Error).message}`);
      }
      if (res.status === 404) throw new PackageSourceError('NOT_FOUND', `the center does not offer application package ${packageId} to terminal ${terminalId}`);
      if (!res.ok) throw new PackageSourceError('UNREACHABLE', `the center answered HTTP ${res.status} for package ${packageId}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}
