// Robustness of the Bayes benchmark's findings across other halvings of the corpus (run on demand,
// not a test). The benchmark (run.ts) splits the corpus by the first hex digit of each message's
// md5; a choice of defaults made while looking at that test half could fit it by chance. Here each
// split d uses digit d of the md5 instead (its parity: even = training), which gives independent
// halvings. On each split: the parameters are tuned by cross-validation on its training half alone
// (tune.ts) under each cost weight given, then the test half is classified with the configuration's
// defaults, with each tuned set, and with any fixed set given, all learned from the same training half
// with in-memory counts (as the store counts: one per distinct token, duplicates learned once), and
// by bogofilter at its defaults. Prints one table per split and the totals, and with --write puts
// them in docs/benchmarks.md between markers.
// Run: npm run bench:bayes-splits [-- --help]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { classify, type ClassifierParams, type TokenCounts } from '../../src/classifier/robinson.js';
import { tokenize } from '../../src/classifier/tokenizer.js';
import { parseMessage } from '../../src/mime/parse.js';
import { messageDigest } from '../../src/scan/message-digest.js';
import { revision, writeSection } from '../report.js';
import { bogofilterClassify, bogofilterCutoffs, bogofilterLearn, bogofilterParameters, bogofilterVersion } from './bogofilter.js';
import { halfOf, loadCorpus, type CorpusMessage } from './corpus.js';
import { configDefaults } from './defaults.js';
import { addCounts, prepareCrossValidation, type Example } from './cross-validation.js';
import { outcome, verdictFor, type Outcome, type Scored } from './metrics.js';
import { COST, DEFAULT_GRID, tuneForEach, type CostWeights } from './tune.js';
import { writeSplit } from './split-files.js';

const usage = `npm run bench:bayes-splits -- [options]

  --digits LIST            md5 digits that split the corpus, e.g. 0,1,2 or 0-31 (default 0,1,2,3,4,5; 0 is the benchmark's own split)
  --costs LIST|none        the ham-marked-spam cost weights to tune with (default 10,100; none: no tuning)
  --fixed NAME:KEY=V;...   also classify with a fixed parameter set over the defaults (repeatable), e.g.
                           --fixed "proposed:robs=0.3;min_dev=0.45;spam_cutoff=0.999"
  --folds N                folds of the cross-validation (default 5)
  --no-bogofilter          do not run bogofilter
  --write                  put the tables in docs/benchmarks.md (default: print only)
  --help                   this text
`;

const MARK_START = '<!-- bench:bayes-splits:start -->';
const MARK_END = '<!-- bench:bayes-splits:end -->';
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** A split marking more than this share of its test ham as spam misses the benchmark's target (0.1 %). */
const TARGET_HAM_AS_SPAM_SHARE = 0.001;
/** Splits shown as a table each in the document; more are shown one row per split and classifier. */
const MAX_SPLIT_TABLES = 8;
const TUNABLE = ['robs', 'robx', 'min_dev', 'max_tokens', 'spam_cutoff', 'ham_cutoff'] as const;

interface Plan {
  digits: number[];
  costs: number[];
  fixed: Array<{ name: string; overrides: Partial<ClassifierParams> }>;
  folds: number;
  bogofilter: boolean;
  write: boolean;
  argv: string[];
}

