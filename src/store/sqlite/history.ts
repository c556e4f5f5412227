// Decision history in SQLite. Records are queued with the greylist updates and written by the
// writer thread in the same batches (every 2 ms), together with their symbol and recipient rows and
// the per-minute and per-hour count rollups (history-writer.ts), so history costs the mail path
// almost nothing. Queries and statistics run on the main thread's read connection of a busy daemon,
// so each statement goes through an index and reads a bounded amount (queryPlans() and
// statementPlans() show how; history.test.ts checks them):
// - a page of records walks one index newest first, (column, id) for the client, sender, action or
//   node, (name, history_id) of history_symbols, (recipient, history_id) of history_recipients, or
//   the primary key, and checks the other filters on the rows it meets (recipients and symbols by
//   primary key) until it has `limit` of them. With several filters, the index with the fewest
//   candidates drives (each counted up to tuning.probeLimit);
// - a time filter first becomes an id range: the rollups of the window's minutes (and whole hours)
//   hold the first and last id of their records, and ids follow time closely;
// - statistics sum the rollup rows of the window (per-hour where a bucket holds the whole hour,
//   per-minute elsewhere), a day or a week of rows at a time; the most rejected clients and senders
//   of a window with few rejected decisions are counted in one statement from partial indexes of
//   the rejected decisions by time, those of a longer window by walking partial indexes by address
//   in chunks of tuning.rejectChunkGroups addresses, each chunk giving its own top list (an address is
//   never cut between two). Between two reads the event loop runs: a month of statistics does not
//   stall the mail.
import type Database from 'better-sqlite3';
import type { Db } from './database.js';
import type { CommitQueue } from './commit-queue.js';
import type { SqliteWriter } from './writer.js';
import { MINUTE_MS, minuteOf } from './rows.js';
import type { CountedValue, HistoryFilter, HistoryStore, StatsQuery, StatsReport } from '../types.js';
import { ACTIONS, checkCount, checkStatsQuery, DEFAULT_LIMIT, withNullSenderShown } from '../history-rules.js';
import type { ResultRecord } from '../../core/result.js';

type Statement = Database.Statement<unknown[]>;


/** How much the reads do at a time; `SqliteHistoryStore.tuning`, changed by tests only. */
export interface HistoryTuning {
  /** With several filters, each index's candidates are counted up to this many to choose the one that drives. */
  probeLimit: number;
  /** Statistics read at most this many minutes (a day) of per-minute rollups at a time ... */
  minutesPerRead: number;
  /** ... and this many hours (a week) of per-hour rollups. */
  hoursPerRead: number;
  /** Windows with at most this many rejected decisions count their top rejected lists in one statement each. */
  rejectsInOneRead: number;
  /** Longer windows walk the rejected decisions by address, this many addresses (or senders) at a time. */
  rejectChunkGroups: number;
}

const DEFAULT_TUNING: HistoryTuning = {
  probeLimit: 10_000,
  minutesPerRead: 1440,
  hoursPerRead: 168,
  rejectsInOneRead: 20_000,
  rejectChunkGroups: 5000,
};
/** Minutes beyond any record: the ends of a window that has none (exact as doubles). */
const FAR_PAST_MINUTE = -(2 ** 50);
const FAR_FUTURE_MINUTE = 2 ** 50;
/** Ids beyond any record. */
const NO_ID_BELOW = -(2 ** 53 - 1);
const NO_ID_ABOVE = 2 ** 53 - 1;

interface HistoryDbRow {
  id: number;
  time: number;
  node: string;
  protocol: string;
  stage: string;
  client_address: string;
  client_name: string;
  helo: string;
  sender: string;
  recipients: string;
  queue_id: string;
  message_id: string;
  instance: string;
  action: string;
  decided_by: string;
  reason: string;
  reply: string;
  score: number;
  symbols: string;
  detail: string;
  duration_ms: number;
}

/** Lets the event loop run (the mail) between two slices of a long read. */
const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Half-open ranges [from, to) of minutes or hours. */
type Span = [from: number, to: number];

