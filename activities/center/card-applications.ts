/**
 * Applications on CPU cards, the center's side: which packages a product carries, recording what
 * the terminal installed (card_applications, keyed by card and AID so a retry is a no-op), the
 * checks before an application is added to an issued card, and the signed
 * `card.application_added` event to the issuer.
 *
 * Workflows get package ids, AIDs and SHA-256s only; the terminal fetches the bytes itself
 * (api/routes/terminal-packages.ts), so no package ever enters workflow history.
 */
import { ApplicationFailure } from '@temporalio/common';
import { applicationAddedEventId, type ApplicationRef } from '../../domain/applications';
import { onlineVerdict } from '../../domain/card-verdict';
import { cardSigningKeys } from '../../lib/card-signing';
import { lookupCardStatus } from '../../lib/card-status';
import { loadConfig } from '../../lib/config';
import { isUniqueViolation, type Db } from '../../lib/db';
import { verifyRecordOffline } from '../../lib/gate-verifier';
import type { CenterDeps } from './deps';
import { refuse } from './errors';
import { deliverIssuerEvent } from './notifications';

/** A request the center will not carry out (the customer is told why; nothing changed). */
export const APPLICATION_REFUSED = 'ApplicationRefused';

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, APPLICATION_REFUSED);
}

const PACKAGE_COLUMNS = ['p.id', 'p.aid', 'p.sha256', 'p.name', 'p.version', 'p.issuer_id'];

function toRef(r: Record<string, unknown>): ApplicationRef {
  return { packageId: Number(r.id), aid: String(r.aid).toUpperCase(), sha256: String(r.sha256), name: String(r.name), version: String(r.version) };
}

/** The packages a product offers, only its own issuer's (the issuer API enforces it; checked again here). */
async function productPackages(db: Db, productId: number, issuerId: string): Promise<Array<Record<string, unknown>>> {
  return db('product_applications as pa')
    .join('application_packages as p', 'p.id', 'pa.package_id')
    .where({ 'pa.product_id': productId, 'p.issuer_id': issuerId })
    .orderBy('p.id')
    .select(PACKAGE_COLUMNS);
}

/** The application packages a product puts on its cards (none for most products). */
export async function productApplications(db: Db, productId: number, issuerId: string): Promise<ApplicationRef[]> {
  return (await productPackages(db, productId, issuerId)).map(toRef);
}

export interface InstalledApplication {
  packageId: number;
  aid: string;
  sha256: string;
}

