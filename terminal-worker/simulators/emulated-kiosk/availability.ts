/** Whether the emulated kiosk can run on this machine: pcscd with vpcd listening, and socat. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Why the emulators cannot run here, or null when pcscd (with vpcd on `vpcdPort`) and socat are there. */
export function emulatorsUnavailable(vpcdPort = 35963): string | null {
  if (!fs.existsSync('/run/pcscd/pcscd.comm')) return 'pcscd is not running (no /run/pcscd/pcscd.comm; scripts/ensure-pcscd.sh installs and starts it)';
  const hexPort = vpcdPort.toString(16).toUpperCase().padStart(4, '0');
  const listening = ['/proc/net/tcp', '/proc/net/tcp6'].some((f) => {
    try {
      return fs.readFileSync(f, 'utf8').split('\n').some((l) => new RegExp(`^\\s*\\d+: [0-9A-F]+:${hexPort} [0-9A-F]+:0000 0A`, 'i').test(l));
    } catch {
      return false;
    }
  });
  if (!listening) return `vpcd is not listening on port ${vpcdPort} (pcscd without vsmartcard-vpcd? scripts/ensure-pcscd.sh)`;
  try {
    execFileSync('socat', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'socat is not installed (scripts/ensure-serial-tools.sh)';
  }
  return null;
}
