// The allow/block lists part of the store contract (ListStore): values and scopes normalised,
// re-adding updates the entry of the same kind, value and scope, removal by value or id (of the
// right kind), listing in (scope, kind, type, value) order with kind, scope and search filters and
// paging, active entries at a time, maintenance of expired entries, and the version seen moving by
// another store (process or host) after each change, localChanges at once in this one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW, type ConformancePart } from './harness.js';
import type { ListEntryInput, MaintenanceLimits } from '../types.js';

const entry = (value: string, extra: Partial<ListEntryInput> = {}): ListEntryInput => ({
  kind: 'block', value, scope: '', reason: 'spam', comment: '', addedBy: 'root', createdAt: NOW, expiresAt: 0, ...extra,
});

const limits = (now: number): MaintenanceLimits => ({ now, historyMaxAge: 1e9, historyMaxRecords: 1e9 });

export const listsConformance: ConformancePart = (backend) => {
  test('lists: put normalises, re-adding updates, a bad value is refused, the version moves for a peer', () =>
    backend.with(async ({ store, peer }) => {
      const other = peer();
      const v0 = await other.lists.version();
      const local0 = store.lists.localChanges;
      const added = await store.lists.put([
        entry('@Spam.Example.', { reason: 'abusive-domain', comment: 'seen' }),
        entry('192.0.2.9/24', { scope: ' Bob@Example.org ' }),
        entry('Alice@Example.net', { kind: 'allow', reason: '' }),
        entry('HELO:Mx.Bad.Example'),
      ]);
      assert.deepEqual(added.map((a) => [a.created, a.entry.kind, a.entry.type, a.entry.value, a.entry.scope]), [
        [true, 'block', 'domain', '@spam.example', ''],
        [true, 'block', 'ip', '192.0.2.0/24', 'bob@example.org'],
        [true, 'allow', 'sender', 'alice@example.net', ''],
        [true, 'block', 'helo', 'helo:mx.bad.example', ''],
      ]);
      assert.equal(new Set(added.map((a) => a.entry.id)).size, 4, 'distinct ids');
      assert.ok(store.lists.localChanges > local0, 'a local change is visible at once');
      const v1 = await other.lists.version();
      assert.notEqual(v1, v0, 'the peer sees the version move');

      const again = await store.lists.put([entry('@spam.example', { reason: 'compromised', comment: 'again', addedBy: 'alice', createdAt: NOW + 5, expiresAt: NOW + 500 })]);
      assert.deepEqual(again, [
        {
          created: false,
          entry: { id: added[0]!.entry.id, kind: 'block', type: 'domain', value: '@spam.example', scope: '', reason: 'compromised', comment: 'again', addedBy: 'alice', createdAt: NOW + 5, expiresAt: NOW + 500 },
        },
      ]);
      const v2 = await other.lists.version();
      assert.notEqual(v2, v1);
      const allowToo = await store.lists.put([entry('@spam.example', { kind: 'allow' })]);
      assert.equal(allowToo[0]!.created, true, 'the same value in the other list is another entry');
      const twice = await store.lists.put([entry('@twice.example', { comment: 'first' }), entry('@TWICE.example', { comment: 'second' })]);
      assert.deepEqual(twice.map((t) => [t.created, t.entry.id, t.entry.comment]), [[true, twice[0]!.entry.id, 'first'], [false, twice[0]!.entry.id, 'second']]);

      const v3 = await other.lists.version();
      await assert.rejects(store.lists.put([entry('@fine.example'), entry('not-an-entry')]), /not an entry/);
      assert.equal(await other.lists.version(), v3, 'a refused batch changes nothing');
      assert.equal((await other.lists.list({ search: 'fine' })).length, 0);
      assert.deepEqual(await store.lists.put([]), []);

      const seen = await other.lists.list({ search: 'spam.example', kind: 'block' });
      assert.deepEqual(seen, [again[0]!.entry], 'the peer reads the entry as stored');
    }));

  test('lists: list orders by scope, kind, type and value, filters by kind, scope and search, pages', () =>
    backend.with(async ({ store, peer }) => {
      await store.lists.put([
        entry('@spam.example', { reason: 'abusive-domain' }),
        entry('192.0.2.9/24', { scope: 'bob@example.org' }),
        entry('alice@example.net', { kind: 'allow', reason: '' }),
        entry('helo:bad.example', { addedBy: 'Alice', comment: '100% junk' }),
        entry('2001:db8::1', { kind: 'allow', reason: '' }),
        entry('@spam.example', { kind: 'allow', scope: 'bob@example.org', reason: '' }),
      ]);
      const other = peer();
      const values = async (filter: Parameters<typeof store.lists.list>[0]) => (await other.lists.list(filter)).map((e) => `${e.scope}|${e.kind}|${e.value}`);
      const all = ['|allow|2001:db8::1', '|allow|alice@example.net', '|block|@spam.example', '|block|helo:bad.example', 'bob@example.org|allow|@spam.example', 'bob@example.org|block|192.0.2.0/24'];
      assert.deepEqual(await values({}), all);
      assert.deepEqual(await values({ kind: 'block' }), ['|block|@spam.example', '|block|helo:bad.example', 'bob@example.org|block|192.0.2.0/24']);
      assert.deepEqual(await values({ scope: '' }), all.slice(0, 4));
      assert.deepEqual(await values({ scope: 'BOB@example.org' }), all.slice(4), 'the scope is normalised');
      assert.deepEqual(await values({ scope: 'carol@example.org' }), []);
      assert.deepEqual(await values({ search: 'ALICE' }), ['|allow|alice@example.net', '|block|helo:bad.example'], 'value or adder, case-insensitive');
      assert.deepEqual(await values({ search: 'bob@' }), all.slice(4), 'the scope is searched');
      assert.deepEqual(await values({ search: 'abusive' }), ['|block|@spam.example'], 'the reason is searched');
      assert.deepEqual(await values({ search: '100%' }), ['|block|helo:bad.example'], 'the comment is searched');
      assert.deepEqual(await values({ search: '%' }), ['|block|helo:bad.example'], 'a % is literal');
      assert.deepEqual(await values({ search: '_' }), [], 'a _ is literal');
      assert.deepEqual(await values({ kind: 'allow', scope: 'bob@example.org', search: 'spam' }), ['bob@example.org|allow|@spam.example']);
      assert.deepEqual(await values({ limit: 2 }), all.slice(0, 2));
      assert.deepEqual(await values({ limit: 2, offset: 3 }), all.slice(3, 5));
      assert.deepEqual(await values({ offset: 4 }), all.slice(4));
      assert.deepEqual(await values({ limit: 10, offset: 6 }), []);
    }));

  test('lists: remove by value (normalised) or id, of the right kind; only removals move the version', () =>
    backend.with(async ({ store, peer }) => {
      const other = peer();
      const added = await store.lists.put([entry('192.0.2.9/24', { scope: 'bob@example.org' }), entry('alice@example.net', { kind: 'allow' }), entry('@x.example')]);
      const v0 = await other.lists.version();
      const local0 = store.lists.localChanges;
      assert.equal(await store.lists.remove({ kind: 'block', value: '192.0.2.1/24', scope: 'Bob@Example.org' }), 1, 'value and scope are normalised');
      assert.ok(store.lists.localChanges > local0);
      const v1 = await other.lists.version();
      assert.notEqual(v1, v0);
      assert.equal(await store.lists.remove({ kind: 'block', value: '192.0.2.0/24', scope: 'bob@example.org' }), 0, 'gone already');
      assert.equal(await store.lists.remove({ kind: 'block', value: 'alice@example.net', scope: '' }), 0, 'the kind must match');
      assert.equal(await store.lists.remove({ kind: 'allow', value: 'alice@example.net', scope: 'bob@example.org' }), 0, 'the scope must match');
      assert.equal(await store.lists.remove({ kind: 'block', id: added[1]!.entry.id }), 0, 'the kind must match the id');
      assert.equal(await store.lists.remove({ kind: 'allow', id: 999_999 }), 0);
      assert.equal(await other.lists.version(), v1, 'nothing removed, no change');
      assert.equal(await store.lists.remove({ kind: 'allow', id: added[1]!.entry.id }), 1);
      assert.notEqual(await other.lists.version(), v1);
      assert.equal(await store.lists.remove({ kind: 'allow', id: added[1]!.entry.id }), 0);
      await assert.rejects(store.lists.remove({ kind: 'block', value: 'nonsense', scope: '' }), /not an entry/);
      assert.deepEqual((await other.lists.list({})).map((e) => e.value), ['@x.example']);
      const readded = await store.lists.put([entry('alice@example.net', { kind: 'allow' })]);
      assert.equal(readded[0]!.created, true, 'a removed entry can be added again');
    }));

  test('lists: active() leaves expired entries out; maintenance removes them', () =>
    backend.with(async ({ store, peer }) => {
      await store.lists.put([
        entry('@soon.example', { expiresAt: NOW + 100 }),
        entry('@later.example', { expiresAt: NOW + 200 }),
        entry('@never.example'),
        entry('@extended.example', { expiresAt: NOW + 100 }),
      ]);
      await store.lists.put([entry('@extended.example', { expiresAt: 0 })]);
      const other = peer();
      const active = async (now: number) => (await other.lists.active(now)).map((e) => e.value).sort();
      assert.deepEqual(await active(NOW + 99), ['@extended.example', '@later.example', '@never.example', '@soon.example']);
      assert.deepEqual(await active(NOW + 100), ['@extended.example', '@later.example', '@never.example'], 'an entry expires at its time');
      assert.deepEqual(await active(NOW + 200), ['@extended.example', '@never.example']);
      assert.equal((await other.lists.list({})).length, 4, 'list() shows expired entries until maintenance');

      const first = await store.maintenance(limits(NOW + 150));
      assert.equal(first.expiredListEntries, 1);
      assert.deepEqual((await other.lists.list({})).map((e) => e.value).sort(), ['@extended.example', '@later.example', '@never.example']);
      const second = await store.maintenance(limits(NOW + 1000));
      assert.equal(second.expiredListEntries, 1, 'an entry whose expiry was lifted stays');
      assert.deepEqual((await other.lists.list({})).map((e) => e.value).sort(), ['@extended.example', '@never.example']);
      assert.equal((await store.maintenance(limits(NOW + 2000))).expiredListEntries, 0);
      const back = await store.lists.put([entry('@soon.example')]);
      assert.equal(back[0]!.created, true, 'an expired entry can be added again');
    }));

  test('lists: many expired entries go in one maintenance pass', () =>
    backend.with(async ({ store }) => {
      const count = 2500;
      await store.lists.put(Array.from({ length: count }, (_, i) => entry(`user${i}@bulk.example`, { expiresAt: NOW + 10 })));
      await store.lists.put([entry('@kept.example')]);
      assert.equal((await store.maintenance(limits(NOW + 10))).expiredListEntries, count);
      assert.deepEqual((await store.lists.active(NOW)).map((e) => e.value), ['@kept.example']);
    }));
};
