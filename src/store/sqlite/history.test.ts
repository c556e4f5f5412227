// What the SQLite decision history does beyond the store contract (conformance/history.ts, run
// against SQLite too): statistics read in one go or in chunks (its tuning) against counts made
// here; the query plans (every read through an index); maintenance deleting symbol and recipient
// rows and old rollups; the upgrade of a version-4 store with history; deleting one greylist triplet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { downgradeStore, withStore } from '../../../test/helpers/sqlite-store.js';
import { DATABASE_FILE, openDatabaseFile } from './database.js';
import type { SqliteHistoryStore } from './history.js';
import { SqliteStore } from './store.js';
import type { HistoryFilter, StatsQuery } from '../types.js';
import { addAll, expectedQuery, expectedStats, hit, HOUR, MINUTE, randomFilter, randomRecords, randomSource, record, T0 } from '../conformance/history-records.js';

test('stats match counts made from the records, for many windows and bucket widths, read in one go or in chunks', withStore(async (store) => {
  const records = randomRecords(900, 3);
  await addAll(store, records);
  const history: SqliteHistoryStore = store.history;
  const random = randomSource(11);
  const queries: StatsQuery[] = [
    { since: T0 - 6 * HOUR, until: T0 + 16 * HOUR, bucketSeconds: 3600 },
    { since: T0 + 17 * MINUTE + 5, until: T0 + 13 * HOUR + 59_999, bucketSeconds: 5400, top: 3 },
  ];
  for (let i = 0; i < 40; i++) {
    const since = T0 - 6 * HOUR + random(22 * 60) * MINUTE + random(2) * random(MINUTE);
    queries.push({ since, until: since + (1 + random(16 * 60)) * MINUTE - random(2) * random(MINUTE), bucketSeconds: [60, 300, 1800, 3600, 5400, 7200, 10_800, 86_400][random(8)]!, top: 1 + random(12) });
  }
  for (const tuning of [
    { minutesPerRead: 1440, hoursPerRead: 168, rejectsInOneRead: 1e9, rejectChunkGroups: 5000 },
    { minutesPerRead: 7, hoursPerRead: 2, rejectsInOneRead: 0, rejectChunkGroups: 1 },
    { minutesPerRead: 100, hoursPerRead: 5, rejectsInOneRead: 0, rejectChunkGroups: 2 },
  ]) {
    Object.assign(history.tuning, tuning);
    for (const query of queries) assert.deepEqual(await history.stats(query), expectedStats(records, query), `${JSON.stringify(query)} ${JSON.stringify(tuning)}`);
  }
}));

/** Plan lines that read a table whole: SCAN of anything but a subquery, json_each or the chunk of a CTE. */
const fullScans = (plan: string[]) => plan.filter((line) => /^SCAN /.test(line) && !/^SCAN (\(subquery-\d+\)|r VIRTUAL TABLE|chunk)( |$)/.test(line));

test('every query, count and statistics read goes through an index (EXPLAIN QUERY PLAN)', withStore(async (store) => {
  const keys = ['since', 'until', 'client', 'sender', 'recipient', 'action', 'symbol', 'node', 'beforeId'] as const;
  const values = { since: T0, until: T0 + 1, client: '192.0.2.1', sender: 'a@x.example', recipient: 'r@example.org', action: 'reject', symbol: 'DNSBL', node: 'mx1', beforeId: 10 };
  for (let mask = 0; mask < 1 << keys.length; mask++) {
    const filter: HistoryFilter = {};
    keys.forEach((key, i) => {
      if (mask & (1 << i)) Object.assign(filter, { [key]: values[key] });
    });
    const plan = store.history.queryPlans(filter);
    assert.deepEqual(fullScans(plan), [], `${JSON.stringify(filter)}:\n${plan.join('\n')}`);
    assert.ok(!plan.some((line) => /TEMP B-TREE/.test(line)), `pages come in index order: ${JSON.stringify(filter)}:\n${plan.join('\n')}`);
  }
  for (const [name, plan] of Object.entries(store.history.statementPlans())) {
    assert.deepEqual(fullScans(plan), [], `${name}:\n${plan.join('\n')}`);
    assert.ok(plan.some((line) => /^SEARCH /.test(line)), `${name}:\n${plan.join('\n')}`);
    assert.ok(!plan.some((line) => /SCAN (history|h)\b/.test(line)), name);
  }
  // Walking the rejected decisions by address groups in index order.
  assert.ok(!store.history.statementPlans().clientRejectsNextChunk!.some((line) => /B-TREE FOR GROUP BY/.test(line)));
}));

