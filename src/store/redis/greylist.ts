// Greylist triplets and auto-allow clients on Redis (GreylistStore). Each entry is one string key
// holding its state compactly, with a TTL at its expiry (EXAT). An update is an optimistic
// compare-and-set: run the pure update function on the value known (held in memory, else guessed
// absent: a new triplet, a new client), then a Lua script writes (or deletes) only if the stored
// value is still that one, else hands back the value now stored and the update runs again on it
// (after a short random wait when the value had been read: another host wrote meanwhile; at most
// MAX_UPDATE_ATTEMPTS times, then it throws). An update that writes nothing on a guess reads the
// entry first. A new client's first attempt thus costs one round trip: the triplet's
// compare-and-set also checks the client's entry (updateClientThenTriplet).
// Updates of one key within this process run one after the other, so a compare-and-set fails only
// on a wrong guess or when another host wrote the entry.
// Passed triplets and auto-allow clients read or written here are kept in memory (an LRU, each
// entry at most CACHE_MAX_AGE_MS and never past its expiry), so a regular correspondent's mail
// costs no round trip, as with the SQLite store. Another host can only refresh such an entry (a
// write from a stale copy fails its compare-and-set and reads again) or delete it: every flush
// and delete bumps {greylist}:generation, which each host reads once a second, dropping its cache
// when it moved.
// Index sorted sets, written in the same script as the entry, serve listing (by last sighting),
// stats (live entries counted with ZCOUNT over their expiry, no walk) and maintenance (by expiry);
// an entry gone through its TTL stays in the indexes until maintenance removes it.
//
// Keys (area `greylist`, one hash tag):
//   {greylist}:triplet:<key>         string  "firstSeen:lastSeen:attempts:passedAt:expiresAt", then
//                                            "\n<clientNet>\n<sender>\n<recipient>" unless in privacy
//                                            mode; TTL: EXAT expiresAt (none when 0)
//   {greylist}:triplets:by-seen      zset    triplet key → lastSeen (listing, newest first)
//   {greylist}:triplets:by-expiry    zset    triplet key → expiresAt (+inf: never); every stored triplet
//   {greylist}:triplets:waiting      zset    triplet key → expiresAt, only triplets not yet passed
//   {greylist}:client:<key>          string  "passes:lastSeen:expiresAt"; TTL: EXAT expiresAt
//   {greylist}:clients:by-seen       zset    client key → lastSeen
//   {greylist}:clients:by-expiry     zset    client key → expiresAt (+inf: never)
//   {greylist}:clients:by-passes     zset    client key → passes (auto-allowed count)
//   {greylist}:generation            string  bumped by every flush and delete (hosts drop their caches)
// No TTL on the indexes: maintenance prunes members whose expiry passed, in batches.
import { LruCache } from '../../core/lru.js';
import type { RedisContext, PartialReport } from './context.js';
import { foldAscii } from './lists.js';
import { RedisScript } from './script.js';
import type {
  ClientRow,
  ClientState,
  ClientThenTriplet,
  ClientUpdate,
  GreylistStats,
  GreylistStore,
  MaintenanceLimits,
  TripletFilter,
  TripletLabels,
  TripletRow,
  TripletState,
  TripletUpdate,
  Update,
} from '../types.js';

/** Compare-and-set attempts of one update before it gives up (other hosts kept changing the entry). */
const MAX_UPDATE_ATTEMPTS = 8;
/**
 * The longest random wait before the second attempt, in ms; it doubles for each later one (at most
 * 128 ms before the last, about 250 ms in all: well within the store's deadline). Updates rarely
 * collide for long: an update function seeing the state another host just wrote mostly writes nothing.
 */
const RETRY_SPREAD_MS = 2;
/** Index members read, or entries removed, per round trip when listing, flushing and in maintenance. */
const BATCH_ENTRIES = 1000;
/** Default page size of listTriplets, as the SQLite store's. */
const DEFAULT_LIST_LIMIT = 100;

