// The SQLite store: atomic triplet and client updates, listing and flushing, history batching,
// maintenance by expiry and retention, and reopening an existing database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withStore } from '../../../test/helpers/sqlite-store.js';
import { SqliteStore } from './store.js';
import type { ResultRecord } from '../../core/result.js';


const record = (time: number, overrides: Partial<ResultRecord> = {}): ResultRecord => ({
  time, node: 'mx1', protocol: 'policy', stage: 'rcpt', clientAddress: '192.0.2.1', clientName: 'unknown', helo: 'h',
  sender: 's@example.net', recipients: ['r@example.org'], queueId: '', messageId: '', instance: 'i', action: 'greylist',
  decidedBy: 'greylist', reason: 'new', reply: 'DEFER_IF_PERMIT 4.2.0 x', headers: [], score: 0, symbols: [], facts: { seconds_left: 300 },
  errors: [], durationMs: 0.1, ...overrides,
});

test('triplet updates see the previous state and store the next one with labels', withStore(async (store) => {
  const labels = { clientNet: '192.0.2.0/24', sender: 's@example.net', recipient: 'r@example.org' };
  const first = await store.greylist.updateTriplet('k1', labels, (current) => ({ next: { firstSeen: 10, lastSeen: 10, attempts: 1, passedAt: 0 }, result: current }), (s) => s.lastSeen + 100);
  assert.equal(first, undefined);
  const second = await store.greylist.updateTriplet('k1', labels, (current) => ({ next: { ...current!, lastSeen: 20, attempts: 2 }, result: current }), (s) => s.lastSeen + 100);
  assert.deepEqual(second, { firstSeen: 10, lastSeen: 10, attempts: 1, passedAt: 0 });
  const rows = await store.greylist.listTriplets({ search: 'EXAMPLE.net' });
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]!.labels, labels);
  assert.equal(rows[0]!.attempts, 2);
  assert.equal((await store.greylist.listTriplets({ search: '%' })).length, 0, 'LIKE wildcards are escaped');
  assert.equal((await store.greylist.listTriplets({ waiting: false })).length, 0);
  await store.greylist.updateTriplet('hashed', undefined, () => ({ next: { firstSeen: 1, lastSeen: 1, attempts: 1, passedAt: 5 }, result: 0 }), () => 1000);
  const passed = await store.greylist.listTriplets({ waiting: false });
  assert.equal(passed.length, 1);
  assert.equal(passed[0]!.labels, undefined, 'privacy mode keeps no labels');
  assert.deepEqual(await store.greylist.stats(5), { triplets: 2, waiting: 1, passed: 1, clients: 0, autoAllowed: 0 });
  assert.equal(await store.greylist.flushTriplets({ search: '192.0.2.' }), 1);
  assert.equal(await store.greylist.flushTriplets({}), 1);
}));

test('client updates, an unchanged result writes nothing, undefined deletes', withStore(async (store) => {
  await store.greylist.updateClient('192.0.2.1', () => ({ next: { passes: 5, lastSeen: 100 }, result: 0 }), (s) => s.lastSeen + 50);
  await store.greylist.updateClient('192.0.2.2', () => ({ next: { passes: 1, lastSeen: 100 }, result: 0 }), (s) => s.lastSeen + 50);
  assert.deepEqual(await store.greylist.stats(5), { triplets: 0, waiting: 0, passed: 0, clients: 2, autoAllowed: 1 });
  const seen = await store.greylist.updateClient('192.0.2.1', (current) => ({ next: current, result: current }), () => 0);
  assert.deepEqual(seen, { passes: 5, lastSeen: 100 });
  const report = await store.maintenance({ now: 149, historyMaxAge: 1e9, historyMaxRecords: 1e9 });
  assert.equal(report.expiredClients, 0, 'the unchanged update did not rewrite the expiry');
  await store.greylist.updateClient('192.0.2.2', () => ({ next: undefined, result: 0 }), () => 0);
  assert.equal((await store.greylist.listClients(10, 0)).length, 1);
  assert.equal(await store.greylist.flushClients(), 1);
}));

