// Client bans on Redis (BanStore). A ban is one string key; banning merges with the stored ban
// (mergeBan's rule: the later expiry wins, never being the latest; the first creation time stays;
// the new reason and source replace the old) and bumps the version counter in one Lua script, so
// two hosts banning one network at once lose nothing. Until the script answers, the ban is also
// kept in memory and returned by active(), so this process applies it at once. An expired ban
// stays stored (listed with includeExpired) until maintenance removes it, or at the latest
// BAN_KEPT_AFTER_EXPIRY after its expiry through its TTL. Lifting deletes the ban, bumps the
// version and then forgets the address's strikes (another area, so a second call).
//
// Keys (area `bans`, one hash tag):
//   {bans}:ban:<network>  string  "createdAt:expiresAt:source:reason" (s; expiresAt 0 = never);
//                                 TTL: EXPIREAT expiresAt + BAN_KEPT_AFTER_EXPIRY (none when never)
//   {bans}:index          zset    network → expiresAt (+inf: never); every stored ban
//   {bans}:version        string  change counter (Versioned), INCRed by every ban and lift
import type { RedisContext, PartialReport } from './context.js';
import { binaryCompare, foldAscii } from './lists.js';
import { RedisScript } from './script.js';
import type { RedisStrikeStore } from './strikes.js';
import { banNetwork } from '../sqlite/bans.js';
import { LocalBans } from '../local-bans.js';
import type { Ban, BanSource, BanStore, MaintenanceLimits } from '../types.js';

/** How long an expired ban stays stored when maintenance does not remove it first, in seconds (7 days). */
const BAN_KEPT_AFTER_EXPIRY = 7 * 86_400;
/** Bans read, or removed, per round trip. */
const BATCH_BANS = 1000;

// KEYS: ban, index, version. ARGV: createdAt, expiresAt, source, reason, network, kept after expiry (s).
// Merges with the stored ban as mergeBan does, stores the result, bumps the version; returns the
// stored value.
const PUT_BAN = new RedisScript(`
local createdAt = tonumber(ARGV[1])
local expiresAt = tonumber(ARGV[2])
local existing = redis.call('GET', KEYS[1])
if existing then
  local oldCreated, oldExpires = string.match(existing, '^(%-?[%d.]+):(%-?[%d.]+):')
  oldCreated, oldExpires = tonumber(oldCreated), tonumber(oldExpires)
  -- A ban already expired when the new one is made counts for nothing.
  if oldExpires == 0 or oldExpires > createdAt then
    createdAt = math.min(oldCreated, createdAt)
    if oldExpires == 0 or expiresAt == 0 then expiresAt = 0 else expiresAt = math.max(oldExpires, expiresAt) end
  end
end
local value = string.format('%.17g:%.17g:', createdAt, expiresAt) .. ARGV[3] .. ':' .. ARGV[4]
if expiresAt > 0 then
  redis.call('SET', KEYS[1], value, 'EXAT', math.floor(expiresAt) + tonumber(ARGV[6]))
  redis.call('ZADD', KEYS[2], expiresAt, ARGV[5])
else
  redis.call('SET', KEYS[1], value)
  redis.call('ZADD', KEYS[2], '+inf', ARGV[5])
end
redis.call('INCR', KEYS[3])
return value
`);

// KEYS: ban, index, version. ARGV: network. Returns 1 when a ban went (and the version moved), else 0.
const LIFT_BAN = new RedisScript(`
local deleted = redis.call('DEL', KEYS[1])
local unindexed = redis.call('ZREM', KEYS[2], ARGV[1])
if deleted + unindexed == 0 then return 0 end
redis.call('INCR', KEYS[3])
return 1
`);

// KEYS: index, then one ban per network. ARGV: now (s), then the networks in the order of their keys.
// Removes the bans expired at or before now (an expired ban matches nothing: the version stays);
// returns how many went.
const EXPIRE_BANS = new RedisScript(`
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or '')
  if expiry and expiry <= now then
    redis.call('DEL', KEYS[i])
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
`);

function decodeBan(network: string, value: string): Ban {
  const first = value.indexOf(':');
  const second = value.indexOf(':', first + 1);
  const third = value.indexOf(':', second + 1);
  return {
    network,
    createdAt: Number(value.slice(0, first)),
    expiresAt: Number(value.slice(first + 1, second)),
    source: value.slice(second + 1, third) as BanSource,
    reason: value.slice(third + 1),
  };
}

