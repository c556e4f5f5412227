// The greylist part of the store contract: atomic updates of triplets and auto-allow clients (an
// absent entry is created, the very state handed back writes nothing, no state deletes), their
// expiry and maintenance, listing with search, filters and paging, flushes, statistics, privacy
// mode (no labels), what another process sees, and concurrent updates of one entry losing nothing.
// Expiries are taken from the real clock: Redis drops a key at its expiry by the server's clock, so
// entries that must stay have to expire in the real future.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, ConformancePart, StoreUnderTest } from './harness.js';
import type { ClientState, GreylistStore, MaintenanceLimits, TripletLabels, TripletState, Update } from '../types.js';

const DAY = 86_400; // s
/** Seconds since the epoch when the running test started (set by `fresh`). */
let T = Math.floor(Date.now() / 1000);
/** How long the tests' entries live after their last sighting, in seconds. */
const MAX_AGE = 30 * DAY;
const expiresAfterMaxAge = (state: { lastSeen: number }): number => state.lastSeen + MAX_AGE;
/** Maintenance limits that remove no history. */
const limitsAt = (now: number): MaintenanceLimits => ({ now, historyMaxAge: 3650 * DAY, historyMaxRecords: 1_000_000_000 });

const waiting = (lastSeen: number, attempts = 1): TripletState => ({ firstSeen: T, lastSeen, attempts, passedAt: 0 });
const passed = (lastSeen: number): TripletState => ({ firstSeen: T, lastSeen, attempts: 2, passedAt: lastSeen });

/** Stores `state` under `key` whatever is there; resolves with what the update was given. */
async function put(
  greylist: GreylistStore,
  key: string,
  state: TripletState,
  labels?: TripletLabels,
  expiresAt: (next: TripletState) => number = expiresAfterMaxAge,
): Promise<TripletState | undefined> {
  return greylist.updateTriplet(key, labels, (current) => ({ next: state, result: current }), expiresAt);
}

async function putClient(greylist: GreylistStore, key: string, state: ClientState, expiresAt: (next: ClientState) => number = expiresAfterMaxAge): Promise<void> {
  await greylist.updateClient(key, () => ({ next: state, result: undefined }), expiresAt);
}

/** One more attempt on a triplet (created waiting when absent); the result is the new count. */
const countAttempt = (current: TripletState | undefined): Update<TripletState, number> => {
  const attempts = (current?.attempts ?? 0) + 1;
  return { next: { ...(current ?? waiting(T, 0)), attempts }, result: attempts };
};
const countPass = (current: ClientState | undefined): Update<ClientState, number> => {
  const passes = (current?.passes ?? 0) + 1;
  return { next: { passes, lastSeen: T }, result: passes };
};

/** A client update that writes nothing: whether the client has `threshold` passes. */
const allowedAt = (threshold: number, key = 'c') => ({
  key,
  update: (current: ClientState | undefined): Update<ClientState, boolean> => ({ next: current, result: (current?.passes ?? 0) >= threshold }),
  expiresAt: expiresAfterMaxAge,
});

/** The state of a triplet, read through an update that writes nothing. */
const read = (greylist: GreylistStore, key: string): Promise<TripletState | undefined> =>
  greylist.updateTriplet(key, undefined, (current) => ({ next: current, result: current }), expiresAfterMaxAge);
/** The passes of a client, read the same way (undefined: absent). */
const readClient = (greylist: GreylistStore, key: string): Promise<number | undefined> =>
  greylist.updateClient(key, (current) => ({ next: current, result: current?.passes }), expiresAfterMaxAge);
/** A flush made by another host or process is seen within this long (both stores look once a second). */
const FOREIGN_FLUSH_SEEN_MS = 5000; // ms

/** The value without its undefined fields (absent labels are missing or undefined, as a backend has them). */
const plain = <V>(value: V): V => JSON.parse(JSON.stringify(value)) as V;