// Writes or deletes one entry and its index members if the entry still holds what was read and,
// with a guard (a fifth key), the guard entry still holds what the caller expects.
// KEYS: entry, by-seen, by-expiry, extra index (waiting triplets / clients by passes)[, guard entry].
// ARGV: expected value ('' = absent), new value ('' = delete), expiresAt (s, 0 = never), lastSeen (s),
//       score in the extra index ('' = not a member), index member[, the guard's expected value].
// Returns 1 when written, else { the value now stored, the guard's value now } ('' when absent).
const PUT_ENTRY = new RedisScript(`
local current = redis.call('GET', KEYS[1]) or ''
local guard = KEYS[5] and (redis.call('GET', KEYS[5]) or '') or ''
if current ~= ARGV[1] or guard ~= (ARGV[7] or '') then return { current, guard } end
local member = ARGV[6]
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  return 1
end
local expiresAt = tonumber(ARGV[3])
if expiresAt > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EXAT', math.ceil(expiresAt))
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[4], member)
redis.call('ZADD', KEYS[3], expiresAt > 0 and ARGV[3] or '+inf', member)
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[4], member)
else
  redis.call('ZADD', KEYS[4], ARGV[5], member)
end
return 1
`);

// Removes entries and their index members; with a bound, only those whose expiry (score in by-expiry)
// is below it, so an entry written again since it was picked stays.
// KEYS: by-seen, by-expiry, extra index, then one entry key per member.
// ARGV: bound (s; '' = remove unconditionally), then the members in the order of their keys.
// Returns how many were stored (members of by-expiry) and went.
const REMOVE_ENTRIES = new RedisScript(`
local bound = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  local member = ARGV[i]
  local expiry = tonumber(redis.call('ZSCORE', KEYS[2], member) or '')
  if not bound or (expiry and expiry < bound) then
    redis.call('DEL', KEYS[i + 2])
    redis.call('ZREM', KEYS[1], member)
    removed = removed + redis.call('ZREM', KEYS[2], member)
    redis.call('ZREM', KEYS[3], member)
  end
end
return removed
`);

/** The Redis form of a state: its fields joined with ':'. */
function encodeTriplet(state: TripletState, expiresAt: number): string {
  return `${state.firstSeen}:${state.lastSeen}:${state.attempts}:${state.passedAt}:${expiresAt}`;
}

function encodeLabels(labels: TripletLabels | undefined): string {
  return labels ? `\n${labels.clientNet}\n${labels.sender}\n${labels.recipient}` : '';
}

function decodeTriplet(key: string, value: string): TripletRow {
  const newline = value.indexOf('\n');
  const fields = (newline < 0 ? value : value.slice(0, newline)).split(':').map(Number);
  const row: TripletRow = { key, firstSeen: fields[0]!, lastSeen: fields[1]!, attempts: fields[2]!, passedAt: fields[3]!, expiresAt: fields[4]! };
  if (newline >= 0) {
    const [clientNet = '', sender = '', recipient = ''] = value.slice(newline + 1).split('\n');
    row.labels = { clientNet, sender, recipient };
  }
  return row;
}

function decodeClient(key: string, value: string): ClientRow {
  const [passes, lastSeen, expiresAt] = value.split(':').map(Number);
  return { key, passes: passes!, lastSeen: lastSeen!, expiresAt: expiresAt! };
}

/** The score of an entry in a by-expiry index: 0 (never) sorts last. */
const expiryScore = (expiresAt: number): string => (expiresAt > 0 ? String(expiresAt) : '+inf');

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The random wait after the `attempt`-th collision with another host: up to a bound doubling per attempt. */
const spreadOut = (attempt: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.random() * RETRY_SPREAD_MS * 2 ** (attempt - 1)));

/** The first value of a compare-and-set: what is stored, or only believed to be (a guess). */
interface FirstValue {
  /** '' when absent. */
  value: string;
  /** Read from Redis (or held in memory, which counts as read); false: a guess, to be checked. */
  read: boolean;
}

/** Another entry a compare-and-set's write depends on: written only while `entryKey` holds `value`. */
interface Guard extends FirstValue {
  entryKey: string;
}

/** How a compare-and-set ended: its result, or, when its guard no longer held, what is stored now. */
type CasOutcome<R> = { result: R } | { guardFailed: { value: string; guard: string } };

