// The Bayesian filter's token databases on Redis (BayesStore), one per scope ('' global, or a
// recipient address in lower case). A lookup is one HMGET of the message's tokens (one round trip
// on the request path, no cache: every node sees every learn at once). Learning a message is one
// Lua script, atomic across nodes: it checks the message's digest (learned, already, relearned,
// unlearned, not-learned, exactly as the SQLite store), adjusts each token's counts (never below 0;
// a token left at 0/0 is deleted, so HLEN is the number of distinct tokens), the message counts and
// the digest, and INCRs the version. Imports add counts in batches of scripts. Maintenance expires
// tokens (and digests) not learned for bayesTokenMaxAge, walking each scope's hashes with HSCAN and
// deleting through a script that checks the time again, so a token learned meanwhile stays.
//
// Keys (area `bayes`, one hash tag; the scope, which may hold ':', is the last part):
//   {bayes}:version            string  counter INCRed by every learn, import and expiry
//   {bayes}:scopes             set     scopes that have a database ('' for the global one)
//   {bayes}:messages:<scope>   hash    `spam`, `ham` → learned message counts
//   {bayes}:tokens:<scope>     hash    token → "<spam> <ham> <lastSeen>" (counts, seconds since the epoch)
//   {bayes}:digests:<scope>    hash    message digest → "<class> <learnedAt>" (spam|ham, seconds since the epoch)
// No Redis TTLs: tokens live as hash fields and go through maintenance.
import type { RedisContext, PartialReport } from './context.js';
import { RedisScript } from './script.js';
import { runPipeline } from './pipeline.js';
import type { BayesClass, BayesCounts, BayesDump, BayesStore, BayesWarmOutcome, LearnInput, LearnOutcome, MaintenanceLimits, TokenCounts, TokenCountsLookup } from '../types.js';

/** Imported rows (and digests) sent per script or MULTI. */
const IMPORT_BATCH_ROWS = 1000;
/** HSCAN COUNT hint when dumping and expiring, in fields. */
const SCAN_BATCH_FIELDS = 1000;

const normalisedScope = (scope: string): string => scope.trim().toLowerCase();

/** A count as stored: a whole number, at least 0. */
const count = (n: number): number => (Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0);

/** A token's packed value "<spam> <ham> <lastSeen>". */
function unpackToken(value: string): { spam: number; ham: number; lastSeen: number } {
  const [spam, ham, lastSeen] = value.split(' ');
  return { spam: Number(spam), ham: Number(ham), lastSeen: Number(lastSeen) };
}

/** A digest's packed value "<class> <learnedAt>". */
function unpackDigest(value: string): { kind: BayesClass; learnedAt: number } {
  const [kind, learnedAt] = value.split(' ');
  return { kind: kind as BayesClass, learnedAt: Number(learnedAt) };
}

// Shared Lua: adds (dspam, dham) to the tokens ARGV[first..], never below 0, deleting tokens left at
// 0/0; a token's lastSeen becomes max(lastSeen, learnedAt). HMGET/HSET/HDEL by chunks of 1000 tokens.
const ADD_TO_TOKENS_LUA = `
local function addToTokens(tokensKey, first, dspam, dham, learnedAt)
  for start = first, #ARGV, 1000 do
    local batch = {}
    for i = start, math.min(start + 999, #ARGV) do batch[#batch + 1] = ARGV[i] end
    local values = redis.call('HMGET', tokensKey, unpack(batch))
    local sets, dels = {}, {}
    for j, token in ipairs(batch) do
      local value = values[j]
      local spam, ham, seen = 0, 0, 0
      if value then
        local s, h, t = string.match(value, '^(%d+) (%d+) (%d+)$')
        spam, ham, seen = tonumber(s), tonumber(h), tonumber(t)
      end
      spam = math.max(0, spam + dspam)
      ham = math.max(0, ham + dham)
      if spam == 0 and ham == 0 then
        if value then dels[#dels + 1] = token end
      else
        sets[#sets + 1] = token
        sets[#sets + 1] = string.format('%d %d %d', spam, ham, math.max(seen, learnedAt))
      end
    end
    if #sets > 0 then redis.call('HSET', tokensKey, unpack(sets)) end
    if #dels > 0 then redis.call('HDEL', tokensKey, unpack(dels)) end
  end
end
local function addToMessages(messagesKey, dspam, dham)
  local stored = redis.call('HMGET', messagesKey, 'spam', 'ham')
  redis.call('HSET', messagesKey, 'spam', math.max(0, (tonumber(stored[1]) or 0) + dspam), 'ham', math.max(0, (tonumber(stored[2]) or 0) + dham))
end
`;

