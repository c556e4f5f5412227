// What the SQLite Bayes store does beyond the store contract (conformance/bayes.ts, run against
// SQLite too): expiry by age in chunks of its writer; counts kept across a reopen, and a version-3
// store upgraded with the Bayes tables.
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
