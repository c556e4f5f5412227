// `rempart bayes stats [--for RECIPIENT] [--json]`: what the Bayesian filter's databases hold: the
// spam and ham messages learned and the distinct tokens, for the global database and each
// recipient's own (`rempart learn --for`), or for one of them with --for; with --url, those of a
// running daemon (GET /api/bayes).
import { openCommandStore } from '../store/open.js';
import { configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { scopeName, scopeOption } from './learn.js';
import { remoteFrom, remoteOptions } from './remote.js';
import { remoteStore, type CommandStore } from './remote-store.js';

export const bayesUsage = `rempart bayes stats [--for RECIPIENT] [--json]
                                         messages learned and tokens, per database (global, per recipient)`;

export async function bayes(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'stats') throw new UsageError(`unknown bayes command ${JSON.stringify(sub ?? '')}\n${bayesUsage}`);
  const { values, positionals } = parseCommandArgs(rest, { ...configOption, ...remoteOptions, for: { type: 'string' }, json: { type: 'boolean' } }, true);
  if (positionals.length > 0) throw new UsageError(`bayes stats takes no arguments but options\n${bayesUsage}`);
  const only = values.for === undefined ? undefined : scopeOption(values.for);
  const remote = remoteFrom(values);
  const store: CommandStore = remote ? remoteStore(remote) : openCommandStore(loadConfigOrExit(values.config).config.store);
  try {
    const scopes = only !== undefined ? [only] : await store.bayes.scopes();
    if (scopes.length === 0) scopes.push(''); // a fresh store: show the empty global database
    const rows = await Promise.all(scopes.map(async (scope) => ({ scope, ...(await store.bayes.counts(scope)) })));
    if (values.json) {
      for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
      return 0;
    }
    const table = [['database', 'spam', 'ham', 'tokens'], ...rows.map((r) => [scopeName(r.scope), String(r.spamMessages), String(r.hamMessages), String(r.tokens)])];
    const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
    for (const line of table) {
      process.stdout.write(`${line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