/**
 * How to read a window of minutes [fromMinute, toMinute) for buckets of `bucketMinutes`: per-hour
 * rollups for the whole hours inside the window that lie in one bucket each (all of them when
 * buckets hold whole hours, none when buckets are shorter than an hour), per-minute rollups for
 * the rest (the partial hours at the edges, and hours a bucket boundary cuts).
 */
function windowSpans(fromMinute: number, toMinute: number, bucketMinutes = 60): { minutes: Span[]; hours: Span[] } {
  if (!(fromMinute < toMinute)) return { minutes: [], hours: [] };
  const firstHour = Math.ceil(fromMinute / 60);
  const endHour = Math.floor(toMinute / 60);
  if (firstHour >= endHour || bucketMinutes < 60) return { minutes: [[fromMinute, toMinute]], hours: [] };
  const minutes: Span[] = [[fromMinute, firstHour * 60]];
  const hours: Span[] = [];
  let hour = firstHour;
  if (bucketMinutes % 60 !== 0) {
    // Each boundary inside an hour cuts that hour (one hour per boundary: buckets are longer than an hour).
    for (let boundary = Math.ceil((firstHour * 60) / bucketMinutes) * bucketMinutes; boundary < endHour * 60; boundary += bucketMinutes) {
      if (boundary % 60 === 0) continue;
      const cut = Math.floor(boundary / 60);
      if (cut > hour) hours.push([hour, cut]);
      minutes.push([cut * 60, cut * 60 + 60]);
      hour = cut + 1;
    }
  }
  if (hour < endHour) hours.push([hour, endHour]);
  minutes.push([endHour * 60, toMinute]);
  return { minutes: mergeSpans(minutes), hours };
}

