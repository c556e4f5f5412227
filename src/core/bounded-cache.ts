// A small cache for values computed from short strings that recur from message to message (header
// names, relay clauses, host names): bounded in entries and key length, with keys kept as copies.

/**
 * What is computed from a short string alone, kept across messages for the strings that recur
 * (header names, relays, senders, link hosts): at most `limit` entries (then it starts again, empty),
 * for keys of at most `maxKeyChars` characters (longer ones are computed every time). A key is kept
 * as a copy, and its value computed from that copy: a substring of a message keeps the whole string
 * it was cut from alive.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(
    readonly limit: number,
    readonly maxKeyChars: number,
  ) {}

  /** The value for `key`: the one kept, or `compute(key)` (never undefined), then kept. */
  get(key: string, compute: (key: string) => V): V {
    if (key.length > this.maxKeyChars) return compute(key);
    let value = this.entries.get(key);
    if (value === undefined) {
      const kept = structuredClone(key);
      value = compute(kept);
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(kept, value);
    }
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
