// The valid-recipients part of the store contract (RecipientStore): addresses and catch-alls
// normalised, re-adding updates the entry of the same address, a bad address refuses the whole
// batch, removal (normalised) of exactly one entry, listing by domain with the catch-all first,
// search and paging, all(), and the version seen moving by another store after each change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW, type ConformancePart } from './harness.js';
import type { RecipientInput } from '../types.js';

const input = (address: string, extra: Partial<RecipientInput> = {}): RecipientInput => ({ address, comment: '', addedBy: 'root', createdAt: NOW, ...extra });

export const recipientsConformance: ConformancePart = (backend) => {
  test('recipients: add normalises, re-adding updates, bad addresses refuse the batch, the version moves for a peer', () =>
    backend.with(async ({ store, peer }) => {
      const other = peer();
      const v0 = await other.recipients.version();
      const local0 = store.recipients.localChanges;
      const added = await store.recipients.add([input('Bob@Example.ORG.', { comment: 'sales' }), input('@Example.org'), input('zoe@a.example', { addedBy: 'alice' })]);
      assert.deepEqual(added.map((a) => [a.created, a.entry.address, a.entry.domain, a.entry.comment, a.entry.addedBy, a.entry.createdAt]), [
        [true, 'bob@example.org', 'example.org', 'sales', 'root', NOW],
        [true, '@example.org', 'example.org', '', 'root', NOW],
        [true, 'zoe@a.example', 'a.example', '', 'alice', NOW],
      ]);
      assert.equal(new Set(added.map((a) => a.entry.id)).size, 3, 'distinct ids');
      assert.ok(store.recipients.localChanges > local0, 'a local change is visible at once');
      const v1 = await other.recipients.version();
      assert.notEqual(v1, v0);

      const again = await store.recipients.add([input('BOB@example.org', { comment: 'support', addedBy: 'carol', createdAt: NOW + 60 })]);
      assert.deepEqual(again, [
        { created: false, entry: { id: added[0]!.entry.id, address: 'bob@example.org', domain: 'example.org', comment: 'support', addedBy: 'carol', createdAt: NOW + 60 } },
      ]);
      const v2 = await other.recipients.version();
      assert.notEqual(v2, v1);
      for (const bad of ['example.org', 'bob@localhost', 'a b@example.org', '<bob@example.org>', 'bob@', '']) {
        await assert.rejects(store.recipients.add([input('new@example.org'), input(bad)]), (error: Error) => error.message.startsWith(`${bad}: `), bad);
      }
      assert.equal(await other.recipients.version(), v2, 'a refused batch changes nothing');
      assert.deepEqual((await other.recipients.all()).sort(), ['@example.org', 'bob@example.org', 'zoe@a.example']);
      assert.deepEqual(await store.recipients.add([]), []);
      const seen = await other.recipients.list({ search: 'support' });
      assert.deepEqual(seen, [again[0]!.entry], 'the peer reads the entry as stored');
    }));

  test('recipients: list by domain, catch-all first, with search and paging; all()', () =>
    backend.with(async ({ store, peer }) => {
      await store.recipients.add([
        input('bob@example.org', { comment: 'Moved to SUPPORT' }),
        input('@example.org'),
        input('zoe@a.example', { addedBy: 'alice' }),
        input('0day@example.org', { comment: '50% off' }),
        input('@b.example'),
      ]);
      const other = peer();
      const addresses = async (filter: Parameters<typeof store.recipients.list>[0]) => (await other.recipients.list(filter)).map((e) => e.address);
      const all = ['zoe@a.example', '@b.example', '@example.org', '0day@example.org', 'bob@example.org'];
      assert.deepEqual(await addresses({}), all);
      assert.deepEqual(await addresses({ search: 'support' }), ['bob@example.org'], 'comments are searched, case-insensitive');
      assert.deepEqual(await addresses({ search: 'ALICE' }), ['zoe@a.example'], 'adders are searched');
      assert.deepEqual(await addresses({ search: 'example.org' }), all.slice(2));
      assert.deepEqual(await addresses({ search: '%' }), ['0day@example.org'], 'a % is literal');
      assert.deepEqual(await addresses({ search: '_' }), []);
      assert.deepEqual(await addresses({ limit: 2, offset: 1 }), all.slice(1, 3));
      assert.deepEqual(await addresses({ offset: 3 }), all.slice(3));
      assert.deepEqual(await addresses({ search: 'example', limit: 1, offset: 4 }), ['bob@example.org']);
      assert.deepEqual((await other.recipients.all()).sort(), [...all].sort());
    }));

  test('recipients: remove is normalised, takes exactly one entry, and only a removal moves the version', () =>
    backend.with(async ({ store, peer }) => {
      const other = peer();
      await store.recipients.add([input('bob@example.org'), input('@example.org')]);
      const v0 = await other.recipients.version();
      const local0 = store.recipients.localChanges;
      assert.equal(await store.recipients.remove('@EXAMPLE.org.'), 1);
      assert.ok(store.recipients.localChanges > local0);
      const v1 = await other.recipients.version();
      assert.notEqual(v1, v0);
      assert.equal(await store.recipients.remove('@example.org'), 0);
      assert.equal(await store.recipients.remove('carol@example.org'), 0);
      assert.equal(await other.recipients.version(), v1, 'nothing removed, no change');
      await assert.rejects(store.recipients.remove('example.org'), /write @example\.org/);
      assert.deepEqual(await other.recipients.all(), ['bob@example.org']);
      const back = await store.recipients.add([input('@example.org')]);
      assert.equal(back[0]!.created, true, 'a removed entry can be added again');
      assert.deepEqual((await other.recipients.list({})).map((e) => e.address), ['@example.org', 'bob@example.org']);
    }));
};
