// The classifier's mathematics against values computed by hand (in the comments): the chi-square
// survival function, Robinson's f(w), Fisher's combining of three tokens, the selection of
// significant tokens, the verdicts at the cutoffs, and the edge cases (no tokens, only neutral or
// unseen tokens, too few learned messages).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chi2LogQ, chi2Q, classify, combine, combineWithEvidence, orderByDescending, tokenProbability, verdictOf, type ClassifierParams, type TokenCounts } from './robinson.js';

/** bogofilter's defaults, with max_tokens and min_messages as in the configuration's schema. */
const BOGOFILTER: ClassifierParams = { robs: 0.0178, robx: 0.52, min_dev: 0.375, max_tokens: 150, spam_cutoff: 0.99, ham_cutoff: 0.45, min_messages: 200 };
const TRAINED = { spamMessages: 1000, hamMessages: 1000 };

const near = (actual: number, expected: number, tolerance = 1e-12, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} is not within ${tolerance} of ${expected}`);

test('chi2Q: the closed form for even degrees of freedom', () => {
  // ν = 2: Q = e^(−χ²/2); χ² = 2 gives e^−1.
  near(chi2Q(2, 2), Math.exp(-1));
  near(chi2Q(2, 2), 0.36787944117144233);
  // ν = 4, χ² = 4: m = 2, Q = e^−2 (1 + 2) = 3e^−2 = 0.40600584970983811.
  near(chi2Q(4, 4), 0.40600584970983811);
  // ν = 6, χ² = 6: m = 3, Q = e^−3 (1 + 3 + 9/2) = 8.5e^−3 = 0.42319008112684353.
  near(chi2Q(6, 6), 0.42319008112684353);
  // No deviation at all: Q = 1, whatever ν.
  assert.equal(chi2Q(0, 10), 1);
  // A very large χ² for its ν: as good as 0; a small one: close to 1.
  assert.ok(chi2Q(1000, 2) < 1e-200);
  assert.ok(chi2Q(0.001, 300) > 0.999999);
});

test('chi2Q does not underflow where e^(−m) alone would (m > 745)', () => {
  // m = 850, ν = 600: e^−850 is below the smallest double, the sum is not. Reference computed here
  // independently, in logarithms: ln Q = logsumexp over i < 300 of (−m + i ln m − ln i!).
  const m = 850;
  const half = 300;
  const logTerms: number[] = [];
  let logFactorial = 0;
  for (let i = 0; i < half; i++) {
    if (i > 0) logFactorial += Math.log(i);
    logTerms.push(-m + i * Math.log(m) - logFactorial);
  }
  const top = Math.max(...logTerms);
  const logQ = top + Math.log(logTerms.reduce((sum, t) => sum + Math.exp(t - top), 0));
  const q = chi2Q(2 * m, 2 * half);
  assert.ok(q > 0, 'not rounded to 0');
  near(Math.log(q), logQ, 1e-9, 'ln Q');
});

test('chi2LogQ: ln Q, where Q itself rounds to 0 too', () => {
  // ν = 4, χ² = 4: ln(3e^−2) = ln 3 − 2.
  near(chi2LogQ(4, 4), Math.log(3) - 2);
  assert.equal(chi2LogQ(0, 10), 0);
  // ν = 2: ln Q = −χ²/2 exactly, for any χ², far past the smallest double (e^−745).
  near(chi2LogQ(4000, 2), -2000, 1e-9);
  assert.equal(chi2Q(4000, 2), 0);
});

test('evidence: where the probability is exactly 1 (or 0), the evidence still orders the messages', () => {
  const strong = Array(40).fill(0.99);
  const overwhelming = Array(80).fill(0.99);
  const a = combineWithEvidence(strong);
  const b = combineWithEvidence(overwhelming);
  assert.equal(a.probability, 1);
  assert.equal(b.probability, 1);
  assert.ok(a.evidence > 16 && b.evidence > a.evidence, `${a.evidence} < ${b.evidence}`);
  // The mirror image: the same strength of ham evidence, the opposite sign.
  const ham = combineWithEvidence(Array(40).fill(0.01));
  assert.equal(ham.probability, 0);
  near(ham.evidence, -a.evidence, 1e-9, 'symmetric');
  // Evenly balanced tokens, or none: no evidence either way.
  near(combineWithEvidence([0.9, 0.1]).evidence, 0, 1e-12, 'balanced');
  assert.deepEqual(combineWithEvidence([]), { probability: 0.5, evidence: 0 });
  // combine() is the probability of combineWithEvidence().
  assert.equal(combine([0.9, 0.8, 0.3]), combineWithEvidence([0.9, 0.8, 0.3]).probability);
});

test('chi2Q refuses odd or non-positive degrees of freedom', () => {
  assert.throws(() => chi2Q(1, 3), RangeError);
  assert.throws(() => chi2Q(1, 0), RangeError);
});

test("Robinson's f(w) from the token's and the classes' message counts", () => {
  const classes = { spamMessages: 10, hamMessages: 20 };
  // b = 3 of B = 10 spam, g = 1 of G = 20 ham: p = 0.3 / (0.3 + 0.05) = 6/7; n = 4;
  // with s = 1, x = 0.5: f = (0.5 + 4·6/7) / (1 + 4) = (55/14) / 5 = 11/14.
  near(tokenProbability({ spam: 3, ham: 1 }, classes, 1, 0.5), 11 / 14);
  // The same counts the other way round: p = (1/10) / (1/10 + 3/20) = 0.4; f = (0.5 + 1.6) / 5 = 0.42.
  near(tokenProbability({ spam: 1, ham: 3 }, classes, 1, 0.5), 0.42);
  // bogofilter's s and x, a token seen in one spam only: p = 1, f = (0.0178·0.52 + 1) / 1.0178 = 0.99160542346...
  near(tokenProbability({ spam: 1, ham: 0 }, classes, 0.0178, 0.52), 0.9916054234623697);
  // ...and in one ham only: f = 0.0178·0.52 / 1.0178 = 0.00909412458...
  near(tokenProbability({ spam: 0, ham: 1 }, classes, 0.0178, 0.52), (0.0178 * 0.52) / 1.0178);
  // A token never seen, or with no counts left: f = x.
  assert.equal(tokenProbability(undefined, classes, 0.0178, 0.52), 0.52);
  assert.equal(tokenProbability({ spam: 0, ham: 0 }, classes, 0.0178, 0.52), 0.52);
  // Counts above the class's message count are capped at it (bogofilter does the same):
  // b = min(15, 10) = 10, g = 0: p = 1, n = 10, f = (0.5 + 10) / 11.
  near(tokenProbability({ spam: 15, ham: 0 }, classes, 1, 0.5), 10.5 / 11);
  // No message learned yet: the class counts are taken as 1 (no division by 0).
  near(tokenProbability({ spam: 1, ham: 1 }, { spamMessages: 0, hamMessages: 0 }, 1, 0.5), 0.5);
});

test("Fisher's combining of three tokens: I = (1 + H − S) / 2", () => {
  // f = 0.9, 0.8, 0.1. H: −2 Σ ln f = −2 ln(0.072) = 5.26218, ν = 6, m = −ln 0.072 = 2.63109:
  //   H = e^−m (1 + m + m²/2) = 0.072 × (1 + 2.63109 + 3.46132) = 0.072 × 7.09241 = 0.510653.
  // S: −2 Σ ln(1 − f) = −2 ln(0.1 · 0.2 · 0.9) = −2 ln(0.018), m = 4.01738:
  //   S = 0.018 × (1 + 4.01738 + 8.06968) = 0.018 × 13.08707 = 0.235567.
  // I = (1 + 0.510653 − 0.235567) / 2 = 0.637543.
  const m = -Math.log(0.072);
  const h = 0.072 * (1 + m + (m * m) / 2);
  const n = -Math.log(0.018);
  const s = 0.018 * (1 + n + (n * n) / 2);
  near(h, 0.510653, 1e-6);
  near(s, 0.235567, 1e-6);
  near(combine([0.9, 0.8, 0.1]), (1 + h - s) / 2);
  near(combine([0.9, 0.8, 0.1]), 0.637543, 1e-6);
  // The order of the tokens does not matter.
  near(combine([0.1, 0.9, 0.8]), combine([0.9, 0.8, 0.1]));
  // Symmetry: the mirrored tokens give the mirrored indicator.
  near(combine([0.1, 0.2, 0.9]), 1 - combine([0.9, 0.8, 0.1]));
  // Evidence equally strong both ways, or no evidence at all: 0.5.
  near(combine([0.99, 0.01]), 0.5);
  assert.equal(combine([]), 0.5);
});

test('classify: the most significant tokens decide, and the verdict follows the cutoffs', () => {
  const counts = new Map<string, TokenCounts>([
    ['viagra', { spam: 300, ham: 0 }],
    ['winner', { spam: 200, ham: 2 }],
    ['meeting', { spam: 1, ham: 400 }],
    ['the', { spam: 900, ham: 900 }],
  ]);
  const spammy = classify(['viagra', 'winner', 'the', 'unseen'], counts, TRAINED, BOGOFILTER)!;
  assert.equal(spammy.verdict, 'spam');
  assert.ok(spammy.probability > 0.99, String(spammy.probability));
  // "the" (f = 0.5) and the unseen token (f = robx = 0.52) are within min_dev of 0.5: left out.
  assert.deepEqual(spammy.significantTokens.map((s) => s.token), ['viagra', 'winner']);
  near(spammy.significantTokens[0]!.f, tokenProbability({ spam: 300, ham: 0 }, TRAINED, 0.0178, 0.52));

  const hammy = classify(['meeting', 'the'], counts, TRAINED, BOGOFILTER)!;
  assert.equal(hammy.verdict, 'ham');
  assert.ok(hammy.probability < 0.01, String(hammy.probability));

  // One strong token each way (with x = 0.5 their f(w) mirror each other): I = 0.5, unsure at the default cutoffs.
  const mixed = classify(['viagra', 'meeting'], new Map([['viagra', { spam: 10, ham: 0 }], ['meeting', { spam: 0, ham: 10 }]]), TRAINED, { ...BOGOFILTER, robx: 0.5 })!;
  near(mixed.probability, 0.5);
  assert.equal(mixed.verdict, 'unsure');
});

test('classify combines the same values as combine() over the chosen f(w)', () => {
  const counts = new Map<string, TokenCounts>([
    ['a', { spam: 30, ham: 1 }],
    ['b', { spam: 5, ham: 40 }],
    ['c', { spam: 60, ham: 2 }],
  ]);
  const params = { ...BOGOFILTER, robs: 1, robx: 0.5, min_dev: 0.1 };
  const result = classify(['a', 'b', 'c'], counts, TRAINED, params)!;
  const fs = ['a', 'b', 'c'].map((t) => tokenProbability(counts.get(t), TRAINED, 1, 0.5));
  near(result.probability, combine(fs));
  // f = (0.5 + n·p) / (1 + n): c = 60.5/63 ≈ 0.960, a = 30.5/32 ≈ 0.953, b = 5.5/46 ≈ 0.120; most significant first.
  assert.deepEqual(result.significantTokens.map((s) => s.token), ['c', 'a', 'b']);
});

test('classify keeps at most max_tokens, the most significant, ties in the message order', () => {
  const counts = new Map<string, TokenCounts>([
    ['weak', { spam: 2, ham: 1 }],
    ['strong', { spam: 500, ham: 0 }],
    ['tie1', { spam: 0, ham: 50 }],
    ['tie2', { spam: 0, ham: 50 }],
  ]);
  const params = { ...BOGOFILTER, min_dev: 0.1, max_tokens: 2 };
  const result = classify(['weak', 'tie2', 'strong', 'tie1'], counts, TRAINED, params)!;
  assert.equal(result.significantTokens.length, 2);
  // strong: f = (0.009256 + 500) / 500.0178 ≈ 0.999983; tie1 and tie2: f = 0.009256 / 50.0178 ≈ 0.000185 each
  // (deviation 0.499815 < 0.499983); weak: f ≈ 0.666. tie2 comes first in the message.
  assert.deepEqual(result.significantTokens.map((s) => s.token), ['strong', 'tie2']);
  assert.deepEqual(classify(['weak', 'tie2', 'strong', 'tie1'], counts, TRAINED, params), result, 'deterministic');
});

test('classify reads the counts by the given hashes where the lookup keeps them by hash, and only there', () => {
  const counts = new Map<string, TokenCounts>([
    ['viagra', { spam: 300, ham: 0 }],
    ['meeting', { spam: 1, ham: 400 }],
  ]);
  const tokens = ['viagra', 'meeting', 'unseen'];
  // A stand-in keyed by "high:low", with hashes that are not those of the strings: only getByHash can find them.
  const byHash = new Map<string, TokenCounts>([
    ['1:2', counts.get('viagra')!],
    ['3:4', counts.get('meeting')!],
  ]);
  const hashes = [1, 2, 3, 4, 5, 6];
  const lookup = { get: (): TokenCounts | undefined => undefined, getByHash: (high: number, low: number) => byHash.get(`${high}:${low}`) };
  const expected = classify(tokens, counts, TRAINED, BOGOFILTER)!;
  assert.deepEqual(classify(tokens, lookup, TRAINED, BOGOFILTER, hashes), expected);
  // Without hashes, or from a lookup without getByHash, the tokens themselves are looked up.
  assert.equal(classify(tokens, lookup, TRAINED, BOGOFILTER)!.significantTokens.length, 0);
  assert.deepEqual(classify(tokens, counts, TRAINED, BOGOFILTER, hashes), expected);
  assert.throws(() => classify(tokens, lookup, TRAINED, BOGOFILTER, hashes.slice(0, 4)), RangeError);
});

test('classify: edge cases', () => {
  const counts = new Map<string, TokenCounts>([['the', { spam: 500, ham: 500 }]]);
  // No tokens at all, only neutral tokens, only tokens never seen: no evidence, unsure.
  for (const tokens of [[], ['the'], ['never', 'seen']]) {
    assert.deepEqual(classify(tokens, counts, TRAINED, BOGOFILTER), { probability: 0.5, evidence: 0, verdict: 'unsure', significantTokens: [] }, JSON.stringify(tokens));
  }
  // With a robx far from 0.5, tokens never seen do count (f = robx).
  const unseen = classify(['never', 'seen'], counts, TRAINED, { ...BOGOFILTER, robx: 0.95, min_dev: 0.3 })!;
  assert.deepEqual(unseen.significantTokens, [{ token: 'never', f: 0.95 }, { token: 'seen', f: 0.95 }]);
  near(unseen.probability, combine([0.95, 0.95]));
  // Below min_messages of either class: no verdict at all.
  assert.equal(classify(['the'], counts, { spamMessages: 199, hamMessages: 5000 }, BOGOFILTER), undefined);
  assert.equal(classify(['the'], counts, { spamMessages: 5000, hamMessages: 199 }, BOGOFILTER), undefined);
  assert.ok(classify(['the'], counts, { spamMessages: 200, hamMessages: 200 }, BOGOFILTER));
});

test('verdicts: spam at or above spam_cutoff, ham at or below ham_cutoff, unsure between', () => {
  const cutoffs = { spam_cutoff: 0.99, ham_cutoff: 0.45 };
  assert.equal(verdictOf(0.99, cutoffs), 'spam');
  assert.equal(verdictOf(1, cutoffs), 'spam');
  assert.equal(verdictOf(0.9899, cutoffs), 'unsure');
  assert.equal(verdictOf(0.5, cutoffs), 'unsure');
  assert.equal(verdictOf(0.4501, cutoffs), 'unsure');
  assert.equal(verdictOf(0.45, cutoffs), 'ham');
  assert.equal(verdictOf(0, cutoffs), 'ham');
});

test('orderByDescending: greatest first, equal keys in index order, as a stable sort gives', () => {
  let seed = 7;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (const length of [0, 1, 2, 3, 5, 8, 31, 64, 65, 150, 1000]) {
    for (const distinct of [2, 10, 1000]) {
      // Few distinct values: long runs of ties, which must keep their index order.
      const keys = Array.from({ length }, () => Math.floor(random() * distinct) / distinct);
      const expected = Array.from(keys.keys()).sort((a, b) => keys[b]! - keys[a]!);
      assert.deepEqual([...orderByDescending(keys)], expected, `${length} keys, ${distinct} distinct`);
    }
  }
});

test('orderByDescending returns an array of its own, which a later call leaves as it was', () => {
  const first = orderByDescending([0.1, 0.3, 0.2]);
  orderByDescending([0.9, 0.8, 0.7, 0.6, 0.5]);
  assert.deepEqual([...first], [1, 2, 0]);
});
