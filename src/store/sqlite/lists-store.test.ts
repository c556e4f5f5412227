// The SQLite list, ban and strike stores: normalised entries, update on re-add, removal, listing and
// searching, the version counter seen by another store on the same file, bans merged and lifted
// (with the address's strikes), a ban visible before it is committed, strike counts within a
// window, and maintenance of expired entries, bans and strikes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downgradeStore } from '../../../test/helpers/sqlite-store.js';
import { SqliteStore } from './store.js';
import type { ListEntryInput } from '../types.js';

function withStores(fn: (store: SqliteStore, other: SqliteStore) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rempart-lists-'));
    const store = new SqliteStore(dir, 1000);
    const other = new SqliteStore(dir, 1000);
    try {
      await fn(store, other);
    } finally {
      await other.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const input = (value: string, extra: Partial<ListEntryInput> = {}): ListEntryInput => ({
  kind: 'block', value, scope: '', reason: 'spam', comment: '', addedBy: 'root', createdAt: 1000, expiresAt: 0, ...extra,
});

test('list entries: normalised, re-adding updates, removal by value or id, listing, version', withStores(async (store, other) => {
  assert.equal(await other.lists.version(), 0);
  const localBefore = store.lists.localChanges;
  const added = await store.lists.put([
    input('@Spam.Example', { reason: 'abusive-domain', comment: 'seen' }),
    input('192.0.2.9/24', { scope: 'Bob@Example.org' }),
    input('Alice@Example.net', { kind: 'allow', reason: '' }),
  ]);
  assert.deepEqual(added.map((a) => [a.created, a.entry.type, a.entry.value, a.entry.scope]), [
    [true, 'domain', '@spam.example', ''],
    [true, 'ip', '192.0.2.0/24', 'bob@example.org'],
    [true, 'sender', 'alice@example.net', ''],
  ]);
  assert.ok(store.lists.localChanges > localBefore, 'a local change is visible at once');
  assert.equal(await other.lists.version(), 1, 'one transaction, one bump, seen by another connection');
  const again = await store.lists.put([input('@spam.example', { reason: 'compromised', addedBy: 'alice', expiresAt: 5000 })]);
  assert.equal(again[0]!.created, false);
  assert.equal(again[0]!.entry.id, added[0]!.entry.id);
  assert.equal(again[0]!.entry.reason, 'compromised');
  assert.equal(again[0]!.entry.addedBy, 'alice');
  assert.equal(await other.lists.version(), 2);
  await assert.rejects(store.lists.put([input('not-an-entry')]), /not an entry/);

  assert.equal((await other.lists.list({})).length, 3);
  assert.deepEqual((await other.lists.list({ kind: 'block' })).map((e) => e.value), ['@spam.example', '192.0.2.0/24']);
  assert.deepEqual((await other.lists.list({ scope: '' })).map((e) => e.value), ['alice@example.net', '@spam.example']);
  assert.deepEqual((await other.lists.list({ scope: 'BOB@example.org' })).map((e) => e.value), ['192.0.2.0/24']);
  assert.deepEqual((await other.lists.list({ search: 'ALICE' })).map((e) => e.value), ['alice@example.net', '@spam.example'], 'value or adder; allow before block');
  assert.equal((await other.lists.list({ search: '%' })).length, 0, 'LIKE wildcards are escaped');
  assert.deepEqual((await other.lists.active(4999)).length, 3);
  assert.deepEqual((await other.lists.active(5000)).map((e) => e.value).sort(), ['192.0.2.0/24', 'alice@example.net'], 'expired entries are not active');

  assert.equal(await store.lists.remove({ kind: 'block', value: '192.0.2.1/24', scope: 'bob@example.org' }), 1, 'removal normalises the value');
  assert.equal(await store.lists.remove({ kind: 'block', value: 'alice@example.net', scope: '' }), 0, 'the kind must match');
  assert.equal(await store.lists.remove({ kind: 'block', id: added[2]!.entry.id }), 0);
  assert.equal(await store.lists.remove({ kind: 'allow', id: added[2]!.entry.id }), 1);
  assert.equal(await other.lists.version(), 4, 'only effective removals bump the version');

  const report = await store.maintenance({ now: 5000, historyMaxAge: 1e9, historyMaxRecords: 1e9 });
  assert.equal(report.expiredListEntries, 1);
  assert.equal((await store.lists.list({})).length, 0);
}));

test('bans: canonical networks, re-banning keeps the later expiry, lifting forgets strikes, visible before commit', withStores(async (store, other) => {
  const pending = store.bans.ban({ network: '::ffff:192.0.2.7', reason: 'spamtrap hit', source: 'spamtrap', createdAt: 100, expiresAt: 1000 });
  assert.deepEqual((await store.bans.active(100)).map((b) => b.network), ['192.0.2.7'], 'this process sees its ban before the writer confirms it');
  assert.equal((await pending).network, '192.0.2.7');
  assert.equal(await other.bans.version(), 1);
  const merged = await store.bans.ban({ network: '192.0.2.7', reason: '5 unknown recipients', source: 'strikes', createdAt: 200, expiresAt: 500 });
  assert.deepEqual(merged, { network: '192.0.2.7', reason: '5 unknown recipients', source: 'strikes', createdAt: 100, expiresAt: 1000 });
  const forever = await other.bans.ban({ network: '192.0.2.7', reason: 'by hand', source: 'manual', createdAt: 300, expiresAt: 0 });
  assert.equal(forever.expiresAt, 0, 'never is the latest expiry');
  await store.bans.ban({ network: '2001:db8:1:2::99/48', reason: 'r', source: 'manual', createdAt: 300, expiresAt: 400 });
  assert.deepEqual((await store.bans.list({ now: 300 })).map((b) => b.network), ['2001:db8:1::/48', '192.0.2.7']);
  assert.deepEqual((await store.bans.list({ now: 400 })).map((b) => b.network), ['192.0.2.7']);
  assert.equal((await store.bans.list({ now: 400, includeExpired: true })).length, 2);
  assert.equal((await store.bans.list({ now: 0, search: 'hand' })).length, 1);
  await assert.rejects(store.bans.ban({ network: 'nope', reason: '', source: 'manual', createdAt: 0, expiresAt: 0 }), /not an IP address/);

  await store.strikes.addStrike('192.0.2.7', 'no-ptr', 300, 3600);
  await store.strikes.addStrike('192.0.2.8', 'no-ptr', 300, 3600);
  await store.history.flush(); // the daemon's strikes are committed within milliseconds; then a CLI lifts the ban
  assert.equal(await other.bans.lift('192.0.2.7/32'), 1);
  assert.equal(await other.bans.lift('192.0.2.7'), 0);
  assert.deepEqual((await store.strikes.list({})).map((s) => s.address), ['192.0.2.8'], "the lifted address's strikes are forgotten");
  const report = await store.maintenance({ now: 400, historyMaxAge: 1e9, historyMaxRecords: 1e9 });
  assert.equal(report.expiredBans, 1);
  assert.equal((await store.bans.active(0)).length, 0);
}));

test('strikes: counted per reason within the window, atomic while queued, cleared, and removed when expired', withStores(async (store) => {
  assert.equal(await store.strikes.addStrike('198.51.100.1', 'unknown-recipient', 1000, 3600), 1);
  assert.equal(await store.strikes.addStrike('::ffff:198.51.100.1', 'unknown-recipient', 1001, 3600), 2, 'queued strike read back, IPv4-mapped address is the same');
  const counts = await Promise.all([1002, 1003, 1004].map((t) => store.strikes.addStrike('198.51.100.1', 'unknown-recipient', t, 3600)));
  assert.deepEqual(counts, [3, 4, 5], 'concurrent strikes each see the ones before');
  assert.equal(await store.strikes.addStrike('198.51.100.1', 'dnsbl', 1004, 3600), 1, 'another reason counts apart');
  await store.history.flush(); // committed
  assert.equal(await store.strikes.addStrike('198.51.100.1', 'unknown-recipient', 4601, 3600), 4, 'the strikes at 1000 and 1001 left the window');
  const rows = await store.strikes.list({ address: '198.51.100.1' });
  assert.deepEqual(rows.map((r) => [r.reason, r.times.length, r.expiresAt]), [['dnsbl', 1, 4604], ['unknown-recipient', 4, 8201]]);
  assert.equal(await store.strikes.addStrike('203.0.113.5', 'no-ptr', 1000, 60), 1);
  const report = await store.maintenance({ now: 5000, historyMaxAge: 1e9, historyMaxRecords: 1e9 });
  assert.equal(report.expiredStrikes, 2, 'the dnsbl tally and the no-ptr one expired');
  assert.equal(await store.strikes.clear('198.51.100.1'), 1);
  assert.equal(await store.strikes.addStrike('198.51.100.1', 'unknown-recipient', 5000, 3600), 1, 'counting starts again after clear');
}));

test('a store of schema version 1 is upgraded in place', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-lists-'));
  try {
    const { openDatabaseFile, SCHEMA_VERSION } = await import('./database.js');
    const first = new SqliteStore(dir, 1000);
    await first.greylist.updateTriplet('k', undefined, () => ({ next: { firstSeen: 1, lastSeen: 1, attempts: 1, passedAt: 0 }, result: 0 }), () => 1e9);
    await first.close();
    // Turn it back into a version-1 file: drop what migrations 2 and later made.
    downgradeStore(dir, 1);
    const reopened = new SqliteStore(dir, 1000);
    assert.equal((await reopened.greylist.listTriplets({})).length, 1, 'old data kept');
    await reopened.lists.put([input('@x.example')]);
    assert.equal((await reopened.lists.list({})).length, 1);
    await reopened.close();
    const check = openDatabaseFile(join(dir, 'rempart.db'), 1000);
    assert.equal((check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value, String(SCHEMA_VERSION));
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
