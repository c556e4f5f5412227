// Greylist triplets and auto-allow clients in SQLite. Each update reads and writes one row inside
// one transaction, so the daemon and a CLI command can work on the same file at once.
import type { Db } from './database.js';
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

/** A LIKE pattern matching `text` anywhere, with LIKE's wildcards escaped. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function toTriplet(row: TripletDbRow): TripletRow {
  const labels = row.client_net !== null ? { clientNet: row.client_net, sender: row.sender ?? '', recipient: row.recipient ?? '' } : undefined;
  return { key: row.key, labels, firstSeen: row.first_seen, lastSeen: row.last_seen, attempts: row.attempts, passedAt: row.passed_at };
}

export class SqliteGreylistStore implements GreylistStore {
  private readonly getTriplet;
  private readonly putTriplet;
  private readonly deleteTriplet;
  private readonly getClient;
  private readonly putClient;
  private readonly deleteClient;

  constructor(private readonly db: Db) {
    this.getTriplet = db.prepare('SELECT first_seen, last_seen, attempts, passed_at FROM greylist_triplets WHERE key = ?');
    this.putTriplet = db.prepare(
      `INSERT INTO greylist_triplets (key, client_net, sender, recipient, first_seen, last_seen, attempts, passed_at, expires_at)
       VALUES (@key, @clientNet, @sender, @recipient, @firstSeen, @lastSeen, @attempts, @passedAt, @expiresAt)
       ON CONFLICT(key) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
         attempts = excluded.attempts, passed_at = excluded.passed_at, expires_at = excluded.expires_at`,
    );
    this.deleteTriplet = db.prepare('DELETE FROM greylist_triplets WHERE key = ?');
    this.getClient = db.prepare('SELECT passes, last_seen FROM greylist_clients WHERE key = ?');
    this.putClient = db.prepare(
      `INSERT INTO greylist_clients (key, passes, last_seen, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET passes = excluded.passes, last_seen = excluded.last_seen, expires_at = excluded.expires_at`,
    );
    this.deleteClient = db.prepare('DELETE FROM greylist_clients WHERE key = ?');
  }

  async updateTriplet<R>(
    key: string,
    labels: TripletLabels | undefined,
    update: (current: TripletState | undefined) => Update<TripletState, R>,
    expiresAt: (next: TripletState) => number,
  ): Promise<R> {
    return this.db.transaction(() => {
      const row = this.getTriplet.get(key) as Omit<TripletDbRow, 'key' | 'client_net' | 'sender' | 'recipient'> | undefined;
      const current = row ? { firstSeen: row.first_seen, lastSeen: row.last_seen, attempts: row.attempts, passedAt: row.passed_at } : undefined;
      const { next, result } = update(current);
      if (next === current) return result; // unchanged: nothing to write
      if (next === undefined) this.deleteTriplet.run(key);
      else
        this.putTriplet.run({
          key,
          clientNet: labels?.clientNet ?? null,
          sender: labels?.sender ?? null,
          recipient: labels?.recipient ?? null,
          ...next,
          expiresAt: expiresAt(next),
        });
      return result;
    })();
  }

  async updateClient<R>(
    key: string,
    update: (current: ClientState | undefined) => Update<ClientState, R>,
    expiresAt: (next: ClientState) => number,
  ): Promise<R> {
    return this.db.transaction(() => {
      const row = this.getClient.get(key) as { passes: number; last_seen: number } | undefined;
      const current = row ? { passes: row.passes, lastSeen: row.last_seen } : undefined;
      const { next, result } = update(current);
      if (next === current) return result; // unchanged: nothing to write
      if (next === undefined) this.deleteClient.run(key);
      else this.putClient.run(key, next.passes, next.lastSeen, expiresAt(next));
      return result;
    })();
  }

  async listTriplets(filter: TripletFilter): Promise<TripletRow[]> {
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
    const rows = this.db
      .prepare('SELECT key, passes, last_seen FROM greylist_clients ORDER BY last_seen DESC LIMIT ? OFFSET ?')
      .all(limit, offset) as { key: string; passes: number; last_seen: number }[];
    return rows.map((r) => ({ key: r.key, passes: r.passes, lastSeen: r.last_seen }));
  }

  async flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number> {
    if (!filter.search) return this.db.prepare('DELETE FROM greylist_triplets').run().changes;
    const like = likeContains(filter.search);
    return this.db
      .prepare("DELETE FROM greylist_triplets WHERE client_net LIKE ? ESCAPE '\\' OR sender LIKE ? ESCAPE '\\' OR recipient LIKE ? ESCAPE '\\' OR key = ?")
      .run(like, like, like, filter.search).changes;
  }

  async flushClients(): Promise<number> {
    return this.db.prepare('DELETE FROM greylist_clients').run().changes;
  }

  async stats(autoAllowThreshold: number): Promise<GreylistStats> {
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
