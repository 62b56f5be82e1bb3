/** CRC-32 (IEEE) as an unsigned 32-bit number; shared by the card record and its value slots. */
import * as CRC32 from 'crc-32';

export function crc32(data: Uint8Array): number {
  return CRC32.buf(data) >>> 0;
}
