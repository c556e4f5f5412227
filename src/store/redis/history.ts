// The decision history on Redis (HistoryStore), shared by every daemon of a cluster: each record
// carries the `node` that decided. add() only queues the record in memory; a timer (SEND_DELAY_MS)
// or a full batch (BATCH_RECORDS) sends the queue in batches, one Lua script per batch that takes
// the batch's ids from one counter (INCRBY: unique across nodes, roughly in time order, and visible
// in the order they were taken, so "what is new since id N" misses nothing) and writes the records,
// their index entries and the statistics rollups at once. A failed batch (Redis away) goes back to
// the head of the queue and is tried again every RETRY_DELAY_MS; the queue holds MAX_QUEUED_RECORDS
// at most, dropping the oldest beyond; a batch Redis refuses (an error reply, not a lost connection)
// is dropped after MAX_REFUSED_ATTEMPTS. None of it reaches the caller of add(): it is reported
// through onBackgroundError, once per episode. Reads (and flush()) first send what this process queued.
//
// Reads:
// - query() turns a time filter into an id range through the rollups' first and last ids of the
//   window's minutes (and whole hours), as the SQLite store does, then walks the most selective
//   index sorted set of the filter (fewest ids in the range, ZCOUNT), or the set of all ids, newest
//   first in growing batches, checks the other filters on Redis (ZMSCORE of the candidates in the
//   other index sets, and in the by-time set for the exact time bounds), and fetches (HMGET) only
//   the records that match, until `limit`. Filters are exact; client, sender and recipient without
//   regard to ASCII case (their index keys hold the folded value).
// - stats() sums the per-minute rollup hashes of the window (per-hour ones for whole hours that lie
//   in one bucket), at minute resolution like the SQLite store. The most rejected clients and
//   senders are counted exactly over the window and over the records still kept: per-minute and
//   per-hour sorted sets (ZINCRBY as records are written, decremented when maintenance deletes a
//   record) for the whole minutes, the records themselves for the partial minutes at the edges,
//   summed by one script (ZUNIONSTORE into a temporary key it deletes again).
// - maintenance deletes the records older than the maximum age (by-time set) and the oldest beyond
//   the maximum count (ids set), DELETE_BATCH at a time, with their index entries (the record tells
//   which) and their share of the rejected rollups, then the rollups of minutes and hours wholly
//   older than the maximum age (found through the minutes and hours sets). Rollups are not cut by the
//   record count: statistics cover the whole age, as in SQLite.
//
// Keys (area `history`, one hash tag; <id> a record id, <m> minutes and <h> hours since the epoch):
//   {history}:seq                          string  the last id given out (INCRBY)
//   {history}:records                      hash    id → the record (JSON array, RECORD_FORMAT first)
//   {history}:ids                          zset    id → id: every record (paging, count, age by count)
//   {history}:by-time                      zset    id → time (ms): exact time bounds, age, window edges
//   {history}:by-client:<client>           zset    id → id, client address folded to lower case (ASCII)
//   {history}:by-sender:<sender>           zset    id → id, sender folded ('' for the null sender)
//   {history}:by-recipient:<recipient>     zset    id → id, each recipient folded
//   {history}:by-symbol:<name>             zset    id → id, each symbol that fired
//   {history}:by-action:<action>           zset    id → id
//   {history}:by-node:<node>               zset    id → id
//   {history}:minute:<m> / hour:<h>        hash    a:<action>, p:<protocol>, s:<symbol> → decisions;
//                                                  first, last → the lowest and highest id written
//   {history}:rejected-clients:minute:<m>  zset    folded client → rejected decisions (records kept)
//   {history}:rejected-senders:minute:<m>  zset    folded sender → rejected decisions
//   {history}:rejected-clients:hour:<h>    zset    the same per hour
//   {history}:rejected-senders:hour:<h>    zset
//   {history}:minutes / {history}:hours    zset    m → m, h → h: the periods that have rollups
//   {history}:top:<random>                 zset    a union of rejected sets, only inside one script run
// No TTLs (records are fields of one hash): maintenance removes everything past history.max_age.
import { randomBytes } from 'node:crypto';
import type { RedisContext, PartialReport } from './context.js';
import { RedisScript, type ScriptArg } from './script.js';
import { runPipeline as run } from './pipeline.js';
import { ACTIONS, checkCount, checkStatsQuery, DEFAULT_LIMIT, withNullSenderShown } from '../history-rules.js';
import type { CountedValue, HistoryFilter, HistoryStore, MaintenanceLimits, StatsQuery, StatsReport } from '../types.js';
import type { ResultRecord } from '../../core/result.js';

/** A queued batch is sent this long after its first record, ms ... */
const SEND_DELAY_MS = 5;
/** ... or at once when this many records are queued; also the most records one script writes. */
const BATCH_RECORDS = 500;
/**
 * Records kept in memory while Redis cannot take them (an outage) or lags behind (a burst above what
 * one writer sends, some 25,000 records/s); beyond, the oldest are dropped and that is reported.
 * About 1 KB each: 50 MB at most.
 */
