// The SQLite store: greylist and history tables in one WAL database, and the maintenance that
// removes expired rows in small batches, yielding to the event loop between batches.
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DATABASE_FILE, openDatabase, type Db } from './database.js';
import { SqliteGreylistStore } from './greylist.js';
import { SqliteHistoryStore } from './history.js';
import type { MaintenanceLimits, MaintenanceReport, Store } from '../types.js';

const DELETE_BATCH = 2000;

export class SqliteStore implements Store {
  readonly greylist: SqliteGreylistStore;
  readonly history: SqliteHistoryStore;
  private readonly db: Db;

  constructor(
    private readonly directory: string,
    busyTimeoutMs: number,
    onHistoryError: (error: unknown) => void = () => {},
  ) {
    this.db = openDatabase(directory, busyTimeoutMs);
    this.greylist = new SqliteGreylistStore(this.db);
    this.history = new SqliteHistoryStore(this.db, onHistoryError);
  }

  describe(): string {
    return `sqlite ${join(this.directory, DATABASE_FILE)}`;
  }

  async maintenance(limits: MaintenanceLimits): Promise<MaintenanceReport> {
    const started = performance.now();
    const expiredTriplets = await this.deleteInBatches(
      'DELETE FROM greylist_triplets WHERE key IN (SELECT key FROM greylist_triplets WHERE expires_at < ? LIMIT ?)',
      limits.now,
    );
    const expiredClients = await this.deleteInBatches(
      'DELETE FROM greylist_clients WHERE key IN (SELECT key FROM greylist_clients WHERE expires_at < ? LIMIT ?)',
      limits.now,
    );
    await this.history.flush();
    let removedHistory = await this.deleteInBatches(
      'DELETE FROM history WHERE id IN (SELECT id FROM history WHERE time < ? ORDER BY id LIMIT ?)',
      (limits.now - limits.historyMaxAge) * 1000,
    );
    const newest = (this.db.prepare('SELECT max(id) AS id FROM history').get() as { id: number | null }).id ?? 0;
    removedHistory += await this.deleteInBatches(
      'DELETE FROM history WHERE id IN (SELECT id FROM history WHERE id <= ? ORDER BY id LIMIT ?)',
      newest - limits.historyMaxRecords,
    );
    return { expiredTriplets, expiredClients, removedHistory, durationMs: performance.now() - started };
  }

  private async deleteInBatches(sql: string, bound: number): Promise<number> {
    const statement = this.db.prepare(sql);
    let total = 0;
    for (;;) {
      const { changes } = statement.run(bound, DELETE_BATCH);
      total += changes;
      if (changes < DELETE_BATCH) return total;
      await yieldToEventLoop();
    }
  }

  async close(): Promise<void> {
    this.history.close();
    this.db.close();
  }
}
