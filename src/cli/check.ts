// `rempart check [--json] [--config FILE] FILE|DIR|- ...`: scans messages offline through the
// end-of-message pipeline and prints, per message, the action, the score and the symbols; with
// --json one object per line (DESIGN.md §3). Files, directories, maildirs and mboxes; "-" reads
// one message from standard input. Exit 0 when every message was scanned, 1 when some could not
// be read, 2 on a bad command line.
import type { Decision } from '../core/pipeline.js';
import { OfflineScanner } from '../scan/offline.js';
import { bayesOpinion, scanReport } from '../scan/report.js';
import { messagesFrom, totalBytes } from '../scan/sources.js';
import { configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { ProgressBar } from './progress.js';

export const checkUsage = 'rempart check [--json] FILE|DIR|- ...    scan messages offline, print action, score, symbols';

const round = (n: number): number => Math.round(n * 100) / 100;

/** The report line of DESIGN.md §3 for one message. */
export function jsonReport(file: string, decision: Decision): string {
  return JSON.stringify({ file, ...scanReport(decision) });
}

/** The readable report: a headline, then one line per symbol. */
export function textReport(file: string, decision: Decision, required: number): string {
  const bayes = bayesOpinion(decision);
  const lines = [`${file}: ${decision.action}, score ${round(decision.score)} (spam at ${required})${bayes ? `, Bayes ${bayes.verdict} (${bayes.probability})` : ''}`];
  if (decision.verdict) lines.push(`  reply: ${decision.verdict.reply.code} ${decision.verdict.reply.enhanced} ${decision.verdict.reply.text}`);
  const width = Math.max(0, ...decision.symbols.map((s) => s.name.length));
  for (const symbol of decision.symbols) lines.push(`  ${symbol.name.padEnd(width)} ${String(round(symbol.score)).padStart(6)}  ${symbol.description}`);
  if (decision.errors.length > 0) lines.push(`  errors: ${decision.errors.join(', ')}`);
  return lines.join('\n');
}

export async function check(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...configOption, json: { type: 'boolean' } }, true);
  if (positionals.length === 0) throw new UsageError('check: name at least one file, directory, mbox, or - for standard input');
  const { config } = loadConfigOrExit(values.config);
  const scanner = new OfflineScanner(config);
  const progress = new ProgressBar(totalBytes(positionals));
  let problems = 0;
  let scanned = 0;
  let bytes = 0;
  try {
    const messages = messagesFrom(positionals, ({ name, problem }) => {
      problems++;
      process.stderr.write(`rempart: ${name}: ${problem}\n`);
    });
    for await (const { name, raw } of messages) {
      const { decision } = await scanner.scan(raw);
      scanned++;
      bytes += raw.length;
      progress.done();
      process.stdout.write(`${values.json ? jsonReport(name, decision) : textReport(name, decision, config.actions.add_header)}\n`);
      progress.update(bytes, scanned);
    }
  } finally {
    progress.done();
    await scanner.close();
  }
  return problems > 0 ? 1 : 0;
}