const MAX_QUEUED_RECORDS = 50_000;
/** After a failed send, the queue is tried again this much later, ms. */
const RETRY_DELAY_MS = 1000;
/** A batch Redis itself refuses (an error reply, not a lost connection) is dropped after this many attempts. */
const MAX_REFUSED_ATTEMPTS = 3;
/** Ids read from the driving index per round trip of a query: from this many ... */
const WALK_BATCH_MIN = 100;
/** ... doubling up to this many. */
const WALK_BATCH_MAX = 5000;
/** Rollup keys read per pipeline by stats() and the id bounds of a time filter. */
const PERIODS_PER_READ = 1000;
/** Records (or rollup periods) deleted per script or transaction by maintenance. */
const DELETE_BATCH = 1000;
/** Records of the partial edge minutes of a stats window read per round trip. */
const EDGE_BATCH = 1000;
/** The first element of a stored record: the layout of the array that follows. */
const RECORD_FORMAT = 1;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const MINUTES_PER_HOUR = 60;
const minuteOf = (timeMs: number): number => Math.floor(timeMs / MINUTE_MS);
const hourOf = (timeMs: number): number => Math.floor(timeMs / HOUR_MS);

/** Lower-cases ASCII letters only, as SQLite's NOCASE compares. */
const foldAscii = (text: string): string => text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());

/** A number as a sorted-set score bound ('-inf', '+inf', or '(' + n for an exclusive one). */
const bound = (value: number, exclusive = false): string =>
  value === -Infinity ? '-inf' : value === Infinity ? '+inf' : `${exclusive ? '(' : ''}${value}`;

/** Lets the event loop run (the mail) between two slices of long work. */
const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Writes one batch of records, deriving every index entry and rollup from the records themselves
// (cjson), so the daemon sends each record once, as stored: building the index keys and counters in
// JavaScript cost the mail path about 15 µs of CPU per decision. KEYS: seq, records, ids, by-time,
// minutes, hours. ARGV: the area's key prefix (`<prefix>{history}:`), n, then the n records (JSON,
// RECORD_FORMAT). The other keys are built here from that prefix: all are in the history area's
// hash tag, so in the slot of the declared ones (as on a Redis Cluster they must be). The keys and
// values match indexKeysOf, rollupKey and rejectedKeys: addresses ASCII-lower-cased (string.lower
// in Redis's C locale), each distinct index key and symbol once per record.
// Returns the first id.
const WRITE_BATCH = new RedisScript(`
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
local first = redis.call('INCRBY', KEYS[1], n) - n + 1
-- Variadic writes, at most 1000 pairs per call (unpack's stack limit): one call per key and batch.
local function variadic(command, key, pairs)
  for start = 1, #pairs, 2000 do
    redis.call(command, key, unpack(pairs, start, math.min(start + 1999, #pairs)))
  end
end
local records, ids, times = {}, {}, {}
local members, memberKeys = {}, {}
local counters, counterKeys = {}, {}
local bounds = {}
local rejected, rejectedKeys = {}, {}
local minutes, hours = {}, {}
local function push(list, a, b) list[#list + 1] = a; list[#list + 1] = b end
local function count(map, keys, key, field)
  local fields = map[key]
  if not fields then fields = {}; map[key] = fields; keys[#keys + 1] = key end
  fields[field] = (fields[field] or 0) + 1
end
for offset = 0, n - 1 do
  local json = ARGV[offset + 3]
  local r = cjson.decode(json)
  local id = string.format('%d', first + offset)
  local time = r[2]
  push(records, id, json)
  push(ids, id, id)
  push(times, string.format('%d', time), id)
  local seen = {}
  local function index(kind, value)
    local key = prefix .. 'by-' .. kind .. ':' .. value
    if seen[key] then return end
    seen[key] = true
    local list = members[key]
    if not list then list = {}; members[key] = list; memberKeys[#memberKeys + 1] = key end
    push(list, id, id)
  end
  local action, client, sender = r[14], string.lower(r[6]), string.lower(r[9])
  index('client', client)
  index('sender', sender)
  for _, recipient in ipairs(r[10]) do index('recipient', string.lower(recipient)) end
  local symbols, names = {}, {}
  for _, symbol in ipairs(r[19]) do
    if not symbols[symbol.name] then symbols[symbol.name] = true; names[#names + 1] = symbol.name end
  end
  for _, name in ipairs(names) do index('symbol', name) end
  index('action', action)
  index('node', r[3])
  local minute = string.format('%d', math.floor(time / 60000))
  local hour = string.format('%d', math.floor(time / 3600000))
  minutes[minute] = true
  hours[hour] = true
  for period, number in pairs({ minute = minute, hour = hour }) do
    local key = prefix .. period .. ':' .. number
    count(counters, counterKeys, key, 'a:' .. action)
    count(counters, counterKeys, key, 'p:' .. r[4])
    for _, name in ipairs(names) do count(counters, counterKeys, key, 's:' .. name) end
    local known = bounds[key]
    if known then known[2] = first + offset else bounds[key] = { first + offset, first + offset } end
    if action == 'reject' then
      count(rejected, rejectedKeys, prefix .. 'rejected-clients:' .. period .. ':' .. number, client)
      count(rejected, rejectedKeys, prefix .. 'rejected-senders:' .. period .. ':' .. number, sender)
    end
  end
end
variadic('HSET', KEYS[2], records)
variadic('ZADD', KEYS[3], ids)
variadic('ZADD', KEYS[4], times)
for _, key in ipairs(memberKeys) do variadic('ZADD', key, members[key]) end
for _, key in ipairs(counterKeys) do
  for field, increment in pairs(counters[key]) do redis.call('HINCRBY', key, field, increment) end
  local low, high = bounds[key][1], bounds[key][2]
  local stored = tonumber(redis.call('HGET', key, 'first'))
  if not stored or low < stored then redis.call('HSET', key, 'first', string.format('%d', low)) end
  stored = tonumber(redis.call('HGET', key, 'last'))
  if not stored or high > stored then redis.call('HSET', key, 'last', string.format('%d', high)) end
end
for _, key in ipairs(rejectedKeys) do
  for member, increment in pairs(rejected[key]) do redis.call('ZINCRBY', key, increment, member) end
end
for minute in pairs(minutes) do redis.call('ZADD', KEYS[5], minute, minute) end
for hour in pairs(hours) do redis.call('ZADD', KEYS[6], hour, hour) end
return first
`);

