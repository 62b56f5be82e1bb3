/**
 * The value-and-flags area of a card record (v2): a balance and "used"-style flags that change
 * after issue, written with an anti-tearing two-slot scheme so a card pulled mid-write never
 * loses its last good state.
 *
 * Two slots of 16 bytes each, side by side:
 *
 *   offset 0  4 bytes  sequence number, big-endian (0 = never written)
 *   offset 4  4 bytes  balance in the currency's minor unit, big-endian, unsigned
 *   offset 8  2 bytes  flags, big-endian (FLAG_*)
 *   offset 10 2 bytes  reserved, zero
 *   offset 12 4 bytes  CRC-32 of bytes 0..12 of this slot
 *
 * Reading: a slot is valid when its CRC matches and its sequence is not 0; the valid slot with the
 * highest sequence is current. Writing: build the next state with sequence + 1 into the *other*
 * slot (the backup), read it back and compare; only then is it current, because it now has the
 * highest valid sequence. A tear leaves the backup slot invalid (bad CRC) or still older, so the
 * previous current slot wins; the current slot itself is never touched by a write.
 *
 * The sequence is 32 bits; a chip's EEPROM endures about 10^5–10^6 writes, so it cannot wrap.
 * The area is NOT covered by the center's signature (it changes after issue): the center's own
 * record of balances and flags is authoritative, and a gate treats the chip's copy as a hint
 * (a mismatch is for the center to flag).
 */
import { crc32 } from './crc32';

export const SLOT_SIZE = 16;
export const VALUE_AREA_SIZE = 2 * SLOT_SIZE;

/** The card has been used (one-time cards, single-entry tickets). */
export const FLAG_USED = 0x0001;
/** The center revoked the card and a terminal later marked its chip too. */
export const FLAG_REVOKED = 0x0002;

export interface ValueState {
  seq: number;
  balanceMinor: number;
  flags: number;
}

export type SlotIndex = 0 | 1;

export class ValueAreaError extends Error {}

export function encodeSlot(state: ValueState): Uint8Array {
  if (!Number.isInteger(state.seq) || state.seq < 1 || state.seq > 0xffffffff) throw new ValueAreaError(`slot sequence ${state.seq} out of range`);
  if (!Number.isInteger(state.balanceMinor) || state.balanceMinor < 0 || state.balanceMinor > 0xffffffff) throw new ValueAreaError(`balance ${state.balanceMinor} out of range`);
  if (!Number.isInteger(state.flags) || state.flags < 0 || state.flags > 0xffff) throw new ValueAreaError(`flags ${state.flags} out of range`);
  const out = new Uint8Array(SLOT_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, state.seq);
  view.setUint32(4, state.balanceMinor);
  view.setUint16(8, state.flags);
  view.setUint32(12, crc32(out.subarray(0, 12)));
  return out;
}

/** The slot's state, or null when it is blank or torn (bad CRC). */
export function decodeSlot(slot: Uint8Array): ValueState | null {
  if (slot.length !== SLOT_SIZE) return null;
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (view.getUint32(12) !== crc32(slot.subarray(0, 12))) return null;
  const seq = view.getUint32(0);
  if (seq === 0) return null;
  return { seq, balanceMinor: view.getUint32(4), flags: view.getUint16(8) };
}

export interface CurrentSlot {
  slot: SlotIndex;
  state: ValueState;
}

/** The current slot of a value area: the valid one with the highest sequence (slot 0 on a tie). */
export function selectCurrentSlot(area: Uint8Array): CurrentSlot | null {
  if (area.length !== VALUE_AREA_SIZE) throw new ValueAreaError(`value area must be ${VALUE_AREA_SIZE} bytes, got ${area.length}`);
  const a = decodeSlot(area.subarray(0, SLOT_SIZE));
  const b = decodeSlot(area.subarray(SLOT_SIZE, VALUE_AREA_SIZE));
  if (a && (!b || a.seq >= b.seq)) return { slot: 0, state: a };
  if (b) return { slot: 1, state: b };
  return null;
}

/** A fresh area at issue: slot 0 holds sequence 1, slot 1 is blank (invalid until first written). */
export function initialValueArea(balanceMinor: number, flags = 0): Uint8Array {
  const area = new Uint8Array(VALUE_AREA_SIZE);
  area.set(encodeSlot({ seq: 1, balanceMinor, flags }), 0);
  return area;
}

export interface SlotWrite {
  /** The slot to write (the backup: never the current one). */
  slot: SlotIndex;
  /** Offset of that slot within the value area. */
  offset: number;
  bytes: Uint8Array;
  state: ValueState;
}

/**
 * The next write for a change of balance and/or flags. The caller writes `bytes` at `offset`,
 * reads the area back and checks `selectCurrentSlot` now returns `state`; if the card was torn,
 * the old state is still current and the same plan can simply be retried.
 */
export function planSlotWrite(area: Uint8Array, next: { balanceMinor: number; flags: number }): SlotWrite {
  const current = selectCurrentSlot(area);
  if (!current) throw new ValueAreaError('value area has no valid slot: the card was never issued properly');
  if (current.state.seq === 0xffffffff) throw new ValueAreaError('value area sequence exhausted');
  const slot: SlotIndex = current.slot === 0 ? 1 : 0;
  const state = { seq: current.state.seq + 1, balanceMinor: next.balanceMinor, flags: next.flags };
  return { slot, offset: slot * SLOT_SIZE, bytes: encodeSlot(state), state };
}

/** The area with a slot write applied (what the chip holds after a complete write). */
export function applySlotWrite(area: Uint8Array, write: SlotWrite): Uint8Array {
  const out = Uint8Array.from(area);
  out.set(write.bytes, write.offset);
  return out;
}
