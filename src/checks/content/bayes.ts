// The Bayesian classifier at the end of the message: the message's tokens (src/classifier/
// tokenizer.ts) looked up in the token database (the recipient's own with bayes.per_user, when the
// message has that one recipient and the database has learned enough, else the global one) and
// combined (src/classifier/robinson.ts) into a probability. Spam gives BAYES_SPAM, ham BAYES_HAM,
// each scored in proportion to how sure the classifier is; the probability goes into the header
// X-Spam-Bayes and the decision's facts. No opinion until each class has bayes.min_messages
// learned messages. With bayes.auto_learn, the scorer's clear cases are learned afterwards (the
// total without the Bayes symbols at or above auto_learn.spam_score: spam; at or below
// auto_learn.ham_score: ham), never a message a check decided (a verdict, an allow list) nor one
// the scan cut short.
import type { Config } from '../../config/schema.js';
import type { CheckDescriptor, CheckOutcome, SymbolHit } from '../../core/check.js';
import type { Logger } from '../../core/log.js';
import type { Decision } from '../../core/pipeline.js';
import type { Task } from '../../core/task.js';
import { messageDigest } from '../../scan/message-digest.js';
import { memo, type ParsedMessage } from '../../core/message.js';
import { classify, type Classification } from '../../classifier/robinson.js';
import { tokenizeHashed, type HashedTokens } from '../../classifier/tokenizer.js';
import type { BayesClass, BayesCounts, BayesStore } from '../../store/types.js';

/** Digits of the probability in the header and the facts. */
const PROBABILITY_DIGITS = 4;

/** The database a message is judged with: '' (global) or its one recipient's own. */
async function scopeFor(recipients: readonly string[], settings: Config['bayes'], bayes: BayesStore): Promise<{ scope: string; counts: BayesCounts }> {
  if (settings.per_user && recipients.length === 1) {
    const scope = recipients[0]!.toLowerCase();
    const counts = await bayes.counts(scope);
    if (counts.spamMessages >= settings.min_messages && counts.hamMessages >= settings.min_messages) return { scope, counts };
  }
  return { scope: '', counts: await bayes.counts('') };
}

/**
 * The score of a verdict, in proportion to the classifier's certainty: half the configured score
 * at the cutoff, all of it at probability 1 (spam) or 0 (ham).
 */
export function bayesSymbol(result: Pick<Classification, 'probability' | 'verdict'>, settings: Config['bayes']): SymbolHit | undefined {
  const p = result.probability;
  const shown = p.toFixed(PROBABILITY_DIGITS);
  if (result.verdict === 'spam') {
    const certainty = (p - settings.spam_cutoff) / (1 - settings.spam_cutoff);
    return { name: 'BAYES_SPAM', score: round(settings.spam_score * (0.5 + 0.5 * certainty)), description: `Bayesian spam probability ${shown} (spam at ${settings.spam_cutoff})` };
  }
  if (result.verdict === 'ham') {
    const certainty = (settings.ham_cutoff - p) / settings.ham_cutoff;
    return { name: 'BAYES_HAM', score: round(settings.ham_score * (0.5 + 0.5 * certainty)), description: `Bayesian spam probability ${shown} (ham at ${settings.ham_cutoff})` };
  }
  return undefined;
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** The message's Bayes tokens and their hashes, tokenized once for classifying and auto-learning. */
const tokensOf = (message: ParsedMessage): HashedTokens => memo(message, 'bayes-tokens', () => tokenizeHashed(message));

/** The class auto-learning gives a decision, or undefined when it is not a clear case. */
export function autoLearnClass(decision: Decision, settings: Config['bayes']['auto_learn']): BayesClass | undefined {
  // A check's verdict or an allow-list entry decided, not the score: nothing to learn from.
  if (decision.decidedBy !== '') return undefined;
  const score = decision.symbols.filter((s) => !s.name.startsWith('BAYES_')).reduce((sum, s) => sum + s.score, 0);
  if (score >= settings.spam_score) return 'spam';
  if (score <= settings.ham_score) return 'ham';
  return undefined;
}

/** Learns a message the scorer was sure of, into the global database (and the recipient's own with per_user). */
async function autoLearn(task: Task, decision: Decision, settings: Config['bayes'], bayes: BayesStore, log: Logger): Promise<void> {
  const message = task.message;
  if (!message || !task.raw || message.truncated) return;
  const kind = autoLearnClass(decision, settings.auto_learn);
  if (!kind) return;
  const input = { digest: messageDigest(task.raw), kind, tokens: tokensOf(message).tokens, now: Math.floor(task.startedMs / 1000) };
  const scopes = [''];
  if (settings.per_user && task.envelope.recipients.length === 1) scopes.push(task.envelope.recipients[0]!.toLowerCase());
  for (const scope of scopes) {
    const outcome = await bayes.learn(scope, input);
    log.info({ class: kind, outcome, database: scope || 'global', score: round(decision.score) }, 'Bayes auto-learned a message');
  }
}

export const bayesCheck: CheckDescriptor = {
  name: 'bayes',
  stages: ['eom'],
  timeoutMs: 5_000,
  create: ({ config, store, log }) => {
    const settings = config.bayes;
    if (!settings.enabled) return undefined;
    return {
      timeoutMs: config.store.timeout * 1000 + 1_000,
      evaluate: async (task): Promise<CheckOutcome | undefined> => {
        const message = task.message;
        if (!message) return undefined;
        const { scope, counts } = await scopeFor(task.envelope.recipients, settings, store.bayes);
        if (counts.spamMessages < settings.min_messages || counts.hamMessages < settings.min_messages) return undefined;
        const { tokens, hashes } = tokensOf(message);
        const result = classify(tokens, await store.bayes.lookup(scope, tokens), counts, settings, hashes);
        if (!result) return undefined;
        const probability = Number(result.probability.toFixed(PROBABILITY_DIGITS));
        const symbol = bayesSymbol(result, settings);
        return {
          ...(symbol ? { symbols: [symbol] } : {}),
          headers: [{ name: 'X-Spam-Bayes', value: result.probability.toFixed(PROBABILITY_DIGITS) }],
          facts: { bayes_probability: probability, bayes_evidence: Number(result.evidence.toFixed(1)), bayes_verdict: result.verdict, ...(scope ? { bayes_database: scope } : {}) },
        };
      },
      ...(settings.auto_learn.enabled ? { observe: (task: Task, decision: Decision) => autoLearn(task, decision, settings, store.bayes, log) } : {}),
    };
  },
};
