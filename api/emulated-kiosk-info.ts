/**
 * The emulated kiosk of a terminal on this machine, if one runs: the kiosk.json it writes under
 * `<dataDir>/terminals/<id>/kiosk/` (terminal-worker/simulators/emulated-kiosk/main.ts), when its
 * process is alive. The kiosk page's cash slot and card slot forward to its control channel.
 */
import path from 'node:path';
import { runningKiosk } from '../terminal-worker/simulators/emulated-kiosk/launch';
import type { KioskInfo } from '../terminal-worker/simulators/emulated-kiosk/main';

export function emulatedKioskInfo(dataDir: string, terminalId: string): KioskInfo | null {
  return runningKiosk(path.join(dataDir, 'terminals', terminalId, 'kiosk'));
}