function parsePlan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      digits: { type: 'string', default: '0,1,2,3,4,5' },
      costs: { type: 'string', default: '10,100' },
      fixed: { type: 'string', multiple: true, default: [] },
      folds: { type: 'string', default: '5' },
      'no-bogofilter': { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const numbers = (name: string, text: string, valid: (n: number) => boolean): number[] =>
    text.split(',').flatMap((part) => {
      const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
      if (range && Number(range[2]) - Number(range[1]) > 1000) throw new Error(`--${name}: range too long: ${part}`);
      const values = range ? Array.from({ length: Math.max(0, Number(range[2]) - Number(range[1]) + 1) }, (_, i) => Number(range[1]) + i) : [Number(part.trim())];
      if (part.trim() === '' || values.length === 0 || !values.every(valid)) throw new Error(`--${name}: unexpected value ${JSON.stringify(part)}`);
      return values;
    });
  const single = (name: string, list: number[]): number => {
    if (list.length !== 1) throw new Error(`--${name}: expected one number`);
    return list[0]!;
  };
  const fixed = values.fixed.map((spec) => {
    const colon = spec.indexOf(':');
    if (colon <= 0) throw new Error(`--fixed: expected NAME:KEY=VALUE;..., got ${spec}`);
    const overrides: Partial<ClassifierParams> = {};
    for (const pair of spec.slice(colon + 1).split(';').filter((p) => p.trim() !== '')) {
      const [key, value] = pair.split('=').map((s) => s.trim());
      if (!(TUNABLE as readonly string[]).includes(key ?? '') || value === undefined || !Number.isFinite(Number(value))) {
        throw new Error(`--fixed: expected KEY=NUMBER with KEY one of ${TUNABLE.join(', ')}, got ${pair}`);
      }
      overrides[key as (typeof TUNABLE)[number]] = Number(value);
    }
    return { name: spec.slice(0, colon), overrides };
  });
  return {
    digits: [...new Set(numbers('digits', values.digits, (n) => Number.isInteger(n) && n >= 0 && n < 32))],
    costs: values.costs.trim() === 'none' ? [] : numbers('costs', values.costs, (n) => Number.isFinite(n) && n > 0),
    fixed,
    folds: single('folds', numbers('folds', values.folds, (n) => Number.isInteger(n) && n >= 2)),
    bogofilter: !values['no-bogofilter'],
    write: values.write,
    argv,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench:bayes-splits] ${message}\n`);
}

/** Whether a message is for training in split `digit` (corpus.ts halfOf). */
function isTraining(message: CorpusMessage, digit: number): boolean {
  return halfOf(message.id.slice(message.group.length + 1), digit) === 'train';
}

interface Prepared extends Example {
  digest: string;
  message: CorpusMessage;
}

/** Counts learned from these messages as the store learns them: one per distinct token, a digest learned once. */
function learn(examples: readonly Prepared[]): { counts: Map<string, TokenCounts>; classes: { spamMessages: number; hamMessages: number } } {
  const counts = new Map<string, TokenCounts>();
  const seen = new Set<string>();
  const classes = { spamMessages: 0, hamMessages: 0 };
  for (const example of examples) {
    if (seen.has(example.digest)) continue;
    seen.add(example.digest);
    if (example.kind === 'spam') classes.spamMessages++;
    else classes.hamMessages++;
    addCounts(counts, example);
  }
  return { counts, classes };
}

function classifyAll(test: readonly Prepared[], model: ReturnType<typeof learn>, params: ClassifierParams): Outcome {
  const scored: Scored[] = test.map((example) => {
    const result = classify(example.tokens, model.counts, model.classes, params);
    if (result === undefined) throw new Error('splits: the training half has fewer than min_messages of a class');
    return { id: example.id, kind: example.kind, score: result.probability, evidence: result.evidence, verdict: result.verdict };
  });
  return outcome(scored);
}

interface Row {
  name: string;
  params?: ClassifierParams;
  outcome: Outcome;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function paramsText(p: ClassifierParams): string {
  return `robs ${p.robs}, robx ${p.robx}, min_dev ${p.min_dev}, max_tokens ${p.max_tokens}, cutoffs ${p.ham_cutoff}/${p.spam_cutoff}`;
}

async function main(): Promise<void> {
  const plan = parsePlan(process.argv.slice(2));
  const defaults = configDefaults();
  const bogofilter = plan.bogofilter ? bogofilterVersion() : undefined;
  if (plan.bogofilter && bogofilter === undefined) throw new Error('bogofilter is not installed (apt-get install bogofilter), or pass --no-bogofilter');
  log('loading and tokenizing the corpus');
  const corpus = loadCorpus();
  const prepared: Prepared[] = [];
  for (const message of corpus) {
    prepared.push({ id: message.id, kind: message.kind, tokens: tokenize(await parseMessage(message.raw)), digest: messageDigest(message.raw), message });
  }
  const directory = mkdtempSync(join(tmpdir(), 'rempart-bench-splits-'));
  const sections: string[] = [];
  const totals = new Map<string, { hamAsSpam: number; spamAsHam: number; unsure: number; roca: number; rocaScoresOnly: number; ham: number; above: number }>();
  /** One row per split and classifier, for the document when there are too many splits for a table each. */
  const compact: string[] = [];
  try {
    const files = plan.bogofilter ? new Map(writeSplit(corpus, join(directory, 'messages')).map((m) => [m.id, m.file])) : new Map<string, string>();
    for (const digit of plan.digits) {
      const train = prepared.filter((p) => isTraining(p.message, digit));
      const test = prepared.filter((p) => !isTraining(p.message, digit));
      log(`split ${digit}: ${train.length} training, ${test.length} test messages; ${plan.costs.length > 0 ? `tuning under costs ${plan.costs.join(', ')}` : 'no tuning'}`);
      const weights: CostWeights[] = plan.costs.map((hamAsSpam) => ({ ...COST, hamAsSpam }));
      const tuned = weights.length > 0 ? tuneForEach(prepareCrossValidation(train, plan.folds), DEFAULT_GRID, defaults.min_messages, weights) : [];
      const model = learn(train);
      const rows: Row[] = [{ name: 'defaults', params: defaults, outcome: classifyAll(test, model, defaults) }];
      plan.costs.forEach((cost, index) => {
        const params = tuned[index]![0]!.params;
        rows.push({ name: `tuned, cost ${cost}`, params, outcome: classifyAll(test, model, params) });
      });
      for (const { name, overrides } of plan.fixed) {
        const params = { ...defaults, ...overrides };
        rows.push({ name, params, outcome: classifyAll(test, model, params) });
      }
      if (plan.bogofilter) {
        const wordlist = join(directory, `bogofilter-${digit}`);
        const cutoffs = bogofilterCutoffs(bogofilterParameters());
        await bogofilterLearn(wordlist, 'spam', train.filter((m) => m.kind === 'spam').map((m) => files.get(m.id)!));
        await bogofilterLearn(wordlist, 'ham', train.filter((m) => m.kind === 'ham').map((m) => files.get(m.id)!));
        const byFile = new Map(test.map((m) => [files.get(m.id)!, m]));
        const scored: Scored[] = (await bogofilterClassify(wordlist, test.map((m) => files.get(m.id)!))).map(({ file, score }) => {
          const message = byFile.get(file);
          if (message === undefined) throw new Error(`bogofilter printed a file it was not given: ${file}`);
          return { id: message.id, kind: message.kind, score, verdict: verdictFor(score, cutoffs) };
        });
        rows.push({ name: 'bogofilter', outcome: outcome(scored) });
      }
      const lines = [
        `Split ${digit}${digit === 0 ? " (the benchmark's own)" : ''}: ${train.length} training messages, ${test.length} test messages (${test.filter((m) => m.kind === 'ham').length} ham).`,
        '',
        '| classifier | parameters | ham marked spam | spam marked ham | unsure | 1-ROCA % |',
        '|---|---|---:|---:|---:|---:|',
      ];
      for (const row of rows) {
        const o = row.outcome;
        lines.push(`| ${row.name} | ${row.params ? paramsText(row.params) : 'its defaults'} | ${o.hamAsSpam} | ${o.spamAsHam} | ${o.unsureHam + o.unsureSpam} | ${fmt(o.oneMinusRocaPercent, 4)} |`);
        const total = totals.get(row.name) ?? { hamAsSpam: 0, spamAsHam: 0, unsure: 0, roca: 0, rocaScoresOnly: 0, ham: 0, above: 0 };
        compact.push(`| ${digit} | ${row.name} | ${o.hamAsSpam} | ${o.spamAsHam} | ${o.unsureHam + o.unsureSpam} | ${fmt(o.oneMinusRocaPercent, 4)} |`);
        if (o.hamAsSpam > TARGET_HAM_AS_SPAM_SHARE * o.ham) total.above++;
        total.rocaScoresOnly += o.oneMinusRocaScoresOnlyPercent;
        total.hamAsSpam += o.hamAsSpam;
        total.spamAsHam += o.spamAsHam;
        total.unsure += o.unsureHam + o.unsureSpam;
        total.roca += o.oneMinusRocaPercent;
        total.ham += o.ham;
        totals.set(row.name, total);
      }
      sections.push(lines.join('\n'));
      process.stdout.write(`${lines.join('\n')}\n\n`);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  const summary = [
    `Totals over the ${plan.digits.length} splits (1-ROCA: mean):`,
    '',
    '| classifier | ham marked spam | share of ham | splits above 0.1 % | spam marked ham | unsure | 1-ROCA % | 1-ROCA % (scores alone) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...[...totals].map(
      ([name, t]) =>
        `| ${name} | ${t.hamAsSpam} | ${fmt((100 * t.hamAsSpam) / t.ham, 3)} % | ${t.above} | ${t.spamAsHam} | ${t.unsure} | ${fmt(t.roca / plan.digits.length, 4)} | ${fmt(t.rocaScoresOnly / plan.digits.length, 4)} |`,
    ),
  ].join('\n');
  process.stdout.write(`${summary}\n`);
  if (plan.write) {
    const quoted = plan.argv.map((arg) => (/^[\w.,=:\/-]+$/.test(arg) ? arg : `"${arg}"`));
    const command = `npm run bench:bayes-splits${quoted.length > 0 ? ` -- ${quoted.join(' ')}` : ''}`;
    // A table per split up to MAX_SPLIT_TABLES splits; past that, one row per split and classifier.
    const perSplit =
      plan.digits.length <= MAX_SPLIT_TABLES
        ? sections.flatMap((s) => [s, ''])
        : ['Each split (defaults and fixed sets as in the totals; the parameters of tuned sets, chosen per split, are shown with 8 splits or fewer):', '', '| split | classifier | ham marked spam | spam marked ham | unsure | 1-ROCA % |', '|---:|---|---:|---:|---:|---:|', ...compact, ''];
    const body = [`Produced by \`${command}\` on ${revision(REPO_ROOT, ['src', 'bench/bayes'])}${bogofilter ? `, with ${bogofilter}` : ''}.`, '', summary, '', ...perSplit].join('\n');
    writeSection(join(REPO_ROOT, 'docs', 'benchmarks.md'), MARK_START, MARK_END, body);
    log('docs/benchmarks.md updated');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
