// The SQLite Bayes store: learning is idempotent by digest (learned, already, relearned, unlearned,
// not-learned), counts never go below 0 and 0/0 tokens go, message and token counts follow; lookups
// of present and absent tokens; scopes kept apart; imports add up across batches; learns made at
// once are grouped and keep their order; expiry by age in chunks; a learn by one store (the CLI) is
// seen by another on the same file (the daemon) despite its cache; a version-3 store is upgraded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downgradeStore, withStore } from '../../../test/helpers/sqlite-store.js';
import { SqliteStore } from './store.js';
import type { LearnInput } from '../types.js';

const DAY = 86_400; // seconds
const T0 = 1_800_000_000; // seconds since the epoch


const message = (digest: string, kind: 'spam' | 'ham', tokens: string[], extra: Partial<LearnInput> = {}): LearnInput => ({ digest, kind, tokens, now: T0, ...extra });

/** The lookup as plain [token, spam, ham] rows, sorted. */
async function counts(store: SqliteStore, scope: string, tokens: string[]): Promise<[string, number, number][]> {
  const found = await store.bayes.lookup(scope, tokens);
  return [...found].map(([token, c]): [string, number, number] => [token, c.spam, c.ham]).sort((a, b) => a[0].localeCompare(b[0]));
}

test('learn, already, relearn, unlearn, not-learned: counts follow, never below 0, 0/0 tokens go', withStore(async (store) => {
  const bayes = store.bayes;
  assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 0, tokens: 0 });
  assert.deepEqual(await bayes.scopes(), []);

  assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills', 'subject:offer', 'cheap'])), 'learned');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 0, tokens: 3 }, 'a token counts once per message');
  assert.deepEqual(await counts(store, '', ['cheap', 'pills', 'never-seen']), [['cheap', 1, 0], ['pills', 1, 0]], 'absent tokens are left out');

  assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills', 'subject:offer'])), 'already');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 0, tokens: 3 }, 'learning again changes nothing');

  assert.equal(await bayes.learn('', message('m2', 'ham', ['pills', 'minutes'])), 'learned');
  assert.deepEqual(await counts(store, '', ['cheap', 'pills', 'minutes']), [['cheap', 1, 0], ['minutes', 0, 1], ['pills', 1, 1]]);
  assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 1, tokens: 4 });

  assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap', 'pills', 'subject:offer'])), 'relearned');
  assert.deepEqual(await counts(store, '', ['cheap', 'pills', 'subject:offer', 'minutes']), [['cheap', 0, 1], ['minutes', 0, 1], ['pills', 0, 2], ['subject:offer', 0, 1]], 'moved from spam to ham');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 2, tokens: 4 });

  assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills', 'subject:offer'], { unlearn: true })), 'unlearned', 'the class it was learned as counts, not the one asked');
  assert.deepEqual(await counts(store, '', ['cheap', 'pills', 'subject:offer', 'minutes']), [['minutes', 0, 1], ['pills', 0, 1]], 'tokens left at 0/0 are deleted');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 1, tokens: 2 });
  assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap'], { unlearn: true })), 'not-learned');

  // Unlearning with a token the message did not bring (a newer tokenizer) leaves other counts at 0, not below.
  assert.equal(await bayes.learn('', message('m2', 'ham', ['pills', 'minutes', 'stranger'], { unlearn: true })), 'unlearned');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 0, tokens: 0 });
  assert.deepEqual(await counts(store, '', ['pills', 'minutes', 'stranger']), []);
  assert.equal(await bayes.learn('', message('m3', 'ham', ['pills'])), 'learned');
  assert.deepEqual(await counts(store, '', ['pills']), [['pills', 0, 1]], 'no negative count was left behind');
  assert.equal(await bayes.learn('', message('m5', 'spam', ['viagra'])), 'learned');
  assert.equal(await bayes.learn('', message('m5', 'spam', ['viagra', 'pills'], { unlearn: true })), 'unlearned');
  assert.deepEqual(await counts(store, '', ['pills', 'viagra']), [['pills', 0, 1]], 'a spam count of 0 stays 0');

  await assert.rejects(bayes.learn('', message('', 'spam', ['x'])), /digest/);
  await assert.rejects(bayes.learn('', { ...message('m4', 'spam', ['x']), kind: 'junk' as 'spam' }), /spam or ham/);
}));

test('scopes are separate databases, named in lower case', withStore(async (store) => {
  const bayes = store.bayes;
  assert.equal(await bayes.learn('Bob@Example.ORG', message('m1', 'spam', ['viagra', 'cheap'])), 'learned');
  assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap'])), 'learned', 'the same message in another scope is another learn');
  assert.equal(await bayes.learn('bob@example.org', message('m1', 'spam', ['viagra', 'cheap'])), 'already');
  assert.deepEqual(await counts(store, 'bob@example.org', ['viagra', 'cheap']), [['cheap', 1, 0], ['viagra', 1, 0]]);
  assert.deepEqual(await counts(store, '', ['viagra', 'cheap']), [['cheap', 0, 1]]);
  assert.deepEqual(await counts(store, 'carol@example.org', ['cheap']), [], 'a scope never learned has nothing');
  assert.deepEqual(await bayes.counts('BOB@example.org'), { spamMessages: 1, hamMessages: 0, tokens: 2 });
  assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 1, tokens: 1 });
  assert.equal(await bayes.learn('carol@example.org', message('m9', 'ham', ['x'], { unlearn: true })), 'not-learned');
  assert.deepEqual(await bayes.scopes(), ['', 'bob@example.org'], 'unlearning in an unknown scope creates nothing');
}));

