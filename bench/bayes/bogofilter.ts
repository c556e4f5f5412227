// Debian's bogofilter as the benchmark's peer: trained and run in batch mode on the same message
// files as Rempart, with a fresh wordlist directory of its own, no configuration file (-C: its
// compiled-in defaults, which Debian's /etc/bogofilter.cf leaves as they are) and its default
// cutoffs, read from `bogofilter -Q`.
import { execFileSync, spawn } from 'node:child_process';
import type { Cutoffs } from './metrics.js';

export interface BogofilterScore {
  file: string;
  /** bogofilter's spamicity, printed to 16 digits (-TT). */
  score: number;
}

/** `bogofilter version 1.2.5`, or undefined when bogofilter is not installed. */
export function bogofilterVersion(): string | undefined {
  try {
    return execFileSync('bogofilter', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch {
    return undefined;
  }
}

/** bogofilter's parameters as it runs here (robx, robs, min_dev, cutoffs...), from `bogofilter -C -Q`. */
export function bogofilterParameters(): Record<string, number> {
  const text = execFileSync('bogofilter', ['-C', '-Q'], { encoding: 'utf8' });
  const parameters: Record<string, number> = {};
  for (const match of text.matchAll(/^(robx|robs|min_dev|ham_cutoff|spam_cutoff|ns_esf|sp_esf)\s*=\s*([0-9.]+)/gm)) parameters[match[1]!] = Number(match[2]);
  return parameters;
}

export function bogofilterCutoffs(parameters: Record<string, number>): Cutoffs {
  const spam = parameters.spam_cutoff;
  const ham = parameters.ham_cutoff;
  if (spam === undefined || ham === undefined) throw new Error('bogofilter -Q did not show spam_cutoff and ham_cutoff');
  return { spam, ham };
}

/** Runs bogofilter with the file names on its standard input, one a line; resolves with its standard output. */
function runBatch(args: string[], files: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bogofilter', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      // Exit codes: 0 spam, 1 ham, 2 unsure (of the last message in batch mode), 3 error.
      if (code === null || code >= 3) reject(new Error(`bogofilter ${args.join(' ')} failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`));
      else resolve(Buffer.concat(out).toString());
    });
    child.stdin.end(files.map((f) => `${f}\n`).join(''));
  });
}

/** Registers the files as spam (-s) or ham (-n) in the wordlist of `directory`, each file one message (-b). */
export async function bogofilterLearn(directory: string, kind: 'spam' | 'ham', files: readonly string[]): Promise<void> {
  await runBatch(['-C', '-d', directory, kind === 'spam' ? '-s' : '-n', '-b'], files);
}

/** Classifies the files in batch mode (-b), printing each file's name and spamicity (-TT). */
export async function bogofilterClassify(directory: string, files: readonly string[]): Promise<BogofilterScore[]> {
  const output = await runBatch(['-C', '-d', directory, '-b', '-TT'], files);
  const scores: BogofilterScore[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    const score = Number(line.slice(space + 1));
    if (space < 0 || !Number.isFinite(score)) throw new Error(`bogofilter: unexpected output line ${JSON.stringify(line)}`);
    scores.push({ file: line.slice(0, space), score });
  }
  if (scores.length !== files.length) throw new Error(`bogofilter classified ${scores.length} of ${files.length} messages`);
  return scores;
}