// KEYS: tokens, messages, digests, scopes, version. ARGV: scope, digest, class, unlearn (1/0), now,
// then the message's distinct tokens. Returns the outcome.
const LEARN = new RedisScript(`${ADD_TO_TOKENS_LUA}
local scope, digest, kind, unlearn, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local stored = redis.call('HGET', KEYS[3], digest)
local learnedAs = stored and string.match(stored, '^(%a+)')
local function one(class, wanted) if class == wanted then return 1 end return 0 end
if unlearn then
  if not learnedAs then return 'not-learned' end
  addToTokens(KEYS[1], 6, -one(learnedAs, 'spam'), -one(learnedAs, 'ham'), 0)
  addToMessages(KEYS[2], -one(learnedAs, 'spam'), -one(learnedAs, 'ham'))
  redis.call('HDEL', KEYS[3], digest)
  redis.call('INCR', KEYS[5])
  return 'unlearned'
end
if learnedAs == kind then return 'already' end
redis.call('SADD', KEYS[4], scope)
-- Relearned as the other class: one pass moves the counts from the old class to the new one.
local dspam = one(kind, 'spam') - one(learnedAs, 'spam')
local dham = one(kind, 'ham') - one(learnedAs, 'ham')
addToTokens(KEYS[1], 6, dspam, dham, now)
addToMessages(KEYS[2], dspam, dham)
redis.call('HSET', KEYS[3], digest, kind .. ' ' .. now)
redis.call('INCR', KEYS[5])
if learnedAs then return 'relearned' end
return 'learned'
`);

// KEYS: tokens, messages, scopes, version. ARGV: scope, spam messages, ham messages, then per row
// token, spam, ham, lastSeen (4 values each). Adds the counts; returns nothing.
const IMPORT = new RedisScript(`
redis.call('SADD', KEYS[3], ARGV[1])
for start = 4, #ARGV, 4000 do
  local tokens, rows = {}, {}
  for i = start, math.min(start + 3999, #ARGV), 4 do
    tokens[#tokens + 1] = ARGV[i]
    rows[#rows + 1] = { tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]) }
  end
  local values = redis.call('HMGET', KEYS[1], unpack(tokens))
  local sets = {}
  for j, token in ipairs(tokens) do
    local spam, ham, seen = 0, 0, 0
    if values[j] then
      local s, h, t = string.match(values[j], '^(%d+) (%d+) (%d+)$')
      spam, ham, seen = tonumber(s), tonumber(h), tonumber(t)
    end
    local row = rows[j]
    sets[#sets + 1] = token
    sets[#sets + 1] = string.format('%d %d %d', spam + row[1], ham + row[2], math.max(seen, row[3]))
  end
  if #sets > 0 then redis.call('HSET', KEYS[1], unpack(sets)) end
end
local spamMessages, hamMessages = tonumber(ARGV[2]), tonumber(ARGV[3])
if spamMessages > 0 or hamMessages > 0 then
  local stored = redis.call('HMGET', KEYS[2], 'spam', 'ham')
  redis.call('HSET', KEYS[2], 'spam', (tonumber(stored[1]) or 0) + spamMessages, 'ham', (tonumber(stored[2]) or 0) + hamMessages)
end
redis.call('INCR', KEYS[4])
return 0
`);

// KEYS: a tokens or digests hash, version. ARGV: before, then fields. Deletes the fields whose time
// (the last number of the value) is still before ARGV[1]; returns how many went.
const EXPIRE_FIELDS = new RedisScript(`
local before = tonumber(ARGV[1])
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
local old = {}
for j, field in ipairs(fields) do
  local value = values[j]
  if value then
    local time = tonumber(string.match(value, '(%d+)$'))
    if time and time < before then old[#old + 1] = field end
  end
end
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('INCR', KEYS[2])
end
return #old
`);

export class RedisBayesStore implements BayesStore {
  private readonly versionKey: string;
  private readonly scopesKey: string;

