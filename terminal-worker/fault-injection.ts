/**
 * Test-only: FAULT_KILL_DURING=<step>[@<fraction>] makes the terminal worker SIGKILL itself inside
 * a long device step, so the device is left mid-way exactly as a crash would leave it:
 *   write@0.5   mid chip write (after half the record's UPDATE BINARY chunks)
 *   print@0.5   mid print (after half the panel bands)
 *   present     mid dispense (the card is in the bezel, waiting for the customer)
 *   feed        mid feed (the printer is moving the card from the stocker)
 *   payout      mid change payout
 *   ack-credit  after a cash credit was reported to the workflow, before the driver is told (acknowledged)
 * Unset in normal operation. (Step boundaries: FAULT_KILL_BEFORE_ACTIVITY / FAULT_KILL_AFTER_ACTIVITY.)
 */
import type { CardFace, OnProgress, TerminalDevices } from './devices/types';

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};

export function withKillDuring(devices: TerminalDevices, spec: string | undefined): TerminalDevices {
  if (!spec) return devices;
  const [step, f] = spec.split('@');
  const at = f === undefined ? 0 : Number(f);
  const onProgressKill = (onProgress: OnProgress): OnProgress => (fraction) => {
    onProgress(fraction);
    if (fraction >= at) die();
  };
  /** Starts the step, then dies a moment later while the device is still at it. */
  const killSoon = <T>(p: Promise<T>, afterMs = 80): Promise<T> => {
    setTimeout(die, afterMs);
    return p;
  };
  const { cardPath, chip, cash } = devices;
  switch (step) {
    case 'write':
      return { ...devices, chip: { read: (uid) => chip.read(uid), write: (uid, data, p) => chip.write(uid, data, onProgressKill(p)) } };
    case 'print':
      return { ...devices, cardPath: Object.assign(Object.create(cardPath), { print: (face: CardFace, p: OnProgress) => cardPath.print(face, onProgressKill(p)) }) };
    case 'present':
      return { ...devices, cardPath: Object.assign(Object.create(cardPath), { present: (p: OnProgress) => cardPath.present(onProgressKill(p)) }) };
    case 'feed':
      return { ...devices, cardPath: Object.assign(Object.create(cardPath), { feed: () => killSoon(cardPath.feed()) }) };
    case 'payout':
      return { ...devices, cash: { payout: (tag, amount) => killSoon(cash.payout(tag, amount)) } };
    case 'ack-credit': {
      const acceptor = devices.cashAcceptor;
      if (!acceptor) throw new Error('FAULT_KILL_DURING=ack-credit: this terminal has no cash acceptor');
      return { ...devices, cashAcceptor: Object.assign(Object.create(acceptor), { ackCredit: die }) };
    }
    default:
      throw new Error(`FAULT_KILL_DURING: unknown step "${step}" (write, print, present, feed, payout, ack-credit)`);
  }
}
