// The SQLite decision history: every filter alone and together against a plain filter of the
// records (times out of id order included), paging with beforeId, get; statistics (totals, series
// with empty and partial buckets, per-minute and per-hour rollups, top symbols, most rejected
// clients and senders in one read or in chunks) against counts made here; the query plans (every
// read through an index); maintenance deleting symbol and recipient rows and old rollups; the
// upgrade of a version-4 store with history; deleting one greylist triplet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { downgradeStore, withStore } from '../../../test/helpers/sqlite-store.js';
import { DATABASE_FILE, openDatabaseFile } from './database.js';
import { ACTIONS, MAX_BUCKETS, type SqliteHistoryStore } from './history.js';
import { SqliteStore } from './store.js';
import type { ResultRecord } from '../../core/result.js';
import type { HistoryFilter, StatsQuery, StatsReport } from '../types.js';

const T0 = 1_800_000_000_000; // ms since the epoch, on an hour boundary
const MINUTE = 60_000; // ms
const HOUR = 3_600_000; // ms

const record = (time: number, overrides: Partial<ResultRecord> = {}): ResultRecord => ({
  time, node: 'mx1', protocol: 'policy', stage: 'rcpt', clientAddress: '192.0.2.1', clientName: 'unknown', helo: 'h',
  sender: 's@example.net', recipients: ['r@example.org'], queueId: '', messageId: '', instance: 'i', action: 'accept',
  decidedBy: '', reason: '', reply: '', headers: [], score: 0, symbols: [], facts: {}, errors: [], durationMs: 0.1, ...overrides,
});
const hit = (name: string) => ({ name, score: 1, description: `${name} fired` });

