// The Bayesian filter's token databases in SQLite, one per scope ('' global, or a recipient address).
// Learning goes to the writer thread (bayes-writer.ts): the learns asked within one turn of the event
// loop travel as one message and commit in one transaction (group commit), and each resolves with its
// own outcome. Reads run on the main thread. A lookup in the global scope is served from a complete
// in-memory copy of its tokens (bayes-snapshot.ts: loaded in steps, kept current after this process's
// learns, at most GLOBAL_SNAPSHOT_MAX_TOKENS tokens) whenever that copy holds the current
// meta.bayes_version. Otherwise, and in recipients' scopes, a lookup serves what it can from an LRU
// cache of token counts (absent tokens included) and reads the rest with `token IN (...)` queries
// (one for up to 100 tokens: measured faster than one SELECT per token, and than a temporary table to
// join). The caches are valid for one value of meta.bayes_version, read at each lookup (one indexed
// SELECT): a learn, import or expiry made by any process moves it and the caches are dropped (the
// copy is loaded again later); after this process's own learn, when nobody else wrote in between,
// only the learned tokens are dropped from the caches and read again into the copy.
import { LruCache } from '../../core/lru.js';
import { GlobalTokenSnapshot, SNAPSHOT_LIMITS, type SnapshotLimits, type SnapshotStatus } from './bayes-snapshot.js';
import type { Db } from './database.js';
import { BAYES_VERSION } from './rows.js';
import type { SqliteWriter } from './writer.js';
import type { BayesDigestRow, BayesImportRow, BayesLearnWrite } from './writer-protocol.js';
import type { BayesCounts, BayesDump, BayesWarmOutcome, BayesStore, LearnInput, LearnOutcome, TokenCounts, TokenCountsLookup } from '../types.js';

/** Missing tokens are read with `token IN (?, ...)` queries of these sizes (in tokens), the smallest that fits; a chunk shorter than its query repeats its first token. */
const LOOKUP_QUERY_SIZES = [10, 30, 100] as const;
/** Token counts kept in memory for the global database (absent tokens too): at least this many, at most twice as many (about 100 bytes each). */
const GLOBAL_CACHE_TOKENS = 200_000; // tokens: a trained database holds some 100,000, and absent tokens are cached too
/** ... for each recipient's own database. */
const RECIPIENT_CACHE_TOKENS = 5_000;
/** Recipients' databases with a cache: at least this many (the most recently used), at most twice as many. */
const CACHED_RECIPIENT_SCOPES = 8;
/** Learns sent to the writer in one message (one transaction) stop growing past this many tokens. */
const LEARN_BATCH_TOKENS = 20_000;
/** Imported rows sent to the writer per message, each message its own transaction. */
const IMPORT_BATCH_ROWS = 10_000;
/** After a learn, only its tokens leave the cache when they are fewer than this; else the whole cache goes. */
const TARGETED_INVALIDATION_TOKENS = 5_000;

type TokenCache = LruCache<string, TokenCounts | null>;

interface PendingLearn {
  write: BayesLearnWrite;
  resolve: (outcome: LearnOutcome) => void;
  reject: (error: Error) => void;
}

const normalisedScope = (scope: string): string => scope.trim().toLowerCase();

export class SqliteBayesStore implements BayesStore {
  /** Token counts of the global database by token; null = the token is not in the database. */
  private readonly globalCache: TokenCache = new LruCache(GLOBAL_CACHE_TOKENS);
  /** The same for recipients' databases, by scope id. */
  private readonly recipientCaches = new LruCache<number, TokenCache>(CACHED_RECIPIENT_SCOPES);
  /** The meta.bayes_version the caches hold counts of. */
  private cachedVersion = -1;
  /** Scope ids never change once made (scopes are never deleted). */
  private readonly scopeIds = new Map<string, number>();
  private pending: PendingLearn[] = [];
  private flushScheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly getVersion;
  private readonly getScopeId;
  private readonly getCounts;
  private readonly getScopes;
  private readonly dumpTokens;
  private readonly dumpDigests;
  /** `token IN (...)` queries by size (LOOKUP_QUERY_SIZES). */
  private readonly lookupQueries;
  /** The global scope's tokens in memory, when it holds the current version. */
  private readonly snapshot: GlobalTokenSnapshot;
  private readonly snapshotLimits: SnapshotLimits;

