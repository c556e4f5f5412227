// Allow/block list entries on Redis (ListStore). Lists are small (hundreds, a few thousand entries)
// and read whole: the daemon rebuilds its in-memory matcher from active() when the version counter
// moves, and list() filters, sorts and pages in memory as the SQLite store's ORDER BY does. Every
// change (a batch put, a removal, expired entries removed by maintenance) is one Lua script that
// also INCRs the version, so another node sees it at its next version check.
//
// Keys (area `lists`, one hash tag):
//   {lists}:next-id   string  INCR counter giving entry ids
//   {lists}:entries   hash    id → JSON of the entry without its id (ListEntryInput + type)
//   {lists}:index     hash    "<kind> <value> <scope>" → id: one entry per kind, value and scope
//                             (kind and value hold no white space, so the field is unambiguous)
//   {lists}:expiry    zset    id scored by expiresAt, entries that expire only (maintenance)
//   {lists}:version   string  change counter (Versioned)
// No Redis TTLs: an entry lives in one hash with its index fields, and maintenance removes expired
// ones (active() leaves them out meanwhile).
import { parseListValue } from '../../lists/entry.js';
import type { RedisContext, PartialReport } from './context.js';
import { RedisScript } from './script.js';
import type { ListEntry, ListEntryInput, ListFilter, ListSelector, ListStore, MaintenanceLimits } from '../types.js';

/** Expired entries removed by one maintenance script run. */
const EXPIRY_BATCH_ENTRIES = 1000;

/** An entry as stored under its id. */
type StoredEntry = Omit<ListEntry, 'id'>;

/** A value the store accepts, normalised; throws with the parser's message otherwise. */
function normalised(value: string): Pick<ListEntry, 'type' | 'value'> {
  const parsed = parseListValue(value);
  if (typeof parsed === 'string') throw new Error(`${value}: ${parsed}`);
  return parsed;
}

const normalisedScope = (scope: string): string => scope.trim().toLowerCase();

/** The unique-index field of an entry (the same text the Lua scripts build). */
const indexField = (kind: string, value: string, scope: string): string => `${kind} ${value} ${scope}`;

/** Lower case of ASCII letters only, as SQLite's LIKE compares. */
export const foldAscii = (text: string): string => text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());

/** Code-point order of two strings, as SQLite's binary collation sorts UTF-8. */
export function binaryCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// KEYS: next-id, entries, index, expiry, version. ARGV: per entry, its index field, its JSON and its
// expiry (3 values each). Returns per entry its id and 1 when created (2 values each).
const PUT = new RedisScript(`
local result = {}
for i = 1, #ARGV, 3 do
  local field, json, expiresAt = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local id = redis.call('HGET', KEYS[3], field)
  local created = 0
  if not id then
    id = redis.call('INCR', KEYS[1])
    redis.call('HSET', KEYS[3], field, id)
    created = 1
  end
  redis.call('HSET', KEYS[2], id, json)
  if expiresAt > 0 then redis.call('ZADD', KEYS[4], expiresAt, id) else redis.call('ZREM', KEYS[4], id) end
  result[#result + 1] = tonumber(id)
  result[#result + 1] = created
end
if #result > 0 then redis.call('INCR', KEYS[5]) end
return result
`);

// Removes the entry of one id when it is of the given kind. KEYS: entries, index, expiry, version.
// ARGV: id, kind. Returns 1 when it went, else 0.
const REMOVE_BY_ID = new RedisScript(`
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local entry = cjson.decode(json)
if entry.kind ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], entry.kind .. ' ' .. entry.value .. ' ' .. entry.scope) == ARGV[1] then
  redis.call('HDEL', KEYS[2], entry.kind .. ' ' .. entry.value .. ' ' .. entry.scope)
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[4])
return 1
`);

// Removes the entry of one index field. KEYS: entries, index, expiry, version. ARGV: field.
const REMOVE_BY_FIELD = new RedisScript(`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], id)
redis.call('ZREM', KEYS[3], id)
redis.call('INCR', KEYS[4])
return 1
`);

// Removes up to ARGV[2] entries expired at ARGV[1] (0 < expiresAt <= now). KEYS: entries, index,
// expiry, version. Returns how many went.
const EXPIRE = new RedisScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '(0', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[1], id)
  if json then
    local entry = cjson.decode(json)
    local field = entry.kind .. ' ' .. entry.value .. ' ' .. entry.scope
    if redis.call('HGET', KEYS[2], field) == id then redis.call('HDEL', KEYS[2], field) end
    redis.call('HDEL', KEYS[1], id)
  end
  redis.call('ZREM', KEYS[3], id)
