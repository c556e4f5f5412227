// An in-memory copy of something built from the store (the list or ban matcher), refreshed when the
// store's version counter moves: the counter is read at most once per interval (default 1 s), or
// at once after this process changed the store itself; the copy is rebuilt only when it moved.
// One copy per store object (a WeakMap), so pipelines rebuilt at a reload share it.
import type { Versioned } from '../store/types.js';

/** How often the version counter is read, in ms. */
export const VERSION_CHECK_MS = 1000;

export class Snapshot<T> {
  private value: T | undefined;
  private version = -1;
  private seenLocal = -1;
  /** When the version was last read, ms on the caller's clock. */
  private checkedAt = -Infinity;
  private refreshing: Promise<T> | undefined;

  /**
   * `patch`, when given, applies this process's own changes to the copy in place (cheap), instead
   * of reloading it; the reload then waits for the version read of the next interval. It returns
   * false when it cannot apply them (the copy is then reloaded at once).
   */
  constructor(
    private readonly source: Versioned,
    private readonly load: (nowMs: number) => Promise<T>,
    private readonly intervalMs: number = VERSION_CHECK_MS,
    private readonly patch?: (value: T) => boolean,
  ) {}

  /** The current copy; `nowMs` (the pipeline's clock) paces the version reads. */
  get(nowMs: number): Promise<T> | T {
    const fresh = nowMs - this.checkedAt < this.intervalMs && nowMs >= this.checkedAt;
    if (this.value !== undefined && fresh && this.source.localChanges !== this.seenLocal && this.patch) {
      const local = this.source.localChanges;
      if (this.patch(this.value)) {
        this.seenLocal = local;
        return this.value;
      }
    }
    if (this.value !== undefined && fresh && this.source.localChanges === this.seenLocal) return this.value;
    this.refreshing ??= this.refresh(nowMs).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(nowMs: number): Promise<T> {
    const local = this.source.localChanges;
    let version: number;
    try {
      version = await this.source.version();
    } catch (error) {
      // A store busy or closing: keep the copy we have (retry after the interval), or fail the check.
      if (this.value === undefined) throw error;
      this.checkedAt = nowMs;
      return this.value;
    }
    if (this.value === undefined || version !== this.version || local !== this.seenLocal) {
      this.value = await this.load(nowMs);
      this.version = version;
    }
    this.seenLocal = local;
    this.checkedAt = nowMs;
    return this.value;
  }
}

// Stored without their type; each is read back with the type it was made with (by name).
const snapshots = new WeakMap<object, Map<string, object>>();

/** The shared snapshot named `name` of `owner` (a store's list or ban store), created by `make` on first use. */
export function sharedSnapshot<T>(owner: object, name: string, make: () => Snapshot<T>): Snapshot<T> {
  let byName = snapshots.get(owner);
  if (!byName) {
    byName = new Map();
    snapshots.set(owner, byName);
  }
  let snapshot = byName.get(name) as Snapshot<T> | undefined;
  if (!snapshot) {
    snapshot = make();
    byName.set(name, snapshot);
  }
  return snapshot;
}
