// The Bayesian filter's writes, run on the SQLite writer thread (writer-worker.ts): learning and
// unlearning messages (idempotent by digest: a message learned twice counts once, learned as the
// other class it moves), adding imported counts and copied digests (`store copy`), and expiring
// tokens not learned for a while. Each token's new counts are computed here from the stored ones,
// so counts never go below 0, a token left at 0/0 is deleted, and bayes_scopes.tokens stays equal
// to the scope's token rows. Every transaction that changes a count bumps meta.bayes_version,
// which readers watch to drop the counts they cached (bayes.ts).
import type { Db } from './database.js';
import { BAYES_VERSION } from './rows.js';
import type { BayesDigestRow, BayesImportRow, BayesLearnWrite } from './writer-protocol.js';
import type { BayesClass, LearnOutcome } from '../types.js';

/** Expiry scans the tokens (and learned messages) in key order, this many rows per transaction. */
const EXPIRY_CHUNK_ROWS = 5000;

interface ClassCounts {
  spam: number;
  ham: number;
}

/** The change of `delta` messages (1 or -1) of one class, as spam and ham deltas. */
const classDelta = (kind: BayesClass, delta: number): ClassCounts => (kind === 'spam' ? { spam: delta, ham: 0 } : { spam: 0, ham: delta });

export class BayesWriter {
  private readonly createScope;
  private readonly getScopeId;
  private readonly addToScope;
  private readonly getMessage;
  private readonly putMessage;
  private readonly deleteMessage;
  private readonly getToken;
  private readonly insertToken;
  private readonly updateToken;
  private readonly deleteToken;
  private readonly addCounts;
  /** Bumps meta.bayes_version and returns its new value. */
  private readonly bumpVersion;
  private readonly learnBatch;
  private readonly importBatch;
  private readonly importDigestBatch;

  constructor(private readonly db: Db) {
    this.createScope = db.prepare('INSERT INTO bayes_scopes (scope) VALUES (?) ON CONFLICT(scope) DO NOTHING');
    this.getScopeId = db.prepare('SELECT id FROM bayes_scopes WHERE scope = ?').pluck();
    this.addToScope = db.prepare(
      `UPDATE bayes_scopes SET spam_messages = max(0, spam_messages + ?), ham_messages = max(0, ham_messages + ?),
         tokens = tokens + ? WHERE id = ?`,
    );
    this.getMessage = db.prepare('SELECT class FROM bayes_messages WHERE scope_id = ? AND digest = ?').pluck();
    this.putMessage = db.prepare(
      `INSERT INTO bayes_messages (scope_id, digest, class, learned_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(scope_id, digest) DO UPDATE SET class = excluded.class, learned_at = excluded.learned_at`,
    );
    this.deleteMessage = db.prepare('DELETE FROM bayes_messages WHERE scope_id = ? AND digest = ?');
    this.getToken = db.prepare('SELECT spam, ham FROM bayes_tokens WHERE scope_id = ? AND token = ?');
    this.insertToken = db.prepare('INSERT INTO bayes_tokens (scope_id, token, spam, ham, last_learned) VALUES (?, ?, ?, ?, ?)');
    this.updateToken = db.prepare(
      'UPDATE bayes_tokens SET spam = ?, ham = ?, last_learned = max(last_learned, ?) WHERE scope_id = ? AND token = ?',
    );
    this.deleteToken = db.prepare('DELETE FROM bayes_tokens WHERE scope_id = ? AND token = ?');
    this.addCounts = db
      .prepare(
        `INSERT INTO bayes_tokens (scope_id, token, spam, ham, last_learned) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(scope_id, token) DO UPDATE SET spam = spam + excluded.spam, ham = ham + excluded.ham,
           last_learned = max(last_learned, excluded.last_learned)
         RETURNING spam + ham`,
      )
      .pluck();
    this.bumpVersion = db
      .prepare(
        `INSERT INTO meta (key, value) VALUES ('${BAYES_VERSION}', '1')
         ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)`,
      )
      .pluck();
    this.learnBatch = db.transaction((items: BayesLearnWrite[]): { outcomes: LearnOutcome[]; version: number | undefined } => {
      const outcomes = items.map((item) => this.learnOne(item));
      const changed = outcomes.some((o) => o !== 'already' && o !== 'not-learned');
      return { outcomes, version: changed ? (this.bumpVersion.get() as number) : undefined };
    });
    this.importBatch = db.transaction((scope: string, rows: BayesImportRow[], messages: { spam: number; ham: number }): number => {
      const scopeId = this.scopeId(scope, true)!;
      let added = 0;
      for (const [token, spam, ham, lastSeen] of rows) added += this.addToToken(scopeId, token, spam, ham, lastSeen);
      this.addToScope.run(messages.spam, messages.ham, added, scopeId);
      return this.bumpVersion.get() as number;
    });
    this.importDigestBatch = db.transaction((scope: string, digests: BayesDigestRow[], learnedAt: number): number => {
      const scopeId = this.scopeId(scope, true)!;
      for (const [digest, kind] of digests) this.putMessage.run(scopeId, digest, kind, learnedAt);
      return digests.length;
    });
  }

