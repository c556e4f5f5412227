// The cache keeps recently used entries, forgets old ones first, and stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruCache } from './lru.js';

test('keeps recently used entries and forgets the least recently used first', () => {
  const cache = new LruCache<string, number>(2);
  cache.set('a', 1);
  cache.set('b', 2); // young full: {a, b} becomes old
  assert.equal(cache.get('a'), 1); // promoted to young
  cache.set('c', 3); // young {a, c} full: old {a, b} dropped
  assert.equal(cache.get('b'), undefined, 'b was used least recently');
  assert.equal(cache.get('a'), 1);
  assert.equal(cache.get('c'), 3);
  cache.set('a', 10);
  assert.equal(cache.get('a'), 10, 'set replaces');
  cache.delete('a');
  assert.equal(cache.get('a'), undefined);
  cache.clear();
  assert.equal(cache.get('c'), undefined);
});

test('never holds more than twice its capacity', () => {
  const cache = new LruCache<number, number>(100);
  for (let i = 0; i < 10_000; i++) cache.set(i, i);
  let held = 0;
  for (let i = 0; i < 10_000; i++) if (cache.get(i) !== undefined) held++;
  assert.ok(held >= 100 && held <= 200, `held ${held}`);
});