/** The result of a compare-and-set without a guard (which always has one). */
function resultOf<R>(outcome: CasOutcome<R>): R {
  if ('result' in outcome) return outcome.result;
  throw new Error('greylist: a compare-and-set without a guard reported a failed guard');
}

/** Entries kept in memory (passed triplets and clients together): at least this many, at most twice as many (about 200 bytes each). */
const CACHE_ENTRIES = 40_000;
/** The longest an entry is served from memory, ms: another host's refresh of it is seen after this. */
const CACHE_MAX_AGE_MS = 60_000;
/** How often the flush generation is read, ms. */
const GENERATION_CHECK_MS = 1000;

/** The number at `index` among the fields of a stored value (the part before any newline). */
function storedField(value: string, index: number): number {
  const newline = value.indexOf('\n');
  return Number((newline < 0 ? value : value.slice(0, newline)).split(':')[index]);
}

/** The key layout of one kind of entry (triplets or clients). */
interface EntryKind {
  /** Whether an entry of this stored value may be served from memory. */
  cacheable: (value: string) => boolean;
  /** The expiry (s, 0 = never) held in a stored value. */
  expiresAt: (value: string) => number;
  entry: (key: string) => string;
  bySeen: string;
  byExpiry: string;
  /** triplets: the waiting ones; clients: by pass count. */
  extra: string;
}

export class RedisGreylistStore implements GreylistStore {
  private readonly triplets: EntryKind;
  private readonly clients: EntryKind;
  /** The last update queued per entry key of this process, so one key's updates run in turn. */
  private readonly running = new Map<string, Promise<unknown>>();
  /** Passed triplets and clients, by entry key, with when they were read or written (ms). */
  private readonly cache = new LruCache<string, { value: string; at: number }>(CACHE_ENTRIES);
  private readonly generationKey: string;
  /** The flush generation the cache is valid for (undefined until first read). */
  private generation: string | undefined;
  private readonly generationCheck: NodeJS.Timeout;

  constructor(private readonly context: RedisContext) {
    const { keys } = context;
    this.triplets = {
      // Only passed triplets: every decision on a waiting one writes, through a compare-and-set.
      cacheable: (value) => storedField(value, 3) > 0,
      expiresAt: (value) => storedField(value, 4),
      entry: (key) => keys.key('greylist', 'triplet', key),
      bySeen: keys.key('greylist', 'triplets', 'by-seen'),
      byExpiry: keys.key('greylist', 'triplets', 'by-expiry'),
      extra: keys.key('greylist', 'triplets', 'waiting'),
    };
    this.clients = {
      cacheable: () => true,
      expiresAt: (value) => storedField(value, 2),
      entry: (key) => keys.key('greylist', 'client', key),
      bySeen: keys.key('greylist', 'clients', 'by-seen'),
      byExpiry: keys.key('greylist', 'clients', 'by-expiry'),
      extra: keys.key('greylist', 'clients', 'by-passes'),
    };
    this.generationKey = keys.key('greylist', 'generation');
    this.generationCheck = setInterval(() => void this.checkGeneration(), GENERATION_CHECK_MS);
    this.generationCheck.unref();
  }

  /** Stops the generation check (the store is closing). */
  stop(): void {
    clearInterval(this.generationCheck);
  }

  /** Drops the cache when any host flushed or deleted entries since the last look. */
  private async checkGeneration(): Promise<void> {
    // Not while disconnected: a CLI command's client would queue the read, and its deadline timer
    // would keep the process alive after the command is done.
    if (this.context.redis.status !== 'ready') return;
    let generation: string;
    try {
      generation = (await this.context.redis.get(this.generationKey)) ?? '0';
    } catch {
      return; // Redis away: the cache keeps serving until it is back (entries age out all the same)
    }
    // The first look clears too: a flush may have come between this store's first reads and it.
    if (generation !== this.generation) this.cache.clear();
    this.generation = generation;
  }

