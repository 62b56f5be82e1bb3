/** Drives the kiosk API as the kiosk page does, for tests and the benchmark. */
import { randomBytes } from 'node:crypto';
import type { Progress, Selection } from '../../domain/issuance';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex');
}

export async function call<T = any>(apiUrl: string, method: string, path: string, body?: unknown, rawBody?: string): Promise<ApiResponse<T>> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: body !== undefined || rawBody !== undefined ? { 'content-type': 'application/json' } : {},
    body: rawBody ?? (body !== undefined ? JSON.stringify(body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export class Kiosk {
  issuanceId = '';
  constructor(readonly apiUrl: string, readonly terminalId: string) {}

  private async must<T>(r: Promise<ApiResponse<T>>): Promise<T> {
    const res = await r;
    if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async start(): Promise<string> {
    const body = await this.must(call(this.apiUrl, 'POST', `/api/kiosk/${this.terminalId}/issuances`, { requestId: newRequestId() }));
    this.issuanceId = body.issuanceId;
    return this.issuanceId;
  }

  select(selection: Selection) {
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/select`, { requestId: newRequestId(), selection });
  }
  confirm() {
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/confirm`, { requestId: newRequestId() });
  }
  payment(method = 'cash', entry?: 'terminal' | 'kiosk-page') {
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/payment`, { requestId: newRequestId(), method, ...(entry ? { entry } : {}) });
  }
  insertCash(amountMinor: number) {
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/cash`, { requestId: newRequestId(), amountMinor });
  }
  /** The simulated card reader / PIN pad: the kiosk endpoint tokenises and encrypts at the edge. */
  card(pan: string, pin?: string, expiry?: string) {
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/card`, { requestId: newRequestId(), pan, ...(pin !== undefined ? { pin } : {}), ...(expiry ? { expiry } : {}) });
  }
  cancel() {
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/cancel`, { requestId: newRequestId() });
  }
  async progress(): Promise<Progress> {
    return this.must(call<Progress>(this.apiUrl, 'GET', `/api/issuances/${this.issuanceId}`));
  }

  /** Select, confirm and choose cash, failing loudly at any refusal. */
  async selectAndConfirm(selection: Selection): Promise<void> {
    await this.must(this.select(selection));
    await this.must(this.confirm());
    await this.must(this.payment('cash'));
  }

  /** A whole purchase up to payment: start, select, confirm, cash, then insert the notes given. */
  async buyWithCash(selection: Selection, notes: number[]): Promise<string> {
    await this.start();
    await this.selectAndConfirm(selection);
    for (const note of notes) await this.must(this.insertCash(note));
    return this.issuanceId;
  }

  /** A whole cash purchase in ¥10,000 notes, as many as the total needs (the change comes back). */
  async buyWithNotes(selection: Selection): Promise<string> {
    await this.start();
    const { item } = await this.must(this.select(selection));
    await this.must(this.confirm());
    await this.must(this.payment('cash'));
    for (let paid = 0; paid < item.quote.totalMinor; paid += 10_000) await this.must(this.insertCash(10_000));
    return this.issuanceId;
  }

  /** "Collect a replacement card": start, and enter the reissue's pickup code as typed (the API hashes it). */
  async enterPickupCode(pickupCode: string): Promise<ApiResponse> {
    await this.start();
    return call(this.apiUrl, 'POST', `/api/issuances/${this.issuanceId}/select`, { requestId: newRequestId(), selection: { kind: 'reissue', pickupCode } });
  }

  /** Start, select, confirm, choose a card method and present the card; returns the issuance id. */
  async buyWithCard(selection: Selection, method: 'credit' | 'prepaid' | 'debit', pan: string, pin?: string): Promise<string> {
    await this.start();
    await this.must(this.select(selection));
    await this.must(this.confirm());
    await this.must(this.payment(method));
    await this.must(this.card(pan, pin));
    return this.issuanceId;
  }

  /** Another try after a decline: choose a method again and present a card. */
  async retryWithCard(method: 'credit' | 'prepaid' | 'debit', pan: string, pin?: string): Promise<void> {
    await this.must(this.payment(method));
    await this.must(this.card(pan, pin));
  }

  /** Waits until the card try is over: production started (approved) or the choice screen is back (declined). */
  waitForPaymentResult(timeoutMs = 60_000): Promise<Progress> {
    return this.waitFor((p) => p.stage !== 'paying', timeoutMs);
  }

  async waitFor(pred: (p: Progress) => boolean, timeoutMs = 60_000): Promise<Progress> {
    const deadline = Date.now() + timeoutMs;
    let last: Progress | undefined;
    while (Date.now() < deadline) {
      last = await this.progress();
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting; last progress: ${JSON.stringify(last)}`);
  }

  waitForStage(stage: Progress['stage'], timeoutMs?: number) {
    return this.waitFor((p) => p.stage === stage, timeoutMs);
  }
}
