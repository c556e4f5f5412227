// The 64-bit hash of a Bayes token, as two independent 32-bit halves: the tokenizer tells tokens
// apart by it (src/classifier/tokenizer.ts, without making a string for a token it already has), and the in-memory
// copy of the global database keys its counts by it (src/store/sqlite/token-count-table.ts).
// Two multiplicative hashes of the token's UTF-16 code units with different constants, each
// finished by MurmurHash3's mixer; never 0:0 (a token that would hash to it gets 0:1), so that the
// tables can mark empty slots with 0:0.
//
// The result goes to the fields of `tokenHash` rather than being returned, so that no pair is
// allocated per token; read them right after the call.

/** The hash last computed by hashToken() or hashTokenOfUnits(). */
export const tokenHash = { high: 0, low: 0 };

/** Hashes `token` into tokenHash. */
export function hashToken(token: string): void {
  const length = token.length;
  let high = HIGH_SEED ^ length;
  let low = LOW_SEED;
  for (let i = 0; i < length; i++) {
    const code = token.charCodeAt(i);
    high = stepHigh(high, code);
    low = stepLow(low, code);
  }
  finish(high, low, length);
}

/**
 * Hashes the token `prefix` + the code units from `from` to `to` (excluded) of `units` into
 * tokenHash, without making that string: the same hash as hashToken() gives the string (code-units.ts).
 */
export function hashTokenOfUnits(prefix: string, units: Uint16Array, from: number, to: number): void {
  const length = prefix.length + to - from;
  let high = HIGH_SEED ^ length;
  let low = LOW_SEED;
  for (let i = 0; i < prefix.length; i++) {
    const code = prefix.charCodeAt(i);
    high = stepHigh(high, code);
    low = stepLow(low, code);
  }
  for (let i = from; i < to; i++) {
    const code = units[i]!;
    high = stepHigh(high, code);
    low = stepLow(low, code);
  }
  finish(high, low, length);
}

const HIGH_SEED = 0x811c9dc5;
const LOW_SEED = 0x9747b28c;
/** One code unit into the high half (FNV-1a's step). */
const stepHigh = (high: number, code: number): number => Math.imul(high ^ code, 0x01000193);
/** One code unit into the low half (a multiply and a shift, MurmurHash2's constant). */
function stepLow(low: number, code: number): number {
  const product = Math.imul(low ^ code, 0x5bd1e995);
  return product ^ (product >>> 15);
}

/** Mixes the two halves and stores them in tokenHash. */
function finish(high: number, low: number, length: number): void {
  const mixedHigh = mix(high) >>> 0;
  let mixedLow = mix(low ^ length) >>> 0;
  if (mixedHigh === 0 && mixedLow === 0) mixedLow = 1;
  tokenHash.high = mixedHigh;
  tokenHash.low = mixedLow;
}

/** MurmurHash3's 32-bit finalizer: every input bit moves every output bit. */
function mix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}
