// IP reputation strikes in SQLite: one row per (address, reason) holding the times of the strikes
// still within their window. A strike reads the tally (from the commit queue, else one indexed
// SELECT), drops what left the window, adds itself and queues the result for the writer thread,
// synchronously, so the count it returns is atomic within the process (only the daemon adds
// strikes; a CLI only deletes them). Maintenance deletes tallies whose newest strike left its window.
import { canonicalNetwork } from '../../lists/entry.js';
import type { CommitQueue } from './commit-queue.js';
import { strikeKey } from './commit-queue.js';
import type { Db } from './database.js';
import { strikeFromRow, type StrikeDbRow } from './rows.js';
import type { SqliteWriter } from './writer.js';
import type { StrikeRow, StrikeStore } from '../types.js';

/** At most this many strike times are kept per (address, reason): counts stop there (thresholds are far lower). */
export const MAX_STRIKES_KEPT = 1000;

/** A client address in canonical form (IPv4-mapped IPv6 as IPv4); other text lower-cased. */
const canonicalAddress = (address: string): string => {
  const parsed = canonicalNetwork(address);
  return parsed && !parsed.network.includes('/') ? parsed.network : address.trim().toLowerCase();
};

export class SqliteStrikeStore implements StrikeStore {
  private readonly getTally;

  constructor(
    private readonly db: Db,
    private readonly queue: CommitQueue,
    private readonly writer: SqliteWriter,
  ) {
    this.getTally = db.prepare('SELECT times FROM strikes WHERE address = ? AND reason = ?');
  }

  async addStrike(address: string, reason: string, now: number, windowSeconds: number): Promise<number> {
    const canonical = canonicalAddress(address);
    const key = strikeKey(canonical, reason);
    const queued = this.queue.strike(key);
    let times: number[];
    if (queued !== undefined) times = queued?.times ?? [];
    else {
      const row = this.getTally.get(canonical, reason) as { times: string } | undefined;
      times = row ? (JSON.parse(row.times) as number[]) : [];
    }
    const kept = times.filter((t) => t > now - windowSeconds);
    kept.push(now);
    if (kept.length > MAX_STRIKES_KEPT) kept.splice(0, kept.length - MAX_STRIKES_KEPT);
    this.queue.putStrike(key, { times: kept, expiresAt: now + windowSeconds });
    return kept.length;
  }

  async clear(address: string): Promise<number> {
    await this.queue.sync();
    return (await this.writer.send({ kind: 'strikesClear', address: canonicalAddress(address) })).changes ?? 0;
  }

  async list(filter: { address?: string; limit?: number }): Promise<StrikeRow[]> {
    await this.queue.sync();
    const rows = (
      filter.address !== undefined
        ? this.db.prepare('SELECT * FROM strikes WHERE address = ? ORDER BY reason LIMIT ?').all(canonicalAddress(filter.address), filter.limit ?? -1)
        : this.db.prepare('SELECT * FROM strikes ORDER BY expires_at DESC LIMIT ?').all(filter.limit ?? -1)
    ) as StrikeDbRow[];
    return rows.map(strikeFromRow);
  }
}
