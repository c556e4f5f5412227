// Copies everything one store holds into another through the Store interfaces (types.ts), for
// `rempart store copy` (src/cli/store-copy.ts): SQLite to Redis when a single host becomes a
// cluster, Redis back to SQLite, or between two of a kind. Each part is read (the history in pages,
// the rest whole) and written a page at a time with the calls the daemon and the commands use, so
// the destination's own rules apply (expiries become Redis TTLs, versions move, history rollups are
// rebuilt):
// - greylist triplets (with their labels; keys as they are, so privacy-mode hashes stay hashes) and
//   auto-allow clients, with their expiry times;
// - allow/block list entries of every scope and valid recipients, with their creation times, adders,
//   reasons and comments (ids are the destination's own);
// - bans and strike tallies (each strike replayed oldest first within its window);
// - the Bayes databases of every scope: token counts, message counts and the learned messages' digests;
// - the decision history, oldest first (records get new ids; node names and times are kept).
// Entries already expired are left behind. Nothing here knows which backend is which.
import type { ResultRecord } from '../core/result.js';
import type { Store } from './types.js';

/** Rows read (and written) per page. */
const PAGE_ROWS = 1000;

export type CopyPart = 'greylist' | 'lists' | 'recipients' | 'bans' | 'strikes' | 'bayes' | 'history';
/** The parts in the order they are copied: history last (the largest, and the least needed). */
export const COPY_PARTS: CopyPart[] = ['greylist', 'lists', 'recipients', 'bans', 'strikes', 'bayes', 'history'];

export interface CopyReport {
  greylist: { triplets: number; clients: number; expired: number };
  lists: { entries: number; expired: number };
  recipients: { entries: number };
  bans: { bans: number };
  strikes: { tallies: number; strikes: number; expired: number };
  bayes: { scopes: number; tokens: number; spamMessages: number; hamMessages: number; digests: number };
  /** Absent when the history was not copied (--no-history). */
  history?: { records: number };
}

export interface CopyOptions {
  /** Seconds since the epoch: entries expired by then are not copied. */
  now: number;
  /** Copy the decision history too (default true). */
  history?: boolean;
  /** Told after each page of a part, with how many rows of it were handled so far. */
  onProgress?: (part: CopyPart, done: number) => void;
  /** Told when a part is done, with the report so far (for a line per part as the copy goes). */
  onPartDone?: (part: CopyPart, report: Partial<CopyReport>) => void;
}