  constructor(private readonly context: RedisContext) {
    this.versionKey = context.keys.key('bayes', 'version');
    this.scopesKey = context.keys.key('bayes', 'scopes');
  }

  /** Nothing to ready: every lookup reads Redis (one round trip for the missing tokens). */
  async warm(): Promise<BayesWarmOutcome> {
    return { heldTokens: 0, reason: 'every lookup reads Redis' };
  }

  /** Moves with every learn, import or expiry, by any node. */
  async version(): Promise<number> {
    return Number((await this.context.redis.get(this.versionKey)) ?? 0);
  }

  async counts(scope: string): Promise<BayesCounts> {
    const keys = this.scopeKeys(normalisedScope(scope));
    const [[spam, ham], tokens] = await Promise.all([this.context.redis.hmget(keys.messages, 'spam', 'ham'), this.context.redis.hlen(keys.tokens)]);
    return { spamMessages: Number(spam ?? 0), hamMessages: Number(ham ?? 0), tokens };
  }

  async scopes(): Promise<string[]> {
    const scopes = await this.context.redis.smembers(this.scopesKey);
    if (scopes.length === 0) return [];
    // Whether each holds anything: its message counts and token count, all in one round trip.
    const pipeline = this.context.redis.pipeline();
    for (const scope of scopes) {
      const keys = this.scopeKeys(normalisedScope(scope));
      pipeline.hmget(keys.messages, 'spam', 'ham').hlen(keys.tokens);
    }
    const replies = await runPipeline(pipeline);
    return scopes
      .filter((_, i) => {
        const [spam, ham] = replies[2 * i] as (string | null)[];
        return Number(spam ?? 0) > 0 || Number(ham ?? 0) > 0 || Number(replies[2 * i + 1]) > 0;
      })
      .sort();
  }

  async lookup(scope: string, tokens: readonly string[]): Promise<TokenCountsLookup> {
    const found = new Map<string, TokenCounts>();
    if (tokens.length === 0) return found;
    const values = await this.context.redis.hmget(this.scopeKeys(normalisedScope(scope)).tokens, ...tokens);
    tokens.forEach((token, i) => {
      const value = values[i];
      if (value) {
        const { spam, ham } = unpackToken(value);
        found.set(token, { spam, ham });
      }
    });
    return found;
  }

  async learn(scope: string, input: LearnInput): Promise<LearnOutcome> {
    if (input.kind !== 'spam' && input.kind !== 'ham') throw new Error(`learn: the class must be spam or ham, not ${JSON.stringify(input.kind)}`);
    if (!input.digest) throw new Error('learn: the message digest is empty');
    const normalised = normalisedScope(scope);
    const keys = this.scopeKeys(normalised);
    const args = [normalised, input.digest, input.kind, input.unlearn === true ? 1 : 0, Math.floor(input.now), ...new Set(input.tokens)];
    return (await LEARN.run(this.context.redis, [keys.tokens, keys.messages, keys.digests, this.scopesKey, this.versionKey], args)) as LearnOutcome;
  }

  async importCounts(
    scope: string,
    rows: ReadonlyArray<{ token: string; spam: number; ham: number; lastSeen: number }>,
    messages: { spam: number; ham: number },
  ): Promise<void> {
    const normalised = normalisedScope(scope);
    const keys = this.scopeKeys(normalised);
    const tuples: (string | number)[][] = [];
    for (const row of rows) if (row.token !== '' && (count(row.spam) > 0 || count(row.ham) > 0)) tuples.push([row.token, count(row.spam), count(row.ham), count(row.lastSeen)]);
    const messageCounts = { spam: count(messages.spam), ham: count(messages.ham) };
    if (tuples.length === 0 && messageCounts.spam === 0 && messageCounts.ham === 0) return;
    for (let start = 0; start === 0 || start < tuples.length; start += IMPORT_BATCH_ROWS) {
      const last = start + IMPORT_BATCH_ROWS >= tuples.length;
      const counted = last ? messageCounts : { spam: 0, ham: 0 };
      const args = [normalised, counted.spam, counted.ham, ...tuples.slice(start, start + IMPORT_BATCH_ROWS).flat()];
      await IMPORT.run(this.context.redis, [keys.tokens, keys.messages, this.scopesKey, this.versionKey], args);
    }
  }

