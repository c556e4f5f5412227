// What the SQLite Bayes store does beyond the store contract (conformance/bayes.ts, run against
// SQLite too): expiry by age in chunks of its writer; counts kept across a reopen, and a version-3
// store upgraded with the Bayes tables; the in-memory copy of the global scope (bayes-snapshot.ts):
// the same counts as SQL and no SQL once loaded, exact after own learns (also during a load and
// between a commit and its reply), never stale after another store's write and loaded again after
// the interval, a load discarded when another store writes meanwhile, the LRU path above the size
// limit, and nothing left pending by close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downgradeStore, withStore } from '../../../test/helpers/sqlite-store.js';
import { SqliteBayesStore } from './bayes.js';
import type { SnapshotLimits } from './bayes-snapshot.js';
import { DATABASE_FILE, openDatabase, openDatabaseFile, type Db } from './database.js';
import { SqliteStore } from './store.js';
import { SqliteWriter } from './writer.js';
import type { BayesStore, LearnInput } from '../types.js';
import { foundCounts } from '../../../test/helpers/bayes-lookup.js';

const DAY = 86_400; // seconds
const T0 = 1_800_000_000; // seconds since the epoch


const message = (digest: string, kind: 'spam' | 'ham', tokens: string[], extra: Partial<LearnInput> = {}): LearnInput => ({ digest, kind, tokens, now: T0, ...extra });

/** The lookup as plain [token, spam, ham] rows, sorted. */
async function counts(store: { bayes: BayesStore }, scope: string, tokens: string[]): Promise<[string, number, number][]> {
  const found = foundCounts(await store.bayes.lookup(scope, tokens), tokens);
  return [...found].map(([token, c]): [string, number, number] => [token, c.spam, c.ham]).sort((a, b) => a[0].localeCompare(b[0]));
}

test('maintenance expires tokens not learned for bayesTokenMaxAge, in chunks, and the old digests with them', withStore(async (store) => {
  const bayes = store.bayes;
  const limits = { historyMaxAge: 1e9, historyMaxRecords: 1e9 };
  await bayes.learn('', message('old', 'spam', ['stale', 'shared'], { now: T0 }));
  await bayes.learn('', message('new', 'ham', ['shared', 'fresh'], { now: T0 + 10 * DAY }));
  await bayes.importCounts('bob@example.org', Array.from({ length: 12_000 }, (_, i) => ({ token: `old${i}`, spam: 1, ham: 0, lastSeen: T0 })), { spam: 1, ham: 0 });
  await bayes.importCounts('bob@example.org', [{ token: 'recent', spam: 2, ham: 0, lastSeen: T0 + 10 * DAY }], { spam: 0, ham: 0 });
  assert.deepEqual(await counts(store, '', ['stale', 'shared', 'fresh']), [['fresh', 0, 1], ['shared', 1, 1], ['stale', 1, 0]], 'looked up (and cached) before the expiry');

  const unset = await store.maintenance({ now: T0 + 20 * DAY, ...limits });
  assert.equal(unset.expiredBayesTokens, 0, 'no maximum age: nothing expires');
  const report = await store.maintenance({ now: T0 + 20 * DAY, bayesTokenMaxAge: 15 * DAY, ...limits });
  assert.equal(report.expiredBayesTokens, 12_001, 'stale and the 12,000 imported old tokens');
  assert.deepEqual(await counts(store, '', ['stale', 'shared', 'fresh']), [['fresh', 0, 1], ['shared', 1, 1]], 'the cache did not keep what expired');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 1, tokens: 2 }, 'message counts stay');
  assert.deepEqual(await bayes.counts('bob@example.org'), { spamMessages: 1, hamMessages: 0, tokens: 1 });
  assert.equal(await bayes.learn('', message('old', 'spam', ['stale', 'shared'], { now: T0 + 20 * DAY })), 'learned', 'its digest expired with its tokens');
  assert.equal(await bayes.learn('', message('new', 'ham', ['shared', 'fresh'], { now: T0 + 20 * DAY })), 'already');
}));