end
if #ids > 0 then redis.call('INCR', KEYS[4]) end
return #ids
`);

export class RedisListStore implements ListStore {
  private changes = 0;
  private readonly nextIdKey: string;
  private readonly entriesKey: string;
  private readonly indexKey: string;
  private readonly expiryKey: string;
  private readonly versionKey: string;

  constructor(private readonly context: RedisContext) {
    const { keys } = context;
    this.nextIdKey = keys.key('lists', 'next-id');
    this.entriesKey = keys.key('lists', 'entries');
    this.indexKey = keys.key('lists', 'index');
    this.expiryKey = keys.key('lists', 'expiry');
    this.versionKey = keys.key('lists', 'version');
  }

  get localChanges(): number {
    return this.changes;
  }

  async version(): Promise<number> {
    return Number((await this.context.redis.get(this.versionKey)) ?? 0);
  }

  async put(entries: ListEntryInput[]): Promise<{ entry: ListEntry; created: boolean }[]> {
    const stored: StoredEntry[] = entries.map((e) => ({
      kind: e.kind,
      ...normalised(e.value),
      scope: normalisedScope(e.scope),
      reason: e.reason,
      comment: e.comment,
      addedBy: e.addedBy,
      createdAt: e.createdAt,
      expiresAt: e.expiresAt,
    }));
    if (stored.length === 0) return [];
    const args = stored.flatMap((e) => [indexField(e.kind, e.value, e.scope), JSON.stringify(e), e.expiresAt]);
    try {
      const reply = (await PUT.run(this.context.redis, [this.nextIdKey, this.entriesKey, this.indexKey, this.expiryKey, this.versionKey], args)) as number[];
      return stored.map((entry, i) => ({ entry: { id: Number(reply[2 * i]), ...entry }, created: reply[2 * i + 1] === 1 }));
    } finally {
      this.changes++;
    }
  }

  async remove(selector: ListSelector): Promise<number> {
    const keys = [this.entriesKey, this.indexKey, this.expiryKey, this.versionKey];
    try {
      if ('id' in selector) return Number(await REMOVE_BY_ID.run(this.context.redis, keys, [selector.id, selector.kind]));
      const field = indexField(selector.kind, normalised(selector.value).value, normalisedScope(selector.scope));
      return Number(await REMOVE_BY_FIELD.run(this.context.redis, keys, [field]));
    } finally {
      this.changes++;
    }
  }

  async list(filter: ListFilter): Promise<ListEntry[]> {
    const scope = filter.scope === undefined ? undefined : normalisedScope(filter.scope);
    const search = filter.search ? foldAscii(filter.search) : undefined;
    const matches = (await this.all()).filter(
      (e) =>
        (!filter.kind || e.kind === filter.kind) &&
        (scope === undefined || e.scope === scope) &&
        (!search || [e.value, e.scope, e.reason, e.comment, e.addedBy].some((text) => foldAscii(text).includes(search))),
    );
    matches.sort(
      (a, b) => binaryCompare(a.scope, b.scope) || binaryCompare(a.kind, b.kind) || binaryCompare(a.type, b.type) || binaryCompare(a.value, b.value),
    );
    const offset = filter.offset ?? 0;
    return filter.limit === undefined || filter.limit < 0 ? matches.slice(offset) : matches.slice(offset, offset + filter.limit);
  }

  async active(now: number): Promise<ListEntry[]> {
    return (await this.all()).filter((e) => e.expiresAt === 0 || e.expiresAt > now);
  }

  /** Removes entries expired at limits.now, in batches; the version moves when any went. */
  async maintenance(limits: MaintenanceLimits): Promise<PartialReport> {
    const keys = [this.entriesKey, this.indexKey, this.expiryKey, this.versionKey];
    let expiredListEntries = 0;
    for (;;) {
      const removed = Number(await EXPIRE.run(this.context.redis, keys, [limits.now, EXPIRY_BATCH_ENTRIES]));
      expiredListEntries += removed;
      if (removed < EXPIRY_BATCH_ENTRIES) break;
      await new Promise(setImmediate);
    }
    return { expiredListEntries };
  }

  /** Every stored entry, expired or not. */
  private async all(): Promise<ListEntry[]> {
    const stored = await this.context.redis.hgetall(this.entriesKey);
    return Object.entries(stored).map(([id, json]) => ({ id: Number(id), ...(JSON.parse(json) as StoredEntry) }));
  }
}
