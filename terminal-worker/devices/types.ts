/**
 * The seams between the terminal's activities and its hardware. Simulators implement them now;
 * real drivers (PC/SC reader/writer, serial card printer, ccTalk cash unit, ESC/POS receipt
 * printer) implement the same interfaces.
 *
 * Every query reads physical state, so a restarted worker can see where a card is before it acts.
 */

export type OnProgress = (fraction: number) => void;

export type PrintState = 'blank' | 'printing' | 'printed';

export interface CardInTransport {
  uid: string;
  printState: PrintState;
}

export interface CardPathStatus {
  transport: CardInTransport | null;
  stockerCount: number;
  rejectBinCount: number;
  /** The last card presented to the customer and what became of it (printers that know). */
  lastPresented?: { uid: string; outcome: 'waiting' | 'taken' | 'retracted' } | null;
}

export interface CardFace {
  title: string;
  lines: string[];
  imageUrl: string | null;
  cardId: string;
  /** The registered holder's photo (PNG bytes, base64) when the product prints it. */
  holderPhotoPng?: string | null;
}

/** Stocker, transport, print head and output slot of the card printer. */
export interface CardPath {
  status(): Promise<CardPathStatus>;
  /** Takes a blank card from the stocker into the transport and returns its chip UID. */
  feed(): Promise<string>;
  /** Printers with a second stocker of pre-loaded prepaid cards (activation at sale, docs/prepaid.md): feeds one of those. */
  feedStock?(): Promise<string>;
  print(face: CardFace, onProgress: OnProgress): Promise<void>;
  /** Presents the card in the output slot and waits until the customer takes it. */
  present(onProgress: OnProgress): Promise<void>;
  /** Moves the card in the transport to the reject bin. */
  reject(reason: string): Promise<void>;
  /** UIDs of cards handed to customers (the device's own counter of dispensed cards). */
  dispensedUids(): Promise<string[]>;
}

/** The IC reader/writer at the printer's contact station. */
export interface ChipEncoder {
  read(uid: string): Promise<Uint8Array>;
  write(uid: string, data: Uint8Array, onProgress: OnProgress): Promise<void>;
}

/** Change dispenser of the cash unit. `tag` makes a payout happen at most once. */
export interface CashUnit {
  payout(tag: string, amountMinor: number): Promise<{ paidMinor: number; alreadyPaid: boolean }>;
  /** The unit's own money-in / money-out totals (units that count them; not the state-file simulator). */
  counters?(): Promise<{ moneyInMinor: number; moneyOutMinor: number }>;
}

export interface ReceiptPrinter {
  print(tag: string, lines: string[]): Promise<{ alreadyPrinted: boolean }>;
}

export interface TerminalDevices {
  cardPath: CardPath;
  chip: ChipEncoder;
  cash: CashUnit;
  receipt: ReceiptPrinter;
  /** Card reader + PIN pad (payment-devices.ts); absent on terminals that take no cards. */
  payment?: import('./payment-devices').PaymentCardDevice;
  /** The slot where a customer inserts their own card (reloads); absent on terminals without one. */
  customerCard?: import('./customer-card-slot').CustomerCardSlot;
  /** Installs applications on CPU cards at the contact station (application-loader.ts); absent: none. */
  applications?: import('./application-loader').ApplicationLoader;
  /** Coin and note acceptance (the ccTalk unit); absent when cash comes from the kiosk page's slot. */
  cashAcceptor?: import('../drivers/cctalk-cash-unit').CashAcceptor;
}

export class DeviceError extends Error {
  constructor(
    /**
     * UNAVAILABLE: the device itself is gone (reader unplugged, service down): not the card's fault.
     * NOT_TAKEN: the customer did not take the presented card; it went to the reject bin.
     * CASH_SHORT: the cash unit could not pay it all (empty, jammed, refused); `details` says
     *   paidMinor / unpaidMinor. Retrying the same tag cannot pay more.
     * PAPER_OUT: the receipt printer has no paper (or its cover is open); nothing more prints.
     */
    readonly code: 'STOCKER_EMPTY' | 'NO_CARD' | 'WRONG_CARD' | 'WRITE_FAILED' | 'JAM' | 'UNAVAILABLE' | 'NOT_TAKEN' | 'CASH_SHORT' | 'PAPER_OUT',
    message: string,
    readonly details?: { paidMinor?: number; unpaidMinor?: number },
  ) {
    super(message);
  }
}