test('learned counts are kept across a reopen; a store of schema version 3 gets the Bayes tables', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bayes-'));
  try {
    const { openDatabaseFile, SCHEMA_VERSION } = await import('./database.js');
    const first = new SqliteStore(dir, 1000);
    await first.bayes.learn('', message('m1', 'spam', ['cheap']));
    await first.recipients.add([{ address: 'bob@example.org', comment: '', addedBy: 'root', createdAt: T0 }]);
    await first.close();
    const reopened = new SqliteStore(dir, 1000);
    assert.deepEqual(await reopened.bayes.counts(''), { spamMessages: 1, hamMessages: 0, tokens: 1 });
    assert.equal(await reopened.bayes.learn('', message('m1', 'spam', ['cheap'])), 'already');
    await reopened.close();

    // Turn it back into a version-3 file: drop what migrations 4 and later made.
    downgradeStore(dir, 3);
    const upgraded = new SqliteStore(dir, 1000);
    try {
      assert.deepEqual(await upgraded.recipients.all(), ['bob@example.org'], 'old data kept');
      assert.deepEqual(await upgraded.bayes.counts(''), { spamMessages: 0, hamMessages: 0, tokens: 0 });
      assert.equal(await upgraded.bayes.learn('', message('m1', 'spam', ['cheap'])), 'learned');
    } finally {
      await upgraded.close();
    }
    const check = openDatabaseFile(join(dir, 'rempart.db'), 1000);
    assert.equal((check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value, String(SCHEMA_VERSION));
    assert.equal(SCHEMA_VERSION, 5);
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- The in-memory copy of the global scope -------------------------------------------------------

const RELOAD_MS = 30_000; // ms, the reload interval the copy is given in these tests

interface Subject {
  bayes: SqliteBayesStore;
  dir: string;
  /** The copy's clock (ms), moved by the test. */
  clock: { now: number };
  /** A connection of the test's own to the same file: the truth, and writes behind the store's back. */
  raw: Db;
  /** What the store reported as failed background work. */
  backgroundErrors: unknown[];
}

/** A Bayes store on a fresh database, its copy with these limits and a clock of the test's. */
function withBayes(limits: Partial<SnapshotLimits>, fn: (subject: Subject) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rempart-bayes-snapshot-'));
    const db = openDatabase(dir, 1000);
    const writer = new SqliteWriter({ databasePath: join(dir, DATABASE_FILE), busyTimeoutMs: 1000 }, (error) => assert.fail(String(error)));
    const clock = { now: 1_000_000 };
    const backgroundErrors: unknown[] = [];
    const bayes = new SqliteBayesStore(db, writer, {
      snapshot: { reloadIntervalMs: RELOAD_MS, ...limits },
      now: () => clock.now,
      onBackgroundError: (error) => backgroundErrors.push(error),
    });
    const raw = openDatabaseFile(join(dir, DATABASE_FILE), 1000);
    try {
      await fn({ bayes, dir, clock, raw, backgroundErrors });
    } finally {
      bayes.stop();
      await bayes.sync();
      await writer.close();
      db.close();
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** One turn of the event loop (a loading step runs in each). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function turnsWhileLoading(bayes: SqliteBayesStore, limit = 100_000): Promise<void> {
  for (let i = 0; i < limit && bayes.snapshotStatus().state === 'loading'; i++) await turn();
}

/** Every global token's counts as stored, read on the test's own connection. */
function storedGlobal(raw: Db): Map<string, [number, number]> {
  const rows = raw
    .prepare("SELECT t.token, t.spam, t.ham FROM bayes_tokens t JOIN bayes_scopes s ON s.id = t.scope_id WHERE s.scope = ''")
    .raw()
    .all() as [string, number, number][];
  return new Map(rows.map(([token, spam, ham]) => [token, [spam, ham]]));
}

/** Looks up every stored global token and `absent` ones, and compares with what is stored. */
async function assertExact(bayes: SqliteBayesStore, raw: Db, absent: string[], message: string): Promise<void> {
  const stored = storedGlobal(raw);
  const asked = [...stored.keys(), ...absent];
  const found = foundCounts(await bayes.lookup('', asked), asked);
  const got = new Map([...found].map(([token, c]): [string, [number, number]] => [token, [c.spam, c.ham]]));
  assert.deepEqual(got, stored, message);
}

/** Changes a stored count without moving meta.bayes_version, which no writer of Rempart does: a lookup that reads SQL sees it, one served from memory does not. */
function tamper(raw: Db, scope: string, token: string, spam: number, ham: number): void {
  raw
    .prepare(
      `INSERT INTO bayes_tokens (scope_id, token, spam, ham, last_learned) VALUES ((SELECT id FROM bayes_scopes WHERE scope = ?), ?, ?, ?, 0)
       ON CONFLICT(scope_id, token) DO UPDATE SET spam = excluded.spam, ham = excluded.ham`,
    )
    .run(scope, token, spam, ham);
}

const imported = (count: number, prefix = 't') =>
  Array.from({ length: count }, (_, i) => ({ token: `${prefix}${String(i).padStart(5, '0')}`, spam: i % 3, ham: 1 + (i % 5), lastSeen: T0 }));

test('global lookups come from the in-memory copy: the counts SQL gives, for present and absent tokens, and no SQL once loaded', withBayes({ chunkRows: 500 }, async ({ bayes, raw }) => {
  await bayes.importCounts('', imported(3000), { spam: 10, ham: 10 });
  await bayes.learn('', message('m1', 'spam', ['cheap', 't00001', 'pills']));
  await bayes.learn('bob@example.org', message('m1', 'ham', ['cheap', 'bobs-own']));
  assert.deepEqual(bayes.snapshotStatus(), { state: 'none', tokens: 0, loads: 0, chunks: 0 }, 'nothing is loaded before a global lookup');

  const asked = ['cheap', 't00001', 't02999', 'pills', 'never-seen', 'bobs-own', 'cheap'];
  const expected = [['cheap', 1, 0], ['pills', 1, 0], ['t00001', 2, 2], ['t02999', 2, 5]];
  assert.deepEqual(await counts({ bayes }, '', asked), expected, 'while loading, the LRU path serves');
  assert.equal(bayes.snapshotStatus().state, 'loading');
  assert.equal(bayes.snapshotStatus().chunks, 1, 'the first global lookup began the load and ran its first step');
  await turnsWhileLoading(bayes);
  const status = bayes.snapshotStatus();
  assert.deepEqual(status, { state: 'ready', version: await bayes.version(), tokens: 3002, loads: 1, chunks: 7 }, 'read in 7 chunks of up to 500 rows');
  assert.deepEqual(await counts({ bayes }, '', asked), expected, 'the same counts from memory');
  await assertExact(bayes, raw, ['absent-1', 'bobs-own', ''], 'the copy is the whole global table, and only it');

  // Stored counts changed behind the store's back (version unchanged): a lookup served from
  // memory cannot see them, for a present token as for an absent one.
  tamper(raw, '', 'cheap', 50, 50);
  tamper(raw, '', 'never-seen', 7, 7);
  assert.deepEqual(await counts({ bayes }, '', ['cheap', 'never-seen']), [['cheap', 1, 0]], 'no SQL for a global lookup');
  tamper(raw, 'bob@example.org', 'bobs-own', 9, 9);
  assert.deepEqual(await counts({ bayes }, 'bob@example.org', ['bobs-own']), [['bobs-own', 9, 9]], "a recipient's scope is read from SQL (its LRU)");
}));

test('warm() loads the copy ahead of any lookup and resolves once it is ready; with nothing learned it resolves at once', withBayes({ chunkRows: 100 }, async ({ bayes, raw }) => {
  assert.deepEqual(await bayes.warm(), { heldTokens: 0, reason: 'nothing learned yet' });
  assert.deepEqual(bayes.snapshotStatus(), { state: 'none', tokens: 0, loads: 0, chunks: 0 }, 'nothing learned: no load, and warm() did not wait');
  await bayes.importCounts('', imported(1000), { spam: 10, ham: 10 });
  assert.deepEqual(await bayes.warm(), { heldTokens: 1000 });
  assert.deepEqual(bayes.snapshotStatus(), { state: 'ready', version: await bayes.version(), tokens: 1000, loads: 1, chunks: 11 }, 'ready when warm() resolves');
  await assertExact(bayes, raw, ['never-seen'], 'the copy serves the first lookup');
  assert.deepEqual(await bayes.warm(), { heldTokens: 1000 });
  assert.equal(bayes.snapshotStatus().loads, 1, 'a second warm() on a ready copy loads nothing');
}));

test('own learns, relearns and unlearns keep the copy exact and current, without a reload', withBayes({ chunkRows: 100 }, async ({ bayes, raw }) => {
  await bayes.importCounts('', imported(1000), { spam: 10, ham: 10 });
  await bayes.lookup('', ['t00001']);
  await turnsWhileLoading(bayes);
  assert.equal(bayes.snapshotStatus().state, 'ready');
  const ready = async (why: string) => {
    const status = bayes.snapshotStatus();
    assert.equal(status.state, 'ready', why);
    assert.equal(status.version, await bayes.version(), `${why}: the copy holds the current version`);
    assert.equal(status.loads, 1, `${why}: followed, not loaded again`);
    assert.equal(status.tokens, (await bayes.counts('')).tokens, `${why}: as many tokens as stored`);
    await assertExact(bayes, raw, ['brand-new', 'gone', 'bob-only'], why);
  };

  assert.equal(await bayes.learn('', message('m1', 'spam', ['brand-new', 't00002', 'gone'])), 'learned');
  await ready('after a learn: new tokens added, known ones counted');
  assert.equal(await bayes.learn('', message('m1', 'ham', ['brand-new', 't00002', 'gone'])), 'relearned');
  await ready('after a relearn');
  assert.equal(await bayes.learn('', message('m1', 'ham', ['brand-new', 't00002', 'gone'], { unlearn: true })), 'unlearned');
  assert.deepEqual(await counts({ bayes }, '', ['brand-new', 'gone', 't00002']), [['t00002', 2, 3]], 'tokens left at 0/0 left the copy');
  await ready('after an unlearn');
  assert.equal(await bayes.learn('', message('m1', 'ham', ['brand-new'], { unlearn: true })), 'not-learned');
  await bayes.learn('bob@example.org', message('b1', 'spam', ['bob-only', 't00003']));
  await ready("after a learn in a recipient's scope (the version moved, the global counts did not)");
  const outcomes = await Promise.all(Array.from({ length: 120 }, (_, i) => bayes.learn('', message(`n${i}`, i % 2 ? 'spam' : 'ham', [`t${String(i * 7).padStart(5, '0')}`, 'common', `own${i}`]))));
  assert.ok(outcomes.every((o) => o === 'learned'));
  await ready('after 120 learns asked at once (several replies of the writer)');
  assert.deepEqual(await counts({ bayes }, '', ['common']), [['common', 60, 60]]);
}));

test('a failure while following an own learn settles the learn all the same and is reported; the copy goes and lookups read SQL', withBayes({ chunkRows: 100 }, async ({ bayes, raw, backgroundErrors }) => {
  await bayes.importCounts('', imported(500), { spam: 10, ham: 10 });
  await bayes.lookup('', ['t00001']);
  await turnsWhileLoading(bayes);
  assert.equal(bayes.snapshotStatus().state, 'ready');
  // The copy's follow-up of the next learn breaks (as a failing read of the learned tokens could).
  const snapshot = (bayes as unknown as { snapshot: { afterOwnWrite: () => void } }).snapshot;
  snapshot.afterOwnWrite = () => {
    throw new Error('follow-up failed');
  };
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([bayes.learn('', message('m1', 'spam', ['t00001', 'fresh'])), new Promise((resolve) => (timer = setTimeout(() => resolve('still pending after 5 s'), 5000)))]);
  clearTimeout(timer);
  assert.equal(outcome, 'learned');
  const status = bayes.snapshotStatus();
  assert.notEqual(status.state, 'ready', 'the copy was dropped');
  assert.equal(status.lastError, 'follow-up failed');
  assert.deepEqual(backgroundErrors.map((e) => (e as Error).message), ['Bayes: the in-memory copy of the global database failed; lookups read the store until it loads again: follow-up failed'], 'reported, for the log and the metrics');
  await assertExact(bayes, raw, ['absent'], 'lookups after the failure give what is stored');
}));

test('a lookup between an own commit and its reply reads SQL and keeps the copy, which then follows the learn', withBayes({}, async ({ bayes, raw }) => {
  await bayes.learn('', message('m1', 'spam', ['cheap', 'pills']));
  await bayes.lookup('', ['cheap']);
  await turnsWhileLoading(bayes);
  const before = bayes.snapshotStatus().version!;
  const learned = bayes.learn('', message('m2', 'ham', ['pills', 'minutes']));
  void bayes.sync(); // sends the learn now
  // The main thread waits (synchronously, so the writer's reply cannot be read) until the commit shows.
  const version = raw.prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'bayes_version'").pluck();
  const deadline = Date.now() + 10_000;
  while ((version.get() as number) === before && Date.now() < deadline);
  assert.equal(version.get(), before + 1, 'the learn committed');
  const found = bayes.lookup('', ['cheap', 'pills', 'minutes']); // runs now; only microtasks below
  assert.deepEqual(bayes.snapshotStatus().state, 'ready', 'kept: the reply will tell whether it can follow');
  assert.equal(bayes.snapshotStatus().version, before, 'not used meanwhile: it holds the version before');
  assert.deepEqual([...foundCounts(await found, ['cheap', 'pills', 'minutes'])].map(([t, c]) => [t, c.spam, c.ham]).sort(), [['cheap', 1, 0], ['minutes', 0, 1], ['pills', 1, 1]], 'the new counts, from SQL');
  assert.equal(await learned, 'learned');
  assert.deepEqual(bayes.snapshotStatus(), { state: 'ready', version: before + 1, tokens: 3, loads: 1, chunks: 1 });
  await assertExact(bayes, raw, [], 'exact after the reply');
}));

test("another store's writes on the same file are never served stale; the copy is loaded again after the reload interval", withBayes({ chunkRows: 100 }, async ({ bayes, dir, clock, raw }) => {
  await bayes.importCounts('', imported(500), { spam: 10, ham: 10 });
  await bayes.learn('', message('m1', 'spam', ['shared', 'old'], { now: T0 }));
  await bayes.lookup('', ['shared']);
  await turnsWhileLoading(bayes);
  assert.equal(bayes.snapshotStatus().state, 'ready');
  assert.deepEqual(await counts({ bayes }, '', ['shared', 'foreign']), [['shared', 1, 0]]);

  const other = new SqliteStore(dir, 1000);
  try {
    assert.equal(await other.bayes.learn('', message('o1', 'ham', ['shared', 'foreign'], { now: T0 + 10 * DAY })), 'learned');
    assert.deepEqual(await counts({ bayes }, '', ['shared', 'foreign', 'old']), [['foreign', 0, 1], ['old', 1, 0], ['shared', 1, 1]], 'the other store’s learn is seen at once');
    assert.deepEqual(bayes.snapshotStatus(), { state: 'none', tokens: 0, loads: 1, chunks: 6 }, 'the copy was dropped, and is not loaded again before the interval');
    clock.now += RELOAD_MS - 1;
    await bayes.lookup('', ['shared']);
    assert.equal(bayes.snapshotStatus().loads, 1, 'still within the interval');

    clock.now += 1;
    await bayes.lookup('', ['shared']);
    assert.equal(bayes.snapshotStatus().state, 'loading', 'loaded again once the interval passed');
    await turnsWhileLoading(bayes);
    assert.deepEqual(bayes.snapshotStatus().state, 'ready');
    assert.equal(bayes.snapshotStatus().loads, 2);
    await assertExact(bayes, raw, ['nothing'], 'the new copy is exact');

    // An expiry (by the other store's maintenance) moves the version too.
    const report = await other.maintenance({ now: T0 + 20 * DAY, historyMaxAge: 1e9, historyMaxRecords: 1e9, bayesTokenMaxAge: 15 * DAY });
    assert.equal(report.expiredBayesTokens, 501, 'the imported tokens and "old"');
    assert.deepEqual(await counts({ bayes }, '', ['shared', 'foreign', 'old', 't00001']), [['foreign', 0, 1], ['shared', 1, 1]], 'expired tokens are gone at once');
    assert.equal(bayes.snapshotStatus().state, 'none');
    clock.now += RELOAD_MS;
    await bayes.lookup('', []);
    await turnsWhileLoading(bayes);
    assert.deepEqual(bayes.snapshotStatus(), { state: 'ready', version: await bayes.version(), tokens: 2, loads: 3, chunks: 13 });
  } finally {
    await other.close();
  }
}));

test('a load during which another store writes is discarded; one during own learns completes, exact', withBayes({ chunkRows: 10 }, async ({ bayes, dir, clock, raw }) => {
  await bayes.importCounts('', imported(20_000), { spam: 10, ham: 10 }); // 2,000 steps of 10 rows
  const other = new SqliteStore(dir, 1000);
  try {
    await other.bayes.learn('bob@example.org', message('b1', 'spam', ['x'])); // its writer thread started before the load
    await bayes.lookup('', ['t00001']);
    assert.equal(bayes.snapshotStatus().state, 'loading');
    // Another process's learn, done synchronously on the test's own connection (so that it lands
    // during the load however slow the machine): its counts, and the version moved.
    tamper(raw, '', 't00001', 2, 2);
    tamper(raw, '', 't19999', 2, 5);
    tamper(raw, '', 'foreign', 1, 0);
    raw.prepare("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'bayes_version'").run();
    const during = bayes.snapshotStatus();
    assert.equal(during.state, 'loading', 'the other store wrote during the load');
    assert.ok(during.chunks < 1000, `${during.chunks} steps run so far`);
    await turnsWhileLoading(bayes);
    assert.deepEqual(bayes.snapshotStatus().state, 'none', 'discarded');
    assert.ok(bayes.snapshotStatus().chunks <= during.chunks + 1, 'at the next step');
    assert.deepEqual(await counts({ bayes }, '', ['t00001', 't19999', 'foreign']), [['foreign', 1, 0], ['t00001', 2, 2], ['t19999', 2, 5]]);

    clock.now += RELOAD_MS;
    await bayes.lookup('', ['t00001']);
    assert.equal(bayes.snapshotStatus().state, 'loading');
    const outcomes = await Promise.all([
      bayes.learn('', message('m1', 'spam', ['t00000', 't00001', 't19998', 'own-new'])), // before and after the rows read so far
      bayes.learn('', message('o1', 'ham', ['t00001', 't19999', 'foreign'])), // 'foreign', written by the other process, gains a ham
    ]);
    assert.deepEqual(outcomes, ['learned', 'learned']);
    assert.equal(await bayes.learn('', message('m1', 'spam', ['t00000'], { unlearn: true })), 'unlearned', 'an unlearn too');
    assert.equal(bayes.snapshotStatus().state, 'loading', 'own learns during the load');
    await turnsWhileLoading(bayes);
    assert.deepEqual(bayes.snapshotStatus(), { state: 'ready', version: await bayes.version(), tokens: 20_002, loads: 2, chunks: bayes.snapshotStatus().chunks });
    await assertExact(bayes, raw, ['nothing'], 'the tokens learned meanwhile were read again');
    assert.deepEqual(await counts({ bayes }, '', ['t00000', 'own-new', 'foreign']), [['foreign', 1, 1], ['own-new', 1, 0], ['t00000', 0, 1]]);
  } finally {
    await other.close();
  }
}));

test('above the size limit the LRU and SQL serve; a copy grown past it by learns is dropped', withBayes({ maxTokens: 50, chunkRows: 20 }, async ({ bayes, clock, raw }) => {
  await bayes.importCounts('', imported(60), { spam: 10, ham: 10 });
  assert.deepEqual(await counts({ bayes }, '', ['t00001', 'nothing']), [['t00001', 1, 2]]);
  assert.deepEqual(bayes.snapshotStatus(), { state: 'too-large', tokens: 0, loads: 0, chunks: 0 }, 'the size is checked before loading');
  assert.deepEqual(await bayes.warm(), { heldTokens: 0, reason: 'more than 50 tokens, read through the cache' }, 'warm() tells why nothing is held');
  tamper(raw, '', 't00002', 8, 8);
  assert.deepEqual(await counts({ bayes }, '', ['t00002']), [['t00002', 8, 8]], 'read from SQL');
  await assertExact(bayes, raw, ['nothing'], 'exact');

  // Another process removes 20 tokens, as an expiry would (the version moves).
  raw.transaction(() => {
    raw.prepare("DELETE FROM bayes_tokens WHERE token >= 't00040' AND scope_id = (SELECT id FROM bayes_scopes WHERE scope = '')").run();
    raw.prepare("UPDATE bayes_scopes SET tokens = 40 WHERE scope = ''").run();
    raw.prepare("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'bayes_version'").run();
  })();
  clock.now += RELOAD_MS;
  await bayes.lookup('', []);
  await turnsWhileLoading(bayes);
  assert.equal(bayes.snapshotStatus().state, 'ready', 'checked again after the interval: small enough now');
  assert.equal(bayes.snapshotStatus().tokens, 40);
  await bayes.learn('', message('m1', 'spam', Array.from({ length: 11 }, (_, i) => `grown${i}`)));
  assert.deepEqual(bayes.snapshotStatus(), { state: 'too-large', tokens: 0, loads: 1, chunks: 3 }, 'dropped once past 50 tokens');
  await assertExact(bayes, raw, ['nothing'], 'exact from SQL');
}));

test('close() during a load stops it: no step runs afterwards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bayes-snapshot-'));
  try {
    const store = new SqliteStore(dir, 1000);
    await store.bayes.importCounts('', imported(20_000), { spam: 10, ham: 10 }); // 11 steps of the default 2,000 rows (the last one finds none)
    await store.bayes.lookup('', ['t00001']);
    assert.equal(store.bayes.snapshotStatus().state, 'loading');
    assert.equal(store.bayes.snapshotStatus().chunks, 1);
    await store.close();
    const { chunks } = store.bayes.snapshotStatus();
    assert.deepEqual(store.bayes.snapshotStatus(), { state: 'stopped', tokens: 0, loads: 1, chunks }, 'stopped, and no step failed on the closed database');
    for (let i = 0; i < 20; i++) await turn();
    assert.deepEqual(store.bayes.snapshotStatus(), { state: 'stopped', tokens: 0, loads: 1, chunks }, 'no step after close');
    assert.ok(chunks < 11, 'the load had not finished');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
