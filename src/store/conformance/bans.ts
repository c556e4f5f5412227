// The bans part of the store contract: bans stored under their canonical network, the merge rule
// of banning again (later expiry, never the latest; first creation; new reason and source),
// listing (newest first, expired ones on request, search, paging) and active(), lifting (which
// forgets the address's strikes), the version another process watches and this process's own
// changes (localChanges, takeLocalBans, takeLocalLifts, active() at once), maintenance, and
// concurrent bans of one network losing nothing. Times are taken from the real clock: Redis drops a
// ban some time after its expiry by the server's clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, ConformancePart, StoreUnderTest } from './harness.js';
import type { Ban, MaintenanceLimits } from '../types.js';

const DAY = 86_400; // s
/** Seconds since the epoch when the running test started (set by `fresh`). */
let T = Math.floor(Date.now() / 1000);
/** Maintenance limits that remove no history. */
const limitsAt = (now: number): MaintenanceLimits => ({ now, historyMaxAge: 3650 * DAY, historyMaxRecords: 1_000_000_000 });

/** Runs a test on a fresh store, its times counted from now. */
const fresh = (backend: Backend, fn: (subject: StoreUnderTest) => Promise<void>): Promise<void> =>
  backend.with((subject) => {
    T = Math.floor(Date.now() / 1000);
    return fn(subject);
  });

const manual = (network: string, createdAt: number, expiresAt: number, reason = 'manual ban'): Ban => ({ network, reason, source: 'manual', createdAt, expiresAt });

