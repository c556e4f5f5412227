// TokenHashSet against a Set of strings doing the same: adds, repeats, growth past its first size,
// clearing between messages, and the renumbering of generations when their count wraps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashToken, tokenHash } from '../core/token-hash.js';
import { TokenHashSet } from './token-hash-set.js';

function add(set: TokenHashSet, token: string): boolean {
  hashToken(token);
  return set.add(tokenHash.high, tokenHash.low);
}

test('adds tell new tokens from repeated ones as a Set does, through growth', () => {
  const set = new TokenHashSet();
  const reference = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const token = `w${(i * 7919) % 6000}`; // every token several times, in a scattered order
    assert.equal(add(set, token), !reference.has(token), token);
    reference.add(token);
  }
  assert.equal(set.size, reference.size);
});

test('clear() forgets every token, and tokens of one message do not leak into the next', () => {
  const set = new TokenHashSet();
  for (let message = 0; message < 50; message++) {
    set.clear();
    assert.equal(set.size, 0);
    for (let i = 0; i < 300 + message * 40; i++) assert.equal(add(set, `m${message % 3}:t${i}`), true);
    for (let i = 0; i < 300 + message * 40; i++) assert.equal(add(set, `m${message % 3}:t${i}`), false);
  }
});

test('when the generation count wraps, the slots are wiped and numbering starts again', () => {
  const set = new TokenHashSet(3);
  for (let message = 0; message < 10; message++) {
    set.clear();
    for (const token of ['a', 'b', 'c']) assert.equal(add(set, token), true, `message ${message}, ${token}`);
    assert.equal(add(set, 'a'), false);
  }
});
