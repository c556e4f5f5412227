// IP reputation strikes on Redis (StrikeStore). The strikes of one (address, reason) are a sorted
// set of their times; a strike is one Lua script that drops the times that left the window, adds
// itself, trims the set to MAX_STRIKES_KEPT and counts, so the count is atomic across hosts. Each
// strike is its own member (time plus a unique suffix), so two strikes in one second count twice.
// A set per address names its reasons (to clear or list an address); an index sorted set by expiry
// lists every tally and lets maintenance prune them in batches. Tallies and reason sets also expire
// through their TTL, when their newest strike leaves its window; their index members stay until
// maintenance.
//
// Keys (area `strikes`, one hash tag; the reason is URI-encoded so it holds no ':'):
//   {strikes}:tally:<reason>:<address>  zset    one member per strike "<time>-<process>-<n>" → time (s);
//                                               TTL: EXPIREAT newest strike + window
//   {strikes}:reasons:<address>         set     the reasons of the address's tallies; TTL: the
//                                               latest of its tallies' expiries
//   {strikes}:index                     zset    "<address> <reason>" → the tally's expiry (s)
import { randomBytes } from 'node:crypto';
import { canonicalNetwork } from '../../lists/entry.js';
import type { RedisContext, PartialReport } from './context.js';
import { RedisScript } from './script.js';
import { runPipeline } from './pipeline.js';
import { MAX_STRIKES_KEPT } from '../sqlite/strikes.js';
import type { MaintenanceLimits, StrikeRow, StrikeStore } from '../types.js';

/** Index members read, or tallies removed, per round trip when listing and in maintenance. */
const BATCH_TALLIES = 1000;
/** Attempts of clear() when strikes of new reasons keep arriving while it reads the address's reasons. */
const MAX_CLEAR_ATTEMPTS = 5;

/** A client address in canonical form (IPv4-mapped IPv6 as IPv4); other text lower-cased (as the SQLite store). */
const canonicalAddress = (address: string): string => {
  const parsed = canonicalNetwork(address);
  return parsed && !parsed.network.includes('/') ? parsed.network : address.trim().toLowerCase();
};

/** The index member of a tally: an address holds no space, so the first space separates. */
const indexMember = (address: string, reason: string): string => `${address} ${reason}`;

function parseIndexMember(member: string): { address: string; reason: string } {
  const space = member.indexOf(' ');
  return { address: member.slice(0, space), reason: member.slice(space + 1) };
}

// KEYS: tally, reasons of the address, index.
// ARGV: now (s), window (s), strike member, most strikes kept, reason, index member.
// Returns the strikes within the window, this one included.
const ADD_STRIKE = new RedisScript(`
local now = tonumber(ARGV[1])
local expiresAt = now + tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], now, ARGV[3])
local count = redis.call('ZCARD', KEYS[1])
local kept = tonumber(ARGV[4])
if count > kept then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, count - kept - 1)
  count = kept
end
redis.call('EXPIREAT', KEYS[1], expiresAt)
redis.call('SADD', KEYS[2], ARGV[5])
-- EXPIRETIME is -1 for the set just created: it gets this tally's expiry; a later one never shortens it.
if redis.call('EXPIRETIME', KEYS[2]) < expiresAt then redis.call('EXPIREAT', KEYS[2], expiresAt) end
redis.call('ZADD', KEYS[3], expiresAt, ARGV[6])
return count
`);

// KEYS: reasons of the address, index, then one tally per reason. ARGV: address, then the reasons
// in the order of their tallies. Returns how many tallies went, or -1 when the address's reasons
// are no longer those given (a strike of another reason came: read them again).
const CLEAR_ADDRESS = new RedisScript(`
if redis.call('SCARD', KEYS[1]) ~= #ARGV - 1 then return -1 end
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then return -1 end
end
local removed = 0
for i = 2, #ARGV do
  redis.call('DEL', KEYS[i + 1])
  removed = removed + redis.call('ZREM', KEYS[2], ARGV[1] .. ' ' .. ARGV[i])
end
redis.call('DEL', KEYS[1])
return removed
`);

// KEYS: index, then per tally its key and its address's reasons (2 keys each).
// ARGV: now (s), then per tally its index member and its reason (2 values each).
// Removes the tallies whose expiry is at or before now; returns how many went.
const EXPIRE_TALLIES = new RedisScript(`
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, 2 do
  local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or '')
  if expiry and expiry <= now then
    redis.call('DEL', KEYS[i])
    redis.call('SREM', KEYS[i + 1], ARGV[i + 1])
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
`);

export class RedisStrikeStore implements StrikeStore {
  private readonly indexKey: string;
  /** Makes this process's strike members unique: two strikes in one second are two members. */
  private readonly processTag = randomBytes(6).toString('hex');
  private strikesMade = 0;