  /** After this process flushed or deleted: the other hosts drop their caches within a second. */
  private async bumpGeneration(): Promise<void> {
    this.cache.clear();
    this.generation = String(await this.context.redis.incr(this.generationKey));
  }

  /** The value of an entry served from memory, when fresh and not expired. */
  private cached(kind: EntryKind, entryKey: string, nowMs: number): string | undefined {
    const hit = this.cache.get(entryKey);
    if (!hit) return undefined;
    const expiresAt = kind.expiresAt(hit.value);
    if (nowMs - hit.at <= CACHE_MAX_AGE_MS && (expiresAt === 0 || expiresAt * 1000 > nowMs)) return hit.value;
    this.cache.delete(entryKey);
    return undefined;
  }

  /** Keeps (or forgets) what is now known to be stored for an entry. */
  private remember(kind: EntryKind, entryKey: string, value: string | undefined): void {
    if (value !== undefined && value !== '' && kind.cacheable(value)) this.cache.set(entryKey, { value, at: Date.now() });
    else this.cache.delete(entryKey);
  }

  /** What this process knows of an entry before any round trip: held in memory, else a guess (absent). */
  private firstValue(kind: EntryKind, entryKey: string): FirstValue {
    const cached = this.cached(kind, entryKey, Date.now());
    return cached === undefined ? { value: '', read: false } : { value: cached, read: true };
  }

  /** Runs `task` once the updates of `id` queued before it in this process are done. */
  private inTurn<R>(id: string, task: () => Promise<R>): Promise<R> {
    const previous = this.running.get(id);
    const result = previous ? previous.then(task, task) : task();
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    this.running.set(id, done);
    void done.then(() => {
      if (this.running.get(id) === done) this.running.delete(id);
    });
    return result;
  }

  /**
   * The compare-and-set loop of one entry: `step` runs the update on the stored value (undefined:
   * absent) and gives its result and what to write (none: no write; value '' deletes). It starts
   * from `first` (by default the value held in memory, else the guess "absent", true of most entries
   * a request touches: a new triplet, a new client). A guess is only ever acted on through a write,
   * which compares it with what is stored: a wrong guess costs the round trip a read would have
   * cost, and the step runs again on the value the write found. When the step writes nothing on a
   * guess, the entry is read and the step runs again. With a `guard`, the write (and, when the
   * guard's value is a guess, the result of a step that writes nothing) also needs the guard entry to
   * hold `guard.value`; when it does not, the loop ends with the values now stored, for the caller.
   */
  private async compareAndSet<R>(
    kind: EntryKind,
    key: string,
    step: (stored: string | undefined) => { result: R; write?: { value: string; expiresAt: number; lastSeen: number; extraScore: string } },
    first?: FirstValue,
    guard?: Guard,
  ): Promise<CasOutcome<R>> {
    const entryKey = kind.entry(key);
    let { value: stored, read } = first ?? this.firstValue(kind, entryKey);
    let guardRead = guard?.read ?? true;
    for (let attempt = 1; ; ) {
      const { result, write } = step(stored === '' ? undefined : stored);
      if (!write) {
        if (read && guardRead) return { result };
        // Checked before it counts: the entry (and the guard) as stored.
        const [value, guardValue] = guard
          ? (await this.context.redis.mget(entryKey, guard.entryKey)).map((v) => v ?? '')
          : [(await this.context.redis.get(entryKey)) ?? ''];
        this.remember(kind, entryKey, value);
        if (guard && guardValue !== guard.value) return { guardFailed: { value: value!, guard: guardValue! } };
        stored = value!;
        read = guardRead = true;
        continue;
      }
      const keys = [entryKey, kind.bySeen, kind.byExpiry, kind.extra];
      const args: (string | number)[] = [stored, write.value, write.expiresAt, write.lastSeen, write.extraScore, key];
      if (guard) (keys.push(guard.entryKey), args.push(guard.value));
      const reply = await PUT_ENTRY.run(this.context.redis, keys, args);
      if (typeof reply === 'number') {
        this.remember(kind, entryKey, write.value);
        return { result };
      }
      const [now = '', guardNow = ''] = (reply as unknown[]).map((v) => (v === null || v === undefined ? '' : String(v)));
      this.remember(kind, entryKey, now);
      if (guard && guardNow !== guard.value) return { guardFailed: { value: now, guard: guardNow } };
      stored = now;
      guardRead = true;
      if (!read) {
        read = true; // a wrong guess, not a collision: again at once
        continue;
      }
      if (attempt >= MAX_UPDATE_ATTEMPTS) throw new Error(`greylist entry ${key}: changed by other writers ${attempt} times in a row, update given up`);
      // Hosts colliding on this entry spread out: a random wait up to a bound doubling per attempt.
      await spreadOut(attempt);
      attempt++;
    }
  }

