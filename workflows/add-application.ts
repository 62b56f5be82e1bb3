/**
 * Adding an application to an issued CPU card at a kiosk (free of charge for now).
 *
 * Workflow ID = `add-application-<cardId>` (domain/applications.ts): one at a time per card; the
 * kiosk's repeated request finds the running one. Steps:
 *   check (the card is issued, not revoked, within its dates; the package is its issuer's and
 *   offered for its product; not on the card yet) → the customer inserts the card → the chip is
 *   the card named (signed record, bound UID, checked again at the center) → install on the
 *   terminal (the bytes fetched and checked there) → record in card_applications → hand the card
 *   back → a signed card.application_added event to the issuer.
 * A refusal at any point hands the card back unchanged and says why. An install the card refuses
 * leaves the customer's card as it was (it is never spoiled: it is theirs and still valid).
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CenterActivities } from '../activities/center';
import type { TerminalActivities } from '../activities/terminal';
import type { AddApplicationInput, AddApplicationProgress } from '../domain/applications';
import { CENTER_STEP, ISSUER_CALL, terminalStep } from './activity-options';

export const addApplicationProgressQuery = defineQuery<AddApplicationProgress>('addApplicationProgress');

const center = proxyActivities<CenterActivities>(CENTER_STEP);
const issuerCalls = proxyActivities<Pick<CenterActivities, 'notifyApplicationAdded'>>(ISSUER_CALL);

function failureOf(err: unknown): { type: string | null; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? null, message: cause.message };
  return { type: null, message: err instanceof Error ? err.message : String(err) };
}

export async function addApplication(input: AddApplicationInput): Promise<AddApplicationProgress> {
  const insertTimeoutMs = input.insertTimeoutMs ?? 120_000;
  // Long enough for the customer to insert their card (insertTimeoutMs), then the install.
  const terminal = proxyActivities<TerminalActivities>(terminalStep(input.terminalId, {}, insertTimeoutMs + 120_000));
  const p: AddApplicationProgress = { cardId: input.cardId, packageId: input.packageId, stage: 'checking', application: null, installed: null, message: null };
  setHandler(addApplicationProgressQuery, () => p);

  const end = (stage: 'refused' | 'failed', message: string) => {
    p.stage = stage;
    p.message = message;
    return p;
  };

  let ref;
  try {
    ref = await center.checkApplicationRequest(input.cardId, input.packageId);
  } catch (err) {
    return end('refused', failureOf(err).message);
  }
  p.application = { aid: ref.aid, name: ref.name, version: ref.version };
  p.stage = 'waiting-for-card';
  p.message = 'Please insert your card.';

  let uid: string | null = null;
  try {
    const presented = await terminal.takeCustomerCard(workflowInfo().workflowId, insertTimeoutMs);
    uid = presented.uid;
    await center.confirmPresentedCard(input.cardId, presented);
  } catch (err) {
    const f = failureOf(err);
    if (f.type === 'NoCardPresented') return end('refused', 'No card was inserted; nothing was changed.');
    const back = await CancellationScope.nonCancellable(() => handBack());
    return end('refused', `${f.message} ${back ? 'Your card has been returned unchanged.' : 'Your card was not taken; please ask the staff.'}`);
  }

  const cardUid = uid!;
  try {
    p.stage = 'installing';
    p.message = `Adding ${ref.name} to your card…`;
    const out = await terminal.installApplication(cardUid, ref);
    p.installed = out.installed;
    p.stage = 'recording';
    await center.recordCardApplications(input.cardId, [{ packageId: ref.packageId, aid: ref.aid, sha256: ref.sha256 }], 'added', workflowInfo().workflowId);
  } catch (err) {
    const f = failureOf(err);
    const back = await CancellationScope.nonCancellable(() => handBack());
    const why = f.type === 'CardSpoiled' ? 'your card refused the application' : f.message;
    return end('failed', `The application could not be added (${why}). ${back ? 'Your card has been returned' : 'Your card was not taken; please ask the staff'}; nothing was charged.`);
  }

  p.stage = 'returning';
  p.message = 'Please take your card.';
  const handedBack = await CancellationScope.nonCancellable(() => handBack());
  // The application is on the card and recorded: the issuer is told whatever became of the plastic.
  p.stage = 'notifying';
  await CancellationScope.nonCancellable(() => issuerCalls.notifyApplicationAdded(input.cardId, ref.aid));
  p.stage = 'completed';
  p.message = handedBack ? `${ref.name} is now on your card.` : `${ref.name} is now on your card, but the card was not taken and the kiosk kept it: please ask the staff.`;
  return p;

  /**
   * The customer's card goes back through the output slot, whatever happened. False when it could
   * not be (not taken and pulled back in, a jam): the outcome stands, the staff hand it over.
   */
  async function handBack(): Promise<boolean> {
    if (!uid) return true;
    try {
      await terminal.returnCustomerCard(uid);
      return true;
    } catch (err) {
      log.warn('customer card not handed back', { cardId: input.cardId, error: failureOf(err).message });
      return false;
    }
  }
}
