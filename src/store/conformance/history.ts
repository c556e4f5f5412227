// The history part of the store contract: records queued by add() and written by flush(); every
// filter alone and together against a plain filter of the records (times out of id order and
// records written hours late included), whole-value matching (addresses in any ASCII case, symbols
// and nodes exactly), paging newest first with beforeId and afterId, limits, get and count;
// statistics (totals, series with empty and partial buckets, minute resolution, top symbols, most
// rejected clients and senders over the exact window) against counts made here; maintenance by age
// and by count; two stores (two processes, or two hosts on one Redis) writing one history.
// Ids are not assumed to be 1, 2, ...: each test reads the ids the store gave, in writing order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConformancePart } from './harness.js';
import { ACTIONS, MAX_BUCKETS } from '../history-rules.js';
import type { HistoryFilter, StatsQuery } from '../types.js';
import { addAll, DAY, expectedQuery, expectedStats, hit, HOUR, idsOf, MINUTE, randomFilter, randomRecords, randomSource, record, T0 } from './history-records.js';

export const historyConformance: ConformancePart = (backend) => {
  test('history: every filter alone and together matches a plain filter of the records, newest first', () =>
    backend.with(async ({ store }) => {
      const records = randomRecords(240);
      await addAll(store, records);
      const ids = await idsOf(store, records);
      assert.equal(await store.history.count(), records.length);
      const random = randomSource(7);
      for (let i = 0; i < 300; i++) {
        const filter = randomFilter(random, ids);
        const got = (await store.history.query(filter)).map((r) => r.id!);
        assert.deepEqual(got, expectedQuery(records, ids, filter), JSON.stringify(filter));
      }
    }));

  test('history: paging backwards with beforeId gives every match once; afterId gives what came since', () =>
    backend.with(async ({ store }) => {
      const records = randomRecords(150, 2);
      await addAll(store, records);
      const ids = await idsOf(store, records);
      for (const filter of [{}, { action: 'reject' }, { symbol: 'DNSBL', since: T0 + 30 * MINUTE }, { recipient: 'bob@example.org', until: T0 + 100 * MINUTE }, { node: 'mx2', client: '192.0.2.2' }]) {
        const all = expectedQuery(records, ids, { ...filter, limit: 1000 });
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
      // A live view: the newest page, then what is new since its newest record.
      const newest = (await store.history.query({ limit: 5 }))[0]!.id!;
      assert.deepEqual(await store.history.query({ afterId: newest }), []);
      const more = randomRecords(30, 3);
      await addAll(store, more);
      const since = (await store.history.query({ afterId: newest })).reverse();
      assert.equal(since.length, 30);
      since.forEach((r, i) => {
        assert.ok(r.id! > newest);
        assert.equal(r.reason, more[i]!.reason, 'the new records, newest first');
      });
      const rejects = await store.history.query({ afterId: newest, action: 'reject', limit: 3 });
      assert.deepEqual(rejects.map((r) => r.id), since.filter((r) => r.action === 'reject').map((r) => r.id).reverse().slice(0, 3));
      // Both bounds: the ids strictly between.
      const between = await store.history.query({ afterId: ids[10]!, beforeId: ids[20]!, limit: 100 });
      assert.deepEqual(between.map((r) => r.id), ids.slice(11, 20).reverse());
      assert.deepEqual(await store.history.query({ afterId: ids[10]!, beforeId: ids[11]! }), []);
    }));

  test('history: filters match whole values, recipients and addresses in any ASCII case, symbols and nodes exactly', () =>
    backend.with(async ({ store }) => {
      const records = [
        record(T0, { sender: 'Alice@Example.NET', recipients: ['Bob@Example.org', 'carol@example.org'], symbols: [hit('DNSBL'), hit('NO_PTR')], node: 'mx1' }),
        record(T0 + 1000, { sender: '', recipients: ['rob@example.org'], clientAddress: '2001:DB8::7', symbols: [hit('DNSBL_EXTRA')], node: 'mx2', action: 'reject' }),
      ];
      await addAll(store, records);
      const [first, second] = await idsOf(store, records);
      const ids = async (filter: HistoryFilter) => (await store.history.query(filter)).map((r) => r.id);
      assert.deepEqual(await ids({ recipient: 'bob@example.org' }), [first]);
      assert.deepEqual(await ids({ recipient: 'BOB@EXAMPLE.ORG' }), [first]);
      assert.deepEqual(await ids({ recipient: 'ob@example.org' }), [], 'no substring match');
      assert.deepEqual(await ids({ recipient: 'example.org' }), []);
      assert.deepEqual(await ids({ sender: 'alice@example.net' }), [first]);
      assert.deepEqual(await ids({ sender: '' }), [second], 'the null sender is a value like any other');
      assert.deepEqual(await ids({ client: '2001:db8::7' }), [second]);
      assert.deepEqual(await ids({ client: '2001:db8::' }), []);
      assert.deepEqual(await ids({ symbol: 'DNSBL' }), [first]);
      assert.deepEqual(await ids({ symbol: 'dnsbl' }), [], 'symbol names are exact');
      assert.deepEqual(await ids({ node: 'mx2' }), [second]);
      assert.deepEqual(await ids({ node: 'MX2' }), [], 'node names are exact');
      assert.deepEqual(await ids({ node: 'mx3' }), []);
      assert.deepEqual(await ids({ action: 'reject' }), [second]);
      assert.deepEqual(await ids({ action: 'defer' }), []);
      assert.deepEqual(await ids({ symbol: 'NO_PTR', recipient: 'carol@example.org', sender: 'ALICE@example.net', since: T0, until: T0 + 1 }), [first]);
      assert.deepEqual(await ids({ symbol: 'NO_PTR', until: T0 }), []);
      assert.deepEqual(await ids({ since: T0 + 1000 }), [second], 'since is inclusive');
      assert.deepEqual(await ids({ until: T0 + 1000 }), [first], 'until is exclusive');
      assert.deepEqual(await ids({ since: T0 + 500, until: T0 + 500 }), []);
    }));

  test('history: get returns one record in full, or undefined; limit defaults to 100 and must be a whole number', () =>
    backend.with(async ({ store }) => {
      assert.equal(await store.history.count(), 0);
      assert.deepEqual(await store.history.query({}), []);
      assert.equal(await store.history.get(1), undefined);
      const records = Array.from({ length: 120 }, (_, i) =>
        record(T0 + i * 1000, {
          reason: `r${i}`, symbols: [{ name: 'X', score: 1.5, description: 'x' }], facts: { delay: i, list: 'zen' },
          headers: [{ name: 'X-Spam', value: 'yes' }], errors: i % 2 ? ['dnsbl'] : [], queueId: 'Q1', messageId: '<m@x>', score: 4.25,
          reply: '554 5.7.1 no', decidedBy: 'dnsbl', protocol: i % 3 ? 'policy' : 'milter', stage: 'data',
        }),
      );
      for (const r of records) store.history.add(r);
      // Reads see what this store queued, flushed or not.
      assert.equal(await store.history.count(), 120);
      const ids = await idsOf(store, records);
      assert.deepEqual(await store.history.get(ids[4]!), { ...records[4]!, id: ids[4] });
      assert.equal(await store.history.get(ids[119]! + 1000), undefined);
      assert.equal((await store.history.query({})).length, 100);
      assert.equal((await store.history.query({})).at(0)!.reason, 'r119');
      assert.equal((await store.history.query({})).at(-1)!.reason, 'r20');
      assert.deepEqual(await store.history.query({ limit: 0 }), []);
      assert.deepEqual((await store.history.query({ limit: 1 })).map((r) => r.reason), ['r119']);
      await assert.rejects(store.history.query({ limit: -1 }), RangeError);
      await assert.rejects(store.history.query({ limit: 1.5 }), RangeError);
    }));

  test('history: stats totals, buckets from the one holding since (empty ones too), minute resolution, top lists', () =>
    backend.with(async ({ store }) => {
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
      // Per-minute buckets over the same records.
      const minutes = await store.history.stats({ since: T0, until: T0 + 6 * MINUTE, bucketSeconds: 60 });
      assert.deepEqual(minutes.series.map((b) => b.counts.accept! + b.counts.reject! + b.counts.greylist!), [1, 1, 0, 0, 0, 1]);

      // since inside minute 1: the whole minute counts (the reject at T0+90 s), the top lists are exact.
      const edge = await store.history.stats({ since: T0 + 100_000, until: T0 + 10 * MINUTE, bucketSeconds: 300, top: 1 });
      assert.deepEqual(edge.series, [
        { time: T0, counts: { ...zero, reject: 1 } },
        { time: T0 + 5 * MINUTE, counts: { ...zero, greylist: 1 } },
      ]);
      assert.deepEqual(edge.symbols, [{ value: 'NO_PTR', count: 2 }]);
      assert.deepEqual(edge.topRejectedClients, [], 'the reject at T0+90 s is before since');
      const inside = await store.history.stats({ since: T0 + 80_000, until: T0 + 100_000, bucketSeconds: 60 });
      assert.deepEqual(inside.topRejectedClients, [{ value: '192.0.2.9', count: 1 }], 'a window within one minute');
      assert.deepEqual(inside.topRejectedSenders, [{ value: '<>', count: 1 }], 'the null sender is shown as <>');
      const untilEdge = await store.history.stats({ since: T0 + 2 * HOUR, until: T0 + 2 * HOUR + 2, bucketSeconds: 3600 });
      assert.deepEqual(untilEdge.topRejectedClients, [{ value: '192.0.2.9', count: 1 }], 'until is exclusive');
      assert.equal(untilEdge.actions.reject, 2, 'counts are per whole minute');

      const empty = await store.history.stats({ since: T0 - 10 * HOUR, until: T0 - 9 * HOUR, bucketSeconds: 1200 });
      assert.deepEqual(empty, {
        since: T0 - 10 * HOUR, until: T0 - 9 * HOUR, bucketSeconds: 1200, actions: zero, protocols: {},
        series: [0, 1, 2].map((i) => ({ time: T0 - 10 * HOUR + i * 1_200_000, counts: zero })),
        symbols: [], topRejectedClients: [], topRejectedSenders: [],
      });
      assert.deepEqual((await store.history.stats({ since: T0, until: T0, bucketSeconds: 60 })).series, [], 'an empty window has no bucket');
      const none = await store.history.stats({ since: T0, until: T0 + 3 * HOUR, bucketSeconds: 3600, top: 0 });
      assert.deepEqual([none.symbols, none.topRejectedClients, none.topRejectedSenders], [[], [], []]);
      assert.equal(none.actions.reject, 3);
    }));

  test('history: stats with bad windows, bucket widths, top values or more than 2000 buckets are RangeErrors', () =>
    backend.with(async ({ store }) => {
      const stats = (query: Partial<StatsQuery>) => store.history.stats({ since: T0, until: T0 + HOUR, bucketSeconds: 60, ...query });
      for (const bucketSeconds of [0, 90, 60.5, -60]) await assert.rejects(stats({ bucketSeconds }), RangeError, String(bucketSeconds));
      await assert.rejects(stats({ until: T0 - 1 }), RangeError);
      await assert.rejects(stats({ since: NaN }), RangeError);
      await assert.rejects(stats({ top: -1 }), RangeError);
      await assert.rejects(stats({ top: 2.5 }), RangeError);
      assert.equal((await stats({ until: T0 + MAX_BUCKETS * MINUTE })).series.length, MAX_BUCKETS);
      await assert.rejects(stats({ until: T0 + MAX_BUCKETS * MINUTE + 1 }), /2001 buckets/);
      await assert.rejects(stats({ since: T0 + 1, until: T0 + MAX_BUCKETS * MINUTE + 1 }), RangeError, 'unaligned: 2001 buckets touched');
    }));

  test('history: stats match counts made from the records, for many windows and bucket widths', () =>
    backend.with(async ({ store }) => {
      const records = randomRecords(600, 3);
      await addAll(store, records);
      const random = randomSource(11);
      const queries: StatsQuery[] = [
        { since: T0 - 6 * HOUR, until: T0 + 12 * HOUR, bucketSeconds: 3600 },
        { since: T0 + 17 * MINUTE + 5, until: T0 + 9 * HOUR + 59_999, bucketSeconds: 5400, top: 3 },
        { since: T0 - 30 * DAY, until: T0 + 30 * DAY, bucketSeconds: 86_400, top: 20 },
      ];
      for (let i = 0; i < 40; i++) {
        const since = T0 - 6 * HOUR + random(17 * 60) * MINUTE + random(2) * random(MINUTE);
        queries.push({ since, until: since + (1 + random(11 * 60)) * MINUTE - random(2) * random(MINUTE), bucketSeconds: [60, 300, 1800, 3600, 5400, 7200, 10_800, 86_400][random(8)]!, top: 1 + random(12) });
      }
      for (const query of queries) assert.deepEqual(await store.history.stats(query), expectedStats(records, query), JSON.stringify(query));
    }));

  test('history: maintenance deletes records older than the maximum age and beyond the maximum count, oldest first', () =>
    backend.with(async ({ store }) => {
      const now = T0 / 1000 + 10 * 86_400; // seconds
      const records = [
        record(T0, { symbols: [hit('OLD')], recipients: ['old@example.org'], action: 'reject', clientAddress: '192.0.2.66' }), // older than 7 days: goes
        record(T0 + 9 * DAY, { symbols: [hit('A'), hit('B')], recipients: ['x@example.org', 'y@example.org'], clientAddress: '192.0.2.99', action: 'reject' }), // beyond the 3 newest: goes
        ...[1, 2, 3].map((i) => record(T0 + 9 * DAY + i * MINUTE, { symbols: [hit('A')], recipients: ['x@example.org'], action: 'reject', reason: `kept${i}` })),
      ];
      await addAll(store, records);
      const ids = await idsOf(store, records);
      const report = await store.maintenance({ now, historyMaxAge: 7 * 86_400, historyMaxRecords: 3 });
      assert.equal(report.removedHistory, 2);
      const kept = ids.slice(2).reverse();
      assert.deepEqual((await store.history.query({})).map((r) => r.id), kept);
      assert.equal(await store.history.count(), 3);
      assert.equal(await store.history.get(ids[0]!), undefined);
      assert.equal(await store.history.get(ids[1]!), undefined);
      // Every search finds only what is kept.
      assert.deepEqual((await store.history.query({ symbol: 'A' })).map((r) => r.id), kept);
      assert.deepEqual(await store.history.query({ symbol: 'B' }), []);
      assert.deepEqual(await store.history.query({ symbol: 'OLD' }), []);
      assert.deepEqual(await store.history.query({ recipient: 'y@example.org' }), []);
      assert.deepEqual(await store.history.query({ client: '192.0.2.99' }), []);
      assert.deepEqual((await store.history.query({ action: 'reject' })).map((r) => r.id), kept);
      assert.deepEqual(await store.history.query({ since: T0 + 9 * DAY }), await store.history.query({}));
      // The record cut by the count still counts in the statistics (they last the maximum age), not in the top lists.
      const stats = await store.history.stats({ since: T0 + 9 * DAY, until: T0 + 9 * DAY + HOUR, bucketSeconds: 3600 });
      assert.deepEqual(stats.actions.reject, 4);
      assert.deepEqual(stats.symbols, [{ value: 'A', count: 4 }, { value: 'B', count: 1 }]);
      assert.deepEqual(stats.topRejectedClients, [{ value: '192.0.2.1', count: 3 }]);
      const old = await store.history.stats({ since: T0, until: T0 + HOUR, bucketSeconds: 3600 });
      assert.deepEqual([old.actions.reject, old.symbols, old.topRejectedClients], [0, [], []], 'statistics older than the maximum age are gone');
      // Nothing more to do; records added later are written and found as before.
      assert.equal((await store.maintenance({ now, historyMaxAge: 7 * 86_400, historyMaxRecords: 3 })).removedHistory, 0);
      store.history.add(record(T0 + 9 * DAY + 5 * MINUTE, { symbols: [hit('NEW')] }));
      const added = await store.history.query({ symbol: 'NEW' });
      assert.equal(added.length, 1);
      assert.ok(added[0]!.id! > ids[4]!);
      assert.equal(await store.history.count(), 4);
    }));

  test('history: maintenance deletes many records in batches', () =>
    backend.with(async ({ store }) => {
      const records = Array.from({ length: 2600 }, (_, i) =>
        record(T0 + i * 1000, { action: i % 2 ? 'reject' : 'accept', clientAddress: `192.0.2.${i % 7}`, symbols: [hit(`S${i % 3}`)], reason: `r${i}` }),
      );
      await addAll(store, records);
      assert.equal(await store.history.count(), 2600);
      const now = (T0 + 1300 * 1000) / 1000 + 86_400; // s: the first 1300 records are older than a day
      const report = await store.maintenance({ now, historyMaxAge: 86_400, historyMaxRecords: 1000 });
      assert.equal(report.removedHistory, 1600);
      assert.equal(await store.history.count(), 1000);
      const page = await store.history.query({ limit: 2000 });
      assert.deepEqual([page.length, page.at(0)!.reason, page.at(-1)!.reason], [1000, 'r2599', 'r1600']);
      const rejected = await store.history.stats({ since: T0, until: T0 + HOUR, bucketSeconds: 3600, top: 7 });
      assert.equal(rejected.topRejectedClients.reduce((sum, c) => sum + c.count, 0), 500, 'the top lists count the records kept');
      assert.equal((await store.history.query({ symbol: 'S0', limit: 2000 })).length, records.slice(1600).filter((r) => r.symbols[0]!.name === 'S0').length);
    }));

  // Two SqliteStores on one file are two processes, each with its own writer: SQLite serialises
  // their commits, so this holds for both backends.
  test('history: two stores writing one history give unique ids, and each reads both nodes\' records', () =>
    backend.with(async ({ store, peer }) => {
      const other = peer();
      const ours = Array.from({ length: 60 }, (_, i) => record(T0 + i * 1000, { node: 'mx1', reason: `mx1-${i}`, action: i % 3 ? 'accept' : 'reject' }));
      const theirs = Array.from({ length: 40 }, (_, i) => record(T0 + i * 1500, { node: 'mx2', reason: `mx2-${i}`, clientAddress: '198.51.100.7', action: i % 2 ? 'accept' : 'reject' }));
      // Interleaved, written in several batches by both.
      for (let i = 0; i < 60; i++) {
        store.history.add(ours[i]!);
        if (i < 40) other.history.add(theirs[i]!);
        if (i % 20 === 19) await Promise.all([store.history.flush(), other.history.flush()]);
      }
      await Promise.all([store.history.flush(), other.history.flush()]);
      for (const reader of [store, other]) {
        const all = await reader.history.query({ limit: 1000 });
        assert.equal(all.length, 100);
        assert.equal(new Set(all.map((r) => r.id)).size, 100, 'ids are unique');
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.id! < all[i - 1]!.id!, 'newest first');
        const byReason = new Map(all.map((r) => [r.reason, r]));
        for (const r of [...ours, ...theirs]) assert.deepEqual(byReason.get(r.reason), { ...r, id: byReason.get(r.reason)!.id });
        // Each node's records are in the order it wrote them.
        for (const node of ['mx1', 'mx2']) {
          const mine = (await reader.history.query({ node, limit: 1000 })).reverse();
          assert.deepEqual(mine.map((r) => r.reason), (node === 'mx1' ? ours : theirs).map((r) => r.reason));
        }
        assert.equal(await reader.history.count(), 100);
        assert.deepEqual((await reader.history.query({ client: '198.51.100.7', action: 'reject', limit: 1000 })).map((r) => r.reason).sort(), theirs.filter((r) => r.action === 'reject').map((r) => r.reason).sort());
        const stats = await reader.history.stats({ since: T0, until: T0 + HOUR, bucketSeconds: 3600 });
        assert.deepEqual([stats.actions.accept, stats.actions.reject], [40 + 20, 20 + 20]);
        assert.deepEqual(stats.topRejectedClients, [{ value: '192.0.2.1', count: 20 }, { value: '198.51.100.7', count: 20 }]);
      }
      // A record either store adds later comes after both.
      const newest = (await store.history.query({ limit: 1 }))[0]!.id!;
      other.history.add(record(T0 + HOUR, { node: 'mx2', reason: 'late' }));
      await other.history.flush();
      assert.deepEqual((await store.history.query({ afterId: newest })).map((r) => r.reason), ['late']);
    }));
};