export function createCardApplicationActivities(deps: CenterDeps) {
  const { db, now = Date.now, cardKeys } = deps;
  const signingKeys = () => cardKeys ?? cardSigningKeys(process.env, loadConfig().DATA_DIR);

  async function ensureAddedEvent(cardId: string, aid: string) {
    const eventId = applicationAddedEventId(cardId, aid);
    const existing = await db('issuer_notifications').where({ event_id: eventId }).first();
    if (existing) return existing;
    const row = await db('card_applications as ca')
      .join('application_packages as p', 'p.id', 'ca.package_id')
      .join('cards as c', 'c.id', 'ca.card_id')
      .join('issuances as i', 'i.id', 'c.issuance_id')
      .where({ 'ca.card_id': cardId, 'ca.aid': aid.toUpperCase() })
      .first('ca.*', 'p.name', 'p.version', 'c.issuance_id', 'i.issuer_id', 'i.product_id', 'i.product_type');
    if (!row) throw refuse('InvariantBroken', `card ${cardId} has no application ${aid} recorded`);
    const payload = JSON.stringify({
      id: eventId,
      type: 'card.application_added',
      created: Math.floor(now() / 1000),
      data: {
        cardId,
        issuanceId: row.issuance_id,
        productId: Number(row.product_id),
        productType: row.product_type,
        application: { packageId: Number(row.package_id), aid: row.aid, name: row.name, version: row.version, sha256: row.package_sha256 },
        terminalWorkflowId: row.workflow_id,
        installedAt: new Date(Number(row.installed_at_ms)).toISOString(),
      },
    });
    try {
      await db('issuer_notifications').insert({ event_id: eventId, issuer_id: row.issuer_id, issuance_id: row.issuance_id, type: 'card.application_added', payload, status: 'pending', attempts: 0, created_at_ms: now() });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    return db('issuer_notifications').where({ event_id: eventId }).first();
  }

  return {
    /**
     * Records applications the terminal installed on a card. A row already there for the same
     * package (a retry) is kept; one for another package under the same AID is an invariant broken.
     */
    async recordCardApplications(cardId: string, apps: InstalledApplication[], source: 'issuance' | 'added', workflowId: string): Promise<{ recorded: number }> {
      let recorded = 0;
      for (const a of apps) {
        const aid = a.aid.toUpperCase();
        try {
          await db('card_applications').insert({ card_id: cardId, aid, package_id: a.packageId, package_sha256: a.sha256, source, workflow_id: workflowId, installed_at_ms: now() });
          recorded++;
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          const row = await db('card_applications').where({ card_id: cardId, aid }).first('package_id');
          if (Number(row?.package_id) !== a.packageId) throw refuse('InvariantBroken', `card ${cardId} already records package ${row?.package_id} under AID ${aid}`);
        }
      }
      return { recorded };
    },

    /** Before adding an application to an issued card (see `checkApplicationRequest` below). */
    async checkApplicationRequest(cardId: string, packageId: number): Promise<ApplicationRef> {
      const check = await checkApplicationRequest(db, cardId, packageId, now());
      if (!check.ok) throw refused(check.message);
      return check.ref;
    },

    /**
     * The card the customer inserted is the one the request names: its chip record is signed by
     * the center and names this card, its UID is the one bound at issuance, and the center's
     * record still says valid (checked again: a revocation may have landed meanwhile).
     */
    async confirmPresentedCard(cardId: string, presented: { uid: string; recordBase64: string }): Promise<{ ok: true }> {
      const offline = verifyRecordOffline(Buffer.from(presented.recordBase64, 'base64'), signingKeys().verifyKeys, now());
      if (!offline.parsed || (offline.verdict.reason && offline.verdict.reason !== 'expired' && offline.verdict.reason !== 'not_yet_valid')) {
        throw refused(`The inserted card's chip was not issued by us (${offline.verdict.reason}).`);
      }
      if (offline.parsed.record.cardId !== cardId) throw refused(`The inserted card is not card ${cardId}.`);
      const row = await db('cards').where({ id: cardId }).first('uid');
      if (!row || String(row.uid).toUpperCase() !== presented.uid.toUpperCase()) throw refused(`The inserted card's chip does not match card ${cardId}.`);
      const verdict = onlineVerdict(await lookupCardStatus(db, cardId), now(), offline.parsed.record);
      if (!verdict.valid) throw refused(`Card ${cardId} cannot take new applications: ${verdictText(verdict.reason)}.`);
      return { ok: true };
    },

    async notifyApplicationAdded(cardId: string, aid: string): Promise<{ eventId: string; attempts: number }> {
      return deliverIssuerEvent(deps, await ensureAddedEvent(cardId, aid));
    },
  };
}

export type ApplicationRequestCheck =
  | { ok: true; ref: ApplicationRef }
  | { ok: false; code: 'unknown_card' | 'card_not_valid' | 'not_offered' | 'already_installed'; message: string };

/**
 * Whether an application can be added to an issued card: the card is valid at the center (issued,
 * not revoked, within its dates), the package belongs to the card's issuer and is offered for the
 * card's product, and the card does not hold that AID yet. Shared by the kiosk API (a clear 4xx
 * before anything starts) and the workflow's activity (checked again when it runs).
 */
export async function checkApplicationRequest(db: Db, cardId: string, packageId: number, nowMs: number): Promise<ApplicationRequestCheck> {
  const status = await lookupCardStatus(db, cardId);
  if (!status) return { ok: false, code: 'unknown_card', message: `There is no card ${cardId}.` };
  const verdict = onlineVerdict(status, nowMs);
  if (!verdict.valid) return { ok: false, code: 'card_not_valid', message: `Card ${cardId} cannot take new applications: ${verdictText(verdict.reason)}.` };
  const iss = await db('issuances').where({ id: status.issuanceId }).first('product_id', 'issuer_id');
  const offered = (await productPackages(db, Number(iss.product_id), iss.issuer_id)).find((p) => Number(p.id) === packageId);
  if (!offered) return { ok: false, code: 'not_offered', message: `Application package ${packageId} is not offered for this card's product.` };
  const ref = toRef(offered);
  const have = await db('card_applications').where({ card_id: cardId, aid: ref.aid }).first('package_id');
  if (have) return { ok: false, code: 'already_installed', message: `Card ${cardId} already carries the application ${ref.name} (AID ${ref.aid}).` };
  return { ok: true, ref };
}

/** What a card's product offers, and which of it the card already carries (the kiosk's list). */
export async function applicationOffers(db: Db, cardId: string): Promise<Array<ApplicationRef & { installed: boolean }> | null> {
  const card = await db('cards as c').join('issuances as i', 'i.id', 'c.issuance_id').where('c.id', cardId).first('i.product_id', 'i.issuer_id');
  if (!card) return null;
  const installed = new Set((await db('card_applications').where({ card_id: cardId }).pluck('aid')).map((a: string) => a.toUpperCase()));
  return (await productPackages(db, Number(card.product_id), card.issuer_id)).map((r) => {
    const ref = toRef(r);
    return { ...ref, installed: installed.has(ref.aid) };
  });
}

function verdictText(reason: string | null): string {
  switch (reason) {
    case 'unknown_card': return 'there is no such card';
    case 'revoked': return 'it has been revoked';
    case 'spoiled': return 'it was spoiled in production';
    case 'not_issued': return 'it was never handed out';
    case 'expired': return 'it has expired';
    case 'not_yet_valid': return 'it is not valid yet';
    case 'record_mismatch': return 'its chip does not match our record';
    default: return reason ?? 'unknown reason';
  }
}