  /** The compare-and-set step of a triplet update. */
  private tripletStep<R>({ key, labels, update, expiresAt }: TripletUpdate<R>) {
    return (stored: string | undefined) => {
      const current = stored === undefined ? undefined : decodeTriplet(key, stored);
      const state = current && { firstSeen: current.firstSeen, lastSeen: current.lastSeen, attempts: current.attempts, passedAt: current.passedAt };
      const { next, result } = update(state);
      if (next === state) return { result };
      if (next === undefined) return { result, write: { value: '', expiresAt: 0, lastSeen: 0, extraScore: '' } };
      const expiry = expiresAt(next);
      // The labels stay those stored first, as the SQLite store keeps them.
      const newline = stored?.indexOf('\n') ?? -1;
      const storedLabels = stored === undefined ? encodeLabels(labels) : newline >= 0 ? stored.slice(newline) : '';
      return {
        result,
        write: { value: encodeTriplet(next, expiry) + storedLabels, expiresAt: expiry, lastSeen: next.lastSeen, extraScore: next.passedAt === 0 ? expiryScore(expiry) : '' },
      };
    };
  }

  /** The compare-and-set step of a client update. */
  private clientStep<R>({ key, update, expiresAt }: ClientUpdate<R>) {
    return (stored: string | undefined) => {
      const row = stored === undefined ? undefined : decodeClient(key, stored);
      const current = row && { passes: row.passes, lastSeen: row.lastSeen };
      const { next, result } = update(current);
      if (next === current) return { result };
      if (next === undefined) return { result, write: { value: '', expiresAt: 0, lastSeen: 0, extraScore: '' } };
      const expiry = expiresAt(next);
      return { result, write: { value: `${next.passes}:${next.lastSeen}:${expiry}`, expiresAt: expiry, lastSeen: next.lastSeen, extraScore: String(next.passes) } };
    };
  }

  async updateTriplet<R>(
    key: string,
    labels: TripletLabels | undefined,
    update: (current: TripletState | undefined) => Update<TripletState, R>,
    expiresAt: (next: TripletState) => number,
  ): Promise<R> {
    const step = this.tripletStep({ key, labels, update, expiresAt });
    return resultOf(await this.inTurn(`t ${key}`, () => this.compareAndSet(this.triplets, key, step)));
  }

  async updateClient<R>(
    key: string,
    update: (current: ClientState | undefined) => Update<ClientState, R>,
    expiresAt: (next: ClientState) => number,
  ): Promise<R> {
    const step = this.clientStep({ key, update, expiresAt });
    return resultOf(await this.inTurn(`c ${key}`, () => this.compareAndSet(this.clients, key, step)));
  }

