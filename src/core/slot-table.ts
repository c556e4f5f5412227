// What the open-addressing hash tables held in one Uint32Array share (the Bayes token counts,
// src/store/sqlite/token-count-table.ts, and the tokenizer's token set,
// src/classifier/token-hash-set.ts): growing to a larger array, every held slot placed again by
// linear probing from its home slot.

/**
 * A copy of `old` (slots of `slotWords` Uint32 values each) with `capacity` slots (a power of two),
 * every slot `isHeld` placed again from the home slot its word `homeWord` gives; a slot of the new
 * array counts as empty when `isHeld` says it is not held (all zero to start with).
 */
export function regrowSlots(old: Uint32Array, slotWords: number, capacity: number, homeWord: number, isHeld: (slots: Uint32Array, at: number) => boolean): Uint32Array<ArrayBuffer> {
  const slots = new Uint32Array(capacity * slotWords);
  const mask = capacity - 1;
  for (let from = 0; from < old.length; from += slotWords) {
    if (!isHeld(old, from)) continue;
    let slot = old[from + homeWord]! & mask;
    while (isHeld(slots, slot * slotWords)) slot = (slot + 1) & mask;
    slots.set(old.subarray(from, from + slotWords), slot * slotWords);
  }
  return slots;
}
