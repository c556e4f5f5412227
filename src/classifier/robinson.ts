// The Bayesian classifier's mathematics, pure: Gary Robinson's token probability f(w) and Fisher's
// inverse chi-square combining of the most significant tokens, as bogofilter and SpamAssassin do it.
//
// For a token seen in b spam and g ham messages, out of B spam and G ham messages learned:
//   p(w) = (b/B) / (b/B + g/G)                  b and g capped at B and G; B and G taken as at least 1
//   f(w) = (s·x + n·p(w)) / (s + n)             n = b + g; s = robs, x = robx; f = x for a token never seen
// A token is significant when |f(w) − 0.5| > min_dev (strictly, as bogofilter); the max_tokens most
// significant are combined (equally significant ones in the order of `tokens`, so the result is
// deterministic: the tokenizer's order is):
//   H = C⁻¹(−2 Σ ln f(w), 2n)     S = C⁻¹(−2 Σ ln(1 − f(w)), 2n)     I = (1 + H − S) / 2
// where C⁻¹(χ², ν) is the chi-square survival function (the probability of a value at least χ² with ν
// degrees of freedom). H is near 0 when the tokens are hammy, S near 0 when they are spammy, so I is
// near 1 for spam, near 0 for ham, and near 0.5 when both or neither are strong (Robinson, "A
// Statistical Approach to the Spam Problem", Linux Journal 2003; bogofilter's P, Q and spamicity).
// Without any significant token there is no evidence: probability 0.5, verdict 'unsure'.
//
// I is a double, so past 1 - 1e-16 it is exactly 1 (and below 1e-16, 0): in the SpamAssassin
// corpus half the spam scores 1. The tails themselves do not saturate when kept in logs, so each
// classification also gives its evidence, log10(H) - log10(S): how many decimal orders of magnitude
// the ham tail exceeds the spam tail by, positive for spam, negative for ham, 0 for none. Among
// messages of equal probability it tells the barely certain from the overwhelming.

/** How many learned spam and ham messages held a token. */
export interface TokenCounts {
  spam: number;
  ham: number;
}

/** How many spam and ham messages the database learned. */
export interface ClassCounts {
  spamMessages: number;
  hamMessages: number;
}

/** The parameters, named as in the configuration's `bayes` section so that it can be passed as is. */
export interface ClassifierParams {
  /** Robinson's s: the weight of the prior x for rarely seen tokens (> 0). */
  robs: number;
  /** Robinson's x: the probability of a token never seen (0 < x < 1). */
  robx: number;
  /** Tokens with |f(w) − 0.5| at or below this are left out (0 ≤ min_dev < 0.5). */
  min_dev: number;
  /** At most this many of the most significant tokens are combined. */
  max_tokens: number;
  /** A probability at or above this is spam. */
  spam_cutoff: number;
  /** A probability at or below this is ham; between the cutoffs, unsure. */
  ham_cutoff: number;
  /** Spam and ham messages each that must have been learned before any verdict. */
  min_messages: number;
}

export type Verdict = 'spam' | 'ham' | 'unsure';

export interface SignificantToken {
  token: string;
  /** Robinson's f(w). */
  f: number;
}

export interface Classification {
  /** Robinson's indicator I, from 0 (ham) to 1 (spam). */
  probability: number;
  /** log10(H) - log10(S) (see the top of the file): positive for spam, negative for ham, 0 without significant tokens. */
  evidence: number;
  verdict: Verdict;
  /** The tokens combined, most significant first. */
  significantTokens: SignificantToken[];
}

/** The probability of no evidence either way. */
const EVEN_ODDS = 0.5;
/** Partial sums of the chi-square series are rescaled past 1e280 (doubles reach 1.8e308). */
const RESCALE_ABOVE = 1e280;
const LN_RESCALE = Math.log(RESCALE_ABOVE);

/**
 * The chi-square survival function Q(χ² | ν) for an even number ν of degrees of freedom:
 * e^(−m) · Σ_{i<ν/2} m^i / i!  with m = χ²/2 (the closed form Robinson uses).
 */
export function chi2Q(chiSquare: number, degreesOfFreedom: number): number {
  return Math.min(1, Math.exp(chi2LogQ(chiSquare, degreesOfFreedom)));
}

