// `rempart learn spam|ham [--unlearn] [--for RECIPIENT] PATH|- ...`: trains the Bayesian filter on
// messages from files, directories (maildirs) and mboxes, or one message on standard input. Each
// message is parsed and tokenized as the daemon does it (src/classifier/tokenizer.ts) and learned
// under its digest (src/scan/message-digest.ts), so learning it again changes nothing and learning
// it as the other class moves it. `--for` learns into a recipient's own database (bayes.per_user).
// `rempart learn --import-bogofilter FILE|-` adds the counts of a bogofilter wordlist dump
// (`bogoutil -d wordlist.db`, see bogofilter.ts). Safe while the daemon runs (SQLite WAL; the
// daemon sees the new counts at its next lookup). With --url the messages are read here and sent
// one by one to a running daemon's API (POST /api/bayes/learn), which parses and learns them; the
// bogofilter import works on the store only. Exit 0 when done, 1 when some input could not be read
// or learned, 2 on a bad command line.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Config } from '../config/schema.js';
import { parseRecipient } from '../lists/entry.js';
import { messageTokens } from '../scan/learn-message.js';
import { messageDigest } from '../scan/message-digest.js';
import { messagesFrom, totalBytes } from '../scan/sources.js';
import { openCommandStore } from '../store/open.js';
import type { BayesClass, BayesCounts, LearnOutcome, Store } from '../store/types.js';
import { BogofilterDump, parseDumpLine } from './bogofilter.js';
import { configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { ProgressBar } from './progress.js';
import { RemoteError, remoteFrom, remoteOptions, wantsRemote, type RemoteApi } from './remote.js';
import { remoteStore } from './remote-store.js';

export const learnUsage = `rempart learn spam|ham [--unlearn] [--for RECIPIENT] FILE|DIR|- ...
                                         train the Bayesian filter on messages (files, maildirs, mboxes);
                                         a message learned again counts once, learned as the other class
                                         it moves; --unlearn forgets messages; --for: a recipient's own database
rempart learn --import-bogofilter FILE|- [--for RECIPIENT]
                                         add the counts of a bogofilter dump (bogoutil -d wordlist.db)`;

/** Learns waiting for the writer at once: enough to keep it busy while the next messages are parsed. */
const LEARNS_IN_FLIGHT = 64;
/** Uploads to the daemon's API at once (each parsed there while the next one travels). */
const UPLOADS_IN_FLIGHT = 8;
/** Imported tokens handed to the store per call (each call commits in batches of its own). */
const IMPORT_CHUNK_TOKENS = 50_000;

/** The database a command works on: '' (global) or a recipient's, lower case. */
export function scopeOption(value: string | undefined): string {
  if (value === undefined) return '';
  const recipient = parseRecipient(value);
  if (!recipient) throw new UsageError(`--for takes a recipient address (user@example.org), not ${JSON.stringify(value)}`);
  return recipient;
}

/** How a database is named in reports. */
export const scopeName = (scope: string): string => (scope === '' ? 'global' : scope);

/** One line with a database's counts. */
export function countsLine(scope: string, counts: BayesCounts): string {
  return `database ${scopeName(scope)}: ${counts.spamMessages} spam and ${counts.hamMessages} ham messages, ${counts.tokens} tokens`;
}

/** The outcomes in the order the summary names them ("not-learned" printed "not learned"). */
const OUTCOMES: readonly LearnOutcome[] = ['learned', 'relearned', 'already', 'unlearned', 'not-learned'];

export async function learn(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...configOption, ...remoteOptions, unlearn: { type: 'boolean' }, for: { type: 'string' }, 'import-bogofilter': { type: 'string' } },
    true,
  );
  const scope = scopeOption(values.for);
  const importFile = values['import-bogofilter'];
  if (importFile !== undefined) {
    if (positionals.length > 0 || values.unlearn) throw new UsageError(`learn --import-bogofilter takes one file (or -) and no other arguments\n${learnUsage}`);
    if (wantsRemote(values)) {
      throw new UsageError(
        `learn --import-bogofilter works on the store only, not through the API: run it on the daemon's host without --url` +
          (values.url === undefined ? ' (or with --url "" while $REMPART_URL is set)' : ''),
      );
    }
    const { config } = loadConfigOrExit(values.config);
    return importBogofilter(config, scope, importFile);
  }
  const [kind, ...paths] = positionals;
  if (kind !== 'spam' && kind !== 'ham') throw new UsageError(`learn: say spam or ham first, then the messages\n${learnUsage}`);
  if (paths.length === 0) throw new UsageError(`learn ${kind}: name at least one file, directory, mbox, or - for standard input`);
  const remote = remoteFrom(values);
  const learner = remote ? remoteLearner(remote, scope, kind, values.unlearn === true) : localLearner(loadConfigOrExit(values.config).config, scope, kind, values.unlearn === true);
  return learnMessages(learner, scope, paths);
}

/** What learning one message (or one upload) did. */
type Tally = Partial<Record<LearnOutcome, number>>;

/** Where messages are learned: the store here, or a daemon through its API. */
interface Learner {
  /** Learns running at once at most. */
  readonly parallel: number;
  /** What must be done before the next message is read (throws saying what was wrong); returns the learning itself, run beside others. */
  prepare(raw: Buffer): Promise<() => Promise<Tally>>;
  /** The counts of the database learned into, once done. */
  counts(): Promise<BayesCounts>;
  close(): Promise<void>;
}

