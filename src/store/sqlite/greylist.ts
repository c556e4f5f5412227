// Greylist triplets and auto-allow clients in SQLite. An update reads the entry (from the writes
// not yet committed, else with one indexed SELECT on the main thread's read connection), applies
// its pure update function and queues the result for the writer thread (see commit-queue.ts).
// Each read-modify-write is atomic within the process because it runs synchronously; a crash loses
// at most the updates of the last few milliseconds. WAL lets a CLI command work on the same file at once.
import type { Db } from './database.js';
import type { CommitQueue } from './commit-queue.js';
import { likeContains } from './sql.js';
import type { SqliteWriter } from './writer.js';
import type {
  ClientRow,
  ClientState,
  GreylistStats,
  GreylistStore,
  TripletFilter,
  TripletLabels,
  TripletRow,
  TripletState,
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
}

function toTriplet(row: TripletDbRow): TripletRow {
  const labels = row.client_net !== null ? { clientNet: row.client_net, sender: row.sender ?? '', recipient: row.recipient ?? '' } : undefined;
  return { key: row.key, labels, firstSeen: row.first_seen, lastSeen: row.last_seen, attempts: row.attempts, passedAt: row.passed_at };
}

export class SqliteGreylistStore implements GreylistStore {
  private readonly getTriplet;
  private readonly getClient;
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
    this.reloadKnownClients();
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
    const row = this.getTriplet.get(key) as Omit<TripletDbRow, 'key' | 'client_net' | 'sender' | 'recipient'> | undefined;
    return row ? { firstSeen: row.first_seen, lastSeen: row.last_seen, attempts: row.attempts, passedAt: row.passed_at } : undefined;
  }

  private readClient(key: string): ClientState | undefined {
    const queued = this.queue.client(key);
    if (queued !== undefined) return queued?.state;
    if (!this.knownClients.has(key)) return undefined;
    const row = this.getClient.get(key) as { passes: number; last_seen: number } | undefined;
    return row ? { passes: row.passes, lastSeen: row.last_seen } : undefined;
  }

  async updateTriplet<R>(
    key: string,
    labels: TripletLabels | undefined,
    update: (current: TripletState | undefined) => Update<TripletState, R>,
    expiresAt: (next: TripletState) => number,
  ): Promise<R> {
    const current = this.readTriplet(key);
    const { next, result } = update(current);
    if (next !== current) this.queue.putTriplet(key, next === undefined ? null : { labels, state: next, expiresAt: expiresAt(next) });
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
    if (next === undefined) this.knownClients.delete(key);
    else this.knownClients.add(key);
    this.queue.putClient(key, next === undefined ? null : { state: next, expiresAt: expiresAt(next) });
    return result;
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
    const sql = `SELECT key, client_net, sender, recipient, first_seen, last_seen, attempts, passed_at FROM greylist_triplets
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY last_seen DESC LIMIT ? OFFSET ?`;
    params.push(filter.limit ?? 100, filter.offset ?? 0);
    return (this.db.prepare(sql).all(...params) as TripletDbRow[]).map(toTriplet);
  }

  async listClients(limit: number, offset: number): Promise<ClientRow[]> {
    await this.queue.sync();
    const rows = this.db
      .prepare('SELECT key, passes, last_seen FROM greylist_clients ORDER BY last_seen DESC LIMIT ? OFFSET ?')
      .all(limit, offset) as { key: string; passes: number; last_seen: number }[];
    return rows.map((r) => ({ key: r.key, passes: r.passes, lastSeen: r.last_seen }));
  }

  async flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number> {
    await this.queue.sync();
    return (await this.writer.send({ kind: 'flushTriplets', search: filter.search })).changes ?? 0;
  }

  async flushClients(): Promise<number> {
    await this.queue.sync();
    const changes = (await this.writer.send({ kind: 'flushClients' })).changes ?? 0;
    this.knownClients.clear();
    return changes;
  }

  async stats(autoAllowThreshold: number): Promise<GreylistStats> {
    await this.queue.sync();
    const triplets = this.db
      .prepare('SELECT count(*) AS total, coalesce(sum(passed_at = 0), 0) AS waiting FROM greylist_triplets')
      .get() as { total: number; waiting: number };
    const clients = this.db
      .prepare('SELECT count(*) AS total, coalesce(sum(passes >= ?), 0) AS allowed FROM greylist_clients')
      .get(autoAllowThreshold > 0 ? autoAllowThreshold : Number.MAX_SAFE_INTEGER) as { total: number; allowed: number };
    return {
      triplets: triplets.total,
      waiting: triplets.waiting,
      passed: triplets.total - triplets.waiting,
      clients: clients.total,
      autoAllowed: clients.allowed,
    };
  }
}
