// The SQLite recipient store: normalised addresses and catch-alls, re-adding updates, removal,
// listing (order, search, paging), the version counter seen by another store on the same file,
// entries kept across a reopen, and a store of schema version 2 upgraded with the new table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downgradeStore } from '../../../test/helpers/sqlite-store.js';
import { SqliteStore } from './store.js';
import type { RecipientInput } from '../types.js';

const input = (address: string, extra: Partial<RecipientInput> = {}): RecipientInput => ({ address, comment: '', addedBy: 'root', createdAt: 1000, ...extra });

test('recipients: normalised, re-adding updates, removal, listing, version, kept across a reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-recipients-'));
  const store = new SqliteStore(dir, 1000);
  const other = new SqliteStore(dir, 1000);
  let closed = false;
  try {
    assert.equal(await other.recipients.version(), 0);
    const localBefore = store.recipients.localChanges;
    const added = await store.recipients.add([
      input('Bob@Example.ORG.', { comment: 'sales' }),
      input('@Example.org'),
      input('zoe@a.example', { addedBy: 'alice' }),
      input('0day@example.org'),
    ]);
    assert.deepEqual(added.map((a) => [a.created, a.entry.address, a.entry.domain]), [
      [true, 'bob@example.org', 'example.org'],
      [true, '@example.org', 'example.org'],
      [true, 'zoe@a.example', 'a.example'],
      [true, '0day@example.org', 'example.org'],
    ]);
    assert.ok(store.recipients.localChanges > localBefore, 'a local change is visible at once');
    assert.equal(await other.recipients.version(), 1, 'one transaction, one bump, seen by another connection');
    const again = await store.recipients.add([input('BOB@example.org', { comment: 'moved to support', addedBy: 'carol', createdAt: 2000 })]);
    assert.deepEqual(again.map((a) => [a.created, a.entry.id, a.entry.comment, a.entry.addedBy, a.entry.createdAt]), [[false, added[0]!.entry.id, 'moved to support', 'carol', 2000]]);
    assert.equal(await other.recipients.version(), 2);
    for (const bad of ['example.org', 'bob@localhost', 'a b@example.org', '<bob@example.org>', 'bob@', '']) {
      await assert.rejects(store.recipients.add([input(bad)]), (error: Error) => error.message.startsWith(`${bad}: `), bad);
    }
    assert.equal(await other.recipients.version(), 2, 'a refused batch changes nothing');

    assert.deepEqual((await other.recipients.list({})).map((e) => e.address), ['zoe@a.example', '@example.org', '0day@example.org', 'bob@example.org'], 'by domain, catch-all first');
    assert.deepEqual((await other.recipients.list({ search: 'SUPPORT' })).map((e) => e.address), ['bob@example.org'], 'comments are searched');
    assert.deepEqual((await other.recipients.list({ search: 'alice' })).map((e) => e.address), ['zoe@a.example'], 'adders are searched');
    assert.deepEqual((await other.recipients.list({ search: 'example.org' })).length, 3);
    assert.equal((await other.recipients.list({ search: '%' })).length, 0, 'LIKE wildcards are escaped');
    assert.deepEqual((await other.recipients.list({ limit: 2, offset: 1 })).map((e) => e.address), ['@example.org', '0day@example.org']);
    assert.deepEqual((await other.recipients.all()).sort(), ['0day@example.org', '@example.org', 'bob@example.org', 'zoe@a.example']);

    assert.equal(await store.recipients.remove('@EXAMPLE.org.'), 1, 'removal normalises the address');
    assert.equal(await store.recipients.remove('@example.org'), 0);
    assert.equal(await other.recipients.version(), 3, 'only effective removals bump the version');
    await assert.rejects(store.recipients.remove('example.org'), /write @example\.org/);

    await other.close();
    await store.close();
    closed = true;
    const reopened = new SqliteStore(dir, 1000);
    try {
      assert.deepEqual((await reopened.recipients.all()).sort(), ['0day@example.org', 'bob@example.org', 'zoe@a.example']);
      assert.equal(await reopened.recipients.version(), 3);
    } finally {
      await reopened.close();
    }
  } finally {
    if (!closed) await Promise.all([other.close(), store.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a store of schema version 2 gets the recipient table, its data kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-recipients-'));
  try {
    const { openDatabaseFile, SCHEMA_VERSION } = await import('./database.js');
    const first = new SqliteStore(dir, 1000);
    await first.lists.put([{ kind: 'block', value: '@x.example', scope: '', reason: '', comment: '', addedBy: 'root', createdAt: 1, expiresAt: 0 }]);
    await first.close();
    // Turn it back into a version-2 file: drop what migrations 3 and later made.
    downgradeStore(dir, 2);
    const reopened = new SqliteStore(dir, 1000);
    try {
      assert.equal((await reopened.lists.list({})).length, 1, 'old data kept');
      await reopened.recipients.add([input('bob@example.org')]);
      assert.deepEqual(await reopened.recipients.all(), ['bob@example.org']);
    } finally {
      await reopened.close();
    }
    const check = openDatabaseFile(join(dir, 'rempart.db'), 1000);
    assert.equal((check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value, String(SCHEMA_VERSION));
    assert.equal(SCHEMA_VERSION, 5);
    check.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