/** Sorted spans with the empty ones dropped and touching ones joined. */
function mergeSpans(spans: Span[]): Span[] {
  const merged: Span[] = [];
  for (const [from, to] of spans) {
    if (from >= to) continue;
    const last = merged[merged.length - 1];
    if (last && last[1] >= from) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}

/** Spans cut into groups covering at most `size` units each, for one read per group. */
function chunkSpans(spans: Span[], size: number): Span[][] {
  const groups: Span[][] = [];
  let group: Span[] = [];
  let room = size;
  for (let [from, to] of spans) {
    while (from < to) {
      const end = Math.min(to, from + room);
      group.push([from, end]);
      room -= end - from;
      from = end;
      if (room === 0) (groups.push(group), (group = []), (room = size));
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * A read of a rollup over the minutes [from, to) as one statement: the per-minute rows of the two
 * edges and the per-hour rows (their `minute` is `hour * 60`) of the whole hours between.
 * Parameters: unionParams(). For the small reads (id bounds).
 */
function rollupUnion(columns: string, minutesTable: string, hoursTable: string): string {
  return `SELECT minute, ${columns} FROM ${minutesTable} WHERE minute >= ? AND minute < ?
    UNION ALL SELECT minute, ${columns} FROM ${minutesTable} WHERE minute >= ? AND minute < ?
    UNION ALL SELECT hour * 60 AS minute, ${columns} FROM ${hoursTable} WHERE hour >= ? AND hour < ?`;
}

function unionParams(fromMinute: number, toMinute: number): number[] {
  const firstHour = Math.ceil(fromMinute / 60);
  const endHour = Math.floor(toMinute / 60);
  if (firstHour >= endHour) return [fromMinute, toMinute, 0, 0, 0, 0];
  return [fromMinute, firstHour * 60, endHour * 60, toMinute, firstHour, endHour];
}

/**
 * A read of rollup rows over a list of spans (a JSON array of [from, to) pairs: the last
 * parameter), summed by `group`: one primary-key range per span.
 */
function spansRead(select: string, table: string, period: string, group: string): string {
  return `SELECT ${select} FROM json_each(?) AS r CROSS JOIN ${table} AS m
    ON m.${period} >= r.value ->> 0 AND m.${period} < r.value ->> 1 GROUP BY ${group}`;
}

/**
 * The filters with an index of their own. Action and node have none (each index costs every
 * decision's write, and the mail path must not pay for rare searches): they filter the records of
 * the id range, newest first.
 */
type Driver = 'client' | 'sender' | 'recipient' | 'symbol';
/** The filters that can drive a page, in the order that breaks ties (the usually most selective first). */
const DRIVERS: Driver[] = ['client', 'sender', 'recipient', 'symbol'];
/** Where each driver's candidates are: the table (with its index), the filtered column and the record id. */
const DRIVER_SOURCES: Record<Driver, { from: string; condition: string; id: string }> = {
  client: { from: 'history_clients', condition: 'client = ?', id: 'history_id' },
  sender: { from: 'history_senders', condition: 'sender = ?', id: 'history_id' },
  recipient: { from: 'history_recipients', condition: 'recipient = ?', id: 'history_id' },
  symbol: { from: 'history_symbols', condition: 'name = ?', id: 'history_id' },
};

const filterValue = (filter: HistoryFilter, driver: Driver): string | undefined => filter[driver];

/** The statement counting a driver's candidates with ids in a range, up to a limit. */
function probeQuery(driver: Driver): string {
  const { from, condition, id } = DRIVER_SOURCES[driver];
  return `SELECT count(*) AS n FROM (SELECT 1 FROM ${from} WHERE ${condition} AND ${id} >= ? AND ${id} <= ? LIMIT ?)`;
}

/**
 * The SELECT of a page with ids in [lowId, highId] (the caller narrows them by time and beforeId),
 * walking the driver's index (the primary key without one) newest first. INDEXED BY, NOT INDEXED
 * and CROSS JOIN pin the plan. Filters are exact, addresses compared without regard to ASCII case.
 */
function buildQuery(filter: HistoryFilter, driver: Driver | undefined, lowId: number, highId: number, limit: number): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  let from: string;
  let order: string;
  if (driver !== undefined) {
    const { from: table, condition } = DRIVER_SOURCES[driver];
    from = `${table} AS d CROSS JOIN history AS h ON h.id = d.history_id`;
    where.push(`d.${condition}`, 'd.history_id >= ?', 'd.history_id <= ?');
    params.push(filterValue(filter, driver)!, lowId, highId);
    order = 'd.history_id';
  } else {
    from = 'history AS h NOT INDEXED';
    where.push('h.id >= ?', 'h.id <= ?');
    params.push(lowId, highId);
    order = 'h.id';
  }
  const add = (condition: string, value: string | number | undefined) => {
    if (value !== undefined) (where.push(condition), params.push(value));
  };
  add('h.time >= ?', filter.since);
  add('h.time < ?', filter.until);
  add('h.client_address = ? COLLATE NOCASE', filter.client);
  add('h.sender = ? COLLATE NOCASE', filter.sender);
  add('h.action = ?', filter.action);
  add('h.node = ?', filter.node);
  if (driver !== 'recipient') add('EXISTS (SELECT 1 FROM history_recipients AS r WHERE r.recipient = ? AND r.history_id = h.id)', filter.recipient);
  if (driver !== 'symbol') add('EXISTS (SELECT 1 FROM history_symbols AS s WHERE s.name = ? AND s.history_id = h.id)', filter.symbol);
  params.push(limit);
  return { sql: `SELECT h.* FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${order} DESC LIMIT ?`, params };
}

/** The `top` largest counts of a map, most first (ties by value), in one pass. */
function topCounts(counts: Map<string, number>, top: number): CountedValue[] {
  const best: CountedValue[] = [];
  if (top === 0) return best;
  const before = (a: CountedValue, b: CountedValue) => a.count > b.count || (a.count === b.count && a.value < b.value);
  for (const [value, count] of counts) {
    const entry = { value, count };
    if (best.length === top && !before(entry, best[top - 1]!)) continue;
    let at = best.length;
    while (at > 0 && before(entry, best[at - 1]!)) at--;
    best.splice(at, 0, entry);
    if (best.length > top) best.pop();
  }
  return best;
}

const addCount = (counts: Map<string, number>, value: string, count: number) => counts.set(value, (counts.get(value) ?? 0) + count);

/** The statements counting the most rejected clients or senders (rows [value, count]). */
interface RejectedTopStatements {
  /** (since, until, top): one statement over the partial index by time. */
  byTime: Statement;
  /**
   * (since, until, from, groups, top): the top list of the next `groups` addresses from `from`
   * (firstChunk: from `from` on; nextChunk: after it), in the partial index by address, then one
   * more row: [the chunk's last address, minus the number of its addresses].
   */
  firstChunk: Statement;
  nextChunk: Statement;
}

function rejectedTopStatements(db: Db, column: string, kind: 'client' | 'sender'): RejectedTopStatements {
  const chunk = (after: '>=' | '>') =>
    db
      .prepare(
        `WITH chunk AS MATERIALIZED (
           SELECT ${column} AS value, count(*) FILTER (WHERE time >= ? AND time < ?) AS total
           FROM history INDEXED BY history_rejects_by_${kind}
           WHERE action = 'reject' AND ${column} ${after} ? COLLATE NOCASE
           GROUP BY ${column} COLLATE NOCASE ORDER BY ${column} COLLATE NOCASE LIMIT ?)
         SELECT value, total FROM (SELECT value, total FROM chunk WHERE total > 0 ORDER BY total DESC, value LIMIT ?)
         UNION ALL SELECT max(value COLLATE NOCASE), -count(*) FROM chunk`,
      )
      .raw();
  return {
    byTime: db
      .prepare(
        `SELECT ${column} AS value, count(*) AS total FROM history INDEXED BY history_rejects_by_time_${kind}
         WHERE action = 'reject' AND time >= ? AND time < ? GROUP BY ${column} COLLATE NOCASE ORDER BY total DESC, value LIMIT ?`,
      )
      .raw(),
    firstChunk: chunk('>='),
    nextChunk: chunk('>'),
  };
}

export class SqliteHistoryStore implements HistoryStore {
  private readonly getRecord;
  private readonly readIdBounds;
  private readonly readSeriesMinutes;
  private readonly readSeriesHours;
  private readonly readSymbolMinutes;
  private readonly readSymbolHours;
  private readonly rejectedTops: Record<'client' | 'sender', RejectedTopStatements>;
  /** Page SELECTs and probes, one per combination of filters met so far (a few dozen at most). */
  private readonly statements = new Map<string, Statement>();
  /** How much the reads do at a time (tests make it small). */
  readonly tuning: HistoryTuning = { ...DEFAULT_TUNING };

  constructor(
    private readonly db: Db,
    private readonly queue: CommitQueue,
    private readonly writer: SqliteWriter,
  ) {
    this.getRecord = db.prepare('SELECT * FROM history WHERE id = ?');
    this.readIdBounds = db.prepare(
      `SELECT min(first_id) AS low, max(last_id) AS high FROM (${rollupUnion('first_id, last_id', 'stats_minutes', 'stats_hours')})`,
    );
    // Rows [bucket number, action, protocol, count]; parameters: the bucket width in minutes, the spans.
    this.readSeriesMinutes = db
      .prepare(spansRead('m.minute / CAST(? AS INTEGER), m.action, m.protocol, sum(m.count)', 'stats_minutes', 'minute', '1, 2, 3'))
      .raw();
    this.readSeriesHours = db
      .prepare(spansRead('(m.hour * 60) / CAST(? AS INTEGER), m.action, m.protocol, sum(m.count)', 'stats_hours', 'hour', '1, 2, 3'))
      .raw();
    // Rows [name, count]; parameter: the spans.
    this.readSymbolMinutes = db.prepare(spansRead('m.name, sum(m.count)', 'stats_symbol_minutes', 'minute', '1')).raw();
    this.readSymbolHours = db.prepare(spansRead('m.name, sum(m.count)', 'stats_symbol_hours', 'hour', '1')).raw();
    this.rejectedTops = { client: rejectedTopStatements(db, 'client_address', 'client'), sender: rejectedTopStatements(db, 'sender', 'sender') };
  }

  add(record: ResultRecord): void {
    this.queue.addHistory(record);
  }

  async flush(): Promise<void> {
    await this.queue.sync();
  }

  /** Waits for the queued records to be written and added to the search tables, so a read sees them all. */
  private async readable(): Promise<void> {
    await this.queue.sync();
    await this.writer.send({ kind: 'historyIndex' });
  }

  async query(filter: HistoryFilter): Promise<ResultRecord[]> {
    const limit = checkCount('limit', filter.limit ?? DEFAULT_LIMIT);
    // Only a search through the search tables needs them up to date (a live view's page does not).
    if (DRIVERS.some((driver) => filterValue(filter, driver) !== undefined)) await this.readable();
    else await this.queue.sync();
    const range = this.idRange(filter);
    if (!range || limit === 0) return [];
    const { sql, params } = buildQuery(filter, this.chooseDriver(filter, range.low, range.high), range.low, range.high, limit);
    return (this.statement(sql).all(...params) as HistoryDbRow[]).map(fromRow);
  }

  async get(id: number): Promise<ResultRecord | undefined> {
    await this.queue.sync();
    const row = this.getRecord.get(id) as HistoryDbRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** All records kept; counted on the writer thread (about 30 ms for a million records), after the records queued before the call. */
  async count(): Promise<number> {
    await this.queue.sync();
    const reply = await this.writer.send({ kind: 'historyCount' });
    if (reply.count === undefined) throw new Error('history count: the writer thread gave no count');
    return reply.count;
  }

  /**
   * The counts of the window from the rollups, at minute resolution: the minutes holding `since`
   * and `until - 1 ms` count whole. Buckets start at multiples of bucketSeconds since the epoch,
   * from the one holding `since` to the one holding `until - 1 ms`, so the first and last may be
   * partly outside the window; every action appears in `actions` and in each bucket's counts,
   * protocols only when counted. The top rejected clients and senders are counted from the records
   * themselves, in the exact window, so they cover the records still kept (history.max_records),
   * while the rollups last history.max_age. Throws a RangeError for a bad window, bucket width or
   * top, or more than MAX_BUCKETS buckets.
   */
  async stats(query: StatsQuery): Promise<StatsReport> {
    const { since, until, bucketSeconds } = query;
    const { top, bucketMs, firstBucket, endBucket } = checkStatsQuery(query);
    await this.queue.sync();
    const fromMinute = minuteOf(since);
    const toMinute = until > since ? Math.ceil(until / MINUTE_MS) : fromMinute;

    const zeroes = (): Record<string, number> => Object.fromEntries(ACTIONS.map((a) => [a, 0]));
    const actions = zeroes();
    const protocols: Record<string, number> = {};
    const series: StatsReport['series'] = [];
    for (let bucket = firstBucket; bucket < endBucket; bucket++) series.push({ time: bucket * bucketMs, counts: zeroes() });
    const bucketMinutes = bucketSeconds / 60;
    const addSeries = (rows: [number, string, string, number][]) => {
      for (const [bucket, action, protocol, count] of rows) {
        const counts = series[bucket - firstBucket]?.counts;
        if (!counts) continue; // outside the window: cannot be, only the window's rollups are read
        counts[action] = (counts[action] ?? 0) + count;
        actions[action] = (actions[action] ?? 0) + count;
        protocols[protocol] = (protocols[protocol] ?? 0) + count;
      }
    };
    const seriesSpans = windowSpans(fromMinute, toMinute, bucketMinutes);
    for (const spans of chunkSpans(seriesSpans.minutes, this.tuning.minutesPerRead)) {
      addSeries(this.readSeriesMinutes.all(bucketMinutes, JSON.stringify(spans)) as [number, string, string, number][]);
      await pause();
    }
    for (const spans of chunkSpans(seriesSpans.hours, this.tuning.hoursPerRead)) {
      addSeries(this.readSeriesHours.all(bucketMinutes, JSON.stringify(spans)) as [number, string, string, number][]);
      await pause();
    }

    const symbols = new Map<string, number>();
    let topRejectedClients: CountedValue[] = [];
    let topRejectedSenders: CountedValue[] = [];
    if (top > 0) {
      const symbolSpans = windowSpans(fromMinute, toMinute);
      for (const [statement, spanList, size] of [
        [this.readSymbolMinutes, symbolSpans.minutes, this.tuning.minutesPerRead],
        [this.readSymbolHours, symbolSpans.hours, this.tuning.hoursPerRead],
      ] as const) {
        for (const spans of chunkSpans(spanList, size)) {
          for (const [name, count] of statement.all(JSON.stringify(spans)) as [string, number][]) addCount(symbols, name, count);
          await pause();
        }
      }
      // The rollups' count of rejected decisions (whole minutes: a little over) chooses the way.
      const rejects = actions.reject ?? 0;
      topRejectedClients = await this.topRejected('client', since, until, top, rejects);
      topRejectedSenders = withNullSenderShown(await this.topRejected('sender', since, until, top, rejects));
    }
    return {
      since,
      until,
      bucketSeconds,
      actions,
      protocols,
      series,
      symbols: topCounts(symbols, top),
      topRejectedClients,
      topRejectedSenders,
    };
  }

  /**
   * The plans (EXPLAIN QUERY PLAN details) of what query(filter) may run: the id-range read of a
   * time filter, the candidate counts, and the page walked by each possible driver. For tests and
   * diagnostics.
   */
  queryPlans(filter: HistoryFilter): string[] {
    const plans: string[] = [];
    if (filter.since !== undefined || filter.until !== undefined) plans.push(...this.explain(this.readIdBounds, unionParams(0, 6000)));
    const drivers = DRIVERS.filter((d) => filterValue(filter, d) !== undefined);
    for (const driver of drivers.length > 0 ? drivers : [undefined]) {
      if (driver && drivers.length > 1) plans.push(...this.explain(this.statement(probeQuery(driver)), [filterValue(filter, driver), 0, 1000, this.tuning.probeLimit]));
      const { sql, params } = buildQuery(filter, driver, 0, 1000, filter.limit ?? DEFAULT_LIMIT);
      plans.push(...this.explain(this.statement(sql), params));
    }
    return plans;
  }

  /** The plans of get() and of the statements of stats(), by name. For tests and diagnostics. */
  statementPlans(): Record<string, string[]> {
    const spans = JSON.stringify([[0, 60]]);
    return {
      get: this.explain(this.getRecord, [1]),
      idBounds: this.explain(this.readIdBounds, unionParams(0, 6000)),
      seriesMinutes: this.explain(this.readSeriesMinutes, [60, spans]),
      seriesHours: this.explain(this.readSeriesHours, [60, spans]),
      symbolMinutes: this.explain(this.readSymbolMinutes, [spans]),
      symbolHours: this.explain(this.readSymbolHours, [spans]),
      ...Object.fromEntries(
        Object.entries(this.rejectedTops).flatMap(([kind, statements]) => [
          [`${kind}RejectsByTime`, this.explain(statements.byTime, [0, 1000, 10])],
          [`${kind}RejectsFirstChunk`, this.explain(statements.firstChunk, [0, 1000, '', 100, 10])],
          [`${kind}RejectsNextChunk`, this.explain(statements.nextChunk, [0, 1000, 'a', 100, 10])],
        ]),
      ),
    };
  }

  private explain(statement: Statement, params: unknown[]): string[] {
    const rows = this.db.prepare(`EXPLAIN QUERY PLAN ${statement.source}`).all(...params) as { detail: string }[];
    return rows.map((r) => r.detail);
  }

  /**
   * The ids a page may hold, [low, high]: above afterId, below beforeId, and, with a time filter, between the
   * first and last id of the rollups of the minutes from the one holding `since` to the one
   * holding `until - 1 ms`. Undefined when no record can match.
   */
  private idRange(filter: HistoryFilter): { low: number; high: number } | undefined {
    let low = filter.afterId !== undefined ? Math.floor(filter.afterId) + 1 : NO_ID_BELOW;
    let high = filter.beforeId !== undefined ? Math.ceil(filter.beforeId) - 1 : NO_ID_ABOVE;
    if (filter.since !== undefined || filter.until !== undefined) {
      const fromMinute = filter.since !== undefined ? minuteOf(filter.since) : FAR_PAST_MINUTE;
      const toMinute = filter.until !== undefined ? Math.ceil(filter.until / MINUTE_MS) : FAR_FUTURE_MINUTE;
      const row = this.readIdBounds.get(...unionParams(fromMinute, toMinute)) as { low: number | null; high: number | null };
      if (row.low === null || row.high === null) return undefined;
      low = Math.max(low, row.low);
      high = Math.min(high, row.high);
    }
    return low <= high ? { low, high } : undefined;
  }

  /**
   * The filter whose index drives the page: the only one, or, with several (or one and a time
   * range), the one with the fewest candidates in the id range, counted up to tuning.probeLimit; the
   * primary key (undefined) when the id range itself holds fewer.
   */
  private chooseDriver(filter: HistoryFilter, low: number, high: number): Driver | undefined {
    const present = DRIVERS.filter((d) => filterValue(filter, d) !== undefined);
    if (present.length === 0) return undefined;
    const rangeSize = high - low + 1; // at most this many records on the primary key's walk
    const probeLimit = this.tuning.probeLimit;
    if (present.length === 1 && rangeSize > probeLimit) return present[0];
    let best: Driver | undefined;
    let fewest = rangeSize;
    for (const driver of present) {
      const n = (this.statement(probeQuery(driver)).get(filterValue(filter, driver), low, high, probeLimit) as { n: number }).n;
      if (n < fewest) (best = driver), (fewest = n); // ties keep the earlier: DRIVERS order
      if (n === 0) break;
    }
    return best;
  }

  /**
   * The `top` clients or senders with the most rejected decisions in [since, until): in one
   * statement when the window holds few (`rejects`, as the rollups count them), else by walking
   * the rejected decisions by address, tuning.rejectChunkGroups addresses a read, merging the top lists
   * of the chunks (exact: each address falls in one chunk). Addresses differing only in ASCII case
   * count as one.
   */
  private async topRejected(kind: 'client' | 'sender', since: number, until: number, top: number, rejects: number): Promise<CountedValue[]> {
    const statements = this.rejectedTops[kind];
    const counted = (rows: [string | null, number][]) => rows.filter((r): r is [string, number] => r[1] > 0).map(([value, count]) => ({ value, count }));
    if (!(since < until)) return [];
    if (rejects <= this.tuning.rejectsInOneRead) return counted(statements.byTime.all(since, until, top) as [string, number][]);
    const groupsPerRead = this.tuning.rejectChunkGroups;
    const best = new Map<string, number>();
    let statement = statements.firstChunk;
    let from = '';
    for (;;) {
      const rows = statement.all(since, until, from, groupsPerRead, top) as [string | null, number][];
      for (const { value, count } of counted(rows)) best.set(value, count);
      // The last row: the chunk's last address and, negated, how many addresses the chunk held.
      const [last, groups] = rows[rows.length - 1]!;
      if (-groups < groupsPerRead || last === null) break;
      from = last;
      statement = statements.nextChunk;
      await pause();
    }
    return topCounts(best, top);
  }

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
}

function fromRow(row: HistoryDbRow): ResultRecord {
  const detail = JSON.parse(row.detail) as Pick<ResultRecord, 'headers' | 'facts' | 'errors'>;
  return {
    id: row.id,
    time: row.time,
    node: row.node,
    protocol: row.protocol as ResultRecord['protocol'],
    stage: row.stage as ResultRecord['stage'],
    clientAddress: row.client_address,
    clientName: row.client_name,
    helo: row.helo,
    sender: row.sender,
    recipients: JSON.parse(row.recipients) as string[],
    queueId: row.queue_id,
    messageId: row.message_id,
    instance: row.instance,
    action: row.action as ResultRecord['action'],
    decidedBy: row.decided_by,
    reason: row.reason,
    reply: row.reply,
    score: row.score,
    symbols: JSON.parse(row.symbols) as ResultRecord['symbols'],
    headers: detail.headers ?? [],
    facts: detail.facts ?? {},
    errors: detail.errors ?? [],
    durationMs: row.duration_ms,
  };
}
