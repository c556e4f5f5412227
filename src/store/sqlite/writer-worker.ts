// The SQLite writer thread: owns the only write connection of the daemon and applies, in order,
// batches of greylist updates, strikes and history records (one transaction each; history-writer.ts
// adds the records' symbol and recipient rows and statistics rollups), flushes and single deletes,
// list, ban and recipient changes (each bumping its version counter in the same transaction), Bayes
// learning and imports (bayes-writer.ts), and the maintenance passes that delete expired rows in
// batches. The main thread only reads.
import { parentPort, workerData } from 'node:worker_threads';
import { BayesWriter } from './bayes-writer.js';
import { openDatabaseFile, type Db } from './database.js';
import { HistoryWriter } from './history-writer.js';
import { likeContains } from './sql.js';
import type { ClientWrite, HistoryTuple, ListEntryWrite, RecipientWrite, StrikeWrite, TripletWrite, WriterInit, WriterReply, WriterRequest } from './writer-protocol.js';
import type { Ban, GreylistStats, ListEntry, ListSelector, MaintenanceLimits, MaintenanceReport, RecipientEntry } from '../types.js';
import {
  BANS_VERSION, banFromRow, LISTS_VERSION, listEntryFromRow, mergeBan, RECIPIENTS_VERSION, recipientFromRow,
  type BanDbRow, type ListEntryDbRow, type RecipientDbRow,
} from './rows.js';

const DELETE_BATCH = 2000;
/** How long written history records may wait for the search tables, in ms (reads index at once). */
const HISTORY_INDEX_DELAY_MS = 1000;

class Writer {
  private readonly putTriplet;
  private readonly deleteTriplet;
  private readonly putClient;
  private readonly deleteClient;
  private readonly commitBatch;
  private readonly bumpFlushGeneration;
  private readonly bumpVersion;
  private readonly putStrike;
  private readonly deleteStrike;
  private readonly findListEntry;
  private readonly getListEntry;
  private readonly insertListEntry;
  private readonly updateListEntry;
  private readonly getBan;
  private readonly putBan;
  private readonly findRecipient;
  private readonly getRecipient;
  private readonly countTriplets;
  private readonly countClients;
  private readonly countHistory;
  private readonly insertRecipient;
  private readonly updateRecipient;
  private readonly bayes: BayesWriter;
  private readonly history: HistoryWriter;
  private historyIndexTimer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {
    this.bayes = new BayesWriter(db);
    this.history = new HistoryWriter(db);
    this.putTriplet = db.prepare(
      `INSERT INTO greylist_triplets (key, client_net, sender, recipient, first_seen, last_seen, attempts, passed_at, expires_at)
       VALUES (@key, @clientNet, @sender, @recipient, @firstSeen, @lastSeen, @attempts, @passedAt, @expiresAt)
       ON CONFLICT(key) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
         attempts = excluded.attempts, passed_at = excluded.passed_at, expires_at = excluded.expires_at`,
    );
    this.deleteTriplet = db.prepare('DELETE FROM greylist_triplets WHERE key = ?');
    this.putClient = db.prepare(
      `INSERT INTO greylist_clients (key, passes, last_seen, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET passes = excluded.passes, last_seen = excluded.last_seen, expires_at = excluded.expires_at`,
    );
    this.deleteClient = db.prepare('DELETE FROM greylist_clients WHERE key = ?');
    // Readers in other processes (the daemon) watch this counter to drop what they cached.
    this.bumpFlushGeneration = db.prepare(
      `INSERT INTO meta (key, value) VALUES ('flush_generation', '1')
       ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
    );
    // The list and ban matchers of every process watch these counters (see Versioned in ../types.ts).
    this.bumpVersion = db.prepare(
      `INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
    );
    this.putStrike = db.prepare(
      `INSERT INTO strikes (address, reason, times, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(address, reason) DO UPDATE SET times = excluded.times, expires_at = excluded.expires_at`,
    );
    this.deleteStrike = db.prepare('DELETE FROM strikes WHERE address = ? AND reason = ?');
    this.findListEntry = db.prepare('SELECT id FROM list_entries WHERE kind = ? AND value = ? AND scope = ?');
    this.getListEntry = db.prepare('SELECT * FROM list_entries WHERE id = ?');
    this.insertListEntry = db.prepare(
      `INSERT INTO list_entries (kind, type, value, scope, reason, comment, added_by, created_at, expires_at)
       VALUES (@kind, @type, @value, @scope, @reason, @comment, @addedBy, @createdAt, @expiresAt)`,
    );
    this.updateListEntry = db.prepare(
      `UPDATE list_entries SET reason = @reason, comment = @comment, added_by = @addedBy, created_at = @createdAt,
         expires_at = @expiresAt WHERE id = @id`,
    );
    this.getBan = db.prepare('SELECT * FROM bans WHERE network = ?');
    this.putBan = db.prepare(
      `INSERT INTO bans (network, reason, source, created_at, expires_at) VALUES (@network, @reason, @source, @createdAt, @expiresAt)
       ON CONFLICT(network) DO UPDATE SET reason = excluded.reason, source = excluded.source,
         created_at = excluded.created_at, expires_at = excluded.expires_at`,
    );
    this.findRecipient = db.prepare('SELECT id FROM recipients WHERE address = ?');
    this.getRecipient = db.prepare('SELECT * FROM recipients WHERE id = ?');
    this.countTriplets = db.prepare('SELECT count(*) AS total, coalesce(sum(passed_at = 0), 0) AS waiting FROM greylist_triplets');
    this.countClients = db.prepare('SELECT count(*) AS total, coalesce(sum(passes >= ?), 0) AS allowed FROM greylist_clients');
    this.countHistory = db.prepare('SELECT count(*) AS n FROM history');
    this.insertRecipient = db.prepare(
      `INSERT INTO recipients (address, domain, comment, added_by, created_at) VALUES (@address, @domain, @comment, @addedBy, @createdAt)`,
    );
    this.updateRecipient = db.prepare('UPDATE recipients SET comment = @comment, added_by = @addedBy, created_at = @createdAt WHERE id = @id');
    this.commitBatch = db.transaction((triplets: TripletWrite[], clients: ClientWrite[], strikes: StrikeWrite[], history: HistoryTuple[]) => {
      for (const { key, value } of triplets) {
        if (value === null) this.deleteTriplet.run(key);
        else
          this.putTriplet.run({
            key,
            clientNet: value.labels?.clientNet ?? null,
            sender: value.labels?.sender ?? null,
            recipient: value.labels?.recipient ?? null,
            ...value.state,
            expiresAt: value.expiresAt,
          });
      }
      for (const { key, value } of clients) {
        if (value === null) this.deleteClient.run(key);
        else this.putClient.run(key, value.state.passes, value.state.lastSeen, value.expiresAt);
      }
      for (const { address, reason, value } of strikes) {
        if (value === null) this.deleteStrike.run(address, reason);
        else this.putStrike.run(address, reason, JSON.stringify(value.times), value.expiresAt);
      }
      this.history.insert(history);
    });
  }