export class RedisBanStore implements BanStore {
  private readonly local = new LocalBans();
  private readonly indexKey: string;
  private readonly versionKey: string;

  constructor(
    private readonly context: RedisContext,
    private readonly strikes: RedisStrikeStore,
  ) {
    this.indexKey = context.keys.key('bans', 'index');
    this.versionKey = context.keys.key('bans', 'version');
  }

  private banKey(network: string): string {
    return this.context.keys.key('bans', 'ban', network);
  }

  get localChanges(): number {
    return this.local.changes;
  }

  async version(): Promise<number> {
    return Number((await this.context.redis.get(this.versionKey)) ?? 0);
  }

  async ban(ban: Ban): Promise<Ban> {
    const next: Ban = { ...ban, network: banNetwork(ban.network) };
    return this.local.banning(next, async () => {
      const value = await PUT_BAN.run(
        this.context.redis,
        [this.banKey(next.network), this.indexKey, this.versionKey],
        [next.createdAt, next.expiresAt, next.source, next.reason, next.network, BAN_KEPT_AFTER_EXPIRY],
      );
      return decodeBan(next.network, String(value));
    });
  }

  async lift(network: string): Promise<number> {
    const canonical = banNetwork(network);
    return this.local.lifting(canonical, async () => {
      const lifted = Number(await LIFT_BAN.run(this.context.redis, [this.banKey(canonical), this.indexKey, this.versionKey], [canonical]));
      await this.strikes.clear(canonical);
      return lifted;
    });
  }

  /** The stored bans of these networks (those gone through their TTL are left out). */
  private async readBans(networks: string[]): Promise<Ban[]> {
    const bans: Ban[] = [];
    for (let start = 0; start < networks.length; start += BATCH_BANS) {
      const batch = networks.slice(start, start + BATCH_BANS);
      const values = await this.context.redis.mget(batch.map((network) => this.banKey(network)));
      batch.forEach((network, i) => {
        const value = values[i];
        if (value !== null && value !== undefined) bans.push(decodeBan(network, value));
      });
    }
    return bans;
  }

  /** The networks of the stored bans not expired at `now` (all stored ones with `includeExpired`). */
  private async networks(now: number, includeExpired: boolean): Promise<string[]> {
    return includeExpired ? this.context.redis.zrange(this.indexKey, 0, -1) : this.context.redis.zrangebyscore(this.indexKey, `(${now}`, '+inf');
  }

  async list(filter: { now: number; includeExpired?: boolean; search?: string; limit?: number; offset?: number }): Promise<Ban[]> {
    const includeExpired = filter.includeExpired === true;
    const search = filter.search ? foldAscii(filter.search) : undefined;
    const bans = (await this.readBans(await this.networks(filter.now, includeExpired))).filter(
      (ban) =>
        (includeExpired || ban.expiresAt === 0 || ban.expiresAt > filter.now) &&
        (!search || [ban.network, ban.reason, ban.source].some((text) => foldAscii(text).includes(search))),
    );
    // Newest first, then by network, as the SQLite store's ORDER BY created_at DESC, network.
    bans.sort((a, b) => b.createdAt - a.createdAt || binaryCompare(a.network, b.network));
    const offset = filter.offset ?? 0;
    return filter.limit === undefined || filter.limit < 0 ? bans.slice(offset) : bans.slice(offset, offset + filter.limit);
  }

  takeLocalBans(): Ban[] {
    return this.local.takeBans();
  }

  takeLocalLifts(): string[] {
    return this.local.takeLifts();
  }

  async active(now: number): Promise<Ban[]> {
    return this.local.withPending(await this.readBans(await this.networks(now, false)), now);
  }

  /** Removes the bans expired by `now`, in batches (the version stays: they matched nothing any more). */
  async maintenance(limits: MaintenanceLimits): Promise<PartialReport> {
    let expiredBans = 0;
    for (;;) {
      const networks = await this.context.redis.zrangebyscore(this.indexKey, '-inf', limits.now, 'LIMIT', 0, BATCH_BANS);
      if (networks.length > 0) {
        const reply = await EXPIRE_BANS.run(this.context.redis, [this.indexKey, ...networks.map((network) => this.banKey(network))], [limits.now, ...networks]);
        expiredBans += Number(reply);
      }
      if (networks.length < BATCH_BANS) return { expiredBans };
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
