/**
 * The issuance as the kiosk and the operator see it: what was selected, what it costs, and how
 * far production has come. Pure types and rules, safe inside the workflow bundle.
 */
import type { PaymentMethodName, PaymentProgress } from './payments';
import type { HolderFace } from './users';
import type { ApplicationRef } from './applications';

export type ProductType = 'concert' | 'commuter' | 'prepaid';

/** What the customer picks on the kiosk. Exactly one kind of item per issuance. */
export type Selection =
  | { kind: 'seat'; seatId: number }
  | { kind: 'fare'; fareId: number }
  | { kind: 'prepaid'; valueId: number }
  /** Collecting a reissued card (domain/reissue.ts): the pickup code, hashed at the kiosk's edge. */
  | { kind: 'reissue'; pickupCodeHash: string };

export interface Quote {
  currency: string;
  /** What the issuer sells the item for. */
  priceMinor: number;
  /** Issuance fee the customer pays on top (kept by the operator). */
  customerFeeMinor: number;
  totalMinor: number;
}

/** A held item: what the confirm screen shows and the card will carry. */
export interface HeldItem {
  issuerId: string;
  issuerName: string;
  productId: number;
  productType: ProductType;
  title: string;
  /** Human-readable lines for the confirm screen, the card face and the receipt. */
  lines: string[];
  faceImage: string | null;
  quote: Quote;
  selection: Selection;
  /** Bought by a registered user, or a product printing the holder's photo: what the face carries of the holder. */
  holderFace?: HolderFace;
  /** A prepaid card sold from the kiosk's stock of pre-loaded cards, activated by its issuer at sale. */
  fromStock?: boolean;
  /** CPU card products: the application packages the card will carry (ids and SHA-256s, no bytes). */
  applications?: ApplicationRef[];
}

export type PaymentMethod = PaymentMethodName;

export const STAGES = [
  'selecting',
  'selected',
  'confirmed',
  'paying',
  'producing',
  'recording',
  'notifying',
  'completed',
  'expired',
  'cancelled',
  'refunded',
  'failed',
] as const;
export type Stage = (typeof STAGES)[number];

export const FINAL_STAGES: readonly Stage[] = ['completed', 'expired', 'cancelled', 'refunded', 'failed'];

/** Production steps on the terminal, in order; the kiosk's progress bar follows them. */
export const PRODUCTION_STEPS = ['binding', 'writing', 'verifying', 'printing', 'dispensing', 'receipt'] as const;
export type ProductionStep = (typeof PRODUCTION_STEPS)[number];

export interface CashState {
  insertedMinor: number;
  dueMinor: number;
  remainingMinor: number;
  changeMinor: number;
}

export interface Progress {
  issuanceId: string;
  terminalId: string;
  stage: Stage;
  step: ProductionStep | null;
  /** 0..100 for the progress bar during production. */
  percent: number;
  item: HeldItem | null;
  paymentMethod: PaymentMethod | null;
  cash: CashState | null;
  /** Card and register payments: the method's state, tries, last four digits, the last decline, the slip. */
  payment?: PaymentProgress | null;
  cardId: string | null;
  /** Last message for the customer (a reason for a refusal, a hint what to do next). */
  message: string | null;
  /** Deadline of the current wait for the customer (epoch ms), if any. */
  customerDeadline: number | null;
}

export function productionPercent(step: ProductionStep, done: boolean): number {
  const i = PRODUCTION_STEPS.indexOf(step);
  const n = PRODUCTION_STEPS.length;
  return Math.round(((i + (done ? 1 : 0.5)) / n) * 100);
}

export function terminalTaskQueue(terminalId: string): string {
  return `terminal-${terminalId}`;
}

export const TERMINAL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

export function issuanceIdFor(terminalId: string, requestId: string): string {
  return `iss-${terminalId}-${requestId}`;
}