/** A copy that failed part-way: which part, and the error. */
export class CopyError extends Error {
  constructor(
    readonly part: CopyPart,
    error: unknown,
  ) {
    super(`${part}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    this.name = 'CopyError';
  }
}

const unexpired = (expiresAt: number, now: number): boolean => expiresAt === 0 || expiresAt > now;

/** Lets other work (the stores' background writers, progress output) run between two pages. */
const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The parts of `store` that hold something (an empty list: the store is empty). Expired entries not
 * yet removed count too: they are data a copy would mix with.
 */
export async function nonEmptyParts(store: Store, now: number): Promise<CopyPart[]> {
  const found: CopyPart[] = [];
  const stats = await store.greylist.stats(0);
  if (stats.triplets > 0 || stats.clients > 0) found.push('greylist');
  if ((await store.lists.list({ limit: 1 })).length > 0) found.push('lists');
  if ((await store.recipients.list({ limit: 1 })).length > 0) found.push('recipients');
  if ((await store.bans.list({ now, includeExpired: true, limit: 1 })).length > 0) found.push('bans');
  if ((await store.strikes.list({ limit: 1 })).length > 0) found.push('strikes');
  if ((await store.bayes.scopes()).length > 0) found.push('bayes');
  if ((await store.history.count()) > 0) found.push('history');
  return found;
}

/**
 * Copies `from` into `to` part by part (COPY_PARTS order) and returns what was copied; without
 * `to` (a dry run), only counts what would be. A failure rejects with a CopyError naming the part
 * (what was copied before it stays in `to`).
 */
export async function copyStore(from: Store, to: Store | undefined, options: CopyOptions): Promise<CopyReport> {
  const copier = new StoreCopier(from, to, options);
  const report: Partial<CopyReport> = {};
  const run = async <P extends CopyPart>(part: P, work: () => Promise<NonNullable<CopyReport[P]>>): Promise<void> => {
    try {
      report[part] = await work();
    } catch (error) {
      throw new CopyError(part, error);
    }
    options.onPartDone?.(part, report);
  };
  await run('greylist', () => copier.greylist());
  await run('lists', () => copier.lists());
  await run('recipients', () => copier.recipients());
  await run('bans', () => copier.bans());
  await run('strikes', () => copier.strikes());
  await run('bayes', () => copier.bayes());
  if (options.history !== false) await run('history', () => copier.history());
  return report as CopyReport;
}

class StoreCopier {
  constructor(
    private readonly from: Store,
    /** Undefined in a dry run. */
    private readonly destination: Store | undefined,
    private readonly options: CopyOptions,
  ) {}

  /** The destination; only called when writing. */
  private get to(): Store {
    return this.destination!;
  }

  private get write(): boolean {
    return this.destination !== undefined;
  }

  private progress(part: CopyPart, done: number): void {
    this.options.onProgress?.(part, done);
  }

  /**
   * Writes `rows` a page at a time (the rows of a page at once: they are distinct entries), telling
   * the progress after each page.
   */
  private async inPages<T>(part: CopyPart, rows: T[], doneBefore: number, write: (page: T[]) => Promise<unknown>): Promise<void> {
    for (let start = 0; start < rows.length; start += PAGE_ROWS) {
      const page = rows.slice(start, start + PAGE_ROWS);
      if (this.write) await write(page);
      this.progress(part, doneBefore + start + page.length);
      await pause();
    }
  }

  // Each part but the history is read whole (a negative or absent limit: every row), not page by
  // page: `offset` paging costs every store a walk over the skipped rows, quadratic in the entries.

  async greylist(): Promise<CopyReport['greylist']> {
    const { now } = this.options;
    const allTriplets = await this.from.greylist.listTriplets({ limit: -1 });
    const triplets = allTriplets.filter((row) => unexpired(row.expiresAt, now));
    await this.inPages('greylist', triplets, 0, (page) =>
      Promise.all(
        page.map((row) => {
          const state = { firstSeen: row.firstSeen, lastSeen: row.lastSeen, attempts: row.attempts, passedAt: row.passedAt };
          return this.to.greylist.updateTriplet(row.key, row.labels, () => ({ next: state, result: undefined }), () => row.expiresAt);
        }),
      ),
    );
    const allClients = await this.from.greylist.listClients(-1, 0);
    const clients = allClients.filter((row) => unexpired(row.expiresAt, now));
    await this.inPages('greylist', clients, triplets.length, (page) =>
      Promise.all(
        page.map((row) => {
          const state = { passes: row.passes, lastSeen: row.lastSeen };
          return this.to.greylist.updateClient(row.key, () => ({ next: state, result: undefined }), () => row.expiresAt);
        }),
      ),
    );
    const expired = allTriplets.length - triplets.length + allClients.length - clients.length;
    return { triplets: triplets.length, clients: clients.length, expired };
  }

  async lists(): Promise<CopyReport['lists']> {
    const all = await this.from.lists.list({});
    const entries = all.filter((entry) => unexpired(entry.expiresAt, this.options.now));
    await this.inPages('lists', entries, 0, (page) =>
      this.to.lists.put(
        page.map((e) => ({
          kind: e.kind,
          value: e.value,
          scope: e.scope,
          reason: e.reason,
          comment: e.comment,
          addedBy: e.addedBy,
          createdAt: e.createdAt,
          expiresAt: e.expiresAt,
        })),
      ),
    );
    return { entries: entries.length, expired: all.length - entries.length };
  }

  async recipients(): Promise<CopyReport['recipients']> {
    const entries = await this.from.recipients.list({});
    await this.inPages('recipients', entries, 0, (page) =>
      this.to.recipients.add(page.map((e) => ({ address: e.address, comment: e.comment, addedBy: e.addedBy, createdAt: e.createdAt }))),
    );
    return { entries: entries.length };
  }

  async bans(): Promise<CopyReport['bans']> {
    const bans = await this.from.bans.list({ now: this.options.now, includeExpired: false });
    await this.inPages('bans', bans, 0, (page) => Promise.all(page.map((ban) => this.to.bans.ban({ ...ban }))));
    return { bans: bans.length };
  }

  async strikes(): Promise<CopyReport['strikes']> {
    const { now } = this.options;
    const counts = { tallies: 0, strikes: 0, expired: 0 };
    const rows = await this.from.strikes.list({});
    for (let start = 0; start < rows.length; start += PAGE_ROWS) {
      const page = rows.slice(start, start + PAGE_ROWS);
      const kept = page.filter((row) => row.times.length > 0 && unexpired(row.expiresAt, now));
      counts.expired += page.length - kept.length;
      await Promise.all(
        kept.map(async (row) => {
          const times = [...row.times].sort((a, b) => a - b);
          const newest = times[times.length - 1]!;
          // The window the tally was counted in: the newest strike leaves it at expiresAt.
          const windowSeconds = row.expiresAt - newest;
          if (!(windowSeconds > 0)) throw new Error(`strikes of ${row.address} (${row.reason}): expiry ${row.expiresAt} is not after the newest strike ${newest}`);
          if (this.write) {
            for (let i = 0; i < times.length; i++) {
              const count = await this.to.strikes.addStrike(row.address, row.reason, times[i]!, windowSeconds);
              // Every earlier strike lies within the window of a later one, so each adds to the tally.
              if (count < i + 1) throw new Error(`strikes of ${row.address} (${row.reason}): the destination counts ${count} after strike ${i + 1} of ${times.length}`);
            }
          }
          counts.strikes += times.length;
        }),
      );
      counts.tallies += kept.length;
      this.progress('strikes', counts.tallies + counts.expired);
      await pause();
    }
    return counts;
  }

  async bayes(): Promise<CopyReport['bayes']> {
    const counts = { scopes: 0, tokens: 0, spamMessages: 0, hamMessages: 0, digests: 0 };
    for (const scope of await this.from.bayes.scopes()) {
      const dump = await this.from.bayes.dump(scope);
      if (this.write) {
        await this.to.bayes.importCounts(scope, dump.tokens, dump.messages);
        if (dump.digests.length > 0) await this.to.bayes.importDigests(scope, dump.digests);
      }
      counts.scopes++;
      counts.tokens += dump.tokens.length;
      counts.spamMessages += dump.messages.spam;
      counts.hamMessages += dump.messages.ham;
      counts.digests += dump.digests.length;
      this.progress('bayes', counts.tokens);
      await pause();
    }
    return counts;
  }

  /**
   * The history is read newest first (the only order `query` offers), so a first pass notes the id
   * range of each page, and a second reads the pages again from the oldest and adds their records
   * oldest first: the destination's ids then follow the source's order.
   */
  async history(): Promise<NonNullable<CopyReport['history']>> {
    const pages: { lowest: number; highest: number }[] = [];
    let records = 0;
    let beforeId: number | undefined;
    for (;;) {
      const page = await this.from.history.query({ limit: PAGE_ROWS, beforeId });
      if (page.length === 0) break;
      const ids = page.map((record) => record.id!);
      const lowest = Math.min(...ids);
      pages.push({ lowest, highest: Math.max(...ids) });
      records += page.length;
      beforeId = lowest;
      if (page.length < PAGE_ROWS) break;
      await pause();
    }
    if (!this.write) return { records };
    let copied = 0;
    for (let i = pages.length - 1; i >= 0; i--) {
      const { lowest, highest } = pages[i]!;
      const page = await this.from.history.query({ afterId: lowest - 1, beforeId: highest + 1, limit: PAGE_ROWS });
      page.sort((a, b) => a.id! - b.id!);
      for (const record of page) this.to.history.add(withoutId(record));
      await this.to.history.flush();
      copied += page.length;
      this.progress('history', copied);
    }
    return { records: copied };
  }
}

function withoutId(record: ResultRecord): ResultRecord {
  const copy = { ...record };
  delete copy.id;
  return copy;
}
