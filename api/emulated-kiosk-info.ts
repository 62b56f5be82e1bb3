/**
 * The emulated kiosk of a terminal on this machine, if one runs: the kiosk.json it writes under
 * `<dataDir>/terminals/<id>/kiosk/` (terminal-worker/simulators/emulated-kiosk/main.ts), when its
 * process is alive. The kiosk page's cash slot and card slot forward to its control channel.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { KioskInfo } from '../terminal-worker/simulators/emulated-kiosk/main';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function emulatedKioskInfo(dataDir: string, terminalId: string): KioskInfo | null {
  const file = path.join(dataDir, 'terminals', terminalId, 'kiosk', 'kiosk.json');
  let info: KioskInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as KioskInfo;
  } catch {
    return null;
  }
  return alive(info.pid) ? info : null;
}