  /** `snapshot` and `now` (ms, for its reload interval) are for tests. */
  constructor(
    db: Db,
    private readonly writer: SqliteWriter,
    options: { snapshot?: Partial<SnapshotLimits>; now?: () => number; onBackgroundError?: (error: unknown) => void } = {},
  ) {
    this.snapshotLimits = { ...SNAPSHOT_LIMITS, ...options.snapshot };
    this.getVersion = db.prepare(`SELECT CAST(value AS INTEGER) FROM meta WHERE key = '${BAYES_VERSION}'`).pluck();
    this.getScopeId = db.prepare('SELECT id FROM bayes_scopes WHERE scope = ?').pluck();
    this.getCounts = db.prepare('SELECT spam_messages AS spamMessages, ham_messages AS hamMessages, tokens FROM bayes_scopes WHERE scope = ?');
    this.getScopes = db.prepare('SELECT scope FROM bayes_scopes WHERE spam_messages > 0 OR ham_messages > 0 OR tokens > 0 ORDER BY scope').pluck();
    this.dumpTokens = db.prepare(
      `SELECT t.token, t.spam, t.ham, t.last_learned AS lastSeen FROM bayes_tokens t JOIN bayes_scopes s ON s.id = t.scope_id
       WHERE s.scope = ? ORDER BY t.token`,
    );
    this.dumpDigests = db.prepare(
      `SELECT m.digest, m.class AS kind FROM bayes_messages m JOIN bayes_scopes s ON s.id = m.scope_id WHERE s.scope = ? ORDER BY m.digest`,
    );
    this.lookupQueries = LOOKUP_QUERY_SIZES.map((size) => ({
      size,
      query: db.prepare(`SELECT token, spam, ham FROM bayes_tokens WHERE scope_id = ? AND token IN (${Array(size).fill('?').join(', ')})`).raw(),
    }));
    this.snapshot = new GlobalTokenSnapshot(
      db,
      {
        version: () => this.currentVersion(),
        globalScopeId: () => this.scopeId(''),
        readRows: (scopeId, tokens, each) => this.readRows(scopeId, tokens, each),
        ownWritesPending: () => this.inFlight.size > 0,
        onReady: () => this.globalCache.clear(), // one copy in memory is enough
        onFailure: (error) => options.onBackgroundError?.(error),
      },
      this.snapshotLimits,
      options.now,
    );
  }

  /** meta.bayes_version: moves with every learn, import or expiry, in any process. */
  async version(): Promise<number> {
    return this.currentVersion();
  }

  async counts(scope: string): Promise<BayesCounts> {
    return (this.getCounts.get(normalisedScope(scope)) as BayesCounts | undefined) ?? { spamMessages: 0, hamMessages: 0, tokens: 0 };
  }

  async scopes(): Promise<string[]> {
    return this.getScopes.all() as string[];
  }

  async lookup(scope: string, tokens: readonly string[]): Promise<TokenCountsLookup> {
    const version = this.currentVersion();
    if (version !== this.cachedVersion) {
      this.dropCaches();
      this.cachedVersion = version;
    }
    const normalised = normalisedScope(scope);
    if (normalised === '') {
      // The copy itself answers: copying the asked tokens' counts out of it cost as much again.
      const snapshot = this.snapshot.tokensAt(version);
      if (snapshot) return snapshot;
    }
    const found = new Map<string, TokenCounts>();
    const scopeId = this.scopeId(normalised);
    if (scopeId === undefined) return found;
    const cache = this.cacheOf(normalised, scopeId);
    const missing: string[] = [];
    for (const token of tokens) {
      const cached = cache.get(token);
      if (cached === undefined) missing.push(token);
      else if (cached !== null) found.set(token, cached);
    }
    this.readRows(scopeId, missing, (token, spam, ham) => {
      const counts = { spam, ham };
      found.set(token, counts);
      cache.set(token, counts);
    });
    for (const token of missing) if (!found.has(token)) cache.set(token, null);
    return found;
  }

  /**
   * Loads the global copy now (the daemon at start-up, the benchmark before timing), a step per turn
   * of the event loop; resolves once it is ready, or when no load is under way (nothing learned, a
   * table too large, a load discarded by another process's write: lookups then load it later).
   */
  async warm(): Promise<BayesWarmOutcome> {
    this.snapshot.tokensAt(this.currentVersion()); // starts the load (its first step) unless the copy is ready or cannot be made now
    // The load's own steps are unreferenced immediates: they neither keep a process alive nor stop
    // an otherwise idle event loop from sleeping in its poll phase. A referenced immediate per turn
    // does both while the caller waits (each turn also runs a step).
    let settled = false;
    void this.snapshot.whenSettled().then(() => (settled = true));
    while (!settled) await new Promise<void>((resolve) => setImmediate(resolve));
    const status = this.snapshot.status();
    if (status.state === 'ready') return { heldTokens: status.tokens };
    if (status.state === 'too-large') return { heldTokens: 0, reason: `more than ${this.snapshotLimits.maxTokens} tokens, read through the cache` };
    if (status.lastError !== undefined) return { heldTokens: 0, reason: `loading failed: ${status.lastError}` };
    if (this.scopeId('') === undefined) return { heldTokens: 0, reason: 'nothing learned yet' };
    return { heldTokens: 0, reason: 'another process wrote during the load; loaded again at a later lookup' };
  }

