// TokenCountTable against a Map doing the same operations: sets, updates, removals (the backward
// shift across long probe runs and the wrap at the end of the slots), growth, odd tokens, counts too
// large for a slot; and the spread of its hash over the slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashToken, tokenHash } from '../../core/token-hash.js';
import { TokenCountTable } from './token-count-table.js';

/** A deterministic pseudo-random sequence (xorshift32). */
function randomSource(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** The counts of `token` read by its hash, as the classifier reads them with the tokenizer's hashes. */
function byHash(table: TokenCountTable, token: string): { spam: number; ham: number } | undefined {
  hashToken(token);
  return table.getByHash(tokenHash.high, tokenHash.low);
}

function assertSame(table: TokenCountTable, reference: Map<string, { spam: number; ham: number }>, probes: readonly string[]): void {
  assert.equal(table.size, reference.size);
  for (const [token, counts] of reference) {
    assert.deepEqual(table.get(token), counts, token);
    assert.deepEqual(byHash(table, token), counts, token);
  }
  for (const token of probes) {
    if (reference.has(token)) continue;
    assert.equal(table.get(token), undefined, token);
    assert.equal(byHash(table, token), undefined, token);
  }
}

test('sets, updates and removals give what a Map gives, through growth and long probe runs', () => {
  const random = randomSource(12345);
  const table = new TokenCountTable();
  const reference = new Map<string, { spam: number; ham: number }>();
  // Few distinct tokens for many operations: each is set, updated and removed again and again.
  const vocabulary = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? `subject:word${i}` : i % 3 === 1 ? `url:host${i}.example.com` : `w${i}`));
  for (let step = 0; step < 60_000; step++) {
    const token = vocabulary[Math.floor(random() * vocabulary.length)]!;
    if (random() < 0.3) {
      assert.equal(table.delete(token), reference.delete(token), `delete ${token} at step ${step}`);
    } else {
      const counts = { spam: Math.floor(random() * 2 ** 32), ham: Math.floor(random() * 1000) };
      table.set(token, counts.spam, counts.ham);
      reference.set(token, counts);
    }
    if (step % 5000 === 0) assertSame(table, reference, vocabulary);
  }
  assertSame(table, reference, vocabulary);
  for (const token of [...reference.keys()]) assert.equal(table.delete(token), true);
  assert.equal(table.size, 0);
  for (const token of vocabulary) assert.equal(table.has(token), false);
});

test('removals keep every other token findable when runs wrap around the end of the slots', () => {
  // A small table packed to its limit: long runs, some wrapping from the last slot to the first.
  for (let seed = 1; seed <= 20; seed++) {
    const random = randomSource(seed);
    const table = new TokenCountTable();
    const reference = new Map<string, { spam: number; ham: number }>();
    const tokens = Array.from({ length: 512 }, (_, i) => `t${seed}-${i}`); // 1,024 slots, half full
    for (const [i, token] of tokens.entries()) {
      table.set(token, i, i + 1);
      reference.set(token, { spam: i, ham: i + 1 });
    }
    assert.equal(table.byteLength, 1024 * 16, 'no growth at exactly half full');
    for (const token of tokens) {
      if (random() < 0.5) {
        table.delete(token);
        reference.delete(token);
      }
      assertSame(table, reference, tokens);
    }
  }
});

test('odd tokens: empty, long, outside the BMP, differing only by case or one character', () => {
  const table = new TokenCountTable();
  const tokens = ['', 'a', 'A', 'ab', 'ba', 'x'.repeat(10_000), 'x'.repeat(10_001), '😀', '\u0000', '\u0000\u0000', 'subject:é', 'subject:e\u0301'];
  tokens.forEach((token, i) => table.set(token, i, 2 * i));
  tokens.forEach((token, i) => assert.deepEqual(table.get(token), { spam: i, ham: 2 * i }, JSON.stringify(token.slice(0, 10))));
  assert.equal(table.size, tokens.length);
});

test('the hash spreads the tokens of a real vocabulary evenly over the slots', () => {
  const table = new TokenCountTable(100_000);
  const slots = table.byteLength / 16;
  const tokens = Array.from({ length: 100_000 }, (_, i) => `tok${i}`);
  for (const token of tokens) table.set(token, 1, 1);
  // The mean run a lookup walks in a linear-probing table at load α is about (1 + 1/(1 − α)) / 2;
  // a poor hash clusters and walks far more. The run of each token is its distance from its home
  // slot (the low bits of its hash), read off the slot array.
  const words = (table as unknown as { slots: Uint32Array }).slots;
  const mask = slots - 1;
  let probes = 0;
  for (let slot = 0; slot < slots; slot++) {
    const high = words[slot * 4]!;
    const low = words[slot * 4 + 1]!;
    if (high === 0 && low === 0) continue;
    probes += ((slot - (high & mask) + slots) & mask) + 1;
  }
  const load = tokens.length / slots;
  const expected = (1 + 1 / (1 - load)) / 2;
  assert.ok(probes / tokens.length < expected * 1.5, `mean probe length ${(probes / tokens.length).toFixed(2)}, expected about ${expected.toFixed(2)} at load ${load.toFixed(2)}`);
});

test('counts above 2³² − 1 are kept as 2³² − 1, not wrapped', () => {
  const table = new TokenCountTable();
  table.set('imported', 2 ** 32 + 3, 2 ** 40);
  assert.deepEqual(table.get('imported'), { spam: 2 ** 32 - 1, ham: 2 ** 32 - 1 });
  table.set('imported', 2 ** 32 - 1, 0);
  assert.deepEqual(table.get('imported'), { spam: 2 ** 32 - 1, ham: 0 });
});
