/**
 * Registered users: the rules shared by the API, the center's activities and the kiosk page's
 * server side. Pure: no I/O.
 */

/** The user ID the person is shown and types at a kiosk: "U" and nine digits. */
export const USER_ID_PATTERN = /^U[0-9]{9}$/;

export const IDENTITY_STATUSES = ['unchecked', 'verified', 'rejected'] as const;
export type IdentityStatus = (typeof IDENTITY_STATUSES)[number];

/** The documents an operator (or an agent) may check identity against; only the kind is stored. */
export const IDENTITY_DOCUMENTS = ['driving_licence', 'health_insurance_card', 'passport', 'my_number_card', 'residence_card', 'other'] as const;

export const GENDERS = ['female', 'male', 'other', 'unspecified'] as const;

/** Wrong PINs in a row that lock the account. */
export const MAX_PIN_FAILURES = 5;

export const LOCKED_MESSAGE =
  'This account is locked after five wrong PINs; please contact the help desk (or show an ID document at an agent) to have it unlocked.';

/** Why a PIN is not acceptable, or null when it is. */
export function pinProblem(pin: unknown): string | null {
  if (typeof pin !== 'string' || !/^[0-9]{4,8}$/.test(pin)) return 'The PIN must be 4 to 8 digits (0-9), nothing else.';
  if (/^(\d)\1+$/.test(pin)) return 'The PIN must not be one digit repeated (like 0000): choose one that is harder to guess.';
  const digits = [...pin].map(Number);
  const step = digits[1] - digits[0];
  if ((step === 1 || step === -1) && digits.every((d, i) => i === 0 || d - digits[i - 1] === step)) {
    return 'The PIN must not be a run of consecutive digits (like 1234): choose one that is harder to guess.';
  }
  return null;
}

/** "3 tries left" after a wrong PIN, from the failures so far. */
export function triesLeft(failures: number): number {
  return Math.max(0, MAX_PIN_FAILURES - failures);
}

/** Who an issuance is for, when a registered user is logged in at the kiosk (ids only). */
export interface IssuanceHolder {
  userId: string;
  /** "Renew my pass": the earlier card whose validity the new pass continues. */
  renewsCardId?: string;
}

/** What the card face carries of its registered holder (decided when the item is held). */
export interface HolderFace {
  /** Commuter passes bought by a registered user carry the holder's name, as named passes do. */
  name: boolean;
  /** The product's face template asks for the holder's photo. */
  photo: boolean;
}
