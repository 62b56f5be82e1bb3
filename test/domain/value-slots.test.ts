import { applySlotWrite, decodeSlot, encodeSlot, FLAG_USED, initialValueArea, planSlotWrite, selectCurrentSlot, SLOT_SIZE, VALUE_AREA_SIZE } from '../../domain/value-slots';

/** What the chip holds when a write of `bytes` at `offset` stops after `written` bytes. */
function torn(area: Uint8Array, offset: number, bytes: Uint8Array, written: number): Uint8Array {
  const out = Uint8Array.from(area);
  out.set(bytes.subarray(0, written), offset);
  return out;
}

test('a fresh area: slot 0 current with sequence 1, slot 1 blank', () => {
  const area = initialValueArea(3000);
  expect(area).toHaveLength(VALUE_AREA_SIZE);
  expect(selectCurrentSlot(area)).toEqual({ slot: 0, state: { seq: 1, balanceMinor: 3000, flags: 0 } });
  expect(decodeSlot(area.subarray(SLOT_SIZE))).toBeNull();
});

test('writes alternate slots and the highest valid sequence wins', () => {
  let area = initialValueArea(3000);
  const balances = [2500, 2000, 1200, 0];
  balances.forEach((b, i) => {
    const plan = planSlotWrite(area, { balanceMinor: b, flags: b === 0 ? FLAG_USED : 0 });
    expect(plan.slot).toBe(((i + 1) % 2) as 0 | 1);
    expect(plan.state.seq).toBe(i + 2);
    area = applySlotWrite(area, plan);
    expect(selectCurrentSlot(area)).toEqual({ slot: plan.slot, state: plan.state });
  });
  expect(selectCurrentSlot(area)!.state).toEqual({ seq: 5, balanceMinor: 0, flags: FLAG_USED });
});

test('a write torn at every byte leaves the previous state current, and a retry completes it', () => {
  let area = initialValueArea(3000);
  area = applySlotWrite(area, planSlotWrite(area, { balanceMinor: 2500, flags: 0 })); // slot 1 current, seq 2
  const before = selectCurrentSlot(area)!;
  const plan = planSlotWrite(area, { balanceMinor: 1000, flags: FLAG_USED }); // into slot 0
  expect(plan.slot).toBe(0);
  for (let n = 0; n < SLOT_SIZE; n++) {
    const chip = torn(area, plan.offset, plan.bytes, n);
    expect(selectCurrentSlot(chip)).toEqual(before);
    // The retry is planned from what the chip holds: same slot, same sequence.
    const retry = planSlotWrite(chip, { balanceMinor: 1000, flags: FLAG_USED });
    expect(retry.slot).toBe(0);
    expect(selectCurrentSlot(applySlotWrite(chip, retry))!.state).toEqual({ seq: 3, balanceMinor: 1000, flags: FLAG_USED });
  }
  expect(selectCurrentSlot(torn(area, plan.offset, plan.bytes, SLOT_SIZE))!.state).toEqual(plan.state);
});

test('a corrupted current slot falls back to the older valid one; two bad slots mean no state', () => {
  let area = initialValueArea(3000);
  area = applySlotWrite(area, planSlotWrite(area, { balanceMinor: 2500, flags: 0 }));
  const flipped = Uint8Array.from(area);
  flipped[SLOT_SIZE + 5] ^= 0xff; // slot 1 (current) damaged
  expect(selectCurrentSlot(flipped)).toEqual({ slot: 0, state: { seq: 1, balanceMinor: 3000, flags: 0 } });
  const both = Uint8Array.from(flipped);
  both[2] ^= 0x01;
  expect(selectCurrentSlot(both)).toBeNull();
  expect(() => planSlotWrite(both, { balanceMinor: 1, flags: 0 })).toThrow(/no valid slot/);
  expect(selectCurrentSlot(new Uint8Array(VALUE_AREA_SIZE))).toBeNull();
});

test('out-of-range values are refused', () => {
  expect(() => encodeSlot({ seq: 0, balanceMinor: 1, flags: 0 })).toThrow(/sequence/);
  expect(() => encodeSlot({ seq: 1, balanceMinor: -1, flags: 0 })).toThrow(/balance/);
  expect(() => encodeSlot({ seq: 1, balanceMinor: 1, flags: 0x10000 })).toThrow(/flags/);
  expect(() => selectCurrentSlot(new Uint8Array(3))).toThrow(/32 bytes/);
});
