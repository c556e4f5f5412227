// What a Bayes lookup found for the tokens asked, as a Map (BayesStore.lookup answers get() for
// those tokens only: it may be a view of a larger table), for tests to compare whole.
import type { TokenCounts, TokenCountsLookup } from '../../src/store/types.js';

export function foundCounts(lookup: TokenCountsLookup, tokens: readonly string[]): Map<string, TokenCounts> {
  const found = new Map<string, TokenCounts>();
  for (const token of tokens) {
    const counts = lookup.get(token);
    if (counts !== undefined) found.set(token, { spam: counts.spam, ham: counts.ham });
  }
  return found;
}