/** ln Q(χ² | ν), summed with rescaling so that it neither underflows nor overflows for large χ². */
export function chi2LogQ(chiSquare: number, degreesOfFreedom: number): number {
  if (!Number.isInteger(degreesOfFreedom) || degreesOfFreedom <= 0 || degreesOfFreedom % 2 !== 0) {
    throw new RangeError(`chi-square: degrees of freedom must be a positive even integer, got ${degreesOfFreedom}`);
  }
  if (chiSquare <= 0) return 0;
  const m = chiSquare / 2;
  let term = 1;
  let sum = 1;
  let logScale = 0;
  for (let i = 1; i < degreesOfFreedom / 2; i++) {
    term *= m / i;
    sum += term;
    if (sum > RESCALE_ABOVE) {
      sum /= RESCALE_ABOVE;
      term /= RESCALE_ABOVE;
      logScale += LN_RESCALE;
    }
  }
  return Math.min(0, Math.log(sum) + logScale - m);
}

/** Robinson's f(w) for a token with these counts (see the top of the file). */
export function tokenProbability(counts: TokenCounts | undefined, classes: ClassCounts, robs: number, robx: number): number {
  if (counts === undefined) return robx;
  const spamMessages = Math.max(1, classes.spamMessages);
  const hamMessages = Math.max(1, classes.hamMessages);
  const spam = Math.min(counts.spam, spamMessages);
  const ham = Math.min(counts.ham, hamMessages);
  const n = spam + ham;
  if (n <= 0) return robx;
  const spamRate = spam / spamMessages;
  const p = spamRate / (spamRate + ham / hamMessages);
  return (robs * robx + n * p) / (robs + n);
}

/** Robinson's indicator I = (1 + H - S) / 2 for these f(w) values (0.5 for none). */
export function combine(probabilities: readonly number[]): number {
  return combineWithEvidence(probabilities).probability;
}

/** I, and the evidence log10(H) - log10(S) (see the top of the file), for these f(w) values. */
export function combineWithEvidence(probabilities: readonly number[]): { probability: number; evidence: number } {
  if (probabilities.length === 0) return { probability: EVEN_ODDS, evidence: 0 };
  let sumLnF = 0;
  let sumLnOneMinusF = 0;
  for (const f of probabilities) {
    sumLnF += Math.log(f);
    sumLnOneMinusF += Math.log1p(-f);
  }
  const degreesOfFreedom = 2 * probabilities.length;
  const lnHamminess = chi2LogQ(-2 * sumLnF, degreesOfFreedom);
  const lnSpamminess = chi2LogQ(-2 * sumLnOneMinusF, degreesOfFreedom);
  return { probability: (1 + Math.exp(lnHamminess) - Math.exp(lnSpamminess)) / 2, evidence: (lnHamminess - lnSpamminess) / Math.LN10 };
}

/** Keys sorted by insertion before the merging starts: runs of 8. */
const INSERTION_RUN = 8;
/** orderByDescending()'s working arrays, kept from call to call (grown as needed): keys and indices, twice. */
let sortKeys = new Float64Array(256);
let sortKeysSpare = new Float64Array(256);
let sortIndices = new Int32Array(256);
let sortIndicesSpare = new Int32Array(256);

/**
 * The indices of `keys` ordered by key, greatest first, equal keys in index order: a stable sort
 * (insertion sort of short runs, then bottom-up merging), each key moved along with its index.
 * Array#sort with a comparator function cost a third of a classification (a call per comparison);
 * this is the same order for a tenth of that.
 */
