/**
 * ISO/IEC 7816-4 status words → typed chip errors with a message an operator can act on.
 *
 * `ChipError` extends the terminal's `DeviceError` (so the activities' mapping still applies:
 * NO_CARD / WRONG_CARD / WRITE_FAILED spoil the card) and adds a precise `reason` and the `sw`.
 */
import { DeviceError } from '../devices/types';
import { swHex } from './apdu';

export type ChipErrorReason =
  | 'NO_READER'
  | 'NO_CARD'
  | 'CARD_REMOVED'
  | 'WRONG_CARD'
  | 'WRONG_CARD_TYPE'
  | 'UID_BOUND_ELSEWHERE'
  | 'NOT_BLANK'
  | 'CARD_MEMORY_TOO_SMALL'
  | 'MEMORY_FAILURE'
  | 'VERIFY_MISMATCH'
  | 'TRANSMIT_FAILED'
  | 'STATUS_WORD'
  | 'PACKAGE_CHECKSUM'
  | 'SECURE_CHANNEL';

type BaseCode = DeviceError['code'];

const BASE: Record<ChipErrorReason, BaseCode> = {
  NO_READER: 'UNAVAILABLE',
  NO_CARD: 'NO_CARD',
  CARD_REMOVED: 'NO_CARD',
  WRONG_CARD: 'WRONG_CARD',
  WRONG_CARD_TYPE: 'WRONG_CARD',
  UID_BOUND_ELSEWHERE: 'WRONG_CARD',
  NOT_BLANK: 'WRONG_CARD',
  CARD_MEMORY_TOO_SMALL: 'WRITE_FAILED',
  MEMORY_FAILURE: 'WRITE_FAILED',
  VERIFY_MISMATCH: 'WRITE_FAILED',
  TRANSMIT_FAILED: 'WRITE_FAILED',
  STATUS_WORD: 'WRITE_FAILED',
  // The package bytes are not the issuer's: nothing was sent, the card is not at fault.
  PACKAGE_CHECKSUM: 'UNAVAILABLE',
  // The card's security domain does not prove our keys (or refuses ours): not a card of ours.
  SECURE_CHANNEL: 'WRONG_CARD',
};

export class ChipError extends DeviceError {
  readonly sw?: number;
  /** True when the driver gave up on this card after its bounded retries: it must be rejected. */
  spoiled: boolean;

  constructor(
    readonly reason: ChipErrorReason,
    message: string,
    opts: { sw?: number; spoiled?: boolean } = {},
  ) {
    super(BASE[reason], message);
    this.name = 'ChipError';
    this.sw = opts.sw;
    this.spoiled = opts.spoiled ?? false;
  }
}

/** Meaning of a status word (ISO 7816-4 §5.1.3, PC/SC part 3 for FF CA). */
export function describeStatusWord(sw: number): string {
  const exact: Record<number, string> = {
    0x9000: 'success',
    0x6281: 'part of the returned data may be corrupted',
    0x6282: 'end of file or record reached before Le bytes',
    0x6300: 'the operation failed (no information given)',
    0x6581: 'memory failure (the chip could not write its EEPROM)',
    0x6700: 'wrong length (Lc or Le)',
    0x6881: 'logical channel not supported',
    0x6882: 'secure messaging not supported',
    0x6981: 'command incompatible with the file structure',
    0x6982: 'security status not satisfied',
    0x6983: 'authentication method blocked',
    0x6985: 'conditions of use not satisfied',
    0x6986: 'command not allowed (no current EF)',
    0x6A80: 'incorrect data in the command',
    0x6A81: 'function not supported',
    0x6A82: 'file or application not found',
    0x6A84: 'not enough memory space in the file',
    0x6A86: 'incorrect parameters P1-P2',
    0x6A88: 'referenced data not found',
    0x6B00: 'wrong parameters: offset outside the EF',
    0x6D00: 'instruction not supported',
    0x6E00: 'class not supported',
    0x6F00: 'no precise diagnosis (card error)',
  };
  if (exact[sw]) return exact[sw];
  const sw1 = sw >> 8;
  const sw2 = sw & 0xff;
  if (sw1 === 0x61) return `${sw2 || 256} more response bytes available (T=0: GET RESPONSE)`;
  if (sw1 === 0x6c) return `wrong Le; the card has exactly ${sw2 || 256} bytes (T=0: resend with that Le)`;
  if ((sw & 0xfff0) === 0x63c0) return `verification failed, ${sw & 0x0f} tries left`;
  if (sw1 === 0x64) return 'execution error, memory unchanged';
  if (sw1 === 0x65) return 'execution error, memory changed';
  return 'unknown status word';
}

/** The typed error for a failing status word, in the context of `what` (e.g. "UPDATE BINARY at 0x0040"). */
export function statusWordError(sw: number, what: string): ChipError {
  const reason: ChipErrorReason =
    sw === 0x6581 || (sw >> 8) === 0x65
      ? 'MEMORY_FAILURE'
      : sw === 0x6a84 || sw === 0x6b00
        ? 'CARD_MEMORY_TOO_SMALL'
        : sw === 0x6a82 || sw === 0x6e00 || sw === 0x6d00
          ? 'WRONG_CARD_TYPE'
          : 'STATUS_WORD';
  return new ChipError(reason, `${what} failed with status ${swHex(sw)}: ${describeStatusWord(sw)}`, { sw });
}