  handle(request: WriterRequest): WriterReply {
    switch (request.kind) {
      case 'commit':
        this.commitBatch(request.triplets, request.clients, request.strikes, request.history);
        if (request.history.length > 0) this.indexHistorySoon();
        return { id: request.id, ok: true };
      case 'historyIndex':
        return { id: request.id, ok: true, changes: this.indexHistory() };
      case 'listsPut':
        return { id: request.id, ok: true, entries: this.db.transaction(() => this.putListEntries(request.entries))() };
      case 'listsRemove':
        return { id: request.id, ok: true, changes: this.db.transaction(() => this.removeListEntry(request.selector))() };
      case 'recipientsAdd':
        return { id: request.id, ok: true, recipients: this.db.transaction(() => this.putRecipients(request.entries))() };
      case 'recipientsRemove': {
        const remove = this.db.transaction(() => {
          const changes = this.db.prepare('DELETE FROM recipients WHERE address = ?').run(request.address).changes;
          if (changes > 0) this.bumpVersion.run(RECIPIENTS_VERSION);
          return changes;
        });
        return { id: request.id, ok: true, changes: remove() };
      }
      case 'bansPut':
        return { id: request.id, ok: true, ban: this.db.transaction(() => this.putBanMerged(request.ban))() };
      case 'bansLift': {
        const lift = this.db.transaction(() => {
          const changes = this.db.prepare('DELETE FROM bans WHERE network = ?').run(request.network).changes;
          this.db.prepare('DELETE FROM strikes WHERE address = ?').run(request.network);
          if (changes > 0) this.bumpVersion.run(BANS_VERSION);
          return changes;
        });
        return { id: request.id, ok: true, changes: lift() };
      }
      case 'strikesClear':
        return { id: request.id, ok: true, changes: this.db.prepare('DELETE FROM strikes WHERE address = ?').run(request.address).changes };
      case 'flushTriplets': {
        const like = request.search ? likeContains(request.search) : undefined;
        const flush = this.db.transaction(() => {
          this.bumpFlushGeneration.run();
          if (!like) return this.db.prepare('DELETE FROM greylist_triplets').run().changes;
          return this.db
            .prepare("DELETE FROM greylist_triplets WHERE client_net LIKE ? ESCAPE '\\' OR sender LIKE ? ESCAPE '\\' OR recipient LIKE ? ESCAPE '\\' OR key = ?")
            .run(like, like, like, request.search).changes;
        });
        return { id: request.id, ok: true, changes: flush() };
      }
      case 'deleteTriplet': {
        const remove = this.db.transaction(() => {
          const changes = this.deleteTriplet.run(request.key).changes;
          // Other processes (the daemon, when a CLI deletes) drop their cached triplets.
          if (changes > 0) this.bumpFlushGeneration.run();
          return changes;
        });
        return { id: request.id, ok: true, changes: remove() };
      }
      case 'flushClients': {
        const flush = this.db.transaction(() => {
          this.bumpFlushGeneration.run();
          return this.db.prepare('DELETE FROM greylist_clients').run().changes;
        });
        return { id: request.id, ok: true, changes: flush() };
      }
      case 'bayesLearn': {
        const { outcomes, version } = this.bayes.learn(request.items);
        return { id: request.id, ok: true, outcomes, bayesVersion: version };
      }
      case 'bayesImport':
        return { id: request.id, ok: true, bayesVersion: this.bayes.import(request.scope, request.rows, request.messages) };
      case 'bayesImportDigests':
        return { id: request.id, ok: true, changes: this.bayes.importDigests(request.scope, request.digests, request.learnedAt) };
      case 'maintenance':
        return { id: request.id, ok: true, report: this.maintenance(request.limits) };
      case 'greylistStats':
        return { id: request.id, ok: true, greylistStats: this.greylistStats(request.autoAllowThreshold) };
      case 'historyCount':
        return { id: request.id, ok: true, count: (this.countHistory.get() as { n: number }).n };
    }
  }