test('imports add to the counts, across batches, and meet learned messages', withStore(async (store) => {
  const bayes = store.bayes;
  await bayes.learn('', message('m1', 'spam', ['cheap', 'pills']));
  await bayes.importCounts('', [
    { token: 'cheap', spam: 40, ham: 2, lastSeen: T0 - DAY },
    { token: 'meeting', spam: 0, ham: 25, lastSeen: T0 - DAY },
    { token: 'nothing', spam: 0, ham: 0, lastSeen: T0 },
    { token: '', spam: 3, ham: 3, lastSeen: T0 },
  ], { spam: 50, ham: 30 });
  assert.deepEqual(await counts(store, '', ['cheap', 'pills', 'meeting', 'nothing']), [['cheap', 41, 2], ['meeting', 0, 25], ['pills', 1, 0]], '0/0 rows and empty tokens are skipped');
  assert.deepEqual(await bayes.counts(''), { spamMessages: 51, hamMessages: 30, tokens: 3 });

  // More rows than one writer message holds: every batch lands, message counts once.
  const many = Array.from({ length: 25_000 }, (_, i) => ({ token: `w${i}`, spam: i % 3, ham: 1, lastSeen: T0 }));
  await bayes.importCounts('alice@example.org', many, { spam: 7, ham: 9 });
  await bayes.importCounts('alice@example.org', many.slice(0, 10), { spam: 1, ham: 1 });
  assert.deepEqual(await bayes.counts('alice@example.org'), { spamMessages: 8, hamMessages: 10, tokens: 25_000 });
  assert.deepEqual(await counts(store, 'alice@example.org', ['w2', 'w24999', 'w25000']), [['w2', 4, 2], ['w24999', 0, 1]], 'the second import added to the first');
  assert.deepEqual(await bayes.scopes(), ['', 'alice@example.org']);
}));

test('learns made at once are grouped, kept in order, and a digest twice in one group counts once', withStore(async (store) => {
  const outcomes = await Promise.all([
    ...Array.from({ length: 300 }, (_, i) => store.bayes.learn('', message(`m${i}`, i % 2 ? 'ham' : 'spam', [`t${i}`, 'common']))),
    store.bayes.learn('', message('m0', 'spam', ['t0', 'common'])),
    store.bayes.learn('', message('m1', 'spam', ['t1', 'common'])),
    store.bayes.learn('', message('m2', 'ham', ['t2', 'common'], { unlearn: true })),
  ]);
  assert.deepEqual(outcomes.slice(0, 300), Array(300).fill('learned'));
  assert.deepEqual(outcomes.slice(300), ['already', 'relearned', 'unlearned']);
  assert.deepEqual(await counts(store, '', ['common', 't1', 't2']), [['common', 150, 149], ['t1', 1, 0]]);
  assert.deepEqual(await store.bayes.counts(''), { spamMessages: 150, hamMessages: 149, tokens: 300 });
}));

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

test('a learn by another store on the same file (the CLI) is seen by this one (the daemon) despite its cache', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bayes-'));
  const daemon = new SqliteStore(dir, 1000);
  const cli = new SqliteStore(dir, 1000);
  try {
    await daemon.bayes.learn('', message('d1', 'ham', ['hello', 'minutes']));
    assert.deepEqual(await counts(daemon, '', ['hello', 'cheap']), [['hello', 0, 1]], 'cheap is cached as absent');
    const before = await daemon.bayes.version();

    assert.equal(await cli.bayes.learn('', message('c1', 'spam', ['cheap', 'hello'])), 'learned');
    assert.ok((await daemon.bayes.version()) > before, 'the version moved');
    assert.deepEqual(await counts(daemon, '', ['hello', 'cheap', 'minutes']), [['cheap', 1, 0], ['hello', 1, 1], ['minutes', 0, 1]]);
    assert.deepEqual(await daemon.bayes.counts(''), { spamMessages: 1, hamMessages: 1, tokens: 3 });

    // The daemon's own learn: its tokens leave its cache, the others stay valid.
    assert.equal(await daemon.bayes.learn('', message('c1', 'ham', ['cheap', 'hello'])), 'relearned', 'the digest the CLI learned is known to the daemon');
    assert.deepEqual(await counts(daemon, '', ['hello', 'cheap', 'minutes']), [['cheap', 0, 1], ['hello', 0, 2], ['minutes', 0, 1]]);
    assert.deepEqual(await counts(cli, '', ['hello', 'cheap']), [['cheap', 0, 1], ['hello', 0, 2]]);

    // A learn of the daemon's that changes nothing must not make it take the CLI's write for its own.
    assert.deepEqual(await counts(daemon, '', ['canteen']), [], 'cached as absent');
    await cli.bayes.learn('', message('c3', 'spam', ['canteen']));
    assert.equal(await daemon.bayes.learn('', message('d1', 'ham', ['hello', 'minutes'])), 'already');
    assert.deepEqual(await counts(daemon, '', ['canteen']), [['canteen', 1, 0]]);

    // A recipient's database: the same, through its own cache.
    assert.deepEqual(await counts(daemon, 'bob@example.org', ['cheap']), []);
    await cli.bayes.learn('bob@example.org', message('c2', 'spam', ['cheap']));
    assert.deepEqual(await counts(daemon, 'bob@example.org', ['cheap']), [['cheap', 1, 0]]);
    await cli.bayes.learn('bob@example.org', message('c2', 'spam', ['cheap'], { unlearn: true }));
    assert.deepEqual(await counts(daemon, 'bob@example.org', ['cheap']), [], 'an unlearn reaches the cache too');
  } finally {
    await Promise.all([daemon.close(), cli.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

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
