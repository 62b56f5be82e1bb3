/**
 * The kiosk page's cash slot on an emulated kiosk. When the terminal's emulated kiosk runs on this
 * machine (its kiosk.json under `<dataDir>/terminals/<id>/kiosk/`) and a cash unit driver is
 * driving its ccTalk emulator, a coin or note tapped on the page goes INTO the emulated
 * acceptor: the terminal worker's driver reads the credit and reports it to the workflow itself
 * (activities/terminal/cash-acceptance.ts). Otherwise (state-file simulators) the page's slot
 * sends the insertCash Update directly, as before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { kioskControl } from '../terminal-worker/simulators/emulated-kiosk/launch';
import { emulatedKioskInfo } from './emulated-kiosk-info';

export interface EmulatedCashSlot {
  /** Puts the coin/note into the acceptor; resolves once acceptance was on, with the emulator's answer. */
  insert(amountMinor: number): Promise<{ taken: boolean; answer: string }>;
}

interface CashStatus {
  accepting: boolean;
  driven: boolean;
  polled: boolean;
}

async function cashStatus(port: number): Promise<CashStatus> {
  return JSON.parse((await kioskControl(port, 'cash status')).replace(/^ok /, '')) as CashStatus;
}

/** The emulated cash slot of `terminalId`, or null when its cash does not come from an emulated acceptor. */
export async function emulatedCashSlot(dataDir: string, terminalId: string, acceptanceWaitMs = 10_000): Promise<EmulatedCashSlot | null> {
  const info = emulatedKioskInfo(dataDir, terminalId);
  if (!info?.cashPty) return null;
  const status = await cashStatus(info.controlPort).catch(() => null);
  // No driver ever talked to the cash unit: the terminal uses the simulated one. (A driven unit whose
  // worker is down still gets the coin: it is credited when the worker is back, or handed back.)
  if (!status?.driven) return null;
  return {
    async insert(amountMinor) {
      // The terminal turns acceptance on when it starts acceptCash, a moment after cash was chosen
      // (acceptance left on by a worker that died does not count: nobody is polling).
      const end = Date.now() + acceptanceWaitMs;
      const ready = (st: CashStatus) => st.accepting && st.polled;
      while (!ready(await cashStatus(info.controlPort)) && Date.now() < end) await sleep(100);
      const answer = await kioskControl(info.controlPort, `cash insert ${amountMinor}`);
      return { taken: /^(coin \S+ accepted|note \S+ (in escrow|stacked))/.test(answer), answer };
    },
  };
}