  /** The in-memory copy of the global scope: its state, for tests and diagnostics. */
  snapshotStatus(): SnapshotStatus {
    return this.snapshot.status();
  }

  /** Stops loading the global copy and drops it (the store closes; nothing is left pending). */
  stop(): void {
    this.snapshot.stop();
  }

  learn(scope: string, input: LearnInput): Promise<LearnOutcome> {
    if (input.kind !== 'spam' && input.kind !== 'ham') return Promise.reject(new Error(`learn: the class must be spam or ham, not ${JSON.stringify(input.kind)}`));
    if (!input.digest) return Promise.reject(new Error('learn: the message digest is empty'));
    const write: BayesLearnWrite = {
      scope: normalisedScope(scope),
      digest: input.digest,
      kind: input.kind,
      tokens: [...new Set(input.tokens)],
      now: Math.floor(input.now),
      unlearn: input.unlearn === true,
    };
    return new Promise<LearnOutcome>((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    });
  }

  async importCounts(
    scope: string,
    rows: ReadonlyArray<{ token: string; spam: number; ham: number; lastSeen: number }>,
    messages: { spam: number; ham: number },
  ): Promise<void> {
    const count = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0);
    const normalised = normalisedScope(scope);
    const tuples: BayesImportRow[] = [];
    for (const row of rows) if (row.token !== '' && (count(row.spam) > 0 || count(row.ham) > 0)) tuples.push([row.token, count(row.spam), count(row.ham), count(row.lastSeen)]);
    const messageCounts = { spam: count(messages.spam), ham: count(messages.ham) };
    if (tuples.length === 0 && messageCounts.spam === 0 && messageCounts.ham === 0) return;
    for (let start = 0; start === 0 || start < tuples.length; start += IMPORT_BATCH_ROWS) {
      const batch = tuples.slice(start, start + IMPORT_BATCH_ROWS);
      const last = start + IMPORT_BATCH_ROWS >= tuples.length;
      const reply = await this.writer.send({ kind: 'bayesImport', scope: normalised, rows: batch, messages: last ? messageCounts : { spam: 0, ham: 0 } });
      this.followOwnWrite(reply.bayesVersion, undefined);
    }
  }

  /** Everything of one scope, tokens and digests in key order; the learns of this process asked before it are in. */
  async dump(scope: string): Promise<BayesDump> {
    await this.sync();
    const normalised = normalisedScope(scope);
    const { spamMessages, hamMessages } = await this.counts(normalised);
    return {
      messages: { spam: spamMessages, ham: hamMessages },
      tokens: this.dumpTokens.all(normalised) as BayesDump['tokens'],
      digests: this.dumpDigests.all(normalised) as BayesDump['digests'],
    };
  }

  /** Stores learned messages' digests (learned now, as their time is not copied), IMPORT_BATCH_ROWS per transaction. */
  async importDigests(scope: string, digests: BayesDump['digests']): Promise<void> {
    const rows: BayesDigestRow[] = digests.map(({ digest, kind }) => {
      if (kind !== 'spam' && kind !== 'ham') throw new Error(`importDigests: the class must be spam or ham, not ${JSON.stringify(kind)}`);
      if (!digest) throw new Error('importDigests: a message digest is empty');
      return [digest, kind];
    });
    const normalised = normalisedScope(scope);
    const learnedAt = Math.floor(Date.now() / 1000); // s
    for (let start = 0; start < rows.length; start += IMPORT_BATCH_ROWS) {
      await this.writer.send({ kind: 'bayesImportDigests', scope: normalised, digests: rows.slice(start, start + IMPORT_BATCH_ROWS), learnedAt });
    }
  }

  /** Sends the learns not yet sent and waits until every one sent so far is committed (or failed). */
  async sync(): Promise<void> {
    this.flush();
    await Promise.all([...this.inFlight]);
  }

  /** Calls `each` with the stored row of each of `tokens` that has one in the scope (once per token), read by `token IN (...)` queries. */
  private readRows(scopeId: number, tokens: readonly string[], each: (token: string, spam: number, ham: number) => void): void {
    const largest = LOOKUP_QUERY_SIZES[LOOKUP_QUERY_SIZES.length - 1];
    for (let start = 0; start < tokens.length; start += largest) {
      const chunk = tokens.slice(start, start + largest);
      const length = chunk.length;
      const { size, query } = this.lookupQueries.find((q) => q.size >= length)!;
      while (chunk.length < size) chunk.push(chunk[0]!);
      for (const [token, spam, ham] of query.all(scopeId, ...chunk) as [string, number, number][]) each(token, spam, ham);
    }
  }

  private currentVersion(): number {
    return (this.getVersion.get() as number | undefined) ?? 0;
  }

  private scopeId(scope: string): number | undefined {
    let id = this.scopeIds.get(scope);
    if (id === undefined) {
      id = this.getScopeId.get(scope) as number | undefined;
      if (id !== undefined) this.scopeIds.set(scope, id);
    }
    return id;
  }

  private cacheOf(scope: string, scopeId: number): TokenCache {
    if (scope === '') return this.globalCache;
    let cache = this.recipientCaches.get(scopeId);
    if (!cache) {
      cache = new LruCache(RECIPIENT_CACHE_TOKENS);
      this.recipientCaches.set(scopeId, cache);
    }
    return cache;
  }

  private dropCaches(): void {
    this.globalCache.clear();
    this.recipientCaches.clear();
  }

  /** Sends the pending learns, in messages of about LEARN_BATCH_TOKENS tokens. */
  private flush(): void {
    this.flushScheduled = false;
    while (this.pending.length > 0) {
      let tokens = 0;
      let size = 0;
      while (size < this.pending.length && (size === 0 || tokens + this.pending[size]!.write.tokens.length <= LEARN_BATCH_TOKENS)) {
        tokens += this.pending[size]!.write.tokens.length;
        size++;
      }
      const batch = this.pending.splice(0, size);
      const sent = this.writer.send({ kind: 'bayesLearn', items: batch.map((p) => p.write) }).then(
        (reply) => {
          // This reply is read: no longer pending for the copy (its load can finish in afterWrite).
          this.inFlight.delete(sent);
          this.followOwnWrite(reply.bayesVersion, batch.map((p) => p.write));
          const outcomes = reply.outcomes;
          if (outcomes?.length !== batch.length) {
            const error = new Error(`the writer answered ${outcomes?.length ?? 'no'} learn outcomes for ${batch.length} learns`);
            batch.forEach((p) => p.reject(error));
            return;
          }
          batch.forEach((p, i) => p.resolve(outcomes[i]!));
        },
        (error: Error) => batch.forEach((p) => p.reject(error)),
      );
      this.inFlight.add(sent);
      void sent.finally(() => this.inFlight.delete(sent));
    }
  }

  /**
   * afterWrite, never throwing: the write is committed whatever happens here, so its callers must
   * hear so. On a failure what memory holds can no longer be trusted to follow the store: it goes,
   * and lookups read SQL until the next load (the error is reported as background work that
   * failed, and kept in snapshotStatus().lastError).
   */
  private followOwnWrite(version: number | undefined, learned: BayesLearnWrite[] | undefined): void {
    if (version === undefined) return;
    try {
      this.afterWrite(version, learned);
    } catch (error) {
      this.dropCaches();
      this.cachedVersion = -1;
      this.snapshot.invalidate(error);
    }
  }

  /**
   * After this process's own write, which bumped meta.bayes_version to `version`: when the caches
   * held the version just before, only the written tokens changed, so only they leave the cache;
   * otherwise another process wrote too and the caches go. The global copy follows the same rule
   * (bayes-snapshot.ts), reading the learned tokens again.
   */
  private afterWrite(version: number, learned: BayesLearnWrite[] | undefined): void {
    this.snapshot.afterOwnWrite(version, learned);
    if (version <= this.cachedVersion) return; // a lookup saw this version already and dropped the cache then
    const tokens = learned?.reduce((n, w) => n + w.tokens.length, 0) ?? Infinity;
    if (version === this.cachedVersion + 1 && tokens < TARGETED_INVALIDATION_TOKENS) {
      for (const write of learned!) {
        const scopeId = this.scopeIds.get(write.scope);
        if (scopeId === undefined) continue; // never looked up: nothing of it is cached
        const cache = write.scope === '' ? this.globalCache : this.recipientCaches.get(scopeId);
        for (const token of write.tokens) cache?.delete(token);
      }
    } else {
      this.dropCaches();
    }
    this.cachedVersion = version;
  }
}