  /**
   * Learns or unlearns messages in one transaction; returns each one's outcome and the version this
   * transaction bumped meta.bayes_version to (undefined when it changed nothing).
   */
  learn(items: BayesLearnWrite[]): { outcomes: LearnOutcome[]; version: number | undefined } {
    return this.learnBatch(items);
  }

  /** Adds imported counts (and message counts) in one transaction; returns the version it bumped meta.bayes_version to. */
  import(scope: string, rows: BayesImportRow[], messages: { spam: number; ham: number }): number {
    return this.importBatch(scope, rows, messages);
  }

  /**
   * Stores learned messages' digests as they are (`store copy`, after the counts were imported), in
   * one transaction; no version bump, since no token count changes. Returns how many were stored.
   */
  importDigests(scope: string, digests: BayesDigestRow[], learnedAt: number): number {
    return this.importDigestBatch(scope, digests, learnedAt);
  }

  /**
   * Deletes tokens last learned before `before` (seconds since the epoch), and the learned-message
   * digests as old, so that such a message can be learned again. Runs in short transactions; returns
   * how many tokens went.
   */
  expire(before: number): number {
    const removedTokens = this.expireInChunks('bayes_tokens', 'token', 'last_learned', before, (scopeId, removed) =>
      this.addToScope.run(0, 0, -removed, scopeId),
    );
    this.expireInChunks('bayes_messages', 'digest', 'learned_at', before, () => {});
    return removedTokens;
  }

  private scopeId(scope: string, create: boolean): number | undefined {
    if (create) this.createScope.run(scope);
    return this.getScopeId.get(scope) as number | undefined;
  }

  private learnOne(item: BayesLearnWrite): LearnOutcome {
    const scopeId = this.scopeId(item.scope, !item.unlearn);
    if (scopeId === undefined) return 'not-learned';
    const learnedAs = this.getMessage.get(scopeId, item.digest) as BayesClass | undefined;
    if (item.unlearn) {
      if (learnedAs === undefined) return 'not-learned';
      this.applyToTokens(scopeId, item.tokens, classDelta(learnedAs, -1), 0);
      this.deleteMessage.run(scopeId, item.digest);
      return 'unlearned';
    }
    if (learnedAs === item.kind) return 'already';
    const added = classDelta(item.kind, 1);
    if (learnedAs !== undefined) {
      // Relearned as the other class: one pass moves the counts from the old class to the new one.
      const removed = classDelta(learnedAs, -1);
      this.applyToTokens(scopeId, item.tokens, { spam: added.spam + removed.spam, ham: added.ham + removed.ham }, item.now);
    } else {
      this.applyToTokens(scopeId, item.tokens, added, item.now);
    }
    this.putMessage.run(scopeId, item.digest, item.kind, item.now);
    return learnedAs === undefined ? 'learned' : 'relearned';
  }