test('maintenance removes expired triplets and clients in batches, and old or excess history', withStore(async (store) => {
  for (let i = 0; i < 4500; i++) {
    await store.greylist.updateTriplet(`k${i}`, undefined, () => ({ next: { firstSeen: i, lastSeen: i, attempts: 1, passedAt: 0 }, result: 0 }), () => (i < 4200 ? 100 : 2_000_000));
  }
  const nowMs = 1_000_000 * 1000;
  for (let i = 0; i < 30; i++) store.history.add(record(nowMs - (30 - i) * 1000, { reason: `r${i}` }));
  store.history.add(record(nowMs - 10 * 86400 * 1000, { reason: 'ancient' }));
  const report = await store.maintenance({ now: 1_000_000, historyMaxAge: 86400, historyMaxRecords: 20 });
  assert.equal(report.expiredTriplets, 4200);
  assert.equal((await store.greylist.stats(5)).triplets, 300);
  assert.equal(await store.history.count(), 20);
  const newest = await store.history.query({ limit: 1 });
  assert.equal(newest[0]!.reason, 'r29');
  assert.deepEqual(newest[0]!.facts, { seconds_left: 300 });
  assert.deepEqual(newest[0]!.recipients, ['r@example.org']);
}));

test('history is written in batches and survives reopening', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-store-'));
  try {
    const store = new SqliteStore(dir, 1000);
    store.history.add(record(1000, { action: 'accept', sender: 'a@x' }));
    store.history.add(record(2000, { action: 'greylist', sender: 'b@x' }));
    await store.close();
    const reopened = new SqliteStore(dir, 1000);
    assert.equal(await reopened.history.count(), 2);
    assert.equal((await reopened.history.query({ action: 'accept' }))[0]!.sender, 'a@x');
    assert.equal((await reopened.history.query({ recipient: 'r@example.org' })).length, 2);
    assert.equal((await reopened.history.query({ since: 1500 })).length, 1);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write that cannot be committed is retried, then dropped, and does not block later writes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-store-'));
  const errors: string[] = [];
  const store = new SqliteStore(dir, 1000, (error) => errors.push((error as Error).message));
  try {
    // expires_at is NOT NULL: a NaN expiry binds as NULL and the commit fails every time.
    await store.greylist.updateTriplet('poison', undefined, () => ({ next: { firstSeen: 1, lastSeen: 1, attempts: 1, passedAt: 0 }, result: 0 }), () => NaN);
    const seenWhileQueued = await store.greylist.updateTriplet('poison', undefined, (current) => ({ next: current, result: current }), () => 0);
    assert.equal(seenWhileQueued?.firstSeen, 1, 'a queued write is read back before it is committed');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.match(errors[0]!, /NOT NULL constraint failed.*queued again/);
    assert.match(errors[2]!, /dropped 1 greylist update\(s\) .* after 3 failed commits/);
    await store.greylist.updateTriplet('good', undefined, () => ({ next: { firstSeen: 2, lastSeen: 2, attempts: 1, passedAt: 0 }, result: 0 }), () => 100);
    const rows = await store.greylist.listTriplets({});
    assert.deepEqual(rows.map((r) => r.key), ['good']);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a flush made by another process (another store on the same file) clears what the daemon cached', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-store-'));
  const daemon = new SqliteStore(dir, 1000);
  const cli = new SqliteStore(dir, 1000);
  try {
    const write = (s: SqliteStore, key: string) =>
      s.greylist.updateTriplet(key, undefined, () => ({ next: { firstSeen: 5, lastSeen: 5, attempts: 1, passedAt: 0 }, result: 0 }), () => 1e9);
    const read = (s: SqliteStore, key: string) => s.greylist.updateTriplet(key, undefined, (current) => ({ next: current, result: current }), () => 0);
    await write(daemon, 'k');
    await daemon.history.flush(); // committed
    await daemon.greylist.updateClient('c', () => ({ next: { passes: 9, lastSeen: 5 }, result: 0 }), () => 1e9);
    await daemon.history.flush();
    assert.ok(await read(daemon, 'k'), 'cached in the daemon');
    assert.equal(await cli.greylist.flushTriplets({}), 1);
    assert.equal(await cli.greylist.flushClients(), 1);
    assert.ok(await read(daemon, 'k'), 'still cached until the daemon looks');
    daemon.greylist.checkForeignFlush();
    assert.equal(await read(daemon, 'k'), undefined, 'gone after the generation check');
    assert.equal(await daemon.greylist.updateClient('c', (current) => ({ next: current, result: current }), () => 0), undefined);
  } finally {
    await cli.close();
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