// Deletes records with their index entries, and takes them out of the rejected rollups, only if
// the record is still there (two nodes may delete the same records at once). KEYS: records, ids,
// by-time, then the other keys. ARGV: n, then per record: id, count, index key indexes, count,
// then (rejected set key index, member) pairs. Returns how many records were deleted.
const DELETE_RECORDS = new RedisScript(`
local pos = 0
local function arg() pos = pos + 1; return ARGV[pos] end
local function num() return tonumber(arg()) end
local removed = 0
for _ = 1, num() do
  local id = arg()
  local existed = redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  for _ = 1, num() do
    redis.call('ZREM', KEYS[num()], id)
  end
  for _ = 1, num() do
    local key = KEYS[num()]
    local member = arg()
    if existed == 1 then
      local left = tonumber(redis.call('ZINCRBY', key, -1, member))
      if left <= 0 then redis.call('ZREM', key, member) end
    end
  end
  removed = removed + existed
end
return removed
`);

// The `top` members of the sum of sorted sets, most first, members of equal count in byte order
// at the cut. KEYS: a temporary key (deleted again), then the sets. ARGV: top, then (member,
// count) pairs added to the sum. Returns [member, count, member, count, ...] (not fully sorted).
const TOP_OF_UNION = new RedisScript(`
local tmp = KEYS[1]
local top = tonumber(ARGV[1])
local chunk = 1000
redis.call('DEL', tmp)
local from = 2
while from <= #KEYS do
  local to = math.min(#KEYS, from + chunk - 1)
  local sources = {}
  if from > 2 then table.insert(sources, tmp) end
  for i = from, to do table.insert(sources, KEYS[i]) end
  redis.call('ZUNIONSTORE', tmp, #sources, unpack(sources))
  from = to + 1
end
for i = 2, #ARGV, 2 do
  redis.call('ZINCRBY', tmp, ARGV[i + 1], ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', tmp, '-inf', 0)
local result
local cut = redis.call('ZREVRANGE', tmp, top - 1, top - 1, 'WITHSCORES')
if #cut == 0 then
  result = redis.call('ZREVRANGE', tmp, 0, -1, 'WITHSCORES')
else
  result = redis.call('ZREVRANGEBYSCORE', tmp, '+inf', '(' .. cut[2], 'WITHSCORES')
  local ties = redis.call('ZRANGEBYSCORE', tmp, cut[2], cut[2], 'WITHSCORES', 'LIMIT', 0, top - #result / 2)
  for _, value in ipairs(ties) do table.insert(result, value) end
end
redis.call('DEL', tmp)
return result
`);

/** A record as stored: positional, RECORD_FORMAT first (no repeated key names). */
type StoredRecord = [
  format: number, time: number, node: string, protocol: string, stage: string, clientAddress: string, clientName: string,
  helo: string, sender: string, recipients: string[], queueId: string, messageId: string, instance: string, action: string,
  decidedBy: string, reason: string, reply: string, score: number, symbols: ResultRecord['symbols'],
  headers: ResultRecord['headers'], facts: ResultRecord['facts'], errors: string[], durationMs: number,
];

function encodeRecord(r: ResultRecord): string {
  const stored: StoredRecord = [
    RECORD_FORMAT, r.time, r.node, r.protocol, r.stage, r.clientAddress, r.clientName, r.helo, r.sender, r.recipients, r.queueId,
    r.messageId, r.instance, r.action, r.decidedBy, r.reason, r.reply, r.score, r.symbols, r.headers, r.facts, r.errors, r.durationMs,
  ];
  return JSON.stringify(stored);
}

/** The record stored as `text`; undefined when it cannot be read (it is then skipped like a missing one). */
function decodeRecord(id: number, text: string): ResultRecord | undefined {
  let stored: StoredRecord;
  try {
    stored = JSON.parse(text) as StoredRecord;
  } catch {
    return undefined;
  }
  if (!Array.isArray(stored) || stored[0] !== RECORD_FORMAT) return undefined;
  const [, time, node, protocol, stage, clientAddress, clientName, helo, sender, recipients, queueId, messageId, instance, action,
    decidedBy, reason, reply, score, symbols, headers, facts, errors, durationMs] = stored;
  return {
    id, time, node, protocol: protocol as ResultRecord['protocol'], stage: stage as ResultRecord['stage'], clientAddress, clientName,
    helo, sender, recipients: recipients ?? [], queueId, messageId, instance, action: action as ResultRecord['action'], decidedBy,
    reason, reply, score, symbols: symbols ?? [], headers: headers ?? [], facts: facts ?? {}, errors: errors ?? [], durationMs,
  };
}

