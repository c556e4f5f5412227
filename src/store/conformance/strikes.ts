// The strikes part of the store contract: strikes counted per (address, reason) within their
// window (two in one second count twice; at most MAX_STRIKES_KEPT kept), canonical addresses,
// listing, clearing an address, maintenance, what another process counts on, and concurrent
// strikes against one address losing nothing. Times are taken from the real clock: Redis drops a
// tally when its newest strike leaves the window, by the server's clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, ConformancePart, StoreUnderTest } from './harness.js';
import { MAX_STRIKES_KEPT } from '../sqlite/strikes.js';
import type { MaintenanceLimits } from '../types.js';

const DAY = 86_400; // s
/** Seconds since the epoch when the running test started (set by `fresh`). */
let T = Math.floor(Date.now() / 1000);
const WINDOW = 3600; // s
/** Maintenance limits that remove no history. */
const limitsAt = (now: number): MaintenanceLimits => ({ now, historyMaxAge: 3650 * DAY, historyMaxRecords: 1_000_000_000 });
const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Runs a test on a fresh store, its times counted from now (so Redis TTLs of its entries lie ahead). */
const fresh = (backend: Backend, fn: (subject: StoreUnderTest) => Promise<void>): Promise<void> =>
  backend.with((subject) => {
    T = Math.floor(Date.now() / 1000);
    return fn(subject);
  });