  async dump(scope: string): Promise<BayesDump> {
    const normalised = normalisedScope(scope);
    const keys = this.scopeKeys(normalised);
    const { spamMessages, hamMessages } = await this.counts(normalised);
    const tokens: BayesDump['tokens'] = [];
    await this.scanHash(keys.tokens, (token, value) => tokens.push({ token, ...unpackToken(value) }));
    const digests: BayesDump['digests'] = [];
    await this.scanHash(keys.digests, (digest, value) => digests.push({ digest, kind: unpackDigest(value).kind }));
    const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    tokens.sort((a, b) => byName(a.token, b.token));
    digests.sort((a, b) => byName(a.digest, b.digest));
    return { messages: { spam: spamMessages, ham: hamMessages }, tokens, digests };
  }

  async importDigests(scope: string, digests: BayesDump['digests']): Promise<void> {
    for (const { digest, kind } of digests) {
      if (kind !== 'spam' && kind !== 'ham') throw new Error(`importDigests: the class must be spam or ham, not ${JSON.stringify(kind)}`);
      if (!digest) throw new Error('importDigests: a message digest is empty');
    }
    if (digests.length === 0) return;
    const normalised = normalisedScope(scope);
    const keys = this.scopeKeys(normalised);
    const learnedAt = Math.floor(Date.now() / 1000); // s: the digests come without their time
    for (let start = 0; start < digests.length; start += IMPORT_BATCH_ROWS) {
      const fields = digests.slice(start, start + IMPORT_BATCH_ROWS).flatMap(({ digest, kind }) => [digest, `${kind} ${learnedAt}`]);
      const replies = await this.context.redis.multi().sadd(this.scopesKey, normalised).hset(keys.digests, ...fields).exec();
      const failed = replies?.find(([error]) => error);
      if (failed) throw failed[0];
    }
  }

  /** Deletes tokens, and learned-message digests, not learned for limits.bayesTokenMaxAge seconds. */
  async maintenance(limits: MaintenanceLimits): Promise<PartialReport> {
    if (!limits.bayesTokenMaxAge) return { expiredBayesTokens: 0 };
    const before = limits.now - limits.bayesTokenMaxAge;
    let expiredBayesTokens = 0;
    for (const scope of await this.context.redis.smembers(this.scopesKey)) {
      const keys = this.scopeKeys(scope);
      expiredBayesTokens += await this.expireFields(keys.tokens, before, (value) => unpackToken(value).lastSeen);
      await this.expireFields(keys.digests, before, (value) => unpackDigest(value).learnedAt);
    }
    return { expiredBayesTokens };
  }

  private scopeKeys(scope: string): { tokens: string; messages: string; digests: string } {
    const { keys } = this.context;
    return { tokens: keys.key('bayes', 'tokens', scope), messages: keys.key('bayes', 'messages', scope), digests: keys.key('bayes', 'digests', scope) };
  }

  /** Calls `each` with every field and value of a hash, read with HSCAN (a field changed meanwhile may be seen twice or not at all). */
  private async scanHash(key: string, each: (field: string, value: string) => void): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await this.context.redis.hscan(key, cursor, 'COUNT', SCAN_BATCH_FIELDS);
      for (let i = 0; i + 1 < flat.length; i += 2) each(flat[i]!, flat[i + 1]!);
      cursor = next;
    } while (cursor !== '0');
  }

  /** Deletes the fields of a hash whose time is before `before`, one HSCAN batch per script; returns how many went. */
  private async expireFields(key: string, before: number, timeOf: (value: string) => number): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.context.redis.hscan(key, cursor, 'COUNT', SCAN_BATCH_FIELDS);
      cursor = next;
      const old: string[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) if (timeOf(flat[i + 1]!) < before) old.push(flat[i]!);
      // A hash small enough for one HSCAN reply comes whole: cut it into script-sized pieces.
      for (let start = 0; start < old.length; start += SCAN_BATCH_FIELDS) {
        removed += Number(await EXPIRE_FIELDS.run(this.context.redis, [key, this.versionKey], [before, ...old.slice(start, start + SCAN_BATCH_FIELDS)]));
      }
      if (cursor !== '0') await new Promise(setImmediate);
    } while (cursor !== '0');
    return removed;
  }
}
