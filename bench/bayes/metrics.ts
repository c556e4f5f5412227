// Scores a classifier on labelled messages: errors and unsure messages from its verdicts, and the
// area above the ROC curve (1-ROCA, in percent) from its ranking of the messages: by score, equal
// scores by evidence when the tool gives it (Rempart does), or from the scores alone.
import type { MessageClass } from './corpus.js';

export type Verdict = 'spam' | 'ham' | 'unsure';

export interface Scored {
  /** The message (corpus group/file name). */
  id: string;
  kind: MessageClass;
  /** The classifier's spam probability, 0 to 1. */
  score: number;
  /**
   * Orders messages of equal score, when the tool gives it: Rempart's evidence (log10 of the ratio
   * of its two chi-square tails, src/classifier/robinson.ts), which keeps apart messages whose
   * probability rounds to exactly 1 or 0. Without it, equal scores tie.
   */
  evidence?: number;
  verdict: Verdict;
}

export interface Outcome {
  spam: number;
  ham: number;
  /** Ham at or above the spam cutoff. */
  hamAsSpam: number;
  /** Spam at or below the ham cutoff. */
  spamAsHam: number;
  unsureHam: number;
  unsureSpam: number;
  /** Area above the ROC curve, in percent (0 = perfect ranking), from the scores, equal ones ordered by evidence. */
  oneMinusRocaPercent: number;
  /** The same from the scores alone (evidence ignored). */
  oneMinusRocaScoresOnlyPercent: number;
}

export interface Cutoffs {
  spam: number;
  ham: number;
}

/** Tristate verdict as bogofilter gives it: spam at or above the spam cutoff, ham at or below the ham cutoff. */
export function verdictFor(score: number, cutoffs: Cutoffs): Verdict {
  return score >= cutoffs.spam ? 'spam' : score <= cutoffs.ham ? 'ham' : 'unsure';
}

/** Options of the ROC figures: `scoresOnly` ignores the evidence, so that equal scores tie. */
export interface RocOptions {
  scoresOnly?: boolean;
}

/**
 * Each message's place in the classifier's order (by score, equal scores by evidence): the same
 * place only when both are equal. The ROC figures below compare these places.
 */
function orderPlaces(scored: readonly Scored[], options: RocOptions): number[] {
  const evidence = (s: Scored): number => (options.scoresOnly ? 0 : (s.evidence ?? 0));
  const indexes = scored.map((_, index) => index);
  indexes.sort((a, b) => scored[a]!.score - scored[b]!.score || evidence(scored[a]!) - evidence(scored[b]!));
  const places = new Array<number>(scored.length);
  let place = 0;
  for (let i = 0; i < indexes.length; i++) {
    const current = scored[indexes[i]!]!;
    const previous = i > 0 ? scored[indexes[i - 1]!]! : undefined;
    if (previous && (previous.score !== current.score || evidence(previous) !== evidence(current))) place++;
    places[indexes[i]!] = place;
  }
  return places;
}

/**
 * 1 − the area under the ROC curve, in percent: the share of (spam, ham) pairs the classifier
 * orders wrongly, a tie counting half (the Mann-Whitney statistic), computed by sorting once.
 */
export function oneMinusRocaPercent(scored: readonly Scored[], options: RocOptions = {}): number {
  const places = orderPlaces(scored, options);
  const order = scored.map((s, index) => ({ kind: s.kind, place: places[index]! })).sort((a, b) => a.place - b.place);
  let spam = 0;
  for (const s of scored) if (s.kind === 'spam') spam++;
  const ham = scored.length - spam;
  if (spam === 0 || ham === 0) return Number.NaN;
  // For each group of equal places: pairs where the ham is placed higher than the spam, ties half.
  let wrongPairs = 0;
  let spamBelow = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    let groupSpam = 0;
    let groupHam = 0;
    while (j < order.length && order[j]!.place === order[i]!.place) {
      if (order[j]!.kind === 'spam') groupSpam++;
      else groupHam++;
      j++;
    }
    wrongPairs += groupHam * spamBelow + 0.5 * groupHam * groupSpam;
    spamBelow += groupSpam;
    i = j;
  }
  return (100 * wrongPairs) / (spam * ham);
}

/** Errors and unsure messages from the verdicts, 1-ROCA from the ranking (scores, equal ones by evidence) and from the scores alone. */
export function outcome(scored: readonly Scored[]): Outcome {
  const result: Outcome = { spam: 0, ham: 0, hamAsSpam: 0, spamAsHam: 0, unsureHam: 0, unsureSpam: 0, oneMinusRocaPercent: oneMinusRocaPercent(scored),
    oneMinusRocaScoresOnlyPercent: oneMinusRocaPercent(scored, { scoresOnly: true }),
  };
  for (const { kind, verdict } of scored) {
    if (kind === 'spam') {
      result.spam++;
      if (verdict === 'ham') result.spamAsHam++;
      else if (verdict === 'unsure') result.unsureSpam++;
    } else {
      result.ham++;
      if (verdict === 'spam') result.hamAsSpam++;
      else if (verdict === 'unsure') result.unsureHam++;
    }
  }
  return result;
}

/**
 * The largest share of 1-ROCA (in points of percent) that one spam, and one ham, accounts for: the
 * pairs it is ordered wrongly in (ties half). Shows how much a single message moves the figure.
 */
export function worstMessageShares(scored: readonly Scored[]): { spam: number; ham: number } {
  const places = orderPlaces(scored, {});
  const spam = places.filter((_, index) => scored[index]!.kind === 'spam').sort((a, b) => a - b);
  const ham = places.filter((_, index) => scored[index]!.kind === 'ham').sort((a, b) => a - b);
  if (spam.length === 0 || ham.length === 0) return { spam: Number.NaN, ham: Number.NaN };
  /** How many values of the sorted list are below `x`, and how many equal it. */
  const rank = (sorted: number[], x: number): { below: number; equal: number } => {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (sorted[mid]! < x) low = mid + 1;
      else high = mid;
    }
    let end = low;
    while (end < sorted.length && sorted[end] === x) end++;
    return { below: low, equal: end - low };
  };
  const pairs = spam.length * ham.length;
  let worstSpam = 0;
  for (const x of spam) {
    const { below, equal } = rank(ham, x);
    worstSpam = Math.max(worstSpam, ham.length - below - equal + equal / 2);
  }
  let worstHam = 0;
  for (const x of ham) {
    const { below, equal } = rank(spam, x);
    worstHam = Math.max(worstHam, below + equal / 2);
  }
  return { spam: (100 * worstSpam) / pairs, ham: (100 * worstHam) / pairs };
}