/** Distinct symbol names of a record. */
const symbolNames = (r: ResultRecord): string[] => [...new Set(r.symbols.map((s) => s.name))];
/** Distinct recipients of a record, folded. */
const foldedRecipients = (r: ResultRecord): string[] => [...new Set(r.recipients.map(foldAscii))];

/** Whether a record passes every filter (the last check of a query, after the index sets). */
function matches(r: ResultRecord, filter: HistoryFilter): boolean {
  if (filter.since !== undefined && !(r.time >= filter.since)) return false;
  if (filter.until !== undefined && !(r.time < filter.until)) return false;
  if (filter.client !== undefined && foldAscii(r.clientAddress) !== foldAscii(filter.client)) return false;
  if (filter.sender !== undefined && foldAscii(r.sender) !== foldAscii(filter.sender)) return false;
  if (filter.recipient !== undefined && !foldedRecipients(r).includes(foldAscii(filter.recipient))) return false;
  if (filter.action !== undefined && r.action !== filter.action) return false;
  if (filter.symbol !== undefined && !r.symbols.some((s) => s.name === filter.symbol)) return false;
  if (filter.node !== undefined && r.node !== filter.node) return false;
  return true;
}

/** Counted values, most first, then in byte order; the first `top`. */
function sortCounted(values: CountedValue[], top: number): CountedValue[] {
  return values.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, top);
}

/** The `top` largest counts of a map, most first (ties by value). */
const topCounts = (counts: Map<string, number>, top: number): CountedValue[] =>
  sortCounted([...counts].map(([value, count]) => ({ value, count })), top);

/** Half-open ranges [from, to) of minutes. */
type Span = [from: number, to: number];

/**
 * How to read the rollups of the minutes [from, to) (either end may be infinite): the whole hours
 * inside, [firstHour, endHour), per hour where an hour lies in one bucket of `bucketMinutes`
 * (Infinity: any hour does), and per minute the spans of `minutes` (the partial hours at the
 * edges; all of it with buckets shorter than an hour). `cut(hour)` tells whether a bucket boundary
 * cuts an hour, whose minutes are then read instead.
 */
function planWindow(from: number, to: number, bucketMinutes: number): { minutes: Span[]; firstHour: number; endHour: number; cut: (hour: number) => boolean } {
  const none = { minutes: [], firstHour: 0, endHour: 0, cut: () => false };
  if (!(from < to)) return none;
  const firstHour = Math.ceil(from / MINUTES_PER_HOUR);
  const endHour = Math.floor(to / MINUTES_PER_HOUR);
  if (firstHour >= endHour || bucketMinutes < MINUTES_PER_HOUR) return { ...none, minutes: [[from, to]] };
  const cut = (hour: number) => {
    const start = hour * MINUTES_PER_HOUR;
    return bucketMinutes !== Infinity && Math.floor(start / bucketMinutes) !== Math.floor((start + MINUTES_PER_HOUR - 1) / bucketMinutes);
  };
  const minutes: Span[] = [];
  if (from < firstHour * MINUTES_PER_HOUR) minutes.push([from, firstHour * MINUTES_PER_HOUR]);
  if (endHour * MINUTES_PER_HOUR < to) minutes.push([endHour * MINUTES_PER_HOUR, to]);
  return { minutes, firstHour, endHour, cut };
}

/** The keys and arguments of one script run, each key given once (scripts address them by index). */
class ScriptKeys {
  readonly keys: string[] = [];
  private readonly positions = new Map<string, number>();

  constructor(fixed: string[]) {
    for (const key of fixed) this.at(key);
  }

  /** The 1-based position of `key` in KEYS, adding it when new. */
  at(key: string): number {
    let position = this.positions.get(key);
    if (position === undefined) {
      this.keys.push(key);
      position = this.keys.length;
      this.positions.set(key, position);
    }
    return position;
  }
}

/** A queued record and how often Redis refused the batch holding it. */
interface Queued {
  record: ResultRecord;
  /** Its place in the order of add() calls (1, 2, ...), for flush(). */
  seq: number;
  refusals: number;
}

const isRefusal = (error: unknown): boolean => error instanceof Error && error.name === 'ReplyError';

export class RedisHistoryStore implements HistoryStore {
  private queue: Queued[] = [];
  /** add() calls so far (the seq of the newest queued record). */
  private added = 0;
  private sendTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** A background send waits for its turn. */
  private sendPending = false;
  /** The end of the last send (sends run one at a time, in queue order). */
  private sending: Promise<unknown> = Promise.resolve();
  /** Within an episode of failed sends (reported once). */
  private failing = false;
  /** Within an episode of a full queue (reported once). */
  private overflowing = false;
  private stopped = false;
  private dropped = 0;

  constructor(private readonly context: RedisContext) {}

  add(record: ResultRecord): void {
    if (!Number.isFinite(record.time)) {
      this.context.onBackgroundError(new Error(`history record with an invalid time (${record.time}) dropped`));
      return;
    }
    this.queue.push({ record, seq: ++this.added, refusals: 0 });
    this.trimQueue();
    if (this.stopped || this.retryTimer) return;
    if (this.queue.length >= BATCH_RECORDS) this.sendInBackground();
    else if (!this.sendTimer) {
      this.sendTimer = setTimeout(() => {
        this.sendTimer = undefined;
        this.sendInBackground();
      }, SEND_DELAY_MS);
      this.sendTimer.unref();
    }
  }

