/**
 * A cash unit driver process the hardware test can SIGKILL at any moment. argv: ccTalk port,
 * journal file, then a mode:
 *   accept          enable acceptance, poll, print `credit <id> <value>` and acknowledge each
 *   accept-noack    the same, but never acknowledge (delivery to the workflow "fails")
 *   payout TAG AMT  pay AMT under TAG, printing `progress <fraction>`, then `paid <amount> <alreadyPaid>`
 * Prints `ready` once the driver is open.
 */
import { createCcTalkCashUnit } from '../../terminal-worker/drivers/cctalk-cash-unit';

async function main(): Promise<void> {
  const [port, journalFile, mode, tag, amount] = process.argv.slice(2) as [string, string, string, string?, string?];
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const acks: string[] = [];
  let ack = (id: string) => void acks.push(id); // credits met while opening are acknowledged once it is open
  const unit = await createCcTalkCashUnit({
    path: port,
    journalFile,
    pollMs: mode.startsWith('accept') ? 50 : 0,
    onCredit: (c) => {
      say(`credit ${c.id} ${c.valueMinor}`);
      if (mode === 'accept') ack(c.id);
    },
    log: (line) => say(`log ${line}`),
  });
  ack = (id) => {
    unit.ackCredit(id);
    say(`acked ${id}`);
  };
  acks.forEach(ack);
  if (mode.startsWith('accept')) {
    await unit.enableAcceptance();
    say('ready');
    return; // keeps polling until killed
  }
  say('ready');
  const r = await unit.payout(tag!, Number(amount), (f) => say(`progress ${f}`));
  say(`paid ${r.paidMinor} ${r.alreadyPaid}`);
  await unit.close();
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
