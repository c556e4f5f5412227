// Valid recipients on Redis (RecipientStore, `rempart recipients ...`). The table is small and read
// whole: the recipients check rebuilds its in-memory table from all() when the version counter
// moves, and list() filters, sorts and pages in memory as the SQLite store's ORDER BY does. A batch
// add and a removal are each one Lua script that also INCRs the version.
//
// Keys (area `recipients`, one hash tag):
//   {recipients}:next-id   string  INCR counter giving entry ids
//   {recipients}:entries   hash    id → JSON of the entry without its id (RecipientInput + domain)
//   {recipients}:index     hash    address (`user@domain` or `@domain`) → id
//   {recipients}:version   string  change counter (Versioned)
// Entries never expire.
import { parseRecipientEntry } from '../../lists/entry.js';
import type { RedisContext, PartialReport } from './context.js';
import { binaryCompare, foldAscii } from './lists.js';
import { RedisScript } from './script.js';
import type { MaintenanceLimits, RecipientEntry, RecipientFilter, RecipientInput, RecipientStore } from '../types.js';

/** An entry as stored under its id. */
type StoredRecipient = Omit<RecipientEntry, 'id'>;

/** An address the store accepts, normalised with its domain; throws with the parser's message otherwise. */
function normalised(address: string): { address: string; domain: string } {
  const parsed = parseRecipientEntry(address);
  if (typeof parsed === 'string') throw new Error(`${address}: ${parsed}`);
  return parsed;
}

// KEYS: next-id, entries, index, version. ARGV: per entry, its address and its JSON (2 values
// each). Returns per entry its id and 1 when created (2 values each).
const ADD = new RedisScript(`
local result = {}
for i = 1, #ARGV, 2 do
  local id = redis.call('HGET', KEYS[3], ARGV[i])
  local created = 0
  if not id then
    id = redis.call('INCR', KEYS[1])
    redis.call('HSET', KEYS[3], ARGV[i], id)
    created = 1
  end
  redis.call('HSET', KEYS[2], id, ARGV[i + 1])
  result[#result + 1] = tonumber(id)
  result[#result + 1] = created
end
if #result > 0 then redis.call('INCR', KEYS[4]) end
return result
`);

// KEYS: entries, index, version. ARGV: address. Returns 1 when it went, else 0.
const REMOVE = new RedisScript(`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], id)
redis.call('INCR', KEYS[3])
return 1
`);

export class RedisRecipientStore implements RecipientStore {
  private changes = 0;
  private readonly nextIdKey: string;
  private readonly entriesKey: string;
  private readonly indexKey: string;
  private readonly versionKey: string;

  constructor(private readonly context: RedisContext) {
    const { keys } = context;
    this.nextIdKey = keys.key('recipients', 'next-id');
    this.entriesKey = keys.key('recipients', 'entries');
    this.indexKey = keys.key('recipients', 'index');
    this.versionKey = keys.key('recipients', 'version');
  }

  get localChanges(): number {
    return this.changes;
  }

  async version(): Promise<number> {
    return Number((await this.context.redis.get(this.versionKey)) ?? 0);
  }

  async add(entries: RecipientInput[]): Promise<{ entry: RecipientEntry; created: boolean }[]> {
    const stored: StoredRecipient[] = entries.map((e) => ({ ...normalised(e.address), comment: e.comment, addedBy: e.addedBy, createdAt: e.createdAt }));
    if (stored.length === 0) return [];
    const args = stored.flatMap((e) => [e.address, JSON.stringify(e)]);
    try {
      const reply = (await ADD.run(this.context.redis, [this.nextIdKey, this.entriesKey, this.indexKey, this.versionKey], args)) as number[];
      return stored.map((entry, i) => ({ entry: { id: Number(reply[2 * i]), ...entry }, created: reply[2 * i + 1] === 1 }));
    } finally {
      this.changes++;
    }
  }

  async remove(address: string): Promise<number> {
    const { address: normalisedAddress } = normalised(address);
    try {
      return Number(await REMOVE.run(this.context.redis, [this.entriesKey, this.indexKey, this.versionKey], [normalisedAddress]));
    } finally {
      this.changes++;
    }
  }

  async list(filter: RecipientFilter): Promise<RecipientEntry[]> {
    const search = filter.search ? foldAscii(filter.search) : undefined;
    const stored = await this.context.redis.hgetall(this.entriesKey);
    const matches = Object.entries(stored)
      .map(([id, json]): RecipientEntry => ({ id: Number(id), ...(JSON.parse(json) as StoredRecipient) }))
      .filter((e) => !search || [e.address, e.comment, e.addedBy].some((text) => foldAscii(text).includes(search)));
    // By domain, the catch-all `@domain` first, then by address.
    matches.sort(
      (a, b) =>
        binaryCompare(a.domain, b.domain) ||
        Number(!a.address.startsWith('@')) - Number(!b.address.startsWith('@')) ||
        binaryCompare(a.address, b.address),
    );
    const offset = filter.offset ?? 0;
    return filter.limit === undefined || filter.limit < 0 ? matches.slice(offset) : matches.slice(offset, offset + filter.limit);
  }

  async all(): Promise<string[]> {
    return this.context.redis.hkeys(this.indexKey);
  }

  /** Recipients never expire: nothing to do. */
  async maintenance(_limits: MaintenanceLimits): Promise<PartialReport> {
    return {};
  }
}