  /** Records dropped so far because the queue was full or Redis refused them. */
  get droppedRecords(): number {
    return this.dropped;
  }

  /** Sends every record queued now; rejects when Redis cannot take them (they stay queued). */
  async flush(): Promise<void> {
    const target = this.added;
    await this.exclusive(() => this.sendQueued(target));
  }

  /** Stops the timers (records still queued are sent by flush() only). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.sendTimer);
    clearTimeout(this.retryTimer);
    this.sendTimer = this.retryTimer = undefined;
  }

  async query(filter: HistoryFilter): Promise<ResultRecord[]> {
    const limit = checkCount('limit', filter.limit ?? DEFAULT_LIMIT);
    await this.flush();
    if (limit === 0) return [];
    const range = await this.idRange(filter);
    if (!range) return [];
    const { redis } = this.context;
    const conditions: string[] = [];
    if (filter.client !== undefined) conditions.push(this.indexKey('client', foldAscii(filter.client)));
    if (filter.sender !== undefined) conditions.push(this.indexKey('sender', foldAscii(filter.sender)));
    if (filter.recipient !== undefined) conditions.push(this.indexKey('recipient', foldAscii(filter.recipient)));
    if (filter.symbol !== undefined) conditions.push(this.indexKey('symbol', filter.symbol));
    if (filter.action !== undefined) conditions.push(this.indexKey('action', filter.action));
    if (filter.node !== undefined) conditions.push(this.indexKey('node', filter.node));
    const low = bound(range.low);
    let driver = this.key('ids');
    let others = conditions;
    if (conditions.length > 0) {
      const pipeline = redis.pipeline();
      for (const key of conditions) pipeline.zcount(key, low, bound(range.high));
      const counts = (await run(pipeline)).map(Number);
      const fewest = counts.indexOf(Math.min(...counts));
      if (counts[fewest] === 0) return [];
      driver = conditions[fewest]!;
      others = conditions.filter((_, i) => i !== fewest);
    }
    const timed = filter.since !== undefined || filter.until !== undefined;
    const found: ResultRecord[] = [];
    let high = bound(range.high);
    let batch = others.length === 0 && !timed ? limit : Math.max(limit * 2, WALK_BATCH_MIN);
    for (;;) {
      const size = Math.min(batch, WALK_BATCH_MAX);
      const ids = await redis.zrevrangebyscore(driver, high, low, 'LIMIT', 0, size);
      if (ids.length === 0) break;
      let candidates = ids;
      if (others.length > 0 || timed) {
        const pipeline = redis.pipeline();
        for (const key of others) pipeline.zmscore(key, ...ids);
        if (timed) pipeline.zmscore(this.key('by-time'), ...ids);
        const replies = (await run(pipeline)) as (string | null)[][];
        const times = timed ? replies.pop()! : undefined;
        candidates = ids.filter((_, i) => {
          if (!replies.every((scores) => scores[i] !== null)) return false;
          if (!times) return true;
          const time = Number(times[i]);
          return times[i] !== null && (filter.since === undefined || time >= filter.since) && (filter.until === undefined || time < filter.until);
        });
      }
      while (candidates.length > 0 && found.length < limit) {
        const slice = candidates.splice(0, limit - found.length);
        const texts = await redis.hmget(this.key('records'), ...slice);
        slice.forEach((id, i) => {
          const text = texts[i];
          const record = text ? decodeRecord(Number(id), text) : undefined;
          if (record && matches(record, filter)) found.push(record);
        });
      }
      if (found.length >= limit || ids.length < size) break;
      high = bound(Number(ids[ids.length - 1]), true);
      batch *= 2;
    }
    return found;
  }

  async get(id: number): Promise<ResultRecord | undefined> {
    await this.flush();
    if (!Number.isSafeInteger(id)) return undefined;
    const text = await this.context.redis.hget(this.key('records'), String(id));
    return text ? decodeRecord(id, text) : undefined;
  }

  async count(): Promise<number> {
    await this.flush();
    return this.context.redis.zcard(this.key('ids'));
  }

  /**
   * The counts of the window from the rollups, at minute resolution (the minutes holding `since`
   * and `until - 1 ms` count whole), in buckets from the one holding `since` to the one holding
   * `until - 1 ms`; the most rejected clients and senders exactly in the window, over the records
   * kept. RangeErrors as the SQLite store's.
   */
  async stats(query: StatsQuery): Promise<StatsReport> {
    const { since, until, bucketSeconds } = query;
    const { top, bucketMs, firstBucket, endBucket } = checkStatsQuery(query);
    await this.flush();

    const zeroes = (): Record<string, number> => Object.fromEntries(ACTIONS.map((a) => [a, 0]));
    const actions = zeroes();
    const protocols: Record<string, number> = {};
    const symbols = new Map<string, number>();
    const series: StatsReport['series'] = [];
    for (let bucket = firstBucket; bucket < endBucket; bucket++) series.push({ time: bucket * bucketMs, counts: zeroes() });
    const addRollup = (startMs: number, fields: Record<string, string>) => {
      const counts = series[Math.floor(startMs / bucketMs) - firstBucket]?.counts;
      for (const [field, text] of Object.entries(fields)) {
        const count = Number(text);
        const name = field.slice(2);
        if (field.startsWith('a:')) {
          actions[name] = (actions[name] ?? 0) + count;
          if (counts) counts[name] = (counts[name] ?? 0) + count;
        } else if (field.startsWith('p:')) protocols[name] = (protocols[name] ?? 0) + count;
        else if (field.startsWith('s:')) symbols.set(name, (symbols.get(name) ?? 0) + count);
      }
    };
    if (until > since) {
      const { minutes, hours } = await this.rollupsOf(minuteOf(since), Math.ceil(until / MINUTE_MS), bucketSeconds / 60);
      const periods = [
        ...minutes.map((m) => ({ key: this.key('minute', m), startMs: m * MINUTE_MS })),
        ...hours.map((h) => ({ key: this.key('hour', h), startMs: h * HOUR_MS })),
      ];
      for (let at = 0; at < periods.length; at += PERIODS_PER_READ) {
        const chunk = periods.slice(at, at + PERIODS_PER_READ);
        const pipeline = this.context.redis.pipeline();
        for (const { key } of chunk) pipeline.hgetall(key);
        const replies = (await run(pipeline)) as Record<string, string>[];
        chunk.forEach(({ startMs }, i) => addRollup(startMs, replies[i]!));
        if (at + PERIODS_PER_READ < periods.length) await pause();
      }
    }
    let topRejectedClients: CountedValue[] = [];
    let topRejectedSenders: CountedValue[] = [];
    if (top > 0 && since < until) {
      ({ clients: topRejectedClients, senders: topRejectedSenders } = await this.topRejected(since, until, top));
      topRejectedSenders = withNullSenderShown(topRejectedSenders);
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
   * Deletes the records older than historyMaxAge and the oldest beyond historyMaxRecords, in
   * batches, then the rollups of the minutes and hours wholly older than historyMaxAge.
   */
  async maintenance(limits: MaintenanceLimits): Promise<PartialReport> {
    const { redis } = this.context;
    const cutoffMs = (limits.now - limits.historyMaxAge) * 1000;
    let removed = 0;
    for (;;) {
      const ids = await redis.zrangebyscore(this.key('by-time'), '-inf', bound(cutoffMs, true), 'LIMIT', 0, DELETE_BATCH);
      if (ids.length > 0) removed += await this.deleteRecords(ids);
      if (ids.length < DELETE_BATCH) break;
      await pause();
    }
    for (;;) {
      const excess = (await redis.zcard(this.key('ids'))) - limits.historyMaxRecords;
      if (excess <= 0) break;
      const ids = await redis.zrange(this.key('ids'), 0, Math.min(excess, DELETE_BATCH) - 1);
      if (ids.length === 0) break;
      removed += await this.deleteRecords(ids);
      await pause();
    }
    // After the records: a reader never finds a record whose minute has no rollup (the id bounds of time filters).
    await this.deleteRollups('minutes', minuteOf(cutoffMs), (m) => [this.key('minute', m), ...this.rejectedKeys('minute', m)]);
    await this.deleteRollups('hours', hourOf(cutoffMs), (h) => [this.key('hour', h), ...this.rejectedKeys('hour', h)]);
    return { removedHistory: removed };
  }

  private key(...parts: (string | number)[]): string {
    return this.context.keys.key('history', ...parts);
  }

  private indexKey(kind: 'client' | 'sender' | 'recipient' | 'symbol' | 'action' | 'node', value: string): string {
    return this.key(`by-${kind}`, value);
  }

  /** The rejected-clients and rejected-senders sets of one minute or hour. */
  private rejectedKeys(period: 'minute' | 'hour', n: number): [clients: string, senders: string] {
    return [this.key('rejected-clients', period, n), this.key('rejected-senders', period, n)];
  }

  /** The index sets a record is in. */
  private indexKeysOf(r: ResultRecord): string[] {
    return [
      this.indexKey('client', foldAscii(r.clientAddress)),
      this.indexKey('sender', foldAscii(r.sender)),
      ...foldedRecipients(r).map((recipient) => this.indexKey('recipient', recipient)),
      ...symbolNames(r).map((name) => this.indexKey('symbol', name)),
      this.indexKey('action', r.action),
      this.indexKey('node', r.node),
    ];
  }

  /** Runs `work` after every send before it (sends go one at a time, in queue order). */
  private exclusive(work: () => Promise<void>): Promise<void> {
    const next = this.sending.then(work, work);
    this.sending = next.catch(() => {});
    return next;
  }

  private sendInBackground(): void {
    if (this.sendPending) return;
    this.sendPending = true;
    this.exclusive(async () => {
      this.sendPending = false;
      await this.sendQueued(Infinity);
    }).catch((error: unknown) => {
      if (!this.failing) {
        this.failing = true;
        this.context.onBackgroundError(new Error(`history records not written (kept for a retry): ${(error as Error).message ?? String(error)}`));
      }
    });
  }

  /** Sends queued records in batches until every record up to `target` (a seq) is written. */
  private async sendQueued(target: number): Promise<void> {
    while (this.queue.length > 0 && this.queue[0]!.seq <= target) {
      const batch = this.queue.splice(0, BATCH_RECORDS);
      try {
        await this.writeBatch(batch.map((q) => q.record));
      } catch (error) {
        this.requeue(batch, error);
        throw error;
      }
      this.failing = false;
      if (this.queue.length < MAX_QUEUED_RECORDS) this.overflowing = false;
    }
  }

  /** Puts a batch that failed back at the head of the queue (within its bound) and schedules a retry. */
  private requeue(batch: Queued[], error: unknown): void {
    let kept = batch;
    if (isRefusal(error)) {
      for (const q of batch) q.refusals++;
      kept = batch.filter((q) => q.refusals < MAX_REFUSED_ATTEMPTS);
      if (kept.length < batch.length) {
        this.dropped += batch.length - kept.length;
        this.context.onBackgroundError(new Error(`${batch.length - kept.length} history record(s) dropped: Redis refused them ${MAX_REFUSED_ATTEMPTS} times (${(error as Error).message})`));
      }
    }
    this.queue = kept.concat(this.queue);
    this.trimQueue();
    if (!this.stopped && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (this.queue.length > 0) this.sendInBackground();
      }, RETRY_DELAY_MS);
      this.retryTimer.unref();
    }
  }