  /** Adds `delta` to each token's counts and to the scope's message counts; `learnedAt` 0 leaves the tokens' times. */
  private applyToTokens(scopeId: number, tokens: readonly string[], delta: ClassCounts, learnedAt: number): void {
    let added = 0;
    for (const token of tokens) added += this.addToToken(scopeId, token, delta.spam, delta.ham, learnedAt);
    this.addToScope.run(delta.spam, delta.ham, added, scopeId);
  }

  /** Adds to one token's counts (never below 0; 0/0 deletes it); returns the change in token rows (1, 0 or -1). */
  private addToToken(scopeId: number, token: string, spamDelta: number, hamDelta: number, learnedAt: number): number {
    if (spamDelta >= 0 && hamDelta >= 0) {
      // Only additions (learning, importing): one statement; a stored token had at least 1, so a
      // total equal to what was added means the row is new.
      if (spamDelta + hamDelta === 0) return 0;
      return this.addCounts.get(scopeId, token, spamDelta, hamDelta, learnedAt) === spamDelta + hamDelta ? 1 : 0;
    }
    const stored = this.getToken.get(scopeId, token) as ClassCounts | undefined;
    const spam = Math.max(0, (stored?.spam ?? 0) + spamDelta);
    const ham = Math.max(0, (stored?.ham ?? 0) + hamDelta);
    if (spam === 0 && ham === 0) {
      if (!stored) return 0;
      this.deleteToken.run(scopeId, token);
      return -1;
    }
    if (stored) {
      this.updateToken.run(spam, ham, learnedAt, scopeId, token);
      return 0;
    }
    this.insertToken.run(scopeId, token, spam, ham, learnedAt);
    return 1;
  }

  /**
   * Walks a table keyed by (scope_id, key) in key order, EXPIRY_CHUNK_ROWS rows per transaction,
   * deleting rows whose `timeColumn` is before `before`; `onRemoved` gets each scope's count within
   * the same transaction. No index on the time is needed (one would repeat every key and be
   * rewritten at every learn). Returns how many rows went.
   */
  private expireInChunks(
    table: string,
    key: string,
    timeColumn: string,
    before: number,
    onRemoved: (scopeId: number, removed: number) => void,
  ): number {
    const chunkEnd = this.db
      .prepare(`SELECT scope_id, ${key} AS key FROM ${table} WHERE (scope_id, ${key}) > (?, ?) ORDER BY scope_id, ${key} LIMIT 1 OFFSET ?`)
      .raw();
    const deleteUpTo = this.db
      .prepare(`DELETE FROM ${table} WHERE (scope_id, ${key}) > (?, ?) AND (scope_id, ${key}) <= (?, ?) AND ${timeColumn} < ? RETURNING scope_id`)
      .pluck();
    const deleteRest = this.db.prepare(`DELETE FROM ${table} WHERE (scope_id, ${key}) > (?, ?) AND ${timeColumn} < ? RETURNING scope_id`).pluck();
    let total = 0;
    let after: [number, string] = [-1, ''];
    const chunk = this.db.transaction((): [number, string] | undefined => {
      const end = chunkEnd.get(...after, EXPIRY_CHUNK_ROWS - 1) as [number, string] | undefined;
      const removed = (end ? deleteUpTo.all(...after, ...end, before) : deleteRest.all(...after, before)) as number[];
      if (removed.length > 0) {
        const perScope = new Map<number, number>();
        for (const scopeId of removed) perScope.set(scopeId, (perScope.get(scopeId) ?? 0) + 1);
        for (const [scopeId, count] of perScope) onRemoved(scopeId, count);
        this.bumpVersion.get();
        total += removed.length;
      }
      return end;
    });
    for (;;) {
      const end = chunk();
      if (!end) return total;
      after = end;
    }
  }
}