const labels = (clientNet: string, sender: string, recipient: string): TripletLabels => ({ clientNet, sender, recipient });

/** Runs a test on a fresh store, its times counted from now (so Redis TTLs of its entries lie ahead). */
const fresh = (backend: Backend, fn: (subject: StoreUnderTest) => Promise<void>): Promise<void> =>
  backend.with((subject) => {
    T = Math.floor(Date.now() / 1000);
    return fn(subject);
  });

export const greylistConformance: ConformancePart = (backend) => {
  test('greylist: an update of an absent triplet is given nothing and creates it with its labels and expiry', () =>
    fresh(backend, async ({ store }) => {
      const given: (TripletState | undefined)[] = [];
      const state = waiting(T);
      const result = await store.greylist.updateTriplet(
        '192.0.2.0/24/a@example.net/b@example.org',
        labels('192.0.2.0/24', 'a@example.net', 'b@example.org'),
        (current) => (given.push(current), { next: state, result: 'created' }),
        () => T + 1000,
      );
      assert.equal(result, 'created');
      assert.deepEqual(given, [undefined]);
      assert.deepEqual(plain(await store.greylist.listTriplets({})), [
        { key: '192.0.2.0/24/a@example.net/b@example.org', labels: labels('192.0.2.0/24', 'a@example.net', 'b@example.org'), ...state, expiresAt: T + 1000 },
      ]);
    }));

  test('greylist: an update is given the stored state and its next state is stored with its new expiry', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 'k', waiting(T));
      const next = { ...waiting(T + 300, 2), passedAt: T + 300 };
      const given = await store.greylist.updateTriplet('k', undefined, (current) => ({ next, result: current }), (s) => s.lastSeen + 7 * DAY);
      assert.deepEqual(given, waiting(T));
      const [row] = await store.greylist.listTriplets({});
      assert.deepEqual(plain(row), { key: 'k', ...next, expiresAt: T + 300 + 7 * DAY });
      assert.deepEqual(await put(store.greylist, 'k', next), next);
    }));

  test('greylist: an update handing back the very state it was given writes nothing', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 'k', waiting(T), undefined, () => T + 1000);
      let expiryAsked = false;
      const result = await store.greylist.updateTriplet(
        'k',
        undefined,
        (current) => ({ next: current, result: 'unchanged' }),
        () => ((expiryAsked = true), T + 5000),
      );
      assert.equal(result, 'unchanged');
      assert.equal(expiryAsked, false);
      const [row] = await store.greylist.listTriplets({});
      assert.equal(row?.expiresAt, T + 1000);
      // Handing back nothing for an absent triplet writes nothing either.
      await store.greylist.updateTriplet('absent', undefined, (current) => ({ next: current, result: undefined }), expiresAfterMaxAge);
      assert.deepEqual((await store.greylist.listTriplets({})).map((r) => r.key), ['k']);
    }));

  test('greylist: an update giving no next state deletes the triplet', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 'k', waiting(T));
      await put(store.greylist, 'other', waiting(T));
      await store.greylist.updateTriplet('k', undefined, () => ({ next: undefined, result: undefined }), expiresAfterMaxAge);
      assert.deepEqual((await store.greylist.listTriplets({})).map((r) => r.key), ['other']);
      assert.equal(await put(store.greylist, 'k', waiting(T)), undefined);
      assert.equal((await store.greylist.stats(0)).triplets, 2);
    }));

  test('greylist: triplets stored without labels (privacy mode) are listed without them', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 'a'.repeat(64), waiting(T));
      const [row] = await store.greylist.listTriplets({});
      assert.equal(row?.key, 'a'.repeat(64));
      assert.equal(row?.labels, undefined);
      // Only the exact key finds it: there is no text to search.
      assert.equal((await store.greylist.listTriplets({ search: 'a'.repeat(64) })).length, 1);
      assert.equal((await store.greylist.listTriplets({ search: 'aaa' })).length, 0);
    }));

  test('greylist: triplets are listed most recently seen first, filtered by waiting, searched and paged', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 't1', waiting(T + 1), labels('192.0.2.0/24', 'alice@example.net', 'postmaster@example.org'));
      await put(store.greylist, 't2', passed(T + 2), labels('198.51.100.0/24', 'bob@Example.COM', 'info@example.org'));
      await put(store.greylist, 't3', waiting(T + 3), labels('2001:db8::/64', '', 'sales@example.org'));
      await put(store.greylist, 't4', passed(T + 4), labels('203.0.113.0/24', 'carol@example.net', 'info@example.org'));
      const keys = async (filter: Parameters<GreylistStore['listTriplets']>[0]) => (await store.greylist.listTriplets(filter)).map((r) => r.key);
      assert.deepEqual(await keys({}), ['t4', 't3', 't2', 't1']);
      assert.deepEqual(await keys({ limit: 2 }), ['t4', 't3']);
      assert.deepEqual(await keys({ limit: 2, offset: 1 }), ['t3', 't2']);
      assert.deepEqual(await keys({ offset: 3 }), ['t1']);
      assert.deepEqual(await keys({ waiting: true }), ['t3', 't1']);
      assert.deepEqual(await keys({ waiting: false }), ['t4', 't2']);
      assert.deepEqual(await keys({ waiting: false, limit: 1, offset: 1 }), ['t2']);
      // Case-insensitive substrings of the client network, the sender or the recipient.
      assert.deepEqual(await keys({ search: 'EXAMPLE.NET' }), ['t4', 't1']);
      assert.deepEqual(await keys({ search: 'example.com' }), ['t2']);
      assert.deepEqual(await keys({ search: '2001:DB8' }), ['t3']);
      assert.deepEqual(await keys({ search: 'info@' }), ['t4', 't2']);
      assert.deepEqual(await keys({ search: 'info@', waiting: false, limit: 1 }), ['t4']);
      // The exact key; wildcards are plain text.
      assert.deepEqual(await keys({ search: 't3' }), ['t3']);
      assert.deepEqual(await keys({ search: '%' }), []);
      assert.deepEqual(await keys({ search: '_' }), []);
      assert.deepEqual(await keys({ search: 'nowhere' }), []);
    }));

  test('greylist: a flush removes the triplets matching its search, or all, and a delete the one exact key', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 't1', waiting(T), labels('192.0.2.0/24', 'alice@example.net', 'a@example.org'));
      await put(store.greylist, 't2', waiting(T), labels('192.0.2.0/24', 'bob@EXAMPLE.net', 'b@example.org'));
      await put(store.greylist, 't3', waiting(T), labels('198.51.100.0/24', 'carol@example.com', 'c@example.org'));
      await put(store.greylist, 't4', passed(T), labels('203.0.113.0/24', 'dave@example.com', 'd@example.org'));
      await put(store.greylist, 't5', passed(T));
      assert.equal(await store.greylist.deleteTriplet('t5'), 1);
      assert.equal(await store.greylist.deleteTriplet('t5'), 0);
      assert.equal(await store.greylist.deleteTriplet('t'), 0);
      assert.equal(await store.greylist.flushTriplets({ search: 'Example.Net' }), 2);
      assert.deepEqual((await store.greylist.listTriplets({})).map((r) => r.key).sort(), ['t3', 't4']);
      assert.equal(await store.greylist.flushTriplets({ search: 't3' }), 1);
      assert.equal(await store.greylist.flushTriplets({ search: 'nowhere' }), 0);
      await putClient(store.greylist, '192.0.2.7', { passes: 1, lastSeen: T });
      assert.equal(await store.greylist.flushTriplets({}), 1);
      assert.deepEqual(await store.greylist.listTriplets({}), []);
      assert.equal(await store.greylist.flushTriplets({}), 0);
      // Flushing triplets leaves the clients, and the other way round.
      assert.equal((await store.greylist.listClients(10, 0)).length, 1);
      await put(store.greylist, 't6', waiting(T));
      assert.equal(await store.greylist.flushClients(), 1);
      assert.deepEqual((await store.greylist.listTriplets({})).map((r) => r.key), ['t6']);
      assert.equal(await put(store.greylist, 't1', waiting(T)), undefined, 'a flushed triplet is absent to the next update');
    }));

  test('greylist: a flush by another host reaches the copies this one keeps in memory within seconds', () =>
    fresh(backend, async ({ store, peer }) => {
      const other = peer();
      await put(store.greylist, 'known', passed(T));
      await putClient(store.greylist, '192.0.2.9', { passes: 1, lastSeen: T });
      await store.greylist.listTriplets({}); // written (SQLite: committed) before the other host looks
      // Read them here, so that a store keeping copies of known entries holds them.
      assert.equal((await read(store.greylist, 'known'))?.passedAt, T);
      assert.equal(await readClient(store.greylist, '192.0.2.9'), 1);
      assert.equal(await other.greylist.flushTriplets({}), 1);
      assert.equal(await other.greylist.flushClients(), 1);
      const deadline = Date.now() + FOREIGN_FLUSH_SEEN_MS;
      while ((await read(store.greylist, 'known')) !== undefined || (await readClient(store.greylist, '192.0.2.9')) !== undefined) {
        assert.ok(Date.now() < deadline, `the other host's flush is still unseen after ${FOREIGN_FLUSH_SEEN_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }));

  test('greylist: a client then a triplet: the triplet is updated unless the client\'s result settles it', () =>
    fresh(backend, async ({ store }) => {
      const notAllowed = (allowed: boolean): boolean => !allowed;
      const triplet = { key: 'k', labels: undefined, update: countAttempt, expiresAt: expiresAfterMaxAge };
      assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2), notAllowed, triplet), { client: false, triplet: { result: 1 } });
      assert.equal(await readClient(store.greylist, 'c'), undefined, 'a client update that writes nothing creates nothing');
      await putClient(store.greylist, 'c', { passes: 2, lastSeen: T });
      assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2), notAllowed, triplet), { client: true });
      assert.equal((await read(store.greylist, 'k'))?.attempts, 1, 'the client settled it: the triplet is untouched');
      const passes = { key: 'c', update: countPass, expiresAt: expiresAfterMaxAge };
      assert.deepEqual(await store.greylist.updateClientThenTriplet(passes, () => true, triplet), { client: 3, triplet: { result: 2 } });
      assert.equal(await readClient(store.greylist, 'c'), 3);
      assert.equal((await read(store.greylist, 'k'))?.attempts, 2);
    }));

  test(
    'greylist: entries another host changed, while this one held none or an old copy, lose no update and change no decision',
    { skip: backend.name === 'sqlite' && 'SQLite has one writing process (the daemon)' },
    () =>
      fresh(backend, async ({ store, peer }) => {
        const other = peer();
        const notAllowed = (allowed: boolean): boolean => !allowed;
        const attempt = (key: string) => ({ key, labels: undefined, update: countAttempt, expiresAt: expiresAfterMaxAge });
        // Written by the other host only: this one's first write finds them.
        assert.equal(await other.greylist.updateTriplet('k', undefined, countAttempt, expiresAfterMaxAge), 1);
        assert.equal(await other.greylist.updateClient('c', countPass, expiresAfterMaxAge), 1);
        assert.equal(await store.greylist.updateTriplet('k', undefined, countAttempt, expiresAfterMaxAge), 2);
        assert.equal(await store.greylist.updateClient('c', countPass, expiresAfterMaxAge), 2);
        // A client the other host allowed, never read here: the triplet is not written.
        await putClient(other.greylist, 'c1', { passes: 5, lastSeen: T });
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c1'), notAllowed, attempt('k1')), { client: true });
        assert.equal(await read(other.greylist, 'k1'), undefined);
        // ... nor with an old copy of the client here (read when it was not yet allowed).
        await putClient(other.greylist, 'c2', { passes: 1, lastSeen: T });
        assert.equal(await readClient(store.greylist, 'c2'), 1);
        await putClient(other.greylist, 'c2', { passes: 5, lastSeen: T });
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c2'), notAllowed, attempt('k2')), { client: true });
        assert.equal(await read(other.greylist, 'k2'), undefined);
        // A triplet held here whose update writes nothing, with a client never read here: the client is still looked at.
        await putClient(other.greylist, 'c3', { passes: 5, lastSeen: T });
        await put(other.greylist, 'k3', passed(T));
        assert.equal((await read(store.greylist, 'k3'))?.passedAt, T);
        const readOnly = { key: 'k3', labels: undefined, update: (current: TripletState | undefined) => ({ next: current, result: current?.attempts }), expiresAt: expiresAfterMaxAge };
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c3'), notAllowed, readOnly), { client: true });
        // A client below the threshold, written by the other host: the triplet goes on, once.
        await putClient(other.greylist, 'c4', { passes: 1, lastSeen: T });
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c4'), notAllowed, attempt('k4')), { client: false, triplet: { result: 1 } });
        assert.equal((await read(other.greylist, 'k4'))?.attempts, 1);
        // A triplet the other host wrote, a client nobody has: the guard holds, the triplet's guess does not.
        assert.equal(await other.greylist.updateTriplet('k5', undefined, countAttempt, expiresAfterMaxAge), 1);
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c5'), notAllowed, attempt('k5')), { client: false, triplet: { result: 2 } });
        assert.equal((await read(other.greylist, 'k5'))?.attempts, 2);
      }),
  );

  test(
    'greylist: a new client\'s first attempt is one round trip to Redis; a retry of a waiting triplet two',
    { skip: backend.name !== 'redis' && 'counts the commands of one Redis server' },
    () =>
      fresh(backend, async ({ store }) => {
        const redis = (store.greylist as unknown as { context: { redis: { sendCommand: (command: { name: string }) => unknown } } }).context.redis;
        const sent: string[] = [];
        const send = redis.sendCommand.bind(redis);
        redis.sendCommand = (command) => (sent.push(command.name.toLowerCase()), send(command));
        const notAllowed = (allowed: boolean): boolean => !allowed;
        const attempt = (key: string) => ({ key, labels: undefined, update: countAttempt, expiresAt: expiresAfterMaxAge });
        await store.greylist.updateClientThenTriplet(allowedAt(2, 'warm'), notAllowed, attempt('warm')); // loads the script
        sent.length = 0;
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c'), notAllowed, attempt('k')), { client: false, triplet: { result: 1 } });
        assert.deepEqual(sent, ['evalsha'], 'a new client and triplet: one compare-and-set');
        sent.length = 0;
        assert.deepEqual(await store.greylist.updateClientThenTriplet(allowedAt(2, 'c'), notAllowed, attempt('k')), { client: false, triplet: { result: 2 } });
        assert.deepEqual(sent, ['evalsha', 'evalsha'], 'a waiting triplet (not held in memory): the guess fails, then the write');
        sent.length = 0;
        assert.equal(await store.greylist.updateTriplet('k2', undefined, countAttempt, expiresAfterMaxAge), 1);
        assert.deepEqual(sent, ['evalsha'], 'a new triplet alone: one compare-and-set');
      }),
  );

  test('greylist: stats count triplets waiting and passed, clients, and clients at the auto-allow threshold', () =>
    fresh(backend, async ({ store }) => {
      assert.deepEqual(await store.greylist.stats(3), { triplets: 0, waiting: 0, passed: 0, clients: 0, autoAllowed: 0 });
      await put(store.greylist, 't1', waiting(T));
      await put(store.greylist, 't2', waiting(T));
      await put(store.greylist, 't3', passed(T));
      await putClient(store.greylist, 'c1', { passes: 1, lastSeen: T });
      await putClient(store.greylist, 'c2', { passes: 3, lastSeen: T });
      await putClient(store.greylist, 'c3', { passes: 5, lastSeen: T });
      assert.deepEqual(await store.greylist.stats(3), { triplets: 3, waiting: 2, passed: 1, clients: 3, autoAllowed: 2 });
      assert.equal((await store.greylist.stats(0)).autoAllowed, 0, 'no threshold: auto-allow is off');
      // A waiting triplet that passes, a client that reaches the threshold, a deleted triplet.
      await put(store.greylist, 't1', passed(T + 10));
      await putClient(store.greylist, 'c1', { passes: 3, lastSeen: T + 10 });
      await store.greylist.deleteTriplet('t2');
      assert.deepEqual(await store.greylist.stats(3), { triplets: 2, waiting: 0, passed: 2, clients: 3, autoAllowed: 3 });
    }));

  test('greylist: clients are created, updated, deleted, listed most recently seen first and flushed', () =>
    fresh(backend, async ({ store }) => {
      const given: (ClientState | undefined)[] = [];
      const first = await store.greylist.updateClient('192.0.2.7', (current) => (given.push(current), countPass(current)), () => T + 1000);
      assert.equal(first, 1);
      assert.deepEqual(given, [undefined]);
      assert.equal(await store.greylist.updateClient('192.0.2.7', countPass, (s) => s.lastSeen + 2000), 2);
      let expiryAsked = false;
      const same = await store.greylist.updateClient('192.0.2.7', (current) => ({ next: current, result: current }), () => ((expiryAsked = true), 0));
      assert.deepEqual(same, { passes: 2, lastSeen: T });
      assert.equal(expiryAsked, false);
      await putClient(store.greylist, '2001:db8::7', { passes: 1, lastSeen: T + 20 });
      await putClient(store.greylist, '198.51.100.7', { passes: 4, lastSeen: T + 10 });
      await putClient(store.greylist, 'gone', { passes: 1, lastSeen: T + 30 });
      await store.greylist.updateClient('gone', () => ({ next: undefined, result: undefined }), expiresAfterMaxAge);
      assert.deepEqual(await store.greylist.listClients(10, 0), [
        { key: '2001:db8::7', passes: 1, lastSeen: T + 20, expiresAt: T + 20 + MAX_AGE },
        { key: '198.51.100.7', passes: 4, lastSeen: T + 10, expiresAt: T + 10 + MAX_AGE },
        { key: '192.0.2.7', passes: 2, lastSeen: T, expiresAt: T + 2000 },
      ]);
      assert.deepEqual((await store.greylist.listClients(1, 1)).map((c) => c.key), ['198.51.100.7']);
      assert.deepEqual(await store.greylist.listClients(10, 3), []);
      assert.equal(await store.greylist.flushClients(), 3);
      assert.deepEqual(await store.greylist.listClients(10, 0), []);
      assert.equal(await store.greylist.updateClient('192.0.2.7', countPass, expiresAfterMaxAge), 1);
    }));

  test('greylist: maintenance removes the triplets and clients past their expiry and reports how many', () =>
    fresh(backend, async ({ store }) => {
      await put(store.greylist, 'old1', waiting(T), undefined, () => T + 100);
      await put(store.greylist, 'old2', passed(T), undefined, () => T + 200);
      await put(store.greylist, 'fresh', waiting(T), undefined, () => T + 10 * DAY);
      await putClient(store.greylist, 'old', { passes: 1, lastSeen: T }, () => T + 100);
      await putClient(store.greylist, 'fresh', { passes: 1, lastSeen: T }, () => T + 10 * DAY);
      const report = await store.maintenance(limitsAt(T + 1000));
      assert.equal(report.expiredTriplets, 2);
      assert.equal(report.expiredClients, 1);
      assert.deepEqual((await store.greylist.listTriplets({})).map((r) => r.key), ['fresh']);
      assert.deepEqual((await store.greylist.listClients(10, 0)).map((r) => r.key), ['fresh']);
      assert.equal(await put(store.greylist, 'old1', waiting(T)), undefined);
      const again = await store.maintenance(limitsAt(T + 1000));
      assert.equal(again.expiredTriplets, 0);
      assert.equal(again.expiredClients, 0);
    }));

  test('greylist: what one process stores, the next update of a process opened after is given', () =>
    fresh(backend, async ({ store, peer }) => {
      await put(store.greylist, 'k', waiting(T, 3), labels('192.0.2.0/24', 'a@example.net', 'b@example.org'));
      await putClient(store.greylist, '192.0.2.7', { passes: 2, lastSeen: T });
      // SQLite: listing waits for this process's queued writes to be committed. Its daemon is the
      // only process adding clients, so a store sees the clients committed when it was opened.
      await store.greylist.listTriplets({ limit: 1 });
      const other = peer();
      assert.equal(await other.greylist.updateTriplet('k', undefined, countAttempt, expiresAfterMaxAge), 4);
      assert.equal(await other.greylist.updateClient('192.0.2.7', countPass, expiresAfterMaxAge), 3);
      const [row] = await other.greylist.listTriplets({});
      assert.equal(row?.attempts, 4);
      assert.deepEqual(row?.labels, labels('192.0.2.0/24', 'a@example.net', 'b@example.org'), 'the labels stored first stay');
    }));

  test('greylist: concurrent updates of one triplet and one client in one process all count', () =>
    fresh(backend, async ({ store }) => {
      const UPDATES = 50;
      const results = await Promise.all(Array.from({ length: UPDATES }, () => store.greylist.updateTriplet('k', undefined, countAttempt, expiresAfterMaxAge)));
      assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: UPDATES }, (_, i) => i + 1));
      const passes = await Promise.all(Array.from({ length: UPDATES }, () => store.greylist.updateClient('c', countPass, expiresAfterMaxAge)));
      assert.deepEqual([...passes].sort((a, b) => a - b), Array.from({ length: UPDATES }, (_, i) => i + 1));
      assert.equal((await store.greylist.listTriplets({}))[0]?.attempts, UPDATES);
      assert.equal((await store.greylist.listClients(1, 0))[0]?.passes, UPDATES);
    }));

  test(
    'greylist: concurrent updates of one triplet and one client from two hosts all count',
    { skip: backend.name === 'sqlite' && 'SQLite has one writing process (the daemon): updates are atomic within it only' },
    () =>
      fresh(backend, async ({ store, peer }) => {
        const other = peer();
        const UPDATES = 50;
        const hosts = [store, other];
        const results = await Promise.all(
          Array.from({ length: UPDATES }, (_, i) => hosts[i % 2]!.greylist.updateTriplet('k', labels('192.0.2.0/24', 's', 'r'), countAttempt, expiresAfterMaxAge)),
        );
        assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: UPDATES }, (_, i) => i + 1));
        const passes = await Promise.all(Array.from({ length: UPDATES }, (_, i) => hosts[i % 2]!.greylist.updateClient('c', countPass, expiresAfterMaxAge)));
        assert.deepEqual([...passes].sort((a, b) => a - b), Array.from({ length: UPDATES }, (_, i) => i + 1));
        assert.equal((await other.greylist.listTriplets({}))[0]?.attempts, UPDATES);
        assert.equal((await store.greylist.listClients(1, 0))[0]?.passes, UPDATES);
        assert.deepEqual(await store.greylist.stats(1), { triplets: 1, waiting: 1, passed: 0, clients: 1, autoAllowed: 1 });
      }),
  );
};