  /** Drops the oldest records beyond MAX_QUEUED_RECORDS (reported once per episode). */
  private trimQueue(): void {
    if (this.queue.length <= MAX_QUEUED_RECORDS) return;
    const excess = this.queue.length - MAX_QUEUED_RECORDS;
    this.queue.splice(0, excess);
    this.dropped += excess;
    if (!this.overflowing) {
      this.overflowing = true;
      this.context.onBackgroundError(new Error(`history queue full (${MAX_QUEUED_RECORDS} records): the oldest are dropped until Redis takes them again`));
    }
  }

  /** Writes records with their index entries and rollups in one script run. */
  private async writeBatch(records: ResultRecord[]): Promise<void> {
    if (records.length === 0) return;
    const keys = ['seq', 'records', 'ids', 'by-time', 'minutes', 'hours'].map((part) => this.key(part));
    const args: ScriptArg[] = [this.context.keys.areaPrefix('history'), records.length];
    for (const record of records) args.push(encodeRecord(record));
    await WRITE_BATCH.run(this.context.redis, keys, args);
  }

  /** Deletes records by id with their index entries and rejected counts; returns how many were there. */
  private async deleteRecords(ids: string[]): Promise<number> {
    const texts = await this.context.redis.hmget(this.key('records'), ...ids);
    const keys = new ScriptKeys(['records', 'ids', 'by-time'].map((part) => this.key(part)));
    const args: ScriptArg[] = [ids.length];
    ids.forEach((id, i) => {
      const text = texts[i];
      const record = text ? decodeRecord(Number(id), text) : undefined;
      args.push(id);
      if (!record) {
        args.push(0, 0);
        return;
      }
      const indexes = [...new Set(this.indexKeysOf(record))].map((key) => keys.at(key));
      args.push(indexes.length, ...indexes);
      if (record.action === 'reject') {
        const minute = minuteOf(record.time);
        const hour = hourOf(record.time);
        const pairs: [string, string][] = [];
        for (const [clients, senders] of [this.rejectedKeys('minute', minute), this.rejectedKeys('hour', hour)]) {
          pairs.push([clients, foldAscii(record.clientAddress)], [senders, foldAscii(record.sender)]);
        }
        args.push(pairs.length);
        for (const [key, member] of pairs) args.push(keys.at(key), member);
      } else args.push(0);
    });
    return Number(await DELETE_RECORDS.run(this.context.redis, keys.keys, args));
  }