/** A small deterministic random source (mulberry32). */
function randomSource(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const CLIENTS = ['192.0.2.1', '192.0.2.2', '198.51.100.7', '2001:db8::1'];
const SENDERS = ['', 'a@x.example', 'b@x.example', 'bounce@y.example'];
const RECIPIENTS = ['bob@example.org', 'ann@example.org', 'postmaster@example.org'];
const SYMBOLS = ['DNSBL', 'HELO_NOT_FQDN', 'BAYES_SPAM', 'NO_PTR'];
const NODES = ['mx1', 'mx2'];

/**
 * `n` records about a minute apart from T0, their times up to 3 minutes off that order (ids
 * follow the order of writing, not of time), a few written hours late, with random attributes.
 */
function randomRecords(n: number, seed = 1): ResultRecord[] {
  const random = randomSource(seed);
  const pick = <T>(values: readonly T[]): T => values[random(values.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const late = random(40) === 0 ? 5 * HOUR : 0;
    return record(T0 + i * MINUTE + random(6 * MINUTE) - 3 * MINUTE - late, {
      clientAddress: pick(CLIENTS),
      sender: pick(SENDERS),
      recipients: Array.from(new Set([pick(RECIPIENTS), pick(RECIPIENTS)])).slice(0, 1 + random(2)),
      action: pick(ACTIONS),
      protocol: random(4) === 0 ? 'milter' : 'policy',
      node: random(5) === 0 ? 'mx2' : 'mx1',
      symbols: Array.from(new Set(Array.from({ length: random(3) }, () => pick(SYMBOLS)))).map(hit),
    });
  });
}

/** What query(filter) must return, found by going through every record (ids are 1, 2, ... in writing order). */
function expectedQuery(records: ResultRecord[], filter: HistoryFilter): number[] {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const ids: number[] = [];
  records.forEach((r, i) => {
    const id = i + 1;
    if (filter.beforeId !== undefined && id >= filter.beforeId) return;
    if (filter.since !== undefined && r.time < filter.since) return;
    if (filter.until !== undefined && r.time >= filter.until) return;
    if (filter.client !== undefined && !same(r.clientAddress, filter.client)) return;
    if (filter.sender !== undefined && !same(r.sender, filter.sender)) return;
    if (filter.recipient !== undefined && !r.recipients.some((x) => same(x, filter.recipient!))) return;
    if (filter.action !== undefined && r.action !== filter.action) return;
    if (filter.symbol !== undefined && !r.symbols.some((s) => s.name === filter.symbol)) return;
    if (filter.node !== undefined && r.node !== filter.node) return;
    ids.push(id);
  });
  return ids.reverse().slice(0, filter.limit ?? 100);
}

/** A random filter over the values of randomRecords (some in other letter case, some matching nothing). */
function randomFilter(random: (n: number) => number): HistoryFilter {
  const maybe = <T>(values: readonly T[]): T | undefined => (random(3) === 0 ? values[random(values.length)] : undefined);
  const filter: HistoryFilter = {
    client: maybe([...CLIENTS, '2001:DB8::1', '203.0.113.1']),
    sender: maybe([...SENDERS, 'A@X.EXAMPLE', 'x.example']),
    recipient: maybe([...RECIPIENTS, 'BOB@example.org', 'example.org', 'ob@example.org']),
    action: maybe(ACTIONS),
    symbol: maybe([...SYMBOLS, 'dnsbl', 'DNS']),
    node: maybe([...NODES, 'mx3']),
    limit: random(2) === 0 ? undefined : 1 + random(30),
  };
  if (random(3) === 0) filter.since = T0 + random(400) * MINUTE + random(MINUTE);
  if (random(3) === 0) filter.until = T0 + random(400) * MINUTE + random(MINUTE);
  if (random(4) === 0) filter.beforeId = 1 + random(420);
  for (const key of Object.keys(filter) as (keyof HistoryFilter)[]) if (filter[key] === undefined) delete filter[key];
  return filter;
}

async function addAll(store: SqliteStore, records: ResultRecord[]): Promise<void> {
  for (const r of records) store.history.add(r);
  await store.history.flush();
}

test('every filter alone and together matches a plain filter of the records, newest first, with beforeId paging', withStore(async (store) => {
  const records = randomRecords(400);
  await addAll(store, records);
  const random = randomSource(7);
  for (const probeLimit of [10_000, 3]) {
    // A small probe limit makes the primary key, rather than a filter's index, drive some pages.
    store.history.tuning.probeLimit = probeLimit;
    for (let i = 0; i < 400; i++) {
      const filter = randomFilter(random);
      const got = (await store.history.query(filter)).map((r) => r.id!);
      assert.deepEqual(got, expectedQuery(records, filter), JSON.stringify(filter));
    }
  }
  // Paging backwards through a filter gives every match once.
  for (const filter of [{}, { action: 'reject' }, { symbol: 'DNSBL', since: T0 + 50 * MINUTE }, { recipient: 'bob@example.org', until: T0 + 300 * MINUTE }]) {
    const all = expectedQuery(records, { ...filter, limit: 1000 });
    const paged: number[] = [];
    let beforeId: number | undefined;
    for (;;) {
      const page = await store.history.query({ ...filter, limit: 7, ...(beforeId !== undefined ? { beforeId } : {}) });
      paged.push(...page.map((r) => r.id!));
      if (page.length < 7) break;
      beforeId = page[page.length - 1]!.id;
    }
    assert.deepEqual(paged, all, JSON.stringify(filter));
  }
}));

test('filters match whole values: recipients and addresses in any ASCII case, symbols and nodes exactly', withStore(async (store) => {
  await addAll(store, [
    record(T0, { sender: 'Alice@Example.NET', recipients: ['Bob@Example.org', 'carol@example.org'], symbols: [hit('DNSBL'), hit('NO_PTR')], node: 'mx1' }),
    record(T0 + 1000, { sender: '', recipients: ['rob@example.org'], clientAddress: '2001:DB8::7', symbols: [hit('DNSBL_EXTRA')], node: 'mx2' }),
  ]);
  const ids = async (filter: HistoryFilter) => (await store.history.query(filter)).map((r) => r.id);
  assert.deepEqual(await ids({ recipient: 'bob@example.org' }), [1]);
  assert.deepEqual(await ids({ recipient: 'ob@example.org' }), [], 'no substring match');
  assert.deepEqual(await ids({ recipient: 'example.org' }), []);
  assert.deepEqual(await ids({ sender: 'alice@example.net' }), [1]);
  assert.deepEqual(await ids({ sender: '' }), [2], 'the null sender is a value like any other');
  assert.deepEqual(await ids({ client: '2001:db8::7' }), [2]);
  assert.deepEqual(await ids({ symbol: 'DNSBL' }), [1]);
  assert.deepEqual(await ids({ symbol: 'dnsbl' }), [], 'symbol names are exact');
  assert.deepEqual(await ids({ node: 'mx2' }), [2]);
  assert.deepEqual(await ids({ node: 'mx3' }), []);
  assert.deepEqual(await ids({ symbol: 'NO_PTR', recipient: 'carol@example.org', sender: 'ALICE@example.net', since: T0, until: T0 + 1 }), [1]);
  assert.deepEqual(await ids({ symbol: 'NO_PTR', until: T0 }), []);
}));

test('get returns one record in full, or undefined; limit defaults to 100 and must be a whole number', withStore(async (store) => {
  const records = Array.from({ length: 120 }, (_, i) => record(T0 + i * 1000, { reason: `r${i}`, symbols: [hit('X')], facts: { delay: i } }));
  await addAll(store, records);
  const got = await store.history.get(5);
  assert.deepEqual(got, { ...records[4], id: 5 });
  assert.equal(await store.history.get(121), undefined);
  assert.equal((await store.history.query({})).length, 100);
  assert.equal((await store.history.query({})).at(0)!.reason, 'r119');
  assert.deepEqual(await store.history.query({ limit: 0 }), []);
  await assert.rejects(store.history.query({ limit: -1 }), RangeError);
  await assert.rejects(store.history.query({ limit: 1.5 }), RangeError);
}));

test('stats: totals, buckets from the one holding since (empty ones too), minute resolution, top lists', withStore(async (store) => {
  await addAll(store, [
    record(T0 + 30_000, { action: 'accept', symbols: [hit('BAYES_HAM')] }),
    record(T0 + 90_000, { action: 'reject', protocol: 'milter', clientAddress: '192.0.2.9', sender: '', symbols: [hit('DNSBL'), hit('NO_PTR')] }),
    record(T0 + 5 * MINUTE, { action: 'greylist', symbols: [hit('NO_PTR')] }),
    record(T0 + 2 * HOUR + 1, { action: 'reject', clientAddress: '192.0.2.9', sender: 'spam@x.example', symbols: [hit('DNSBL')] }),
    record(T0 + 2 * HOUR + 2, { action: 'reject', clientAddress: '192.0.2.10', sender: 'Spam@X.example', symbols: [hit('DNSBL')] }),
    record(T0 + 3 * HOUR, { action: 'reject' }), // outside the windows below
  ]);
  const zero = Object.fromEntries(ACTIONS.map((a) => [a, 0]));
  const hours = await store.history.stats({ since: T0, until: T0 + 3 * HOUR, bucketSeconds: 3600 });
  assert.deepEqual(hours.actions, { ...zero, accept: 1, greylist: 1, reject: 3 });
  assert.deepEqual(hours.protocols, { policy: 4, milter: 1 });
  assert.deepEqual(hours.series, [
    { time: T0, counts: { ...zero, accept: 1, greylist: 1, reject: 1 } },
    { time: T0 + HOUR, counts: zero },
    { time: T0 + 2 * HOUR, counts: { ...zero, reject: 2 } },
  ]);
  assert.deepEqual(hours.symbols, [{ value: 'DNSBL', count: 3 }, { value: 'NO_PTR', count: 2 }, { value: 'BAYES_HAM', count: 1 }]);
  assert.deepEqual(hours.topRejectedClients, [{ value: '192.0.2.9', count: 2 }, { value: '192.0.2.10', count: 1 }]);
  assert.equal(hours.topRejectedSenders.length, 2, 'senders differing in letter case count as one');
  assert.deepEqual(hours.topRejectedSenders.map((s) => [s.value.toLowerCase(), s.count]), [['spam@x.example', 2], ['<>', 1]]);
  assert.deepEqual({ since: hours.since, until: hours.until, bucketSeconds: hours.bucketSeconds }, { since: T0, until: T0 + 3 * HOUR, bucketSeconds: 3600 });

  // since inside minute 1: the whole minute counts (the reject at T0+90 s), the top lists are exact.
  const edge = await store.history.stats({ since: T0 + 100_000, until: T0 + 10 * MINUTE, bucketSeconds: 300, top: 1 });
  assert.deepEqual(edge.series, [
    { time: T0, counts: { ...zero, reject: 1 } },
    { time: T0 + 5 * MINUTE, counts: { ...zero, greylist: 1 } },
  ]);
  assert.deepEqual(edge.symbols, [{ value: 'NO_PTR', count: 2 }]);
  assert.deepEqual(edge.topRejectedClients, [], 'the reject at T0+90 s is before since');

  const empty = await store.history.stats({ since: T0 - 10 * HOUR, until: T0 - 9 * HOUR, bucketSeconds: 1200 });
  assert.deepEqual(empty, {
    since: T0 - 10 * HOUR, until: T0 - 9 * HOUR, bucketSeconds: 1200, actions: zero, protocols: {},
    series: [0, 1, 2].map((i) => ({ time: T0 - 10 * HOUR + i * 1_200_000, counts: zero })),
    symbols: [], topRejectedClients: [], topRejectedSenders: [],
  });
  assert.deepEqual((await store.history.stats({ since: T0, until: T0, bucketSeconds: 60 })).series, [], 'an empty window has no bucket');
  assert.deepEqual((await store.history.stats({ since: T0, until: T0 + 3 * HOUR, bucketSeconds: 3600, top: 0 })).symbols, []);
}));

test('stats: bad windows, bucket widths, top values and more than 2000 buckets are RangeErrors', withStore(async (store) => {
  const stats = (query: Partial<StatsQuery>) => store.history.stats({ since: T0, until: T0 + HOUR, bucketSeconds: 60, ...query });
  for (const bucketSeconds of [0, 90, 60.5, -60]) await assert.rejects(stats({ bucketSeconds }), RangeError, String(bucketSeconds));
  await assert.rejects(stats({ until: T0 - 1 }), RangeError);
  await assert.rejects(stats({ since: NaN }), RangeError);
  await assert.rejects(stats({ top: -1 }), RangeError);
  assert.equal((await stats({ until: T0 + MAX_BUCKETS * MINUTE })).series.length, MAX_BUCKETS);
  await assert.rejects(stats({ until: T0 + MAX_BUCKETS * MINUTE + 1 }), /2001 buckets/);
  await assert.rejects(stats({ since: T0 + 1, until: T0 + MAX_BUCKETS * MINUTE + 1 }), RangeError, 'unaligned: 2001 buckets touched');
}));

/** What stats() must return for `records` (minute resolution for the counts, exact window for the rejected). */
function expectedStats(records: ResultRecord[], query: StatsQuery): StatsReport {
  const { since, until, bucketSeconds } = query;
  const top = query.top ?? 10;
  const bucketMs = bucketSeconds * 1000;
  const first = Math.floor(since / bucketMs);
  const end = until > since ? Math.ceil(until / bucketMs) : first;
  const zero = () => Object.fromEntries(ACTIONS.map((a) => [a, 0]));
  const report: StatsReport = {
    since, until, bucketSeconds, actions: zero(), protocols: {}, symbols: [], topRejectedClients: [], topRejectedSenders: [],
    series: Array.from({ length: end - first }, (_, i) => ({ time: (first + i) * bucketMs, counts: zero() })),
  };
  const symbols = new Map<string, number>();
  const clients = new Map<string, number>();
  const senders = new Map<string, number>();
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const [fromMinute, toMinute] = [Math.floor(since / MINUTE), Math.ceil(until / MINUTE)];
  for (const r of records) {
    const minute = Math.floor(r.time / MINUTE);
    if (minute >= fromMinute && minute < toMinute && until > since) {
      report.actions[r.action]!++;
      report.protocols[r.protocol] = (report.protocols[r.protocol] ?? 0) + 1;
      report.series[Math.floor(r.time / bucketMs) - first]!.counts[r.action]!++;
      for (const name of new Set(r.symbols.map((s) => s.name))) add(symbols, name);
    }
    if (r.action === 'reject' && r.time >= since && r.time < until) (add(clients, r.clientAddress), add(senders, r.sender || '<>'));
  }
  const best = (map: Map<string, number>) =>
    [...map].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1)).slice(0, top);
  return { ...report, symbols: best(symbols), topRejectedClients: best(clients), topRejectedSenders: best(senders) };
}

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
      for (let i = 0; i < 100; i++) {
        const filter = randomFilter(random);
        assert.deepEqual((await upgraded.history.query(filter)).map((r) => r.id), expectedQuery(records, filter), JSON.stringify(filter));
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
