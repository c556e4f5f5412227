// Client bans in SQLite. A ban goes to the writer thread (one transaction, bumping
// meta.bans_version); until it is committed it is kept in memory and returned by active(), so the
// daemon's own ban (a spamtrap hit) applies to the client's very next request. Reads run on the
// main thread's connection.
import { canonicalNetwork } from '../../lists/entry.js';
import type { CommitQueue } from './commit-queue.js';
import type { Db } from './database.js';
import { banFromRow, BANS_VERSION, type BanDbRow } from './rows.js';
import { LocalBans } from '../local-bans.js';
import { likeContains } from './sql.js';
import type { SqliteWriter } from './writer.js';
import type { Ban, BanStore } from '../types.js';

/** The canonical form of an address or network; throws when the text is neither. */
export function banNetwork(text: string): string {
  const parsed = canonicalNetwork(text);
  if (!parsed) throw new Error(`${text}: not an IP address or CIDR network`);
  return parsed.network;
}

export class SqliteBanStore implements BanStore {
  private readonly local = new LocalBans();
  private readonly getVersion;

  constructor(
    private readonly db: Db,
    private readonly queue: CommitQueue,
    private readonly writer: SqliteWriter,
  ) {
    this.getVersion = db.prepare(`SELECT value FROM meta WHERE key = '${BANS_VERSION}'`);
  }

  get localChanges(): number {
    return this.local.changes;
  }

  async version(): Promise<number> {
    return Number((this.getVersion.get() as { value: string } | undefined)?.value ?? 0);
  }

  async ban(ban: Ban): Promise<Ban> {
    const next: Ban = { ...ban, network: banNetwork(ban.network) };
    return this.local.banning(next, async () => (await this.writer.send({ kind: 'bansPut', ban: next })).ban!);
  }

  async lift(network: string): Promise<number> {
    const canonical = banNetwork(network);
    return this.local.lifting(canonical, async () => {
      await this.queue.sync(); // queued strikes of the address are written before they are forgotten
      return (await this.writer.send({ kind: 'bansLift', network: canonical })).changes ?? 0;
    });
  }

  async list(filter: { now: number; includeExpired?: boolean; search?: string; limit?: number; offset?: number }): Promise<Ban[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (!filter.includeExpired) (where.push('(expires_at = 0 OR expires_at > ?)'), params.push(filter.now));
    if (filter.search) {
      const like = likeContains(filter.search);
      where.push("(network LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' OR source LIKE ? ESCAPE '\\')");
      params.push(like, like, like);
    }
    params.push(filter.limit ?? -1, filter.offset ?? 0);
    const rows = this.db
      .prepare(`SELECT * FROM bans ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, network LIMIT ? OFFSET ?`)
      .all(...params) as BanDbRow[];
    return rows.map(banFromRow);
  }

  takeLocalBans(): Ban[] {
    return this.local.takeBans();
  }

  takeLocalLifts(): string[] {
    return this.local.takeLifts();
  }

  async active(now: number): Promise<Ban[]> {
    const rows = this.db.prepare('SELECT * FROM bans WHERE expires_at = 0 OR expires_at > ?').all(now) as BanDbRow[];
    return this.local.withPending(rows.map(banFromRow), now);
  }
}