  /** Counts of the whole greylist (a scan of both tables: see WriterRequest 'greylistStats'). */
  private greylistStats(autoAllowThreshold: number): GreylistStats {
    const triplets = this.countTriplets.get() as { total: number; waiting: number };
    const clients = this.countClients.get(autoAllowThreshold > 0 ? autoAllowThreshold : Number.MAX_SAFE_INTEGER) as { total: number; allowed: number };
    return { triplets: triplets.total, waiting: triplets.waiting, passed: triplets.total - triplets.waiting, clients: clients.total, autoAllowed: clients.allowed };
  }

  private putListEntries(entries: ListEntryWrite[]): { entry: ListEntry; created: boolean }[] {
    const stored = entries.map((entry) => {
      const existing = this.findListEntry.get(entry.kind, entry.value, entry.scope) as { id: number } | undefined;
      let id: number;
      if (existing) {
        id = existing.id;
        this.updateListEntry.run({ ...entry, id });
      } else {
        id = Number(this.insertListEntry.run(entry).lastInsertRowid);
      }
      return { entry: listEntryFromRow(this.getListEntry.get(id) as ListEntryDbRow), created: !existing };
    });
    if (stored.length > 0) this.bumpVersion.run(LISTS_VERSION);
    return stored;
  }

  private removeListEntry(selector: ListSelector): number {
    const changes =
      'id' in selector
        ? this.db.prepare('DELETE FROM list_entries WHERE id = ? AND kind = ?').run(selector.id, selector.kind).changes
        : this.db.prepare('DELETE FROM list_entries WHERE kind = ? AND value = ? AND scope = ?').run(selector.kind, selector.value, selector.scope).changes;
    if (changes > 0) this.bumpVersion.run(LISTS_VERSION);
    return changes;
  }

