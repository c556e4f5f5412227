// The SQLite store: greylist, history, allow/block list, ban, strike, recipient and Bayes tables in
// one WAL database. The main thread reads through its own connection; every write (batched updates,
// history, flushes, list and recipient changes, Bayes learning, maintenance) goes to the writer
// thread, so no commit, checkpoint or maintenance pass ever blocks a request.
import { join } from 'node:path';
import { SqliteBayesStore } from './bayes.js';
import { CommitQueue } from './commit-queue.js';
import { DATABASE_FILE, openDatabase, type Db } from './database.js';
import { SqliteGreylistStore } from './greylist.js';
import { SqliteHistoryStore } from './history.js';
import { SqliteBanStore } from './bans.js';
import { SqliteListStore } from './lists.js';
import { SqliteRecipientStore } from './recipients.js';
import { SqliteStrikeStore } from './strikes.js';
import { SqliteWriter } from './writer.js';
import type { MaintenanceLimits, MaintenanceReport, Store, StoreStatus } from '../types.js';

export class SqliteStore implements Store {
  readonly greylist: SqliteGreylistStore;
  readonly history: SqliteHistoryStore;
  readonly lists: SqliteListStore;
  readonly bans: SqliteBanStore;
  readonly strikes: SqliteStrikeStore;
  readonly recipients: SqliteRecipientStore;
  readonly bayes: SqliteBayesStore;
  private readonly db: Db;
  private readonly writer: SqliteWriter;
  private readonly queue: CommitQueue;
  private readonly openedAt = Date.now();

  constructor(
    private readonly directory: string,
    busyTimeoutMs: number,
    onBackgroundError: (error: unknown) => void = () => {},
  ) {
    this.db = openDatabase(directory, busyTimeoutMs);
    this.writer = new SqliteWriter({ databasePath: join(directory, DATABASE_FILE), busyTimeoutMs }, onBackgroundError);
    this.queue = new CommitQueue(this.writer, onBackgroundError);
    this.greylist = new SqliteGreylistStore(this.db, this.queue, this.writer);
    this.history = new SqliteHistoryStore(this.db, this.queue, this.writer);
    this.lists = new SqliteListStore(this.db, this.writer);
    this.bans = new SqliteBanStore(this.db, this.queue, this.writer);
    this.strikes = new SqliteStrikeStore(this.db, this.queue, this.writer);
    this.recipients = new SqliteRecipientStore(this.db, this.writer);
    this.bayes = new SqliteBayesStore(this.db, this.writer, { onBackgroundError });
  }

  /** An embedded database is always there. */
  status(): StoreStatus {
    return { available: true, since: this.openedAt };
  }

  describe(): string {
    return `sqlite ${join(this.directory, DATABASE_FILE)}`;
  }

  async maintenance(limits: MaintenanceLimits): Promise<MaintenanceReport> {
    await Promise.all([this.queue.sync(), this.bayes.sync()]);
    const reply = await this.writer.send({ kind: 'maintenance', limits });
    if (reply.report!.expiredClients > 0) this.greylist.reloadKnownClients();
    return reply.report!;
  }

  async close(): Promise<void> {
    this.greylist.stop();
    this.bayes.stop();
    await Promise.all([this.queue.sync(), this.bayes.sync()]);
    await this.writer.close();
    this.db.close();
  }
}
