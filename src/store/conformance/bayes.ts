// The Bayes part of the store contract (BayesStore): learning is idempotent by digest (learned,
// already, relearned, unlearned, not-learned), counts never go below 0 and tokens left at 0/0 go,
// message and token counts follow; lookups of present and absent tokens; scopes apart and in lower
// case; imports add up across batches; learns asked at once keep their order; two stores learning
// at the same time end with exact counts; a learn by one store is seen by another; dump and
// importDigests copy a database; maintenance expires tokens and digests not learned for a while.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW, type ConformancePart } from './harness.js';
import type { LearnInput, Store } from '../types.js';
import { foundCounts } from '../../../test/helpers/bayes-lookup.js';

const DAY = 86_400; // s

const message = (digest: string, kind: 'spam' | 'ham', tokens: string[], extra: Partial<LearnInput> = {}): LearnInput => ({ digest, kind, tokens, now: NOW, ...extra });

/** A lookup as [token, spam, ham] rows, sorted by token. */
async function lookup(store: Store, scope: string, tokens: string[]): Promise<[string, number, number][]> {
  const found = foundCounts(await store.bayes.lookup(scope, tokens), tokens);
  return [...found].map(([token, c]): [string, number, number] => [token, c.spam, c.ham]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const limits = (now: number, bayesTokenMaxAge?: number) => ({ now, historyMaxAge: 1e9, historyMaxRecords: 1e9, bayesTokenMaxAge });

export const bayesConformance: ConformancePart = (backend) => {
  test('bayes: learned, already, relearned, unlearned, not-learned; counts follow, never below 0, 0/0 tokens go', () =>
    backend.with(async ({ store }) => {
      const bayes = store.bayes;
      assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 0, tokens: 0 });
      assert.deepEqual(await bayes.scopes(), []);
      assert.deepEqual(await lookup(store, '', ['anything']), []);

      assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills', 'subject:offer', 'cheap'])), 'learned');
      assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 0, tokens: 3 }, 'a token counts once per message');
      assert.deepEqual(await lookup(store, '', ['cheap', 'pills', 'never-seen']), [['cheap', 1, 0], ['pills', 1, 0]], 'absent tokens are left out');
      assert.deepEqual(await bayes.scopes(), ['']);

      assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills', 'subject:offer'])), 'already');
      assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 0, tokens: 3 }, 'learning again changes nothing');

      assert.equal(await bayes.learn('', message('m2', 'ham', ['pills', 'minutes'])), 'learned');
      assert.deepEqual(await lookup(store, '', ['cheap', 'pills', 'minutes']), [['cheap', 1, 0], ['minutes', 0, 1], ['pills', 1, 1]]);
      assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 1, tokens: 4 });

      assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap', 'pills', 'subject:offer'])), 'relearned');
      assert.deepEqual(
        await lookup(store, '', ['cheap', 'pills', 'subject:offer', 'minutes']),
        [['cheap', 0, 1], ['minutes', 0, 1], ['pills', 0, 2], ['subject:offer', 0, 1]],
        'moved from spam to ham',
      );
      assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 2, tokens: 4 });
      assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap', 'pills', 'subject:offer'])), 'already');

      assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills', 'subject:offer'], { unlearn: true })), 'unlearned', 'the class it was learned as counts, not the one asked');
      assert.deepEqual(await lookup(store, '', ['cheap', 'pills', 'subject:offer', 'minutes']), [['minutes', 0, 1], ['pills', 0, 1]], 'tokens left at 0/0 are deleted');
      assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 1, tokens: 2 });
      assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap'], { unlearn: true })), 'not-learned');

      // Unlearning with a token the message did not bring leaves other counts at 0, not below.
      assert.equal(await bayes.learn('', message('m2', 'ham', ['pills', 'minutes', 'stranger'], { unlearn: true })), 'unlearned');
      assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 0, tokens: 0 });
      assert.deepEqual(await lookup(store, '', ['pills', 'minutes', 'stranger']), []);
      assert.equal(await bayes.learn('', message('m3', 'ham', ['pills'])), 'learned');
      assert.deepEqual(await lookup(store, '', ['pills']), [['pills', 0, 1]], 'no negative count was left behind');
      assert.equal(await bayes.learn('', message('m5', 'spam', ['viagra'])), 'learned');
      assert.equal(await bayes.learn('', message('m5', 'spam', ['viagra', 'pills'], { unlearn: true })), 'unlearned');
      assert.deepEqual(await lookup(store, '', ['pills', 'viagra']), [['pills', 0, 1]], 'a spam count of 0 stays 0');
      assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap'])), 'learned', 'an unlearned message can be learned again');

      await assert.rejects(bayes.learn('', message('', 'spam', ['x'])), /digest/);
      await assert.rejects(bayes.learn('', { ...message('m4', 'spam', ['x']), kind: 'junk' as 'spam' }), /spam or ham/);
    }));

  test('bayes: scopes are separate databases, named in lower case', () =>
    backend.with(async ({ store }) => {
      const bayes = store.bayes;
      assert.equal(await bayes.learn('Bob@Example.ORG', message('m1', 'spam', ['viagra', 'cheap'])), 'learned');
      assert.equal(await bayes.learn('', message('m1', 'ham', ['cheap'])), 'learned', 'the same message in another scope is another learn');
      assert.equal(await bayes.learn('bob@example.org', message('m1', 'spam', ['viagra', 'cheap'])), 'already');
      assert.deepEqual(await lookup(store, 'BOB@example.org', ['viagra', 'cheap']), [['cheap', 1, 0], ['viagra', 1, 0]]);
      assert.deepEqual(await lookup(store, '', ['viagra', 'cheap']), [['cheap', 0, 1]]);
      assert.deepEqual(await lookup(store, 'carol@example.org', ['cheap']), [], 'a scope never learned has nothing');
      assert.deepEqual(await bayes.counts('BOB@example.org'), { spamMessages: 1, hamMessages: 0, tokens: 2 });
      assert.deepEqual(await bayes.counts(''), { spamMessages: 0, hamMessages: 1, tokens: 1 });
      assert.deepEqual(await bayes.counts('carol@example.org'), { spamMessages: 0, hamMessages: 0, tokens: 0 });
      assert.equal(await bayes.learn('carol@example.org', message('m9', 'ham', ['x'], { unlearn: true })), 'not-learned');
      assert.deepEqual(await bayes.scopes(), ['', 'bob@example.org'], 'unlearning in an unknown scope creates nothing');
      await bayes.learn('', message('m1', 'ham', ['cheap'], { unlearn: true }));
      assert.deepEqual(await bayes.scopes(), ['bob@example.org'], 'an empty global database is not listed');
    }));

  test('bayes: imports add to the counts, across batches, and meet learned messages', () =>
    backend.with(async ({ store }) => {
      const bayes = store.bayes;
      await bayes.learn('', message('m1', 'spam', ['cheap', 'pills']));
      await bayes.importCounts(
        '',
        [
          { token: 'cheap', spam: 40, ham: 2, lastSeen: NOW - DAY },
          { token: 'meeting', spam: 0, ham: 25, lastSeen: NOW - DAY },
          { token: 'nothing', spam: 0, ham: 0, lastSeen: NOW },
          { token: '', spam: 3, ham: 3, lastSeen: NOW },
        ],
        { spam: 50, ham: 30 },
      );
      assert.deepEqual(await lookup(store, '', ['cheap', 'pills', 'meeting', 'nothing']), [['cheap', 41, 2], ['meeting', 0, 25], ['pills', 1, 0]], '0/0 rows and empty tokens are skipped');
      assert.deepEqual(await bayes.counts(''), { spamMessages: 51, hamMessages: 30, tokens: 3 });
      assert.equal(await bayes.learn('', message('m1', 'spam', ['cheap', 'pills'])), 'already', 'digests survive an import');

      const many = Array.from({ length: 12_000 }, (_, i) => ({ token: `w${i}`, spam: i % 3, ham: 1, lastSeen: NOW }));
      await bayes.importCounts('Alice@Example.org', many, { spam: 7, ham: 9 });
      await bayes.importCounts('alice@example.org', many.slice(0, 10), { spam: 1, ham: 1 });
      assert.deepEqual(await bayes.counts('alice@example.org'), { spamMessages: 8, hamMessages: 10, tokens: 12_000 }, 'message counts added once per import');
      assert.deepEqual(await lookup(store, 'alice@example.org', ['w2', 'w11999', 'w12000']), [['w11999', 2, 1], ['w2', 4, 2]], 'the second import added to the first');
      await bayes.importCounts('dave@example.org', [], { spam: 0, ham: 0 });
      await bayes.importCounts('erin@example.org', [], { spam: 2, ham: 0 });
      assert.deepEqual(await bayes.counts('erin@example.org'), { spamMessages: 2, hamMessages: 0, tokens: 0 }, 'message counts alone');
      assert.deepEqual(await bayes.scopes(), ['', 'alice@example.org', 'erin@example.org']);
    }));

  test('bayes: learns asked at once keep their order, and a digest twice counts once', () =>
    backend.with(async ({ store }) => {
      const outcomes = await Promise.all([
        ...Array.from({ length: 300 }, (_, i) => store.bayes.learn('', message(`m${i}`, i % 2 ? 'ham' : 'spam', [`t${i}`, 'common']))),
        store.bayes.learn('', message('m0', 'spam', ['t0', 'common'])),
        store.bayes.learn('', message('m1', 'spam', ['t1', 'common'])),
        store.bayes.learn('', message('m2', 'ham', ['t2', 'common'], { unlearn: true })),
      ]);
      assert.deepEqual(outcomes.slice(0, 300), Array(300).fill('learned'));
      assert.deepEqual(outcomes.slice(300), ['already', 'relearned', 'unlearned']);
      assert.deepEqual(await lookup(store, '', ['common', 't1', 't2']), [['common', 150, 149], ['t1', 1, 0]]);
      assert.deepEqual(await store.bayes.counts(''), { spamMessages: 150, hamMessages: 149, tokens: 300 });
    }));

  test('bayes: two stores learning at the same time end with exact counts', () =>
    backend.with(async ({ store, peer }) => {
      const other = peer();
      const PER_STORE = 200; // messages
      const learnAll = (s: Store, prefix: string) =>
        Promise.all(Array.from({ length: PER_STORE }, (_, i) => s.bayes.learn('', message(`${prefix}${i}`, i % 4 === 0 ? 'ham' : 'spam', ['common', `${prefix}-own`, `t${i % 10}`]))));
      const [mine, theirs] = await Promise.all([learnAll(store, 'a'), learnAll(other, 'b')]);
      assert.ok([...mine, ...theirs].every((o) => o === 'learned'));
      assert.deepEqual(await lookup(store, '', ['common', 'a-own', 'b-own', 't0', 't1']), [
        ['a-own', 150, 50],
        ['b-own', 150, 50],
        ['common', 300, 100],
        ['t0', 20, 20],
        ['t1', 40, 0],
      ]);
      assert.deepEqual(await other.bayes.counts(''), { spamMessages: 300, hamMessages: 100, tokens: 13 });
      // The same messages from both stores at once: each is learned exactly once.
      const both = await Promise.all([learnAll(store, 'c'), learnAll(other, 'c')]);
      assert.equal(both.flat().filter((o) => o === 'learned').length, PER_STORE);
      assert.equal(both.flat().filter((o) => o === 'already').length, PER_STORE);
      assert.deepEqual(await store.bayes.counts(''), { spamMessages: 450, hamMessages: 150, tokens: 14 });
    }));

  test('bayes: a learn by one store is seen by another, which looked the tokens up before', () =>
    backend.with(async ({ store, peer }) => {
      const daemon = peer();
      await daemon.bayes.learn('', message('d1', 'ham', ['hello', 'minutes']));
      assert.deepEqual(await lookup(daemon, '', ['hello', 'cheap']), [['hello', 0, 1]]);
      assert.equal(await store.bayes.learn('', message('c1', 'spam', ['cheap', 'hello'])), 'learned');
      assert.deepEqual(await lookup(daemon, '', ['hello', 'cheap', 'minutes']), [['cheap', 1, 0], ['hello', 1, 1], ['minutes', 0, 1]]);
      assert.equal(await daemon.bayes.learn('', message('c1', 'ham', ['cheap', 'hello'])), 'relearned', 'the digest learned by the other store is known');
      assert.deepEqual(await lookup(store, '', ['hello', 'cheap']), [['cheap', 0, 1], ['hello', 0, 2]]);
      assert.deepEqual(await lookup(daemon, 'bob@example.org', ['cheap']), []);
      await store.bayes.learn('bob@example.org', message('c2', 'spam', ['cheap']));
      assert.deepEqual(await lookup(daemon, 'bob@example.org', ['cheap']), [['cheap', 1, 0]]);
      await store.bayes.learn('bob@example.org', message('c2', 'spam', ['cheap'], { unlearn: true }));
      assert.deepEqual(await lookup(daemon, 'bob@example.org', ['cheap']), [], 'an unlearn is seen too');
    }));

  test('bayes: dump holds counts, tokens and digests; importCounts and importDigests copy a database', () =>
    backend.with(async ({ store, peer }) => {
      const bayes = store.bayes;
      await bayes.learn('bob@example.org', message('m1', 'spam', ['cheap', 'pills'], { now: NOW }));
      await bayes.learn('bob@example.org', message('m2', 'ham', ['pills', 'minutes'], { now: NOW + 10 }));
      await bayes.importCounts('bob@example.org', [{ token: 'imported', spam: 3, ham: 4, lastSeen: NOW - DAY }], { spam: 5, ham: 6 });
      await bayes.learn('', message('g1', 'spam', ['global']));
      const dump = await peer().bayes.dump('Bob@Example.org');
      const byToken = [...dump.tokens].sort((a, b) => (a.token < b.token ? -1 : 1));
      assert.deepEqual(byToken, [
        { token: 'cheap', spam: 1, ham: 0, lastSeen: NOW },
        { token: 'imported', spam: 3, ham: 4, lastSeen: NOW - DAY },
        { token: 'minutes', spam: 0, ham: 1, lastSeen: NOW + 10 },
        { token: 'pills', spam: 1, ham: 1, lastSeen: NOW + 10 },
      ]);
      assert.deepEqual([...dump.digests].sort((a, b) => (a.digest < b.digest ? -1 : 1)), [{ digest: 'm1', kind: 'spam' }, { digest: 'm2', kind: 'ham' }]);
      assert.deepEqual(dump.messages, { spam: 6, ham: 7 });
      assert.deepEqual(await bayes.dump('nobody@example.org'), { messages: { spam: 0, ham: 0 }, tokens: [], digests: [] });

      // Copied into another scope (as `store copy` does into another store): the same database.
      await bayes.importCounts('carol@example.org', dump.tokens, dump.messages);
      await bayes.importDigests('carol@example.org', dump.digests);
      const copy = await bayes.dump('carol@example.org');
      const sorted = (d: typeof dump) => ({
        messages: d.messages,
        tokens: [...d.tokens].sort((a, b) => (a.token < b.token ? -1 : 1)),
        digests: [...d.digests].sort((a, b) => (a.digest < b.digest ? -1 : 1)),
      });
      assert.deepEqual(sorted(copy), sorted(dump));
      assert.deepEqual(await bayes.counts('carol@example.org'), { spamMessages: 6, hamMessages: 7, tokens: 4 });
      assert.equal(await bayes.learn('carol@example.org', message('m1', 'spam', ['cheap', 'pills'])), 'already', 'a copied digest counts as learned');
      assert.equal(await bayes.learn('carol@example.org', message('m2', 'spam', ['pills', 'minutes'])), 'relearned');
      assert.deepEqual(await lookup(store, 'carol@example.org', ['pills', 'minutes']), [['minutes', 1, 0], ['pills', 2, 0]]);
      assert.deepEqual(await bayes.scopes(), ['', 'bob@example.org', 'carol@example.org']);

      // Digests alone create the scope's database without counts; a bad class is refused.
      await bayes.importDigests('dave@example.org', [{ digest: 'd1', kind: 'ham' }]);
      assert.equal(await bayes.learn('dave@example.org', message('d1', 'ham', ['x'])), 'already');
      await assert.rejects(bayes.importDigests('dave@example.org', [{ digest: 'd2', kind: 'junk' as 'ham' }]), /spam or ham/);
      await bayes.importDigests('dave@example.org', []);
    }));

  test('bayes: maintenance expires tokens not learned for bayesTokenMaxAge, and the old digests with them', () =>
    backend.with(async ({ store, peer }) => {
      const bayes = store.bayes;
      await bayes.learn('', message('old', 'spam', ['stale', 'shared'], { now: NOW }));
      await bayes.learn('', message('new', 'ham', ['shared', 'fresh'], { now: NOW + 10 * DAY }));
      const OLD_TOKENS = 2500;
      await bayes.importCounts('bob@example.org', Array.from({ length: OLD_TOKENS }, (_, i) => ({ token: `old${i}`, spam: 1, ham: 0, lastSeen: NOW })), { spam: 1, ham: 0 });
      await bayes.importCounts('bob@example.org', [{ token: 'recent', spam: 2, ham: 0, lastSeen: NOW + 10 * DAY }], { spam: 0, ham: 0 });
      const daemon = peer();
      assert.deepEqual(await lookup(daemon, '', ['stale', 'shared', 'fresh']), [['fresh', 0, 1], ['shared', 1, 1], ['stale', 1, 0]], 'looked up before the expiry');

      assert.equal((await store.maintenance(limits(NOW + 20 * DAY))).expiredBayesTokens, 0, 'no maximum age: nothing expires');
      const report = await store.maintenance(limits(NOW + 20 * DAY, 15 * DAY));
      assert.equal(report.expiredBayesTokens, OLD_TOKENS + 1, 'stale and the old imported tokens');
      assert.deepEqual(await lookup(daemon, '', ['stale', 'shared', 'fresh']), [['fresh', 0, 1], ['shared', 1, 1]], 'a peer does not keep what expired');
      assert.deepEqual(await bayes.counts(''), { spamMessages: 1, hamMessages: 1, tokens: 2 }, 'message counts stay');
      assert.deepEqual(await bayes.counts('bob@example.org'), { spamMessages: 1, hamMessages: 0, tokens: 1 });
      assert.equal(await bayes.learn('', message('old', 'spam', ['stale', 'shared'], { now: NOW + 20 * DAY })), 'learned', 'its digest expired with its tokens');
      assert.equal(await bayes.learn('', message('new', 'ham', ['shared', 'fresh'], { now: NOW + 20 * DAY })), 'already');
      assert.equal((await store.maintenance(limits(NOW + 20 * DAY, 15 * DAY))).expiredBayesTokens, 0, 'nothing left to expire');
    }));
};
