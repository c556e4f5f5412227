// The set of the tokens a message has given so far, known by their 64-bit hashes (src/core/token-hash.ts),
// for the tokenizer: it tells a repeated token from a new one without making its string or hashing
// a string again, which a Set of strings does for every word (a fifth of tokenizing a message).
// One table serves message after message: clear() empties it at once, each slot carrying the number
// of the message (generation) that filled it. Open addressing with linear probing, at most half
// full, grown by doubling; never shrunk, so it stays the size the largest message needed
// (16 bytes a slot: 256 KiB for the tokenizer's 5,000 tokens at most).
//
// Two different tokens with the same 64-bit hash count as one: among a message's 5,000 tokens at
// most, the chance is about 7 in 10¹³ (n² / 2⁶⁵).
import { regrowSlots } from '../core/slot-table.js';

/** Uint32 values per slot: generation, hash high, hash low, unused (a power of two for the indexing). */
const SLOT_WORDS = 4;
/** Slots of a new table (a power of two): 1,024, 16 KiB. */
const INITIAL_SLOTS = 1024;
/** The last generation before the slots are wiped and numbering starts again. */
const MAX_GENERATION = 0xffffffff;

export class TokenHashSet {
  private slots = new Uint32Array(INITIAL_SLOTS * SLOT_WORDS);
  private mask = INITIAL_SLOTS - 1;
  private generation = 1;
  private count = 0;

  /** `maxGeneration` (after which the slots are wiped and numbering starts again) is for tests. */
  constructor(private readonly maxGeneration = MAX_GENERATION) {}

  /** Hashes held since the last clear(). */
  get size(): number {
    return this.count;
  }

  /** Empties the set. */
  clear(): void {
    if (this.generation >= this.maxGeneration) {
      this.slots.fill(0);
      this.generation = 0;
    }
    this.generation++;
    this.count = 0;
  }

  /** Adds the hash `high`:`low`; returns whether it was new. */
  add(high: number, low: number): boolean {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    const generation = this.generation;
    let slot = low & mask;
    for (;;) {
      const at = slot * SLOT_WORDS;
      if (slots[at] !== generation) {
        slots[at] = generation;
        slots[at + 1] = high;
        slots[at + 2] = low;
        this.count++;
        return true;
      }
      if (slots[at + 1] === high && slots[at + 2] === low) return false;
      slot = (slot + 1) & mask;
    }
  }

  /** Doubles the slots and places this generation's hashes again. */
  private grow(): void {
    const generation = this.generation;
    const capacity = (this.mask + 1) * 2;
    this.slots = regrowSlots(this.slots, SLOT_WORDS, capacity, 2, (slots, at) => slots[at] === generation);
    this.mask = capacity - 1;
  }
}
