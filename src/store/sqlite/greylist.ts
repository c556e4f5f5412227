// Greylist triplets and auto-allow clients in SQLite. An update reads the entry (from the writes
// not yet committed, else with one indexed SELECT on the main thread's read connection), applies
// its pure update function and queues the result for the writer thread (see commit-queue.ts).
// Recently read or written entries are cached in memory (LRU); a flush made by another process (a
// CLI command) bumps meta.flush_generation, which is checked every second and clears the caches.
// Each read-modify-write is atomic within the process because it runs synchronously; a crash loses
// at most the updates of the last few milliseconds. WAL lets a CLI command work on the same file at once.
import { LruCache } from '../../core/lru.js';
import type { Db } from './database.js';
import type { CommitQueue } from './commit-queue.js';
import { likeContains } from './sql.js';
import type { SqliteWriter } from './writer.js';
import type {
  ClientRow,
  ClientState,
  ClientThenTriplet,
  ClientUpdate,
  GreylistStats,
  GreylistStore,
  TripletFilter,
  TripletLabels,
  TripletRow,
  TripletState,
  TripletUpdate,
  Update,
} from '../types.js';

interface TripletDbRow {
  key: string;
  client_net: string | null;
  sender: string | null;
  recipient: string | null;
  first_seen: number;
  last_seen: number;
  attempts: number;
  passed_at: number;
  expires_at: number;
}

function toTriplet(row: TripletDbRow): TripletRow {
  const labels = row.client_net !== null ? { clientNet: row.client_net, sender: row.sender ?? '', recipient: row.recipient ?? '' } : undefined;
  return { key: row.key, labels, firstSeen: row.first_seen, lastSeen: row.last_seen, attempts: row.attempts, passedAt: row.passed_at, expiresAt: row.expires_at };
}

/** Entries kept in memory, triplets and clients each: 20,000 to 40,000 of about 200 bytes (under 8 MB each). */
const CACHE_ENTRIES = 20_000;
/** How often another process's flush is looked for, in ms. */
const FLUSH_CHECK_MS = 1000;

