/**
 * ISO 9564-1 format 0 (ISO-0, ANSI X9.8) clear PIN block: PIN field (0 ‖ length ‖ PIN ‖ F pad)
 * XOR PAN field (0000 ‖ rightmost 12 PAN digits excluding the check digit). 8 bytes.
 *
 * Only the PIN-pad component calls this, and it encrypts the result at once
 * (lib/pin-encryption.ts). The clear PIN and the clear block never go into logs, the DB,
 * error messages or workflow history — errors here say what is wrong, never the value.
 * Uses Buffer: not for the workflow bundle.
 */

export class PinBlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinBlockError';
  }
}

export function pinBlockFormat0(pin: string, pan: string): Buffer {
  if (typeof pin !== 'string' || !/^[0-9]{4,12}$/.test(pin)) throw new PinBlockError('PIN must be 4 to 12 digits');
  if (typeof pan !== 'string' || !/^[0-9]{13,19}$/.test(pan)) throw new PinBlockError('PAN must be 13 to 19 digits');
  const pinField = Buffer.from(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), 'hex');
  const panField = Buffer.from(`0000${pan.slice(-13, -1)}`, 'hex');
  const block = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) block[i] = pinField[i] ^ panField[i];
  pinField.fill(0);
  return block;
}
