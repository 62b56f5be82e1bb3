/**
 * The demo's three payment companies as simulators (demo/payment-host-simulator.ts), each on its
 * own port with its own field table, preloaded with the test cards the kiosk page offers, and an
 * HTTP control API per host (port + 1) to change outcomes while the demo runs.
 *
 * Test cards (docs/payment-host-protocol.md, "Demo test cards"):
 *   credit  4111111111111111 approves · 4000000000000002 declines 05 · 4000000000000101 never answers
 *   debit   4902123456789018 PIN 1234, ¥50,000 · 4902000000000018 PIN 1234, ¥500 (low balance)
 *   prepaid 6370000000000014 ¥5,000 · 6370000000000022 ¥100 (low balance)
 */
import http from 'node:http';
import { createPaymentHostControlApp, hostOutcomes, startPaymentHostSimulator, type PaymentHostSimulator } from './payment-host-simulator';
import { DEMO_PAYMENT_HOSTS, type DemoHostKind } from '../migrations/seeds/payment-hosts';

export const DEMO_TEST_CARDS = {
  creditApprove: '4111111111111111',
  creditDecline: '4000000000000002',
  creditSilent: '4000000000000101',
  debit: '4902123456789018',
  debitLow: '4902000000000018',
  debitPin: '1234',
  prepaid: '6370000000000014',
  prepaidLow: '6370000000000022',
} as const;

export interface DemoPaymentHosts {
  sims: Record<DemoHostKind, PaymentHostSimulator>;
  controlUrls: Record<DemoHostKind, string>;
  close(): Promise<void>;
}

export async function startDemoPaymentHosts(opts: { basePort: number; host?: string; withControl?: boolean }): Promise<DemoPaymentHosts> {
  const host = opts.host ?? '127.0.0.1';
  const kinds = Object.keys(DEMO_PAYMENT_HOSTS) as DemoHostKind[];
  const sims = {} as Record<DemoHostKind, PaymentHostSimulator>;
  const controlUrls = {} as Record<DemoHostKind, string>;
  const servers: http.Server[] = [];
  for (const [i, kind] of kinds.entries()) {
    const port = opts.basePort === 0 ? 0 : opts.basePort + i * 2;
    const sim = await startPaymentHostSimulator({ port, host, table: DEMO_PAYMENT_HOSTS[kind].table });
    sims[kind] = sim;
    if (opts.withControl !== false) {
      const server = http.createServer(createPaymentHostControlApp(sim));
      await new Promise<void>((r) => server.listen(opts.basePort === 0 ? 0 : sim.port + 1, host, r));
      servers.push(server);
      controlUrls[kind] = `http://${host}:${(server.address() as { port: number }).port}`;
    }
  }
  sims.card.setOutcome(DEMO_TEST_CARDS.creditDecline, hostOutcomes.decline('05'));
  sims.card.setOutcome(DEMO_TEST_CARDS.creditSilent, hostOutcomes.silent());
  sims.bank.setAccount(DEMO_TEST_CARDS.debit, { pin: DEMO_TEST_CARDS.debitPin, balance: 50_000 });
  sims.bank.setAccount(DEMO_TEST_CARDS.debitLow, { pin: DEMO_TEST_CARDS.debitPin, balance: 500 });
  sims.prepaid.setAccount(DEMO_TEST_CARDS.prepaid, { balance: 5_000 });
  sims.prepaid.setAccount(DEMO_TEST_CARDS.prepaidLow, { balance: 100 });
  return {
    sims,
    controlUrls,
    async close() {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}
