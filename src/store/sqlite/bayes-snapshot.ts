// A complete in-memory copy of the global Bayes database's token counts (scope ''), for bayes.ts:
// while it is valid, a global lookup reads a hash table in memory only (token-count-table.ts),
// present and absent tokens alike, no SQL.
// It holds the counts of one meta.bayes_version and is used only while that is the current one;
// otherwise (loading, stale, the table above GLOBAL_SNAPSHOT_MAX_TOKENS) bayes.ts's LRU cache and
// SQL serve: slower, never stale.
// - Loading reads the table in key order (it has no rowid), SNAPSHOT_CHUNK_ROWS rows per step: one
//   step per turn of the event loop (setImmediate), and one more in each global lookup the copy
//   cannot serve yet, so that a process whose event loop seldom idles (a batch of checks) gets it
//   too (in the daemon, lookups come from mail, one message a few ms apart). The load survives this process's own learns (each moving the
//   version by exactly one: their tokens are read again at the end, in the read transaction that
//   checks the version); any other write (another process's, an expiry, an import) discards it.
// - Kept current: after an own learn that moved the version by exactly one, the learned global
//   tokens' rows are read again and replace theirs. Any other move makes the copy stale: dropped at
//   once, and loaded again by a later global lookup, at most once per SNAPSHOT_RELOAD_INTERVAL_MS.
import type { Db } from './database.js';
import type { BayesLearnWrite } from './writer-protocol.js';
import type { TokenCountsLookup } from '../types.js';
import { TokenCountTable } from './token-count-table.js';

export interface SnapshotLimits {
  /** The copy is made only while the global table holds at most this many tokens. */
  maxTokens: number;
  /** Rows read per loading step. */
  chunkRows: number;
  /** At most one load starts per this many ms (after a load discarded, a stale copy, or a table too large). */
  reloadIntervalMs: number;
  /** A writer's reply with more learned global tokens than this makes the copy stale instead of having them read again; so do more than this learned during a load. */
  patchMaxTokens: number;
}

/**
 * Tokens kept in memory at most: 32 to 64 bytes each (token-count-table.ts: 16-byte slots, the table
 * between a quarter and half full); 500,000 take 2²⁰ slots, 17 MB (25 MB for a moment while it grows).
 */
const GLOBAL_SNAPSHOT_MAX_TOKENS = 500_000; // tokens: five times a database trained on 3,000 messages (~100,000)
/** Rows per loading step: some 2.5 to 6 ms of one turn of the event loop (1.3 µs per row measured on an idle core, up to 3 on a busy one), which the policy server's replies can wait. */
const SNAPSHOT_CHUNK_ROWS = 2_000; // rows
/** A stale or discarded copy is loaded again at most this often. */
const SNAPSHOT_RELOAD_INTERVAL_MS = 30_000; // ms
/** Own learns' global tokens read again per reply of the writer, at most (~100 `IN` queries of 100, a few ms); more makes the copy stale. */
const SNAPSHOT_PATCH_MAX_TOKENS = 10_000; // tokens

export const SNAPSHOT_LIMITS: SnapshotLimits = {
  maxTokens: GLOBAL_SNAPSHOT_MAX_TOKENS,
  chunkRows: SNAPSHOT_CHUNK_ROWS,
  reloadIntervalMs: SNAPSHOT_RELOAD_INTERVAL_MS,
  patchMaxTokens: SNAPSHOT_PATCH_MAX_TOKENS,
};

/** What the copy needs from bayes.ts. */
export interface SnapshotSource {
  /** meta.bayes_version now. */
  version(): number;
  /** The global scope's id; undefined while nothing was ever learned in it. */
  globalScopeId(): number | undefined;
  /** Calls `each` with the stored row of each of `tokens` that has one in the scope. */
  readRows(scopeId: number, tokens: readonly string[], each: (token: string, spam: number, ham: number) => void): void;
  /** Whether learns of this process were sent and their replies (afterOwnWrite) have not come yet. */
  ownWritesPending(): boolean;
  /** Called when a copy becomes usable. */
  onReady(): void;
  /** Told of every failure that discards a load or the copy (lookups read the store until a later load). */
  onFailure(error: Error): void;
}

/** For tests and diagnostics. */
export interface SnapshotStatus {
  state: 'none' | 'loading' | 'ready' | 'too-large' | 'stopped';
  /** ready: the meta.bayes_version the copy holds. */
  version?: number;
  /** ready or loading: tokens held. */
  tokens: number;
  /** Loads started, and steps (chunks) read, since the start. */
  loads: number;
  chunks: number;
  /** The last error that discarded a load or a copy (the LRU path serves meanwhile, and reports its own). */
  lastError?: string;
}