  constructor(private readonly context: RedisContext) {
    this.indexKey = context.keys.key('strikes', 'index');
  }

  private tallyKey(address: string, reason: string): string {
    return this.context.keys.key('strikes', 'tally', encodeURIComponent(reason), address);
  }

  private reasonsKey(address: string): string {
    return this.context.keys.key('strikes', 'reasons', address);
  }

  async addStrike(address: string, reason: string, now: number, windowSeconds: number): Promise<number> {
    const canonical = canonicalAddress(address);
    const member = `${now}-${this.processTag}-${++this.strikesMade}`;
    const reply = await ADD_STRIKE.run(
      this.context.redis,
      [this.tallyKey(canonical, reason), this.reasonsKey(canonical), this.indexKey],
      [now, windowSeconds, member, MAX_STRIKES_KEPT, reason, indexMember(canonical, reason)],
    );
    return Number(reply);
  }

  async clear(address: string): Promise<number> {
    const canonical = canonicalAddress(address);
    const reasonsKey = this.reasonsKey(canonical);
    for (let attempt = 1; ; attempt++) {
      const reasons = await this.context.redis.smembers(reasonsKey);
      if (reasons.length === 0) return 0;
      const reply = Number(
        await CLEAR_ADDRESS.run(
          this.context.redis,
          [reasonsKey, this.indexKey, ...reasons.map((reason) => this.tallyKey(canonical, reason))],
          [canonical, ...reasons],
        ),
      );
      if (reply >= 0) return reply;
      if (attempt >= MAX_CLEAR_ATTEMPTS) throw new Error(`strikes of ${canonical}: new reasons kept arriving, clear given up`);
    }
  }

  /** The tallies of these (address, reason) pairs with their expiry; those gone through their TTL are left out. */
  private async readTallies(pairs: { address: string; reason: string; expiresAt: number }[]): Promise<StrikeRow[]> {
    if (pairs.length === 0) return [];
    const pipeline = this.context.redis.pipeline();
    for (const { address, reason } of pairs) pipeline.zrange(this.tallyKey(address, reason), 0, -1, 'WITHSCORES');
    const timesOf = (await runPipeline(pipeline)) as string[][];
    const rows: StrikeRow[] = [];
    pairs.forEach((pair, i) => {
      const flat = timesOf[i]!;
      if (flat.length === 0) return;
      rows.push({ ...pair, times: flat.filter((_, j) => j % 2 === 1).map(Number) });
    });
    return rows;
  }

  async list(filter: { address?: string; limit?: number }): Promise<StrikeRow[]> {
    const limit = filter.limit === undefined || filter.limit < 0 ? Infinity : filter.limit;
    if (limit === 0) return [];
    const { redis } = this.context;
    if (filter.address !== undefined) {
      const address = canonicalAddress(filter.address);
      const reasons = (await redis.smembers(this.reasonsKey(address))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      if (reasons.length === 0) return [];
      const expiries = await redis.zmscore(this.indexKey, ...reasons.map((reason) => indexMember(address, reason)));
      const rows = await this.readTallies(reasons.map((reason, i) => ({ address, reason, expiresAt: Number(expiries[i] ?? 0) })));
      return rows.slice(0, limit);
    }
    const rows: StrikeRow[] = [];
    // Newest expiry first, as the SQLite store's ORDER BY expires_at DESC.
    for (let start = 0; rows.length < limit; start += BATCH_TALLIES) {
      const flat = await redis.zrevrange(this.indexKey, start, start + BATCH_TALLIES - 1, 'WITHSCORES');
      const pairs: { address: string; reason: string; expiresAt: number }[] = [];
      for (let i = 0; i < flat.length; i += 2) pairs.push({ ...parseIndexMember(flat[i]!), expiresAt: Number(flat[i + 1]) });
      rows.push(...(await this.readTallies(pairs)));
      if (pairs.length < BATCH_TALLIES) break;
    }
    return rows.slice(0, limit);
  }

  /** Removes the tallies whose newest strike left its window by `now`, in batches. */
  async maintenance(limits: MaintenanceLimits): Promise<PartialReport> {
    let expiredStrikes = 0;
    for (;;) {
      const members = await this.context.redis.zrangebyscore(this.indexKey, '-inf', limits.now, 'LIMIT', 0, BATCH_TALLIES);
      if (members.length > 0) {
        const pairs = members.map(parseIndexMember);
        const reply = await EXPIRE_TALLIES.run(
          this.context.redis,
          [this.indexKey, ...pairs.flatMap(({ address, reason }) => [this.tallyKey(address, reason), this.reasonsKey(address)])],
          [limits.now, ...members.flatMap((member, i) => [member, pairs[i]!.reason])],
        );
        expiredStrikes += Number(reply);
      }
      if (members.length < BATCH_TALLIES) return { expiredStrikes };
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