test('maintenance deletes old and excess records with their symbol and recipient rows, and rollups older than the maximum age', withStore(async (store, dir) => {
  const now = T0 / 1000 + 10 * 86_400; // seconds
  const day = 86_400_000; // ms
  await addAll(store, [
    record(T0, { symbols: [hit('OLD')], recipients: ['old@example.org'], action: 'reject' }), // older than 7 days: goes
    record(T0 + 9 * day, { symbols: [hit('A'), hit('B')], recipients: ['x@example.org', 'y@example.org'] }), // beyond the 3 newest: goes
    ...[1, 2, 3].map((i) => record(T0 + 9 * day + i * MINUTE, { symbols: [hit('A')], recipients: ['x@example.org'], action: 'reject' })),
  ]);
  const report = await store.maintenance({ now, historyMaxAge: 7 * 86_400, historyMaxRecords: 3 });
  assert.equal(report.removedHistory, 2);
  assert.deepEqual((await store.history.query({})).map((r) => r.id), [5, 4, 3]);
  // A search (here by symbol) brings the search tables up to date before it reads them.
  assert.deepEqual((await store.history.query({ symbol: 'A' })).map((r) => r.id), [5, 4, 3]);
  const db = openDatabaseFile(join(dir, DATABASE_FILE), 1000);
  try {
    const rows = (sql: string) => db.prepare(sql).raw().all();
    assert.deepEqual(rows('SELECT name, history_id FROM history_symbols ORDER BY 2'), [['A', 3], ['A', 4], ['A', 5]]);
    assert.deepEqual(rows('SELECT recipient, history_id FROM history_recipients ORDER BY 2'), [['x@example.org', 3], ['x@example.org', 4], ['x@example.org', 5]]);
    const cutoffMinute = (now - 7 * 86_400) / 60;
    assert.deepEqual(rows(`SELECT count(*) FROM stats_minutes WHERE minute < ${cutoffMinute}`), [[0]]);
    assert.deepEqual(rows(`SELECT count(*) FROM stats_symbol_minutes WHERE minute < ${cutoffMinute}`), [[0]]);
    assert.deepEqual(rows(`SELECT count(*) FROM stats_hours WHERE hour < ${cutoffMinute / 60}`), [[0]]);
    assert.deepEqual(rows(`SELECT count(*) FROM stats_symbol_hours WHERE hour < ${cutoffMinute / 60}`), [[0]]);
  } finally {
    db.close();
  }
  // The record cut by the count still counts in the statistics (rollups last the maximum age), not in the top lists.
  const stats = await store.history.stats({ since: T0 + 9 * day, until: T0 + 9 * day + HOUR, bucketSeconds: 3600 });
  assert.deepEqual([stats.actions.accept, stats.actions.reject], [1, 3]);
  assert.deepEqual(stats.symbols, [{ value: 'A', count: 4 }, { value: 'B', count: 1 }]);
  assert.deepEqual(stats.topRejectedClients, [{ value: '192.0.2.1', count: 3 }]);
  assert.deepEqual((await store.history.stats({ since: T0, until: T0 + HOUR, bucketSeconds: 3600 })).actions.reject, 0, 'old rollups gone');
  assert.deepEqual(await store.history.query({ since: T0 + 9 * day }), await store.history.query({}));
}));

test('a store of schema version 4 with history is upgraded: records keep every filter, statistics are filled in', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'rempart-history-'));
  try {
    const records = randomRecords(300, 5);
    const first = new SqliteStore(dir, 1000);
    await addAll(first, records);
    const window: StatsQuery = { since: T0 - 6 * HOUR, until: T0 + 6 * HOUR, bucketSeconds: 1800 };
    const statsBefore = await first.history.stats(window);
    await first.close();

    downgradeStore(dir, 4);
    const old = openDatabaseFile(join(dir, DATABASE_FILE), 1000);
    const tables = old.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'stats_%' OR name LIKE 'history_%'").pluck().all();
    assert.deepEqual(tables, [], 'a version-4 file');
    old.close();

    const upgraded = new SqliteStore(dir, 1000);
    try {
      assert.equal(await upgraded.history.count(), 300);
      assert.deepEqual(await upgraded.history.stats(window), statsBefore);
      assert.deepEqual(await upgraded.history.stats(window), expectedStats(records, window));
      const random = randomSource(9);
      const ids = records.map((_, i) => i + 1); // a fresh SQLite store numbers its records 1, 2, ...
      for (let i = 0; i < 100; i++) {
        const filter = randomFilter(random, ids);
        assert.deepEqual((await upgraded.history.query(filter)).map((r) => r.id), expectedQuery(records, ids, filter), JSON.stringify(filter));
      }
      upgraded.history.add(record(T0, { symbols: [hit('NEW')] }));
      assert.deepEqual((await upgraded.history.query({ symbol: 'NEW' })).map((r) => r.id), [301]);
    } finally {
      await upgraded.close();
    }
    const check = openDatabaseFile(join(dir, DATABASE_FILE), 1000);
    assert.equal(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(), '5');
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deleteTriplet removes one triplet by key, here and in the caches of other processes', withStore(async (store, dir) => {
  const put = (s: SqliteStore, key: string) =>
    s.greylist.updateTriplet(key, { clientNet: '192.0.2.0/24', sender: 's@x', recipient: key }, () => ({ next: { firstSeen: 1, lastSeen: 1, attempts: 1, passedAt: 0 }, result: 0 }), () => 1e10);
  const read = (s: SqliteStore, key: string) => s.greylist.updateTriplet(key, undefined, (current) => ({ next: current, result: current }), () => 0);
  await put(store, 'k1');
  await put(store, 'k2');
  assert.ok(await read(store, 'k1'));
  assert.equal(await store.greylist.deleteTriplet('k1'), 1);
  assert.equal(await store.greylist.deleteTriplet('k1'), 0);
  assert.equal(await store.greylist.deleteTriplet('k%'), 0, 'the key is matched exactly');
  assert.equal(await read(store, 'k1'), undefined, 'not cached any more');
  assert.deepEqual((await store.greylist.listTriplets({})).map((t) => t.key), ['k2']);

  const cli = new SqliteStore(dir, 1000);
  try {
    assert.ok(await read(store, 'k2'), 'cached in the daemon');
    assert.equal(await cli.greylist.deleteTriplet('k2'), 1);
    store.greylist.checkForeignFlush();
    assert.equal(await read(store, 'k2'), undefined, 'a delete by another process clears the cache');
  } finally {
    await cli.close();
  }
}));