interface Load {
  readonly tokens: TokenCountTable;
  readonly scopeId: number;
  /** The last token read: the next chunk starts after it (undefined before the first). */
  after: string | undefined;
  /** Every chunk read. */
  done: boolean;
  /** The version the copy will hold: the one at the start, moved on by each own learn since. */
  version: number;
  /** Global tokens learned by this process since the start: read again at the end. */
  readonly touched: Set<string>;
}

export class GlobalTokenSnapshot {
  /** The copy: every global token's counts, valid at `version`. */
  private tokens: TokenCountTable | undefined;
  private version = -1;
  private scopeId = -1;
  private load: Load | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastLoadStart = -Infinity;
  private tooLarge = false;
  private stopped = false;
  private loads = 0;
  private chunks = 0;
  private lastError: string | undefined;
  /** whenSettled() callers, told when the load under way ends. */
  private settledWaiters: Array<() => void> = [];
  private readonly countTokens;
  private readonly firstChunk;
  private readonly nextChunk;
  /** Runs a function in one read transaction: every statement in it sees the same state. */
  private readonly inReadTransaction;

  constructor(
    db: Db,
    private readonly source: SnapshotSource,
    private readonly limits: SnapshotLimits = SNAPSHOT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.countTokens = db.prepare('SELECT tokens FROM bayes_scopes WHERE id = ?').pluck();
    this.firstChunk = db.prepare('SELECT token, spam, ham FROM bayes_tokens WHERE scope_id = ? ORDER BY token LIMIT ?').raw();
    this.nextChunk = db.prepare('SELECT token, spam, ham FROM bayes_tokens WHERE scope_id = ? AND token > ? ORDER BY token LIMIT ?').raw();
    this.inReadTransaction = db.transaction((fn: () => boolean): boolean => fn());
  }

  /**
   * The copy to serve a global lookup at `version` (read just before) from, or undefined: then the
   * caller's LRU and SQL serve. Starts a load, or runs one step of the one under way.
   */
  tokensAt(version: number): TokenCountsLookup | undefined {
    if (this.stopped) return undefined;
    if (this.tokens) {
      if (version === this.version) return this.tokens;
      // An own learn committed, its reply not read yet: it will tell whether the copy can follow.
      if (this.source.ownWritesPending()) return undefined;
      this.drop(); // another process (or an expiry) wrote
    }
    if (this.load) this.advance();
    else this.start();
    return this.tokens && this.version === version ? this.tokens : undefined;
  }

  /**
   * After a write of this process bumped meta.bayes_version to `version`: `learned` are its learns
   * (undefined for an import, whose tokens are not followed: the copy goes stale).
   */
  afterOwnWrite(version: number, learned: readonly BayesLearnWrite[] | undefined): void {
    if (this.stopped) return;
    if (this.tokens && version > this.version) {
      const tokens = learned && globalTokens(learned);
      if (version === this.version + 1 && tokens && tokens.length <= this.limits.patchMaxTokens) {
        try {
          const copy = this.tokens;
          this.inReadTransaction(() => this.reread(copy, this.scopeId, tokens));
          this.version = version;
          if (copy.size > this.limits.maxTokens) {
            this.tooLarge = true;
            this.drop();
          }
        } catch (error) {
          this.failed(error);
          this.drop();
        }
      } else {
        this.drop();
      }
    }
    const load = this.load;
    if (!load || version <= load.version) return; // no load, or it started after this write and read its result
    const tokens = learned && globalTokens(learned);
    if (version !== load.version + 1 || !tokens || load.touched.size + tokens.length > this.limits.patchMaxTokens) return this.discard();
    load.version = version;
    for (const token of tokens) load.touched.add(token);
    if (load.done) this.finish();
  }

