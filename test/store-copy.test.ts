// `rempart store copy` as an admin runs it (child processes on real stores): a SQLite store filled
// through its interfaces (triplets with and without labels, clients, list entries of both kinds
// and scopes, recipients, bans, strikes, Bayes counts and digests in the global and a per-user
// database, history of two nodes, and expired entries that stay behind) copied to another SQLite
// store, and to a Redis and back, everything compared but ids; a non-empty destination refused
// without --force; --dry-run writing nothing; an unreachable Redis failing with exit 1 within
// seconds; and command-line mistakes exiting 2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { rempartCli } from './helpers/paths.js';
import { freePort } from './helpers/ports.js';
import { startTestRedis, type TestRedis } from './helpers/redis-server.js';
import { parseConfigText } from '../src/config/loader.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { RedisStore } from '../src/store/redis/store.js';
import type { ResultRecord } from '../src/core/result.js';
import type { Store } from '../src/store/types.js';

const STORE_TIMEOUT_MS = 5000; // ms
const NOW = Math.floor(Date.now() / 1000); // s
const DAY = 86_400; // s

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [rempartCli, 'store', 'copy', ...args], { env: { ...process.env, REMPART_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

let redisServer: TestRedis;
const prefixes: string[] = [];
const dirs: string[] = [];

before(async () => {
  redisServer = await startTestRedis();
});
after(async () => {
  for (const prefix of prefixes) await redisServer.dropPrefix(prefix);
  await redisServer.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-copy-'));
  dirs.push(dir);
  return dir;
}

function newPrefix(): string {
  const prefix = redisServer.newPrefix();
  prefixes.push(prefix);
  return prefix;
}

function openRedis(prefix: string): RedisStore {
  const settings = { ...parseConfigText('', 'test').store.redis, url: redisServer.url, prefix };
  return new RedisStore({ settings, commandTimeoutMs: STORE_TIMEOUT_MS, waitForConnection: true });
}

async function withStore<T>(store: Store, fn: (store: Store) => Promise<T>): Promise<T> {
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const record = (time: number, overrides: Partial<ResultRecord> = {}): ResultRecord => ({
  time, node: 'mx1', protocol: 'policy', stage: 'rcpt', clientAddress: '192.0.2.1', clientName: 'unknown', helo: 'mail.example.net',
  sender: 'alice@example.net', recipients: ['bob@example.org'], queueId: '', messageId: '', instance: 'i1', action: 'accept',
  decidedBy: '', reason: '', reply: 'DUNNO', headers: [], score: 0, symbols: [], facts: {}, errors: [], durationMs: 0.5, ...overrides,
});

/** Fills a store through its interfaces with a bit of everything, expired entries included. */
async function fill(store: Store): Promise<void> {
  const labels = (n: number) => ({ clientNet: `192.0.2.0/24`, sender: `s${n}@example.net`, recipient: `r${n}@example.org` });
  const triplets: [string, ReturnType<typeof labels> | undefined, { firstSeen: number; lastSeen: number; attempts: number; passedAt: number }, number][] = [
    ['t1', labels(1), { firstSeen: NOW - 600, lastSeen: NOW - 600, attempts: 1, passedAt: 0 }, NOW + DAY],
    ['t2', labels(2), { firstSeen: NOW - 7200, lastSeen: NOW - 60, attempts: 3, passedAt: NOW - 3000 }, NOW + 30 * DAY],
    ['3f2a9c0d1e', undefined, { firstSeen: NOW - 900, lastSeen: NOW - 300, attempts: 2, passedAt: NOW - 300 }, NOW + 30 * DAY],
    ['gone', labels(4), { firstSeen: NOW - 3 * DAY, lastSeen: NOW - 3 * DAY, attempts: 1, passedAt: 0 }, NOW - DAY],
  ];
  for (const [key, tripletLabels, state, expiresAt] of triplets) {
    await store.greylist.updateTriplet(key, tripletLabels, () => ({ next: state, result: undefined }), () => expiresAt);
  }
  await store.greylist.updateClient('192.0.2.0/24', () => ({ next: { passes: 3, lastSeen: NOW - 60 }, result: undefined }), () => NOW + 30 * DAY);
  await store.greylist.updateClient('198.51.100.0/24', () => ({ next: { passes: 1, lastSeen: NOW - 100 }, result: undefined }), () => NOW + 20 * DAY);

  const entry = { reason: '', comment: '', addedBy: 'alice', createdAt: NOW - DAY, expiresAt: 0 };
  await store.lists.put([
    { ...entry, kind: 'allow', value: 'partner@example.com', scope: '', comment: 'our partner' },
    { ...entry, kind: 'block', value: '@spam.example', scope: '', reason: 'spam', expiresAt: NOW + 7 * DAY },
    { ...entry, kind: 'allow', value: '203.0.113.0/24', scope: 'bob@example.org', addedBy: 'bob' },
    { ...entry, kind: 'block', value: 'helo:bad.example.net', scope: 'bob@example.org', reason: 'abusive-domain' },
    { ...entry, kind: 'block', value: '@old.example', scope: '', expiresAt: NOW - 10 },
  ]);
  await store.recipients.add([
    { address: 'bob@example.org', comment: 'the boss', addedBy: 'alice', createdAt: NOW - 2 * DAY },
    { address: '@example.net', comment: '', addedBy: 'migration', createdAt: NOW - DAY },
  ]);
  await store.bans.ban({ network: '192.0.2.66', reason: 'spamtrap hit', source: 'spamtrap', createdAt: NOW - 100, expiresAt: NOW + DAY });
  await store.bans.ban({ network: '2001:db8::/48', reason: 'manual ban', source: 'manual', createdAt: NOW - DAY, expiresAt: 0 });
  await store.bans.ban({ network: '198.51.100.9', reason: 'old', source: 'strikes', createdAt: NOW - 3 * DAY, expiresAt: NOW - DAY });
  // Two strikes in one second count twice.
  for (const t of [NOW - 100, NOW - 50, NOW - 10, NOW - 10]) await store.strikes.addStrike('192.0.2.77', 'dnsbl', t, 3600);
  await store.strikes.addStrike('192.0.2.78', 'spamtrap', NOW - 5, 600);

  const learn = (scope: string, digest: string, kind: 'spam' | 'ham', tokens: string[]) => store.bayes.learn(scope, { digest, kind, tokens, now: NOW - 1000 });
  assert.equal(await learn('', 'd1', 'spam', ['cheap', 'pills', 'subject:offer']), 'learned');
  assert.equal(await learn('', 'd2', 'spam', ['cheap', 'watches']), 'learned');
  assert.equal(await learn('', 'd3', 'ham', ['meeting', 'minutes', 'cheap']), 'learned');
  assert.equal(await learn('bob@example.org', 'd4', 'ham', ['invoice', 'quarterly']), 'learned');

  store.history.add(record((NOW - 300) * 1000));
  store.history.add(record((NOW - 200) * 1000, { node: 'mx2', action: 'reject', clientAddress: '192.0.2.66', reason: 'banned', symbols: [{ name: 'BANNED', score: 10, description: 'banned client' }] }));
  store.history.add(record((NOW - 250) * 1000, { action: 'greylist', headers: [{ name: 'X-Greylist', value: 'delayed' }], facts: { delay: 300 } }));
  store.history.add(record((NOW - 100) * 1000, { protocol: 'milter', stage: 'eom', node: 'mx2', score: 2.5, errors: ['dnsbl: timeout'] }));
  await store.history.flush();
}

/**
 * Everything a store holds that a copy carries, unexpired at NOW, ids left out, in a stable order,
 * as JSON would carry it (a property set to undefined and one left out are the same).
 */
async function snapshot(store: Store) {
  return JSON.parse(JSON.stringify(await readAll(store))) as Awaited<ReturnType<typeof readAll>>;
}

async function readAll(store: Store) {
  const byKey = <T>(rows: T[], key: (row: T) => string): T[] => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const live = (expiresAt: number) => expiresAt === 0 || expiresAt > NOW;
  const bayes = [];
  for (const scope of (await store.bayes.scopes()).sort()) {
    const dump = await store.bayes.dump(scope);
    bayes.push({
      scope,
      counts: await store.bayes.counts(scope),
      messages: dump.messages,
      tokens: byKey(dump.tokens, (t) => t.token),
      digests: byKey(dump.digests, (d) => d.digest),
    });
  }
  return {
    triplets: byKey((await store.greylist.listTriplets({ limit: 1000 })).filter((r) => live(r.expiresAt)), (r) => r.key),
    clients: byKey((await store.greylist.listClients(1000, 0)).filter((r) => live(r.expiresAt)), (r) => r.key),
    lists: byKey(
      (await store.lists.list({})).filter((e) => live(e.expiresAt)).map(({ id: _id, ...rest }) => rest),
      (e) => `${e.kind} ${e.scope} ${e.value}`,
    ),
    recipients: byKey((await store.recipients.list({})).map(({ id: _id, ...rest }) => rest), (r) => r.address),
    bans: byKey(await store.bans.list({ now: NOW, includeExpired: false }), (b) => b.network),
    strikes: byKey(await store.strikes.list({}), (s) => `${s.address} ${s.reason}`),
    bayes,
    history: (await store.history.query({ limit: 1000 })).map(({ id: _id, ...rest }) => rest),
  };
}

/** A filled SQLite store's directory and its snapshot. */
async function filledSqlite(): Promise<{ dir: string; expected: Awaited<ReturnType<typeof snapshot>> }> {
  const dir = newDir();
  const store = new SqliteStore(dir, STORE_TIMEOUT_MS);
  const expected = await withStore(store, async (s) => {
    await fill(s);
    return snapshot(s);
  });
  // Sanity: the fill is what the comparisons rely on.
  assert.equal(expected.triplets.length, 3);
  assert.equal(expected.lists.length, 4);
  assert.equal(expected.bans.length, 2);
  assert.equal(expected.strikes.length, 2);
  assert.equal(expected.bayes.length, 2);
  assert.equal(expected.history.length, 4);
  return { dir, expected };
}

const SUMMARY = [
  'greylist: 3 triplets, 2 clients; 1 expired left behind',
  'lists: 4 entries; 1 expired left behind',
  'recipients: 2 entries',
  'bans: 2 bans',
  'strikes: 5 strikes in 2 tallies',
  'bayes: 2 databases, 8 tokens, 2 spam and 2 ham messages, 4 digests',
  'history: 4 records',
];

function assertSummary(run: Run, expired = true): void {
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  const expected = expired ? SUMMARY : SUMMARY.map((line) => line.replace(/; 1 expired left behind$/, ''));
  assert.deepEqual(lines.slice(1, 1 + expected.length), expected, run.stdout);
}

test('store copy: SQLite to SQLite carries every part; expired entries stay behind', async () => {
  const { dir, expected } = await filledSqlite();
  const target = join(newDir(), 'copy');
  const run = await runCli(['--from', `sqlite:${dir}`, '--to', `sqlite:${target}`]);
  assertSummary(run);
  assert.match(run.stdout, /^copying sqlite .*rempart\.db to sqlite .*copy\/rempart\.db$/m);
  assert.match(run.stdout, /^copied in [\d.]+ s$/m);
  const copied = await withStore(new SqliteStore(target, STORE_TIMEOUT_MS), snapshot);
  assert.deepEqual(copied, expected);

  // `config`: the store the configuration names.
  const config = join(newDir(), 'rempart.yaml');
  writeFileSync(config, `store: { path: ${dir} }\n`);
  const fromConfig = join(newDir(), 'copy');
  assertSummary(await runCli(['--from', 'config', '--config', config, '--to', `sqlite:${fromConfig}`]));
  assert.deepEqual(await withStore(new SqliteStore(fromConfig, STORE_TIMEOUT_MS), snapshot), expected);
});

test('store copy: SQLite to Redis and back to SQLite, everything equal but ids', async () => {
  const { dir, expected } = await filledSqlite();
  const prefix = newPrefix();
  const there = await runCli(['--from', `sqlite:${dir}/rempart.db`, '--to', redisServer.url, '--to-prefix', prefix]);
  assertSummary(there);
  assert.match(there.stdout, new RegExp(`^copying sqlite .* to redis redis://127\\.0\\.0\\.1:\\d+/0 prefix ${prefix}$`, 'm'));
  const inRedis = await withStore(openRedis(prefix), snapshot);
  assert.deepEqual(inRedis, expected, 'the Redis store holds what the SQLite store held');

  const back = join(newDir(), 'back');
  const run = await runCli(['--from', redisServer.url, '--from-prefix', prefix, '--to', `sqlite:${back}`]);
  assertSummary(run, false);
  const copied = await withStore(new SqliteStore(back, STORE_TIMEOUT_MS), snapshot);
  assert.deepEqual(copied, expected);

  // Redis to Redis, without the history.
  const second = newPrefix();
  const redisToRedis = await runCli(['--from', redisServer.url, '--from-prefix', prefix, '--to', redisServer.url, '--to-prefix', second, '--no-history']);
  assert.equal(redisToRedis.code, 0, redisToRedis.stderr);
  assert.match(redisToRedis.stdout, /^history: not copied \(--no-history\)$/m);
  const inSecond = await withStore(openRedis(second), snapshot);
  assert.deepEqual(inSecond, { ...expected, history: [] });
});

test('store copy: a destination that is not empty is refused without --force', async () => {
  const { dir } = await filledSqlite();
  const target = join(newDir(), 'copy');
  assert.equal((await runCli(['--from', `sqlite:${dir}`, '--to', `sqlite:${target}`, '--no-history'])).code, 0);
  const refused = await runCli(['--from', `sqlite:${dir}`, '--to', `sqlite:${target}`]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /the destination \(sqlite .*copy\/rempart\.db\) is not empty: it holds greylist, lists, recipients, bans, strikes, bayes; .*--force/);
  assert.equal(refused.stdout, '');
  const history = await withStore(new SqliteStore(target, STORE_TIMEOUT_MS), (s) => s.history.count());
  assert.equal(history, 0, 'nothing was copied');

  const forced = await runCli(['--from', `sqlite:${dir}`, '--to', `sqlite:${target}`, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /not empty .*--force/);
  assert.equal(await withStore(new SqliteStore(target, STORE_TIMEOUT_MS), (s) => s.history.count()), 4);

  const prefix = newPrefix();
  assert.equal((await runCli(['--from', `sqlite:${dir}`, '--to', redisServer.url, '--to-prefix', prefix, '--no-history'])).code, 0);
  const refusedRedis = await runCli(['--from', `sqlite:${dir}`, '--to', redisServer.url, '--to-prefix', prefix]);
  assert.equal(refusedRedis.code, 2, refusedRedis.stderr);
  assert.match(refusedRedis.stderr, new RegExp(`the destination \\(redis .* prefix ${prefix}\\) is not empty`));
});

test('store copy --dry-run counts and writes nothing', async () => {
  const { dir } = await filledSqlite();
  const target = join(newDir(), 'dry');
  const run = await runCli(['--from', `sqlite:${dir}`, '--to', `sqlite:${target}`, '--dry-run']);
  assertSummary(run);
  assert.match(run.stdout, /^dry run: counting what a copy from .* would copy; nothing is written$/m);
  assert.match(run.stdout, /^dry run done in [\d.]+ s: nothing written$/m);
  assert.equal(existsSync(target), false, 'no SQLite store was created');

  const prefix = newPrefix();
  const toRedis = await runCli(['--from', `sqlite:${dir}`, '--to', redisServer.url, '--to-prefix', prefix, '--dry-run']);
  assertSummary(toRedis);
  // The configured Redis store, its prefix with it.
  const config = join(newDir(), 'rempart.yaml');
  writeFileSync(config, `store: { backend: redis, redis: { url: "${redisServer.url}", prefix: "${prefix}" } }\n`);
  const toConfig = await runCli(['--from', `sqlite:${dir}`, '--to', 'config', '--config', config, '--dry-run']);
  assertSummary(toConfig);
  assert.match(toConfig.stdout, new RegExp(`to redis redis://127\\.0\\.0\\.1:\\d+/0 prefix ${prefix} would copy`));
  const redis = new Redis(redisServer.url);
  try {
    const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
    assert.deepEqual(keys, [], 'no Redis key was written');
  } finally {
    redis.disconnect();
  }
});

test('store copy: an unreachable Redis fails with exit 1 within seconds', async () => {
  const { dir } = await filledSqlite();
  const port = await freePort();
  const run = await runCli(['--from', `sqlite:${dir}`, '--to', `redis://127.0.0.1:${port}/0`]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, new RegExp(`^rempart: cannot reach the destination \\(redis redis://127\\.0\\.0\\.1:${port}/0 prefix rempart:\\): Redis not reachable within \\d+ ms`, 'm'));
  assert.ok(run.ms < 15_000, `took ${run.ms} ms`);
  const from = await runCli(['--from', `redis://127.0.0.1:${port}/0`, '--to', `sqlite:${join(newDir(), 'x')}`]);
  assert.equal(from.code, 1);
  assert.match(from.stderr, /cannot reach the source/);
});

test('store copy: command-line mistakes exit 2, a missing source exits 1', async () => {
  const dir = newDir();
  const cases: [string[], RegExp][] = [
    [['--from', `sqlite:${dir}`], /needs --from and --to/],
    [['--from', `sqlite:${dir}`, '--to', `sqlite:${dir}/`], /name the same store/],
    [['--from', `sqlite:${dir}`, '--to', 'mysql://db'], /expected sqlite:DIR, a redis:\/\/ or rediss:\/\/ URL, or config/],
    [['--from', `sqlite:${dir}`, '--from-prefix', 'x:', '--to', redisServer.url], /--from-prefix applies to a Redis store only/],
    [['--from', redisServer.url, '--to', redisServer.url.replace(/\/0$/, ''), '--to-prefix', 'rempart:'], /name the same store/],
    [['--from', `sqlite:${dir}`, '--to', redisServer.url, '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
  const missing = await runCli(['--from', `sqlite:${join(dir, 'nothing')}`, '--to', `sqlite:${join(dir, 'copy')}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no SQLite store at .*nothing \(no rempart\.db there\)/);
  assert.equal(existsSync(join(dir, 'nothing')), false);
});