  private putRecipients(entries: RecipientWrite[]): { entry: RecipientEntry; created: boolean }[] {
    const stored = entries.map((entry) => {
      const existing = this.findRecipient.get(entry.address) as { id: number } | undefined;
      let id: number;
      if (existing) {
        id = existing.id;
        this.updateRecipient.run({ comment: entry.comment, addedBy: entry.addedBy, createdAt: entry.createdAt, id });
      } else {
        id = Number(this.insertRecipient.run(entry).lastInsertRowid);
      }
      return { entry: recipientFromRow(this.getRecipient.get(id) as RecipientDbRow), created: !existing };
    });
    if (stored.length > 0) this.bumpVersion.run(RECIPIENTS_VERSION);
    return stored;
  }

  private putBanMerged(ban: Ban): Ban {
    const existing = this.getBan.get(ban.network) as BanDbRow | undefined;
    const merged = mergeBan(existing ? banFromRow(existing) : undefined, ban);
    this.putBan.run(merged);
    this.bumpVersion.run(BANS_VERSION);
    return merged;
  }

  private maintenance(limits: MaintenanceLimits): MaintenanceReport {
    const started = performance.now();
    const expiredTriplets = this.deleteInBatches(
      'DELETE FROM greylist_triplets WHERE key IN (SELECT key FROM greylist_triplets WHERE expires_at < ? LIMIT ?)',
      limits.now,
    );
    const expiredClients = this.deleteInBatches(
      'DELETE FROM greylist_clients WHERE key IN (SELECT key FROM greylist_clients WHERE expires_at < ? LIMIT ?)',
      limits.now,
    );
    const removedHistory = this.history.maintain(limits.now, limits.historyMaxAge, limits.historyMaxRecords);
    // An expired list entry or ban already matches nothing: deleting it changes no version.
    const expiredListEntries = this.deleteInBatches(
      'DELETE FROM list_entries WHERE id IN (SELECT id FROM list_entries WHERE expires_at > 0 AND expires_at <= ? LIMIT ?)',
      limits.now,
    );
    const expiredBans = this.deleteInBatches(
      'DELETE FROM bans WHERE network IN (SELECT network FROM bans WHERE expires_at > 0 AND expires_at <= ? LIMIT ?)',
      limits.now,
    );
    const expiredStrikes = this.deleteInBatches(
      'DELETE FROM strikes WHERE (address, reason) IN (SELECT address, reason FROM strikes WHERE expires_at <= ? LIMIT ?)',
      limits.now,
    );
    const expiredBayesTokens = limits.bayesTokenMaxAge ? this.bayes.expire(limits.now - limits.bayesTokenMaxAge) : 0;
    return {
      expiredTriplets,
      expiredClients,
      removedHistory,
      expiredListEntries,
      expiredBans,
      expiredStrikes,
      expiredBayesTokens,
      durationMs: performance.now() - started,
    };
  }

  /** Cancels the pending history indexing (the thread is closing). */
  stop(): void {
    clearTimeout(this.historyIndexTimer);
  }

  /** Schedules the bulk indexing of the history records just written (once per HISTORY_INDEX_DELAY_MS). */
  private indexHistorySoon(): void {
    this.historyIndexTimer ??= setTimeout(() => {
      try {
        this.indexHistory();
      } catch (error) {
        // The records stay unindexed until the next attempt (the next write or read): say so.
        port.postMessage({ id: -1, ok: false, error: `indexing the history failed: ${error instanceof Error ? error.message : String(error)}` } satisfies WriterReply);
      }
    }, HISTORY_INDEX_DELAY_MS);
  }

  private indexHistory(): number {
    clearTimeout(this.historyIndexTimer);
    this.historyIndexTimer = undefined;
    return this.history.indexPending();
  }

  /** Deletes in short transactions, so a CLI writer is never locked out for long. */
  private deleteInBatches(sql: string, bound: number): number {
    const statement = this.db.prepare(sql);
    let total = 0;
    for (;;) {
      const { changes } = statement.run(bound, DELETE_BATCH);
      total += changes;
      if (changes < DELETE_BATCH) return total;
    }
  }
}

const init = workerData as WriterInit;
const port = parentPort!;
const db = openDatabaseFile(init.databasePath, init.busyTimeoutMs);
const writer = new Writer(db);
port.on('message', (message: string) => {
  if (message === 'close') {
    writer.stop();
    db.close();
    port.close();
    return;
  }
  const request = JSON.parse(message) as WriterRequest;
  let reply: WriterReply;
  try {
    reply = writer.handle(request);
  } catch (error) {
    reply = { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