export const bansConformance: ConformancePart = (backend) => {
  test('bans: a ban is stored under its canonical network and returned as stored', () =>
    fresh(backend, async ({ store }) => {
      assert.deepEqual(await store.bans.ban(manual('2001:DB8:0:0:1::7/48', T, 0)), manual('2001:db8::/48', T, 0));
      assert.deepEqual(await store.bans.ban(manual('::ffff:192.0.2.7', T, T + 3600, 'spam: reported')), manual('192.0.2.7', T, T + 3600, 'spam: reported'));
      assert.deepEqual(await store.bans.ban(manual(' 198.51.100.9/24 ', T - 5, 0)), manual('198.51.100.0/24', T - 5, 0));
      assert.deepEqual(await store.bans.list({ now: T }), [
        manual('192.0.2.7', T, T + 3600, 'spam: reported'),
        manual('2001:db8::/48', T, 0),
        manual('198.51.100.0/24', T - 5, 0),
      ]);
    }));

  test('bans: what is not an address or network is refused', () =>
    fresh(backend, async ({ store }) => {
      await assert.rejects(store.bans.ban(manual('example.org', T, 0)));
      await assert.rejects(store.bans.ban(manual('192.0.2.0/33', T, 0)));
      await assert.rejects(store.bans.lift('nonsense'));
      assert.deepEqual(await store.bans.list({ now: T, includeExpired: true }), []);
    }));

  test('bans: banning again keeps the later expiry (never being the latest) and the first creation, and takes the new reason and source', () =>
    fresh(backend, async ({ store }) => {
      const { bans } = store;
      await bans.ban({ network: '192.0.2.7', reason: 'first', source: 'strikes', createdAt: T, expiresAt: T + 100 });
      assert.deepEqual(await bans.ban({ network: '192.0.2.7', reason: 'second', source: 'spamtrap', createdAt: T + 10, expiresAt: T + 50 }), {
        network: '192.0.2.7',
        reason: 'second',
        source: 'spamtrap',
        createdAt: T,
        expiresAt: T + 100,
      });
      assert.equal((await bans.ban(manual('192.0.2.7', T + 20, T + 500))).expiresAt, T + 500);
      assert.equal((await bans.ban(manual('192.0.2.7', T + 30, 0))).expiresAt, 0);
      const last = await bans.ban(manual('192.0.2.7', T - 10, T + 1000, 'last'));
      assert.deepEqual(last, manual('192.0.2.7', T - 10, 0, 'last'));
      assert.deepEqual(await bans.list({ now: T }), [last]);
      // A ban already expired when the new one is made counts for nothing.
      await bans.ban(manual('198.51.100.7', T - 1000, T - 500, 'old'));
      assert.deepEqual(await bans.ban(manual('198.51.100.7', T, T + 60, 'new')), manual('198.51.100.7', T, T + 60, 'new'));
    }));

  test('bans: bans are listed newest first, expired ones only on request, searched and paged', () =>
    fresh(backend, async ({ store }) => {
      const spamtrap: Ban = { network: '192.0.2.1', reason: 'spamtrap hit', source: 'spamtrap', createdAt: T - 30, expiresAt: 0 };
      const strikes: Ban = { network: '2001:db8::/48', reason: '3 strike(s) for no ptr', source: 'strikes', createdAt: T - 20, expiresAt: T + 3600 };
      const expired = manual('198.51.100.0/24', T - 10, T - 5, 'Snowshoe');
      const sameTime = manual('198.51.100.7', T - 10, 0, 'other');
      for (const ban of [spamtrap, strikes, expired, sameTime]) await store.bans.ban(ban);
      assert.deepEqual(await store.bans.list({ now: T }), [sameTime, strikes, spamtrap]);
      // Ties of creation time go by network.
      assert.deepEqual(await store.bans.list({ now: T, includeExpired: true }), [expired, sameTime, strikes, spamtrap]);
      assert.deepEqual(await store.bans.list({ now: T - 6, search: 'snowshoe' }), [expired], 'not yet expired at now');
      assert.deepEqual(await store.bans.list({ now: T, search: 'SNOWSHOE' }), []);
      assert.deepEqual(await store.bans.list({ now: T, search: 'SNOWSHOE', includeExpired: true }), [expired]);
      assert.deepEqual(await store.bans.list({ now: T, search: 'spamtrap' }), [spamtrap]);
      assert.deepEqual(await store.bans.list({ now: T, search: 'strikes' }), [strikes]);
      assert.deepEqual(await store.bans.list({ now: T, search: '198.51', includeExpired: true }), [expired, sameTime]);
      assert.deepEqual(await store.bans.list({ now: T, search: '%' }), []);
      assert.deepEqual(await store.bans.list({ now: T, limit: 2 }), [sameTime, strikes]);
      assert.deepEqual(await store.bans.list({ now: T, limit: 2, offset: 1 }), [strikes, spamtrap]);
      assert.deepEqual(await store.bans.list({ now: T, offset: 2 }), [spamtrap]);
      assert.deepEqual(await store.bans.list({ now: T + 3600 }), [sameTime, spamtrap]);
    }));

  test('bans: active() gives every ban not expired at the time asked', () =>
    fresh(backend, async ({ store }) => {
      const never = manual('192.0.2.1', T - 100, 0);
      const hour = manual('192.0.2.2', T - 100, T + 3600);
      const gone = manual('192.0.2.3', T - 100, T - 1);
      for (const ban of [never, hour, gone]) await store.bans.ban(ban);
      const networks = async (now: number) => (await store.bans.active(now)).map((b) => b.network).sort();
      assert.deepEqual(await networks(T), ['192.0.2.1', '192.0.2.2']);
      assert.deepEqual(await networks(T - 2), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
      assert.deepEqual(await networks(T + 3600), ['192.0.2.1']);
      assert.deepEqual(await store.bans.active(T + 3599).then((bans) => bans.find((b) => b.network === '192.0.2.2')), hour);
    }));

  test("bans: lifting removes the ban of exactly that network and forgets the address's strikes", () =>
    fresh(backend, async ({ store }) => {
      await store.strikes.addStrike('192.0.2.7', 'no_ptr', T, 3600);
      await store.strikes.addStrike('192.0.2.7', 'dnsbl', T, 3600);
      await store.strikes.addStrike('192.0.2.8', 'dnsbl', T, 3600);
      await store.bans.ban(manual('192.0.2.7', T, 0));
      await store.bans.ban(manual('192.0.2.0/24', T, 0));
      assert.equal(await store.bans.lift('::ffff:192.0.2.7'), 1);
      assert.equal(await store.bans.lift('192.0.2.7'), 0);
      assert.equal(await store.bans.lift('192.0.2.9'), 0);
      assert.deepEqual((await store.bans.list({ now: T })).map((b) => b.network), ['192.0.2.0/24']);
      assert.deepEqual(await store.strikes.list({ address: '192.0.2.7' }), []);
      assert.deepEqual((await store.strikes.list({})).map((row) => row.address), ['192.0.2.8']);
      assert.equal(await store.strikes.addStrike('192.0.2.7', 'no_ptr', T, 3600), 1);
    }));

  test('bans: every ban and lift moves the version another process reads; localChanges moves only here', () =>
    fresh(backend, async ({ store, peer }) => {
      const other = peer();
      const start = await other.bans.version();
      const mine = store.bans.localChanges;
      const theirs = other.bans.localChanges;
      await store.bans.ban(manual('192.0.2.7', T, 0));
      assert.ok(store.bans.localChanges > mine);
      assert.equal(other.bans.localChanges, theirs);
      const afterBan = await other.bans.version();
      assert.ok(afterBan > start, `version ${afterBan} after ${start}`);
      assert.equal(await store.bans.version(), afterBan);
      assert.deepEqual((await other.bans.active(T)).map((b) => b.network), ['192.0.2.7']);
      const beforeLift = store.bans.localChanges;
      assert.equal(await store.bans.lift('192.0.2.7'), 1);
      assert.ok(store.bans.localChanges > beforeLift);
      assert.ok((await other.bans.version()) > afterBan);
      assert.deepEqual(await other.bans.active(T), []);
      // A change made by the other process moves the version for this one.
      const beforeOther = await store.bans.version();
      await other.bans.ban(manual('192.0.2.8', T, 0));
      assert.ok((await store.bans.version()) > beforeOther);
    }));

  test("bans: takeLocalBans and takeLocalLifts hand over this process's own bans and lifts, once", () =>
    fresh(backend, async ({ store, peer }) => {
      const other = peer();
      assert.deepEqual(store.bans.takeLocalBans(), []);
      assert.deepEqual(store.bans.takeLocalLifts(), []);
      await store.bans.ban(manual('192.0.2.7', T, T + 60));
      await store.bans.ban(manual('2001:DB8::/32', T, 0));
      await store.bans.lift('198.51.100.0/24');
      assert.deepEqual(store.bans.takeLocalBans(), [manual('192.0.2.7', T, T + 60), manual('2001:db8::/32', T, 0)]);
      assert.deepEqual(store.bans.takeLocalBans(), []);
      assert.deepEqual(store.bans.takeLocalLifts(), ['198.51.100.0/24']);
      assert.deepEqual(store.bans.takeLocalLifts(), []);
      assert.deepEqual(other.bans.takeLocalBans(), []);
      assert.deepEqual(other.bans.takeLocalLifts(), []);
    }));

  test('bans: a ban applies to active() of its own process at once, before it is confirmed', () =>
    fresh(backend, async ({ store }) => {
      const banned = store.bans.ban(manual('192.0.2.7', T, 0));
      const active = store.bans.active(T);
      assert.deepEqual((await active).map((b) => b.network), ['192.0.2.7']);
      await banned;
    }));

  test('bans: maintenance removes the bans past their expiry and keeps the others', () =>
    fresh(backend, async ({ store }) => {
      const version = await store.bans.version();
      await store.bans.ban(manual('192.0.2.1', T - 100, T - 10));
      await store.bans.ban(manual('192.0.2.2', T - 100, T));
      await store.bans.ban(manual('192.0.2.3', T - 100, T + 3600));
      await store.bans.ban(manual('192.0.2.4', T - 100, 0));
      const report = await store.maintenance(limitsAt(T));
      assert.equal(report.expiredBans, 2);
      assert.deepEqual((await store.bans.list({ now: T, includeExpired: true })).map((b) => b.network), ['192.0.2.3', '192.0.2.4']);
      assert.equal((await store.maintenance(limitsAt(T))).expiredBans, 0);
      assert.equal(await store.bans.version(), version + 4, 'removing expired bans changes no version');
    }));

  test('bans: concurrent bans of one network in one process merge into one', () =>
    fresh(backend, async ({ store }) => {
      const version = await store.bans.version();
      const expiries = [T + 300, T + 900, T + 100, T + 600, T + 200];
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.bans.ban(manual('192.0.2.7', T + (i % 7), expiries[i % expiries.length]!, `ban ${i}`))));
      const [ban] = await store.bans.list({ now: T });
      assert.equal(ban?.createdAt, T);
      assert.equal(ban?.expiresAt, T + 900);
      assert.equal(await store.bans.version(), version + 20);
    }));

  test(
    'bans: concurrent bans of one network from two hosts merge into one',
    { skip: backend.name === 'sqlite' && 'SQLite has one writing process (the daemon): bans merge atomically within it' },
    () =>
      fresh(backend, async ({ store, peer }) => {
        const hosts = [store, peer()];
        const version = await store.bans.version();
        const expiries = [T + 300, T + 900, T + 100, T + 600, T + 200];
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => hosts[i % 2]!.bans.ban(manual('192.0.2.7', T + 1 + (i % 7), i === 33 ? 0 : expiries[i % expiries.length]!, `ban ${i}`))),
        );
        await hosts[1]!.bans.ban(manual('192.0.2.7', T, T + 60));
        const [ban] = await hosts[0]!.bans.list({ now: T });
        assert.equal(ban?.createdAt, T);
        assert.equal(ban?.expiresAt, 0);
        assert.equal(await store.bans.version(), version + 41);
      }),
  );
};