  /** Deletes the rollup keys of the periods (minutes or hours) before `before`, DELETE_BATCH a transaction. */
  private async deleteRollups(index: 'minutes' | 'hours', before: number, keysOf: (period: number) => string[]): Promise<void> {
    const { redis } = this.context;
    for (;;) {
      const periods = await redis.zrangebyscore(this.key(index), '-inf', bound(before, true), 'LIMIT', 0, DELETE_BATCH);
      if (periods.length === 0) return;
      const multi = redis.multi();
      multi.unlink(...periods.flatMap((p) => keysOf(Number(p))));
      multi.zrem(this.key(index), ...periods);
      await run(multi);
      if (periods.length < DELETE_BATCH) return;
      await pause();
    }
  }

  /**
   * The minutes and hours whose rollups cover the minutes [from, to) (planWindow), of those that
   * have rollups (the minutes and hours sets), so that a window reaching far beyond the records
   * costs nothing more.
   */
  private async rollupsOf(from: number, to: number, bucketMinutes: number): Promise<{ minutes: number[]; hours: number[] }> {
    const { redis } = this.context;
    const plan = planWindow(from, to, bucketMinutes);
    const hours: number[] = [];
    const spans = [...plan.minutes];
    if (plan.firstHour < plan.endHour) {
      const existing = await redis.zrangebyscore(this.key('hours'), bound(plan.firstHour), bound(plan.endHour, true));
      for (const hour of existing.map(Number)) {
        if (plan.cut(hour)) spans.push([hour * MINUTES_PER_HOUR, (hour + 1) * MINUTES_PER_HOUR]);
        else hours.push(hour);
      }
    }
    const minutes: number[] = [];
    for (let at = 0; at < spans.length; at += PERIODS_PER_READ) {
      const pipeline = redis.pipeline();
      for (const [start, end] of spans.slice(at, at + PERIODS_PER_READ)) pipeline.zrangebyscore(this.key('minutes'), bound(start), bound(end, true));
      for (const found of (await run(pipeline)) as string[][]) minutes.push(...found.map(Number));
    }
    return { minutes, hours };
  }