  /** Resolves once no load is under way: the copy ready, the load discarded or stopped, or none started. */
  whenSettled(): Promise<void> {
    if (!this.load) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  /** Forgets the copy and any load under way after a failure (`error`, kept for status()): lookups read SQL until the next load. */
  invalidate(error: unknown): void {
    if (this.stopped) return;
    this.failed(error);
    this.discard();
    this.drop();
  }

  /** Stops for good (the store closes): the pending step is cancelled, the copy dropped. */
  stop(): void {
    this.stopped = true;
    this.discard();
    this.drop();
  }

  status(): SnapshotStatus {
    const state = this.stopped ? 'stopped' : this.tokens ? 'ready' : this.load ? 'loading' : this.tooLarge ? 'too-large' : 'none';
    return {
      state,
      ...(this.tokens ? { version: this.version } : {}),
      tokens: (this.tokens ?? this.load?.tokens)?.size ?? 0,
      loads: this.loads,
      chunks: this.chunks,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /** Starts a load, unless one started less than reloadIntervalMs ago or the table is too large. */
  private start(): void {
    const now = this.now();
    if (now - this.lastLoadStart < this.limits.reloadIntervalMs) return;
    const scopeId = this.source.globalScopeId();
    if (scopeId === undefined) return; // nothing learned yet: lookups find nothing without SQL anyway
    this.lastLoadStart = now;
    try {
      const version = this.source.version();
      this.tooLarge = ((this.countTokens.get(scopeId) as number | undefined) ?? 0) > this.limits.maxTokens;
      if (this.tooLarge) return;
      this.load = { tokens: new TokenCountTable(), scopeId, after: undefined, done: false, version, touched: new Set() };
      this.loads++;
    } catch (error) {
      return this.failed(error);
    }
    this.advance();
  }

  /** One step of the load: the next chunk, or the end. */
  private advance(): void {
    const load = this.load!;
    try {
      if (!load.done) {
        if (this.source.version() !== load.version && !this.source.ownWritesPending()) return this.discard(); // another process wrote
        const { chunkRows } = this.limits;
        const rows = (load.after === undefined ? this.firstChunk.all(load.scopeId, chunkRows) : this.nextChunk.all(load.scopeId, load.after, chunkRows)) as [string, number, number][];
        for (const [token, spam, ham] of rows) load.tokens.set(token, spam, ham);
        this.chunks++;
        if (load.tokens.size > this.limits.maxTokens) {
          this.tooLarge = true;
          return this.discard();
        }
        if (rows.length < chunkRows) load.done = true;
        else load.after = rows[rows.length - 1]![0];
      }
      if (load.done) this.finish();
      else if (!this.immediate) {
        // Unreferenced: the load alone does not keep a process alive (a CLI that forgot to close).
        this.immediate = setImmediate(() => this.stepLater());
        this.immediate.unref();
      }
    } catch (error) {
      this.failed(error);
      this.discard();
    }
  }

  private stepLater(): void {
    this.immediate = undefined;
    if (this.load && !this.stopped) this.advance();
  }

  /**
   * Every chunk read: when the version is still the load's (moved only by own learns, whose tokens
   * are then read again in the same read transaction), the copy is ready. When it moved further and
   * own learns are under way, their replies (or the next lookup) try again; else it is discarded.
   */
  private finish(): void {
    const load = this.load!;
    let ready: boolean;
    try {
      ready = this.inReadTransaction(() => {
        if (this.source.version() !== load.version) return false;
        this.reread(load.tokens, load.scopeId, [...load.touched]);
        return true;
      });
    } catch (error) {
      this.failed(error);
      return this.discard();
    }
    if (!ready) {
      if (!this.source.ownWritesPending()) this.discard();
      return;
    }
    this.load = undefined;
    this.tokens = load.tokens;
    this.version = load.version;
    this.scopeId = load.scopeId;
    this.source.onReady();
    this.settled();
  }

  /** Replaces the counts of `tokens` in `copy` with their stored rows (removing those without); returns true. */
  private reread(copy: TokenCountTable, scopeId: number, tokens: readonly string[]): boolean {
    if (tokens.length === 0) return true;
    const stored = new Set<string>();
    this.source.readRows(scopeId, tokens, (token, spam, ham) => {
      copy.set(token, spam, ham);
      stored.add(token);
    });
    for (const token of tokens) if (!stored.has(token)) copy.delete(token);
    return true;
  }

  /** Ends the load under way, if any (a later lookup starts another, after the interval). */
  private discard(): void {
    this.load = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.settled();
  }

  private settled(): void {
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Forgets the copy (stale). */
  private drop(): void {
    this.tokens = undefined;
    this.version = -1;
  }

  private failed(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    try {
      this.source.onFailure(new Error(`Bayes: the in-memory copy of the global database failed; lookups read the store until it loads again: ${this.lastError}`, { cause: error }));
    } catch {
      // the report is best effort: the copy is gone either way
    }
  }
}

/** The distinct tokens of the learns in the global scope. */
function globalTokens(learned: readonly BayesLearnWrite[]): string[] {
  const tokens = new Set<string>();
  for (const write of learned) if (write.scope === '') for (const token of write.tokens) tokens.add(token);
  return [...tokens];
}
