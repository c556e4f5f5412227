// Tuning on the training half only: k-fold cross-validation with in-memory token counts. Every
// training message is tokenized once; for each fold, the counts of the other folds (all counts minus
// the fold's own) classify the fold's messages through the real classifier (src/classifier/robinson.ts),
// so that every training message is scored once by a model that did not learn it. Parameter sets
// are then compared on those scores, and the test half is never looked at.
import { createHash } from 'node:crypto';
import { classify, type ClassifierParams, type TokenCounts } from '../../src/classifier/robinson.js';
import type { MessageClass } from './corpus.js';
import type { Scored } from './metrics.js';

export interface Example {
  id: string;
  kind: MessageClass;
  tokens: readonly string[];
}

/** A fold's messages with the counts they are classified against (learned from the other folds). */
interface PreparedFold {
  examples: Example[];
  counts: Map<string, TokenCounts>[];
  classes: { spamMessages: number; hamMessages: number };
}

export interface CrossValidation {
  folds: PreparedFold[];
}

/** The fold of a message: a hash of its id (and of the partition's seed), so that folds do not follow the corpus's order. */
function foldOf(id: string, folds: number, seed: number): number {
  return createHash('sha1').update(`${seed}:${id}`).digest().readUInt32BE(0) % folds;
}

/** Adds one to the counts of the example's class for each of its tokens. */
export function addCounts(table: Map<string, TokenCounts>, example: Example): void {
  for (const token of example.tokens) {
    let counts = table.get(token);
    if (counts === undefined) {
      counts = { spam: 0, ham: 0 };
      table.set(token, counts);
    }
    counts[example.kind]++;
  }
}

/**
 * Splits the examples into `folds` folds (a different partition for each `seed`) and computes, for
 * each message, the counts of its tokens without its own fold.
 */
export function prepareCrossValidation(examples: readonly Example[], folds: number, seed = 0): CrossValidation {
  const total = new Map<string, TokenCounts>();
  const byFold: Example[][] = Array.from({ length: folds }, () => []);
  for (const example of examples) {
    addCounts(total, example);
    byFold[foldOf(example.id, folds, seed)]!.push(example);
  }
  const totalSpam = examples.filter((e) => e.kind === 'spam').length;
  const totalHam = examples.length - totalSpam;
  return {
    folds: byFold.map((members) => {
      const own = new Map<string, TokenCounts>();
      for (const example of members) addCounts(own, example);
      const counts = members.map((example) => {
        const map = new Map<string, TokenCounts>();
        for (const token of example.tokens) {
          const all = total.get(token)!;
          const mine = own.get(token)!;
          if (all.spam - mine.spam + all.ham - mine.ham > 0) map.set(token, { spam: all.spam - mine.spam, ham: all.ham - mine.ham });
        }
        return map;
      });
      const foldSpam = members.filter((e) => e.kind === 'spam').length;
      return { examples: members, counts, classes: { spamMessages: totalSpam - foldSpam, hamMessages: totalHam - (members.length - foldSpam) } };
    }),
  };
}

/** Every training message scored once, with the counts learned from the other folds. */
export function crossValidate(validation: CrossValidation, params: ClassifierParams): Scored[] {
  const scored: Scored[] = [];
  for (const fold of validation.folds) {
    fold.examples.forEach((example, index) => {
      const result = classify(example.tokens, fold.counts[index]!, fold.classes, params);
      if (result === undefined) throw new Error('cross-validation: a fold has fewer than min_messages of a class');
      scored.push({ id: example.id, kind: example.kind, score: result.probability, evidence: result.evidence, verdict: result.verdict });
    });
  }
  return scored;
}