export function orderByDescending(keys: readonly number[]): Int32Array {
  const length = keys.length;
  if (sortKeys.length < length) {
    const size = Math.max(length, sortKeys.length * 2);
    [sortKeys, sortKeysSpare, sortIndices, sortIndicesSpare] = [new Float64Array(size), new Float64Array(size), new Int32Array(size), new Int32Array(size)];
  }
  let fromKeys = sortKeys;
  let fromIndices = sortIndices;
  let toKeys = sortKeysSpare;
  let toIndices = sortIndicesSpare;
  for (let runStart = 0; runStart < length; runStart += INSERTION_RUN) {
    const runEnd = Math.min(runStart + INSERTION_RUN, length);
    for (let i = runStart; i < runEnd; i++) {
      const key = keys[i]!;
      let j = i;
      // Only a strictly greater key moves ahead: equal keys keep their order.
      while (j > runStart && fromKeys[j - 1]! < key) {
        fromKeys[j] = fromKeys[j - 1]!;
        fromIndices[j] = fromIndices[j - 1]!;
        j--;
      }
      fromKeys[j] = key;
      fromIndices[j] = i;
    }
  }
  for (let width = INSERTION_RUN; width < length; width *= 2) {
    for (let low = 0; low < length; low += 2 * width) {
      const middle = Math.min(low + width, length);
      const high = Math.min(low + 2 * width, length);
      let left = low;
      let right = middle;
      let out = low;
      while (left < middle && right < high) {
        // The right run's key goes first only when strictly greater: equal keys keep their order.
        // Chosen by arithmetic rather than a branch, which the random keys would mispredict half the time.
        const takeRight = +(fromKeys[right]! > fromKeys[left]!);
        const from = left + (right - left) * takeRight;
        toKeys[out] = fromKeys[from]!;
        toIndices[out++] = fromIndices[from]!;
        right += takeRight;
        left += 1 - takeRight;
      }
      while (left < middle) {
        toKeys[out] = fromKeys[left]!;
        toIndices[out++] = fromIndices[left++]!;
      }
      while (right < high) {
        toKeys[out] = fromKeys[right]!;
        toIndices[out++] = fromIndices[right++]!;
      }
    }
    [fromKeys, toKeys] = [toKeys, fromKeys];
    [fromIndices, toIndices] = [toIndices, fromIndices];
  }
  return fromIndices.slice(0, length);
}

/** The verdict for a probability: spam at or above spam_cutoff, ham at or below ham_cutoff, else unsure. */
export function verdictOf(probability: number, params: Pick<ClassifierParams, 'spam_cutoff' | 'ham_cutoff'>): Verdict {
  if (probability >= params.spam_cutoff) return 'spam';
  if (probability <= params.ham_cutoff) return 'ham';
  return 'unsure';
}

/**
 * Classifies a message from its distinct tokens and their counts (tokens never seen absent from
 * `counts`). Undefined (no verdict) until each class has min_messages learned messages. `hashes`,
 * when given, are the tokens' hashes as the tokenizer gives them (HashedTokens, two values per token):
 * a lookup that keeps its counts by hash (getByHash) is then read by them.
 */
export function classify(
  tokens: readonly string[],
  counts: { get(token: string): TokenCounts | undefined; getByHash?(high: number, low: number): TokenCounts | undefined },
  classes: ClassCounts,
  params: ClassifierParams,
  hashes?: ArrayLike<number>,
): Classification | undefined {
  if (classes.spamMessages < params.min_messages || classes.hamMessages < params.min_messages) return undefined;
  if (hashes !== undefined && hashes.length !== tokens.length * 2) throw new RangeError(`classify: ${hashes.length} hash values for ${tokens.length} tokens (two per token expected)`);
  // The tokenizer's hashes spare hashing every token again where the counts are kept by hash.
  const byHash = hashes !== undefined && counts.getByHash !== undefined;
  const { robs, robx, min_dev: minDev } = params;
  const unseenDeviation = Math.abs(robx - EVEN_ODDS);
  /** Position in `tokens` of each significant token, its f(w) and its deviation |f(w) − 0.5|. */
  const positions: number[] = [];
  const fs: number[] = [];
  const deviations: number[] = [];
  for (let position = 0; position < tokens.length; position++) {
    const found = byHash ? counts.getByHash!(hashes[2 * position]!, hashes[2 * position + 1]!) : counts.get(tokens[position]!);
    // A token never seen has f = robx: significant for all or for none, usually none.
    if (found === undefined && unseenDeviation <= minDev) continue;
    const f = tokenProbability(found, classes, robs, robx);
    const deviation = Math.abs(f - EVEN_ODDS);
    if (deviation > minDev) {
      positions.push(position);
      fs.push(f);
      deviations.push(deviation);
    }
  }
  // Most significant first; equally significant tokens stay in the message's order (a stable sort).
  const order = orderByDescending(deviations);
  const chosen: SignificantToken[] = [];
  const probabilities: number[] = [];
  const limit = Math.min(order.length, Math.max(0, Math.floor(params.max_tokens)));
  for (let i = 0; i < limit; i++) {
    const index = order[i]!;
    chosen.push({ token: tokens[positions[index]!]!, f: fs[index]! });
    probabilities.push(fs[index]!);
  }
  if (chosen.length === 0) return { probability: EVEN_ODDS, evidence: 0, verdict: 'unsure', significantTokens: [] };
  const { probability, evidence } = combineWithEvidence(probabilities);
  return { probability, evidence, verdict: verdictOf(probability, params), significantTokens: chosen };
}