  /**
   * One round trip for the usual first attempt (a client and a triplet neither held in memory, both
   * guessed absent): the triplet's compare-and-set carries the client's entry as its guard, so the
   * triplet is written only if the client's update saw what is stored. When the guard fails, the
   * client's update runs again on the client's value the write found. A client update that writes
   * (or whose result stops at the client) takes the plain way: its own compare-and-set, then the
   * triplet's, unguarded (see GreylistStore.updateClientThenTriplet).
   */
  updateClientThenTriplet<C, T>(client: ClientUpdate<C>, proceed: (clientResult: C) => boolean, triplet: TripletUpdate<T>): Promise<ClientThenTriplet<C, T>> {
    const clientStep = this.clientStep(client);
    const tripletStep = this.tripletStep(triplet);
    // Always the client's turn first, then the triplet's (nothing takes them the other way round).
    return this.inTurn(`c ${client.key}`, () =>
      this.inTurn(`t ${triplet.key}`, async () => {
        const clientEntry = this.clients.entry(client.key);
        let clientFirst = this.firstValue(this.clients, clientEntry);
        let tripletFirst: FirstValue | undefined;
        for (let attempt = 1; ; attempt++) {
          const { result, write } = clientStep(clientFirst.value === '' ? undefined : clientFirst.value);
          if (write || !proceed(result)) break; // the client settles it, or writes: the plain way below
          const outcome = await this.compareAndSet(this.triplets, triplet.key, tripletStep, tripletFirst, { entryKey: clientEntry, ...clientFirst });
          if ('result' in outcome) {
            // The guard held: the client's result stands on what is stored.
            return { client: result, triplet: { result: outcome.result } };
          }
          this.remember(this.clients, clientEntry, outcome.guardFailed.guard);
          const wasRead = clientFirst.read;
          clientFirst = { value: outcome.guardFailed.guard, read: true };
          tripletFirst = { value: outcome.guardFailed.value, read: true };
          if (!wasRead) continue; // a wrong guess, not a collision: again at once
          if (attempt >= MAX_UPDATE_ATTEMPTS) throw new Error(`greylist client ${client.key}: changed by other writers ${attempt} times in a row, update given up`);
          // Another host changed the client meanwhile: the same random wait as a collision on one entry.
          await spreadOut(attempt);
        }
        const clientResult = resultOf(await this.compareAndSet(this.clients, client.key, clientStep, clientFirst));
        if (!proceed(clientResult)) return { client: clientResult };
        return { client: clientResult, triplet: { result: resultOf(await this.compareAndSet(this.triplets, triplet.key, tripletStep, tripletFirst)) } };
      }),
    );
  }

  /**
   * Entries of `kind` most recently seen first, skipping those gone through their TTL. Unfiltered
   * (no `keep`), a page starts at rank `offset` of the index, so paging through everything (a store
   * copy) reads each entry about once; with a filter, the walk starts at the newest and skips
   * `offset` matches (an admin search).
   */
  private async newestFirst<T>(kind: EntryKind, decode: (key: string, value: string) => T, limit: number, offset: number, keep?: (row: T) => boolean): Promise<T[]> {
    const rows: T[] = [];
    if (limit <= 0) return rows;
    const seen = new Set<string>();
    let skipped = 0;
    for (let start = keep ? 0 : Math.max(offset, 0); ; start += BATCH_ENTRIES) {
      const members = await this.context.redis.zrevrange(kind.bySeen, start, start + BATCH_ENTRIES - 1);
      if (members.length === 0) return rows;
      const values = await this.context.redis.mget(members.map(kind.entry));
      for (let i = 0; i < members.length; i++) {
        const member = members[i]!;
        const value = values[i];
        // A member moved by a concurrent write may be met twice.
        if (value === null || value === undefined || seen.has(member)) continue;
        seen.add(member);
        const row = decode(member, value);
        if (keep && !keep(row)) continue;
        if (keep && skipped < offset) {
          skipped++;
          continue;
        }
        rows.push(row);
        if (rows.length >= limit) return rows;
      }
      if (members.length < BATCH_ENTRIES) return rows;
    }
  }

  async listTriplets(filter: TripletFilter): Promise<TripletRow[]> {
    const limit = filter.limit === undefined ? DEFAULT_LIST_LIMIT : filter.limit < 0 ? Infinity : filter.limit;
    const offset = filter.offset ?? 0;
    if (!filter.search && filter.waiting === undefined) return this.newestFirst(this.triplets, decodeTriplet, limit, offset);
    const matches = tripletMatcher(filter.search);
    return this.newestFirst(this.triplets, decodeTriplet, limit, offset, (row) => (filter.waiting === undefined || (row.passedAt === 0) === filter.waiting) && matches(row.key, row));
  }

  async listClients(limit: number, offset: number): Promise<ClientRow[]> {
    return this.newestFirst(this.clients, decodeClient, limit < 0 ? Infinity : limit, offset);
  }

