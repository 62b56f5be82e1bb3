/**
 * Applications on CPU cards (issuers' application packages, installed with GlobalPlatform):
 * what travels through workflows (ids, AIDs and checksums, never the package bytes), how the
 * package's one AID maps to the three AIDs a GlobalPlatform install names, and the identities of
 * the add-application workflow and its issuer event. Pure: safe in the workflow bundle.
 */

/** One application package as a workflow passes it to the terminal: the bytes are fetched there. */
export interface ApplicationRef {
  packageId: number;
  /** The application's AID as the issuer uploaded it (upper-case hex): the instance a reader selects. */
  aid: string;
  /** SHA-256 of the package bytes (lower-case hex), as the issuer API verified it at upload. */
  sha256: string;
  name: string;
  version: string;
}

/** What the terminal reports after an install step. */
export interface InstallOutcome {
  aid: string;
  /** false: the card already held this application (a retried step); nothing was sent. */
  installed: boolean;
}

export const AID_PATTERN = /^(?:[0-9A-F]{2}){5,16}$/;
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The AIDs of one install. The issuer uploads one AID per package (issuer API `aid`): the
 * application instance on the card, created from the module (applet class) of the same AID —
 * Java Card's default when no instance AID is given. The load file needs an AID of its own (AIDs
 * are unique on a card, and a stale load file is deleted *with its instances*, so it must never be
 * shared between two applications): the application AID followed by `4C` ('L'), or for a 16-byte
 * AID (no room to append) the AID with its last byte inverted.
 */
export function installAids(aid: string): { packageAid: string; moduleAid: string; instanceAid: string } {
  const a = aid.toUpperCase();
  if (!AID_PATTERN.test(a)) throw new RangeError(`"${aid}" is not an AID (5-16 bytes as hex)`);
  const packageAid = a.length < 32 ? `${a}4C` : `${a.slice(0, 30)}${(0xff ^ parseInt(a.slice(30), 16)).toString(16).toUpperCase().padStart(2, '0')}`;
  return { packageAid, moduleAid: a, instanceAid: a };
}

export function isApplicationRef(r: unknown): r is ApplicationRef {
  const x = r as ApplicationRef;
  return !!x && Number.isSafeInteger(x.packageId) && x.packageId > 0 && typeof x.aid === 'string' && AID_PATTERN.test(x.aid) && typeof x.sha256 === 'string' && SHA256_PATTERN.test(x.sha256);
}

// ---- adding an application to an issued card ------------------------------------------------------

export interface AddApplicationInput {
  cardId: string;
  packageId: number;
  terminalId: string;
  /** The kiosk's request id (audit). */
  requestId: string;
  /** How long the terminal waits for the customer to insert the card (ms). */
  insertTimeoutMs?: number;
}

export type AddApplicationStage = 'checking' | 'waiting-for-card' | 'installing' | 'recording' | 'returning' | 'notifying' | 'completed' | 'refused' | 'failed';

export interface AddApplicationProgress {
  cardId: string;
  packageId: number;
  stage: AddApplicationStage;
  /** The application once the center has checked the request. */
  application: { aid: string; name: string; version: string } | null;
  installed: boolean | null;
  message: string | null;
}

/** One add-application at a time per card: the workflow id names the card. */
export function addApplicationWorkflowId(cardId: string): string {
  return `add-application-${cardId}`;
}

export function applicationAddedEventId(cardId: string, aid: string): string {
  return `evt-card.application_added-${cardId}-${aid.toUpperCase()}`;
}

export const CARD_ID_PATTERN = /^C[0-9A-F]{12}$/;
