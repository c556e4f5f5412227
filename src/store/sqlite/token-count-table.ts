// A hash table of Bayes token counts held in one typed array, for the in-memory copy of the global
// database (bayes-snapshot.ts). A Map of 100,000 token strings to { spam, ham } objects costs some
// 105 bytes a token, and a lookup reads three places scattered over the heap (the Map's slot, the
// stored key string to compare, the counts object): 140-220 ns a token on the SpamAssassin corpus,
// a third of classifying a message. Here a token is known by a 64-bit hash of its characters
// (src/core/token-hash.ts, two independent 32-bit halves), and each slot holds that hash and
// the two counts side by side, 16 bytes: a lookup hashes the token and reads one slot, mostly one
// cache line.
//
// The strings themselves are not kept, so two tokens with the same 64-bit hash would share their
// counts. Among the 500,000 tokens the copy holds at most, that chance is about 7 in a billion
// (n² / 2⁶⁵), and a token never learned takes the counts of a stored one with a chance of n / 2⁶⁴
// (3 in 10¹⁴) per lookup; SpamAssassin's Bayes keeps 40-bit hashes of its tokens for the same reasons.
//
// Open addressing with linear probing, at most half full (grown by doubling), removal by moving the
// following slots back (no tombstones). A slot is empty when both hash halves are 0; a token whose
// hash is 0:0 is stored as 0:1.
import { hashToken, tokenHash } from '../../core/token-hash.js';
import { regrowSlots } from '../../core/slot-table.js';
import type { TokenCounts } from '../types.js';

/** Uint32 values per slot: hash high, hash low, spam count, ham count. */
const SLOT_WORDS = 4;
/** The largest count a slot holds: 2³² − 1. */
const MAX_COUNT = 0xffffffff;
/** Slots of a new table (a power of two). */
const INITIAL_SLOTS = 1024;

export class TokenCountTable {
  private slots: Uint32Array;
  private mask: number;
  private count = 0;

  constructor(expectedTokens = 0) {
    let capacity = INITIAL_SLOTS;
    while (capacity < expectedTokens * 2) capacity *= 2;
    this.slots = new Uint32Array(capacity * SLOT_WORDS);
    this.mask = capacity - 1;
  }

  /** Tokens held. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the table itself. */
  get byteLength(): number {
    return this.slots.byteLength;
  }

  /** The counts of `token`, undefined when it has none: a new object each time. */
  get(token: string): TokenCounts | undefined {
    hashToken(token);
    return this.getByHash(tokenHash.high, tokenHash.low);
  }

  /** The counts of the token whose hash (src/core/token-hash.ts) is `high`:`low`, as get() gives them. */
  getByHash(high: number, low: number): TokenCounts | undefined {
    const at = this.slotOfHash(high, low);
    const slots = this.slots;
    if (slots[at] === 0 && slots[at + 1] === 0) return undefined;
    return { spam: slots[at + 2]!, ham: slots[at + 3]! };
  }

  has(token: string): boolean {
    return this.find(token) >= 0;
  }

  /** Sets the counts of `token`; a count above 2³² − 1 is kept as 2³² − 1 (classify caps counts at the message counts anyway). */
  set(token: string, spam: number, ham: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const at = this.slotOf(token);
    const slots = this.slots;
    if (slots[at] === 0 && slots[at + 1] === 0) {
      slots[at] = tokenHash.high;
      slots[at + 1] = tokenHash.low;
      this.count++;
    }
    slots[at + 2] = Math.min(spam, MAX_COUNT);
    slots[at + 3] = Math.min(ham, MAX_COUNT);
  }

  /** Removes `token`; returns whether it was held. */
  delete(token: string): boolean {
    const found = this.find(token);
    if (found < 0) return false;
    const slots = this.slots;
    const mask = this.mask;
    // Backward shift: each following slot of the run moves into the hole when its home slot does
    // not lie cyclically after the hole (it would not be found past an empty slot otherwise).
    let hole = found / SLOT_WORDS;
    let slot = hole;
    for (;;) {
      slot = (slot + 1) & mask;
      const at = slot * SLOT_WORDS;
      if (slots[at] === 0 && slots[at + 1] === 0) break;
      const home = slots[at]! & mask;
      const stays = hole <= slot ? hole < home && home <= slot : hole < home || home <= slot;
      if (stays) continue;
      slots.copyWithin(hole * SLOT_WORDS, at, at + SLOT_WORDS);
      hole = slot;
    }
    slots.fill(0, hole * SLOT_WORDS, hole * SLOT_WORDS + SLOT_WORDS);
    this.count--;
    return true;
  }

  /** The index in `slots` of the slot holding `token`, or −1. */
  private find(token: string): number {
    const at = this.slotOf(token);
    return this.slots[at] === 0 && this.slots[at + 1] === 0 ? -1 : at;
  }

  /** The index in `slots` of the slot holding `token`, or else of the empty slot that ends its run (where it goes). Leaves its hash in tokenHash. */
  private slotOf(token: string): number {
    hashToken(token);
    return this.slotOfHash(tokenHash.high, tokenHash.low);
  }

  /** slotOf() for the token whose hash is `high`:`low`. */
  private slotOfHash(high: number, low: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let slot = high & mask;
    for (;;) {
      const at = slot * SLOT_WORDS;
      const slotHigh = slots[at]!;
      const slotLow = slots[at + 1]!;
      if ((slotHigh === high && slotLow === low) || (slotHigh === 0 && slotLow === 0)) return at;
      slot = (slot + 1) & mask;
    }
  }

  /** Doubles the slots and places every entry again, by its stored hash. */
  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    this.slots = regrowSlots(this.slots, SLOT_WORDS, capacity, 0, (slots, at) => slots[at] !== 0 || slots[at + 1] !== 0);
    this.mask = capacity - 1;
  }
}