  /**
   * The ids a page may hold, [low, high]: above afterId, below beforeId, and, with a time filter,
   * between the lowest and highest id written in the minutes from the one holding `since` to the
   * one holding `until - 1 ms`. Undefined when no record can match.
   */
  private async idRange(filter: HistoryFilter): Promise<{ low: number; high: number } | undefined> {
    let low = filter.afterId !== undefined ? Math.floor(filter.afterId) + 1 : -Infinity;
    let high = filter.beforeId !== undefined ? Math.ceil(filter.beforeId) - 1 : Infinity;
    if (Number.isNaN(low) || Number.isNaN(high)) return undefined;
    if (filter.since !== undefined || filter.until !== undefined) {
      const from = filter.since !== undefined ? minuteOf(filter.since) : -Infinity;
      const to = filter.until !== undefined ? Math.ceil(filter.until / MINUTE_MS) : Infinity;
      const { minutes, hours } = await this.rollupsOf(from, to, Infinity);
      const keys = [...minutes.map((m) => this.key('minute', m)), ...hours.map((h) => this.key('hour', h))];
      let first = Infinity;
      let last = -Infinity;
      for (let at = 0; at < keys.length; at += PERIODS_PER_READ) {
        const pipeline = this.context.redis.pipeline();
        for (const key of keys.slice(at, at + PERIODS_PER_READ)) pipeline.hmget(key, 'first', 'last');
        for (const [firstId, lastId] of (await run(pipeline)) as (string | null)[][]) {
          if (firstId !== null && firstId !== undefined) first = Math.min(first, Number(firstId));
          if (lastId !== null && lastId !== undefined) last = Math.max(last, Number(lastId));
        }
      }
      if (first === Infinity) return undefined;
      low = Math.max(low, first);
      high = Math.min(high, last);
    }
    return low <= high ? { low, high } : undefined;
  }

  /**
   * The `top` clients and senders (folded) with the most rejected decisions in [since, until):
   * the rejected rollups of the whole minutes inside (per hour where whole hours are), plus the
   * records of the partial minutes at the edges.
   */
  private async topRejected(since: number, until: number, top: number): Promise<{ clients: CountedValue[]; senders: CountedValue[] }> {
    const { redis } = this.context;
    const wholeFrom = Math.ceil(since / MINUTE_MS);
    const wholeTo = Math.floor(until / MINUTE_MS);
    const edges: [number, number][] = wholeFrom < wholeTo ? [[since, wholeFrom * MINUTE_MS], [wholeTo * MINUTE_MS, until]] : [[since, until]];
    const clientKeys: string[] = [];
    const senderKeys: string[] = [];
    if (wholeFrom < wholeTo) {
      const { minutes, hours } = await this.rollupsOf(wholeFrom, wholeTo, Infinity);
      for (const [clients, senders] of [...minutes.map((m) => this.rejectedKeys('minute', m)), ...hours.map((h) => this.rejectedKeys('hour', h))]) {
        clientKeys.push(clients);
        senderKeys.push(senders);
      }
    }
    const edgeClients = new Map<string, number>();
    const edgeSenders = new Map<string, number>();
    const add = (counts: Map<string, number>, value: string) => counts.set(value, (counts.get(value) ?? 0) + 1);
    for (const [from, to] of edges) {
      if (!(from < to)) continue;
      for (let offset = 0; ; offset += EDGE_BATCH) {
        const ids = await redis.zrangebyscore(this.key('by-time'), bound(from), bound(to, true), 'LIMIT', offset, EDGE_BATCH);
        if (ids.length === 0) break;
        const rejects = await redis.zmscore(this.indexKey('action', 'reject'), ...ids);
        const rejectedIds = ids.filter((_, i) => rejects[i] !== null);
        if (rejectedIds.length > 0) {
          const texts = await redis.hmget(this.key('records'), ...rejectedIds);
          rejectedIds.forEach((id, i) => {
            const record = texts[i] ? decodeRecord(Number(id), texts[i]!) : undefined;
            if (!record || record.action !== 'reject') return;
            add(edgeClients, foldAscii(record.clientAddress));
            add(edgeSenders, foldAscii(record.sender));
          });
        }
        if (ids.length < EDGE_BATCH) break;
      }
    }
    const topOf = async (sources: string[], extra: Map<string, number>): Promise<CountedValue[]> => {
      if (sources.length === 0 && extra.size === 0) return [];
      const args: ScriptArg[] = [top];
      for (const [value, count] of extra) args.push(value, count);
      const temporary = this.key('top', randomBytes(8).toString('hex'));
      const flat = (await TOP_OF_UNION.run(redis, [temporary, ...sources], args)) as string[];
      const counted: CountedValue[] = [];
      for (let i = 0; i < flat.length; i += 2) counted.push({ value: flat[i]!, count: Number(flat[i + 1]) });
      return sortCounted(counted, top);
    };
    return { clients: await topOf(clientKeys, edgeClients), senders: await topOf(senderKeys, edgeSenders) };
  }
}
