// The result of a scan as `rempart check --json` prints it and POST /api/check answers it
// (DESIGN.md §3): action, score, symbols, the reply of a verdict, and the classifier's opinion.
import type { Decision } from '../core/pipeline.js';

const round = (n: number): number => Math.round(n * 100) / 100;

export interface ScanReport {
  action: Decision['action'];
  score: number;
  symbols: { name: string; score: number; description: string }[];
  reply?: string;
  bayes?: { probability: number; verdict: string };
}

/** The classifier's opinion, when it gave one (facts bayes_probability and bayes_verdict of the bayes check). */
export function bayesOpinion(decision: Decision): { probability: number; verdict: string } | undefined {
  const probability = decision.facts.bayes_probability;
  const verdict = decision.facts.bayes_verdict;
  return typeof probability === 'number' && typeof verdict === 'string' ? { probability, verdict } : undefined;
}

export function scanReport(decision: Decision): ScanReport {
  const bayes = bayesOpinion(decision);
  return {
    action: decision.action,
    score: round(decision.score),
    symbols: decision.symbols.map((s) => ({ name: s.name, score: round(s.score), description: s.description })),
    ...(decision.verdict ? { reply: `${decision.verdict.reply.code} ${decision.verdict.reply.enhanced} ${decision.verdict.reply.text}` } : {}),
    ...(bayes ? { bayes } : {}),
  };
}
