// The SQLite writer thread: owns the only write connection of the daemon and applies, in order,
// batches of greylist updates and history records (one transaction each), flushes, and the
// maintenance passes that delete expired rows in batches. The main thread only reads.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabaseFile, type Db } from './database.js';
import { likeContains } from './sql.js';
import type { ClientWrite, HistoryTuple, TripletWrite, WriterInit, WriterReply, WriterRequest } from './writer-protocol.js';
import type { MaintenanceLimits, MaintenanceReport } from '../types.js';

const DELETE_BATCH = 2000;

class Writer {
  private readonly putTriplet;
  private readonly deleteTriplet;
  private readonly putClient;
  private readonly deleteClient;
  private readonly insertHistory;
  private readonly commitBatch;
  private readonly bumpFlushGeneration;

  constructor(private readonly db: Db) {
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
    this.insertHistory = db.prepare(
      `INSERT INTO history (time, node, protocol, stage, client_address, client_name, helo, sender, recipients, queue_id,
         message_id, instance, action, decided_by, reason, reply, score, symbols, detail, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Readers in other processes (the daemon) watch this counter to drop what they cached.
    this.bumpFlushGeneration = db.prepare(
      `INSERT INTO meta (key, value) VALUES ('flush_generation', '1')
       ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`,
    );
    this.commitBatch = db.transaction((triplets: TripletWrite[], clients: ClientWrite[], history: HistoryTuple[]) => {
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
      for (const t of history) {
        const [time, node, protocol, stage, clientAddress, clientName, helo, sender, recipients, queueId, messageId, instance,
          action, decidedBy, reason, reply, score, symbols, headers, facts, errors, durationMs] = t;
        this.insertHistory.run(time, node, protocol, stage, clientAddress, clientName, helo, sender, JSON.stringify(recipients),
          queueId, messageId, instance, action, decidedBy, reason, reply, score, JSON.stringify(symbols),
          JSON.stringify({ headers, facts, errors }), durationMs);
      }
    });
  }

  handle(request: WriterRequest): WriterReply {
    switch (request.kind) {
      case 'commit':
        this.commitBatch(request.triplets, request.clients, request.history);
        return { id: request.id, ok: true };
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
      case 'flushClients': {
        const flush = this.db.transaction(() => {
          this.bumpFlushGeneration.run();
          return this.db.prepare('DELETE FROM greylist_clients').run().changes;
        });
        return { id: request.id, ok: true, changes: flush() };
      }
      case 'maintenance':
        return { id: request.id, ok: true, report: this.maintenance(request.limits) };
    }
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
    let removedHistory = this.deleteInBatches(
      'DELETE FROM history WHERE id IN (SELECT id FROM history WHERE time < ? ORDER BY id LIMIT ?)',
      (limits.now - limits.historyMaxAge) * 1000,
    );
    const newest = (this.db.prepare('SELECT max(id) AS id FROM history').get() as { id: number | null }).id ?? 0;
    removedHistory += this.deleteInBatches(
      'DELETE FROM history WHERE id IN (SELECT id FROM history WHERE id <= ? ORDER BY id LIMIT ?)',
      newest - limits.historyMaxRecords,
    );
    return { expiredTriplets, expiredClients, removedHistory, durationMs: performance.now() - started };
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