export class SqliteGreylistStore implements GreylistStore {
  private readonly getTriplet;
  private readonly getClient;
  private readonly getFlushGeneration;
  private flushGeneration: string;
  private readonly flushCheck: NodeJS.Timeout;
  private readonly triplets = new LruCache<string, TripletState>(CACHE_ENTRIES);
  private readonly clients = new LruCache<string, ClientState>(CACHE_ENTRIES);
  /**
   * Keys present in greylist_clients. Only this process adds clients (a CLI only deletes), so a key
   * absent here is absent from the table and the lookup needs no SELECT; a stale key only costs one.
   */
  private knownClients = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly queue: CommitQueue,
    private readonly writer: SqliteWriter,
  ) {
    this.getTriplet = db.prepare('SELECT first_seen, last_seen, attempts, passed_at FROM greylist_triplets WHERE key = ?');
    this.getClient = db.prepare('SELECT passes, last_seen FROM greylist_clients WHERE key = ?');
    this.getFlushGeneration = db.prepare("SELECT value FROM meta WHERE key = 'flush_generation'");
    this.flushGeneration = this.readFlushGeneration();
    this.reloadKnownClients();
    this.flushCheck = setInterval(() => this.checkForeignFlush(), FLUSH_CHECK_MS);
    this.flushCheck.unref();
  }

  private readFlushGeneration(): string {
    return (this.getFlushGeneration.get() as { value: string } | undefined)?.value ?? '0';
  }

  /** Drops the caches when a flush happened (here or in another process) since the last look. */
  checkForeignFlush(): void {
    try {
      const generation = this.readFlushGeneration();
      if (generation === this.flushGeneration) return;
      this.flushGeneration = generation;
      this.dropCaches();
    } catch {
      // the store is closing or busy: look again next time
    }
  }

  private dropCaches(): void {
    this.triplets.clear();
    this.clients.clear();
    this.reloadKnownClients();
  }

  /** Stops the periodic flush check (the store is closing). */
  stop(): void {
    clearInterval(this.flushCheck);
  }

  /** Re-reads the keys of greylist_clients (at start, and after maintenance removed some). */
  reloadKnownClients(): void {
    const keys = new Set<string>();
    for (const row of this.db.prepare('SELECT key FROM greylist_clients').iterate() as Iterable<{ key: string }>) keys.add(row.key);
    this.knownClients = keys;
  }

  private readTriplet(key: string): TripletState | undefined {
    const queued = this.queue.triplet(key);
    if (queued !== undefined) return queued?.state;
    const cached = this.triplets.get(key);
    if (cached) return cached;
    const row = this.getTriplet.get(key) as Omit<TripletDbRow, 'key' | 'client_net' | 'sender' | 'recipient' | 'expires_at'> | undefined;
    if (!row) return undefined;
    const state = { firstSeen: row.first_seen, lastSeen: row.last_seen, attempts: row.attempts, passedAt: row.passed_at };
    this.triplets.set(key, state);
    return state;
  }

  private readClient(key: string): ClientState | undefined {
    const queued = this.queue.client(key);
    if (queued !== undefined) return queued?.state;
    if (!this.knownClients.has(key)) return undefined;
    const cached = this.clients.get(key);
    if (cached) return cached;
    const row = this.getClient.get(key) as { passes: number; last_seen: number } | undefined;
    if (!row) return undefined;
    const state = { passes: row.passes, lastSeen: row.last_seen };
    this.clients.set(key, state);
    return state;
  }

  async updateTriplet<R>(
    key: string,
    labels: TripletLabels | undefined,
    update: (current: TripletState | undefined) => Update<TripletState, R>,
    expiresAt: (next: TripletState) => number,
  ): Promise<R> {
    const current = this.readTriplet(key);
    const { next, result } = update(current);
    if (next === current) return result;
    // Only entries read from the store are cached: new triplets (most of them never retried) do not churn it.
    if (next === undefined || current === undefined) this.triplets.delete(key);
    else if (this.triplets.get(key) !== undefined) this.triplets.set(key, next);
    this.queue.putTriplet(key, next === undefined ? null : { labels, state: next, expiresAt: expiresAt(next) });
    return result;
  }

  async updateClient<R>(
    key: string,
    update: (current: ClientState | undefined) => Update<ClientState, R>,
    expiresAt: (next: ClientState) => number,
  ): Promise<R> {
    const current = this.readClient(key);
    const { next, result } = update(current);
    if (next === current) return result;
    if (next === undefined) (this.knownClients.delete(key), this.clients.delete(key));
    else (this.knownClients.add(key), this.clients.set(key, next));
    this.queue.putClient(key, next === undefined ? null : { state: next, expiresAt: expiresAt(next) });
    return result;
  }

  /** updateClient, then updateTriplet: one process writes this store, so nothing can come between them. */
  async updateClientThenTriplet<C, T>(client: ClientUpdate<C>, proceed: (clientResult: C) => boolean, triplet: TripletUpdate<T>): Promise<ClientThenTriplet<C, T>> {
    const clientResult = await this.updateClient(client.key, client.update, client.expiresAt);
    if (!proceed(clientResult)) return { client: clientResult };
    return { client: clientResult, triplet: { result: await this.updateTriplet(triplet.key, triplet.labels, triplet.update, triplet.expiresAt) } };
  }

  async listTriplets(filter: TripletFilter): Promise<TripletRow[]> {
    await this.queue.sync();
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.search) {
      where.push("(client_net LIKE ? ESCAPE '\\' OR sender LIKE ? ESCAPE '\\' OR recipient LIKE ? ESCAPE '\\' OR key = ?)");
      const like = likeContains(filter.search);
      params.push(like, like, like, filter.search);
    }
    if (filter.waiting === true) where.push('passed_at = 0');
    if (filter.waiting === false) where.push('passed_at > 0');
    const sql = `SELECT key, client_net, sender, recipient, first_seen, last_seen, attempts, passed_at, expires_at FROM greylist_triplets
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY last_seen DESC LIMIT ? OFFSET ?`;
    params.push(filter.limit ?? 100, filter.offset ?? 0);
    return (this.db.prepare(sql).all(...params) as TripletDbRow[]).map(toTriplet);
  }

  async listClients(limit: number, offset: number): Promise<ClientRow[]> {
    await this.queue.sync();
    const rows = this.db
      .prepare('SELECT key, passes, last_seen, expires_at FROM greylist_clients ORDER BY last_seen DESC LIMIT ? OFFSET ?')
      .all(limit, offset) as { key: string; passes: number; last_seen: number; expires_at: number }[];
    return rows.map((r) => ({ key: r.key, passes: r.passes, lastSeen: r.last_seen, expiresAt: r.expires_at }));
  }

  async flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number> {
    await this.queue.sync();
    const changes = (await this.writer.send({ kind: 'flushTriplets', search: filter.search })).changes ?? 0;
    this.flushGeneration = this.readFlushGeneration();
    this.triplets.clear();
    return changes;
  }

  async deleteTriplet(key: string): Promise<number> {
    await this.queue.sync();
    const changes = (await this.writer.send({ kind: 'deleteTriplet', key })).changes ?? 0;
    // The writer bumped the flush generation for other processes; this one only forgets the key.
    this.flushGeneration = this.readFlushGeneration();
    this.triplets.delete(key);
    return changes;
  }

  async flushClients(): Promise<number> {
    await this.queue.sync();
    const changes = (await this.writer.send({ kind: 'flushClients' })).changes ?? 0;
    this.flushGeneration = this.readFlushGeneration();
    this.clients.clear();
    this.knownClients.clear();
    return changes;
  }

  /** Counted on the writer thread: a scan of both tables, some 100 ms for a million triplets, must not stall the main thread. */
  async stats(autoAllowThreshold: number): Promise<GreylistStats> {
    await this.queue.sync();
    const reply = await this.writer.send({ kind: 'greylistStats', autoAllowThreshold });
    if (!reply.greylistStats) throw new Error('greylist stats: the writer thread gave no counts');
    return reply.greylistStats;
  }
}