/** Parses and tokenizes each message here (one after the other) and learns its tokens into the store. */
function localLearner(config: Config, scope: string, kind: BayesClass, unlearn: boolean): Learner {
  const store = openCommandStore(config.store, (error) => process.stderr.write(`rempart: store: ${(error as Error).message}\n`));
  return {
    parallel: LEARNS_IN_FLIGHT,
    async prepare(raw) {
      let tokens: string[];
      try {
        tokens = await messageTokens(raw, config.attachments);
      } catch (error) {
        throw new Error(`cannot tokenize: ${(error as Error).message}`);
      }
      return async () => ({ [await store.bayes.learn(scope, { digest: messageDigest(raw), kind, tokens, now: Math.floor(Date.now() / 1000), unlearn })]: 1 });
    },
    counts: () => store.bayes.counts(scope),
    close: () => store.close(),
  };
}

/** Sends each raw message to the daemon, which parses, tokenizes and learns it. */
function remoteLearner(api: RemoteApi, scope: string, kind: BayesClass, unlearn: boolean): Learner {
  const { bayes } = remoteStore(api);
  return {
    parallel: UPLOADS_IN_FLIGHT,
    prepare: async (raw) => async () => (await bayes.learnRaw(scope, kind, unlearn, raw)).outcomes,
    counts: () => bayes.counts(scope),
    close: async () => {},
  };
}

async function learnMessages(learner: Learner, scope: string, paths: string[]): Promise<number> {
  const outcomes = new Map<LearnOutcome, number>(OUTCOMES.map((outcome) => [outcome, 0]));
  const progress = new ProgressBar(totalBytes(paths));
  const inFlight = new Set<Promise<void>>();
  /** Inputs that could not be read, tokenized or learned. */
  let errors = 0;
  let messages = 0;
  let bytes = 0;
  /** Learns that succeeded: until one has, one runs at a time (a wrong password is then tried once, not once per learn in flight). */
  let succeeded = 0;
  /** A problem no further message can escape (the daemon unreachable, the password refused): the run stops. */
  let fatal: RemoteError | undefined;
  const report = (name: string, problem: string) => {
    progress.done();
    process.stderr.write(`rempart: ${name}: ${problem}\n`);
  };
  try {
    for await (const { name, raw } of messagesFrom(paths, ({ name, problem }) => (errors++, report(name, problem)))) {
      if (fatal) break;
      messages++;
      bytes += raw.length;
      let learnIt: () => Promise<Tally>;
      try {
        learnIt = await learner.prepare(raw);
      } catch (error) {
        errors++;
        report(name, (error as Error).message);
        continue;
      }
      const learned = learnIt().then(
        (tally) => {
          succeeded++;
          for (const [outcome, count] of Object.entries(tally) as [LearnOutcome, number][]) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + count);
        },
        (error: Error) => {
          if (error instanceof RemoteError && error.fatal) fatal ??= error;
          else (errors++, report(name, error.message));
        },
      );
      inFlight.add(learned);
      void learned.finally(() => inFlight.delete(learned));
      if (inFlight.size >= (succeeded > 0 ? learner.parallel : 1)) await Promise.race(inFlight);
      progress.update(bytes, messages);
    }
    await Promise.all(inFlight);
    progress.done();
    if (fatal) throw fatal;
    const summary = OUTCOMES.map((outcome) => `${outcome.replace('-', ' ')} ${outcomes.get(outcome)}`).join(', ');
    process.stdout.write(`${summary}, errors ${errors}\n${countsLine(scope, await learner.counts())}\n`);
  } finally {
    progress.done();
    await learner.close();
  }
  return errors > 0 ? 1 : 0;
}

async function importBogofilter(config: Config, scope: string, file: string): Promise<number> {
  const dump = new BogofilterDump(Math.floor(Date.now() / 1000));
  let badLines = 0;
  try {
    const input = file === '-' ? process.stdin : createReadStream(file, { encoding: 'utf8' });
    let number = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      number++;
      const parsed = parseDumpLine(line);
      if (parsed === undefined) continue;
      if ('problem' in parsed) {
        badLines++;
        process.stderr.write(`${file}:${number}: ${parsed.problem}: ${line}\n`);
      } else {
        dump.add(parsed);
      }
    }
  } catch (error) {
    process.stderr.write(`rempart: cannot read ${file}: ${(error as Error).message}\n`);
    return 1;
  }
  const store = openCommandStore(config.store, (error) => process.stderr.write(`rempart: store: ${(error as Error).message}\n`));
  try {
    await importDump(store, scope, dump);
    const { read, skipped, merged, special } = dump.tally;
    const notes = [`${skipped} without a counterpart skipped`, `${merged} merged`];
    if (special.length > 0) notes.push(`${special.join(', ')} ignored`);
    if (badLines > 0) notes.push(`${badLines} bad line(s) skipped`);
    process.stdout.write(
      `imported ${dump.tokens.size} tokens from ${read} bogofilter tokens (${notes.join('; ')}), ` +
        `${dump.messages.spam} spam and ${dump.messages.ham} ham messages\n${countsLine(scope, await store.bayes.counts(scope))}\n`,
    );
  } finally {
    await store.close();
  }
  return badLines > 0 ? 1 : 0;
}

/** Hands the dump's tokens to the store in chunks; the message counts come with the last one. */
async function importDump(store: Store, scope: string, dump: BogofilterDump): Promise<void> {
  let chunk: { token: string; spam: number; ham: number; lastSeen: number }[] = [];
  for (const [token, counts] of dump.tokens) {
    chunk.push({ token, ...counts });
    if (chunk.length >= IMPORT_CHUNK_TOKENS) {
      await store.bayes.importCounts(scope, chunk, { spam: 0, ham: 0 });
      chunk = [];
    }
  }
  await store.bayes.importCounts(scope, chunk, dump.messages);
}