  /** Removes these entries of `kind` (below `bound` of expiry only, when given); returns how many went. */
  private async removeEntries(kind: EntryKind, members: string[], bound?: number): Promise<number> {
    if (members.length === 0) return 0;
    const reply = await REMOVE_ENTRIES.run(
      this.context.redis,
      [kind.bySeen, kind.byExpiry, kind.extra, ...members.map(kind.entry)],
      [bound === undefined ? '' : bound, ...members],
    );
    return Number(reply);
  }

  /**
   * Removes every stored entry of `kind` that `matches` accepts (given the entry's value, or
   * undefined when it went through its TTL), walking the by-expiry index with ZSCAN in batches.
   */
  private async removeMatching(kind: EntryKind, matches?: (key: string, value: string | undefined) => boolean): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.context.redis.zscan(kind.byExpiry, cursor, 'COUNT', BATCH_ENTRIES);
      cursor = next;
      let members = flat.filter((_, i) => i % 2 === 0);
      if (matches && members.length > 0) {
        const values = await this.context.redis.mget(members.map(kind.entry));
        members = members.filter((member, i) => matches(member, values[i] ?? undefined));
      }
      removed += await this.removeEntries(kind, members);
      if (cursor !== '0') await yieldToRequests();
    } while (cursor !== '0');
    return removed;
  }

  async flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number> {
    const matches = tripletMatcher(filter.search);
    const removed = filter.search
      ? await this.removeMatching(this.triplets, (key, value) => (value === undefined ? key === filter.search : matches(key, decodeTriplet(key, value))))
      : await this.removeMatching(this.triplets);
    await this.bumpGeneration();
    return removed;
  }

  async deleteTriplet(key: string): Promise<number> {
    const removed = await this.removeEntries(this.triplets, [key]);
    await this.bumpGeneration();
    return removed;
  }

  async flushClients(): Promise<number> {
    const removed = await this.removeMatching(this.clients);
    await this.bumpGeneration();
    return removed;
  }

  /**
   * Counts live entries (expiry after now) from the by-expiry indexes, without a walk. Auto-allowed
   * clients are counted from the by-passes index, whose expired members remain until maintenance
   * (as the SQLite store counts its rows).
   */
  async stats(autoAllowThreshold: number): Promise<GreylistStats> {
    const after = `(${nowSeconds()}`;
    const { redis } = this.context;
    const [triplets, waiting, clients, autoAllowed] = await Promise.all([
      redis.zcount(this.triplets.byExpiry, after, '+inf'),
      redis.zcount(this.triplets.extra, after, '+inf'),
      redis.zcount(this.clients.byExpiry, after, '+inf'),
      autoAllowThreshold > 0 ? redis.zcount(this.clients.extra, autoAllowThreshold, '+inf') : Promise.resolve(0),
    ]);
    return { triplets, waiting, passed: Math.max(triplets - waiting, 0), clients, autoAllowed };
  }

  /** Removes the entries of `kind` whose expiry is before `now`, in batches; returns how many went. */
  private async expire(kind: EntryKind, now: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const members = await this.context.redis.zrangebyscore(kind.byExpiry, '-inf', `(${now}`, 'LIMIT', 0, BATCH_ENTRIES);
      removed += await this.removeEntries(kind, members, now);
      if (members.length < BATCH_ENTRIES) return removed;
      await yieldToRequests();
    }
  }

  async maintenance(limits: MaintenanceLimits): Promise<PartialReport> {
    const expiredTriplets = await this.expire(this.triplets, limits.now);
    const expiredClients = await this.expire(this.clients, limits.now);
    return { expiredTriplets, expiredClients };
  }
}

/** Whether a triplet matches a search: case-insensitive substring of its labels, or its exact key. */
function tripletMatcher(search: string | undefined): (key: string, row: TripletRow) => boolean {
  if (!search) return () => true;
  const folded = foldAscii(search);
  return (key, row) =>
    key === search ||
    (row.labels !== undefined && [row.labels.clientNet, row.labels.sender, row.labels.recipient].some((text) => foldAscii(text).includes(folded)));
}