export const strikesConformance: ConformancePart = (backend) => {
  test('strikes: a strike counts the strikes of its reason within the window, itself included', () =>
    fresh(backend, async ({ store }) => {
      const { strikes } = store;
      assert.equal(await strikes.addStrike('192.0.2.7', 'no_ptr', T, 15), 1);
      assert.equal(await strikes.addStrike('192.0.2.7', 'no_ptr', T + 10, 15), 2);
      // The strike at T left the window (T + 20 - 15).
      assert.equal(await strikes.addStrike('192.0.2.7', 'no_ptr', T + 20, 15), 2);
      assert.equal(await strikes.addStrike('192.0.2.7', 'no_ptr', T + 100, 15), 1);
      // Another reason and another address count apart.
      assert.equal(await strikes.addStrike('192.0.2.7', 'dnsbl', T + 100, 15), 1);
      assert.equal(await strikes.addStrike('192.0.2.8', 'no_ptr', T + 100, 15), 1);
      assert.deepEqual(await strikes.list({ address: '192.0.2.7' }), [
        { address: '192.0.2.7', reason: 'dnsbl', times: [T + 100], expiresAt: T + 115 },
        { address: '192.0.2.7', reason: 'no_ptr', times: [T + 100], expiresAt: T + 115 },
      ]);
    }));

  test('strikes: two strikes in the same second count twice', () =>
    fresh(backend, async ({ store }) => {
      assert.equal(await store.strikes.addStrike('192.0.2.7', 'dnsbl', T, WINDOW), 1);
      assert.equal(await store.strikes.addStrike('192.0.2.7', 'dnsbl', T, WINDOW), 2);
      assert.deepEqual((await store.strikes.list({ address: '192.0.2.7' }))[0]?.times, [T, T]);
    }));

  test('strikes: addresses are counted and listed in canonical form', () =>
    fresh(backend, async ({ store }) => {
      const { strikes } = store;
      assert.equal(await strikes.addStrike('::ffff:192.0.2.7', 'no_ptr', T, WINDOW), 1);
      assert.equal(await strikes.addStrike('192.0.2.7', 'no_ptr', T, WINDOW), 2);
      assert.equal(await strikes.addStrike('2001:DB8:0::7', 'no_ptr', T, WINDOW), 1);
      assert.equal(await strikes.addStrike('2001:db8::7', 'no_ptr', T, WINDOW), 2);
      assert.deepEqual((await strikes.list({})).map((row) => row.address).sort(), ['192.0.2.7', '2001:db8::7']);
      assert.equal((await strikes.list({ address: '::FFFF:192.0.2.7' }))[0]?.times.length, 2);
    }));

  test('strikes: at most MAX_STRIKES_KEPT strikes are kept per address and reason', () =>
    fresh(backend, async ({ store }) => {
      const counts = await Promise.all(Array.from({ length: MAX_STRIKES_KEPT + 5 }, () => store.strikes.addStrike('192.0.2.7', 'dnsbl', T, WINDOW)));
      assert.equal(Math.max(...counts), MAX_STRIKES_KEPT);
      assert.equal(counts.at(-1), MAX_STRIKES_KEPT);
      assert.equal((await store.strikes.list({ address: '192.0.2.7' }))[0]?.times.length, MAX_STRIKES_KEPT);
    }));

  test('strikes: tallies are listed by latest expiry first, or per address by reason, up to a limit', () =>
    fresh(backend, async ({ store }) => {
      const { strikes } = store;
      await strikes.addStrike('192.0.2.1', 'no_ptr', T, 100);
      await strikes.addStrike('192.0.2.2', 'no_ptr', T, 300);
      await strikes.addStrike('192.0.2.3', 'dnsbl', T, 200);
      await strikes.addStrike('192.0.2.3', 'unknown_recipient', T + 5, 50);
      await strikes.addStrike('192.0.2.3', 'no_ptr', T + 1, 50);
      const expiries = (await strikes.list({})).map((row) => [row.address, row.reason, row.expiresAt]);
      assert.deepEqual(expiries.slice(0, 3), [
        ['192.0.2.2', 'no_ptr', T + 300],
        ['192.0.2.3', 'dnsbl', T + 200],
        ['192.0.2.1', 'no_ptr', T + 100],
      ]);
      assert.equal(expiries.length, 5);
      assert.deepEqual((await strikes.list({ limit: 2 })).map((row) => row.address), ['192.0.2.2', '192.0.2.3']);
      assert.deepEqual((await strikes.list({ address: '192.0.2.3' })).map((row) => [row.reason, row.times]), [
        ['dnsbl', [T]],
        ['no_ptr', [T + 1]],
        ['unknown_recipient', [T + 5]],
      ]);
      assert.deepEqual((await strikes.list({ address: '192.0.2.3', limit: 1 })).map((row) => row.reason), ['dnsbl']);
      assert.deepEqual(await strikes.list({ address: '192.0.2.99' }), []);
    }));

  test('strikes: clearing an address forgets every reason of it and says how many', () =>
    fresh(backend, async ({ store }) => {
      const { strikes } = store;
      await strikes.addStrike('192.0.2.7', 'no_ptr', T, WINDOW);
      await strikes.addStrike('192.0.2.7', 'dnsbl', T, WINDOW);
      await strikes.addStrike('192.0.2.8', 'dnsbl', T, WINDOW);
      assert.equal(await strikes.clear('::ffff:192.0.2.7'), 2);
      assert.equal(await strikes.clear('192.0.2.7'), 0);
      assert.deepEqual(await strikes.list({ address: '192.0.2.7' }), []);
      assert.deepEqual((await strikes.list({})).map((row) => row.address), ['192.0.2.8']);
      assert.equal(await strikes.addStrike('192.0.2.7', 'no_ptr', T, WINDOW), 1, 'counting starts afresh');
    }));

  test('strikes: maintenance removes the tallies whose newest strike left its window', () =>
    fresh(backend, async ({ store }) => {
      await store.strikes.addStrike('192.0.2.1', 'no_ptr', T, 10);
      await store.strikes.addStrike('192.0.2.2', 'no_ptr', T, 10);
      await store.strikes.addStrike('192.0.2.2', 'dnsbl', T, 1000);
      const report = await store.maintenance(limitsAt(T + 10));
      assert.equal(report.expiredStrikes, 2);
      assert.deepEqual((await store.strikes.list({})).map((row) => [row.address, row.reason]), [['192.0.2.2', 'dnsbl']]);
      assert.equal((await store.maintenance(limitsAt(T + 10))).expiredStrikes, 0);
      assert.equal(await store.strikes.addStrike('192.0.2.1', 'no_ptr', T + 11, 10), 1);
    }));

  test('strikes: another process counts on from the strikes stored', () =>
    fresh(backend, async ({ store, peer }) => {
      const other = peer();
      await store.strikes.addStrike('192.0.2.7', 'no_ptr', T, WINDOW);
      await store.strikes.addStrike('192.0.2.7', 'no_ptr', T + 1, WINDOW);
      // SQLite: listing waits for this process's queued strikes to be committed.
      await store.strikes.list({ limit: 1 });
      assert.equal(await other.strikes.addStrike('192.0.2.7', 'no_ptr', T + 2, WINDOW), 3);
      assert.deepEqual((await other.strikes.list({ address: '192.0.2.7' }))[0]?.times, [T, T + 1, T + 2]);
    }));

  test('strikes: concurrent strikes against one address in one process all count', () =>
    fresh(backend, async ({ store }) => {
      const counts = await Promise.all(Array.from({ length: 50 }, () => store.strikes.addStrike('192.0.2.7', 'dnsbl', T, WINDOW)));
      assert.deepEqual([...counts].sort((a, b) => a - b), oneTo(50));
    }));

  test(
    'strikes: concurrent strikes against one address from two hosts all count',
    { skip: backend.name === 'sqlite' && 'SQLite has one writing process (the daemon): strikes are atomic within it only' },
    () =>
      fresh(backend, async ({ store, peer }) => {
        const hosts = [store, peer()];
        const counts = await Promise.all(Array.from({ length: 50 }, (_, i) => hosts[i % 2]!.strikes.addStrike('192.0.2.7', 'dnsbl', T + (i % 3), WINDOW)));
        assert.deepEqual([...counts].sort((a, b) => a - b), oneTo(50));
        assert.equal((await hosts[1]!.strikes.list({ address: '192.0.2.7' }))[0]?.times.length, 50);
      }),
  );
};
