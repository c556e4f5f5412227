// A bounded cache that forgets the least recently used entries first, in O(1) per operation: two
// generations of Map; when the young one is full it becomes the old one and the previous old one
// is dropped ("hashlru"). A plain Map evicting from its front degrades in V8 as holes accumulate.
export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generationSize: number;

  /** Holds at least `capacity` entries and at most twice as many. */
  constructor(readonly capacity: number) {
    this.generationSize = Math.max(1, capacity);
  }

  /** Entries held now (between capacity and twice it once full). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const older = this.old.get(key);
    if (older !== undefined) {
      this.old.delete(key); // each key lives in one generation only
      this.promote(key, older);
    }
    return older;
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) this.young.set(key, value);
    else {
      this.old.delete(key);
      this.promote(key, value);
    }
  }

  private promote(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
