// The tokenizer's speed on the SpamAssassin corpus (run on demand, not a test): times tokenize() over
// every message for several rounds and reports the median µs per message (and the fastest round: the
// machine may be shared, and other work only ever adds time).
//
// tokenize() triggers the HTML and URL analyses (src/content/html.ts, urls.ts), which memoize their
// result in the parsed message's `derived` map: each message's tokenize() is timed on a message no
// analysis has seen yet, as in the daemon and in bench:bayes's tokenize phase, so every round does the
// whole work again. (The tokenizer's caches of what recurs between messages, such as header names,
// hosts and relays, are warm after the first round, as in a daemon that has run for a while.) Two ways:
// - by default, every message is parsed once (parseMessage) and kept; before each round and after each
//   message's tokenize() its `derived` map is emptied (the analyses then become garbage at once, as in
//   bench:bayes where each message is dropped after it is classified). Also reports the CPU time of the
//   process, less disturbed by other work. The messages are read from memory that other messages have
//   long evicted from the processor's caches;
// - with --reparse, every message is parsed again just before its tokenize() (not timed), as
//   bench:bayes does: its text is then fresh in the caches. Slower to run (the parse costs more than
//   the tokenize).
// With --breakdown (default way only), each round also times the HTML analysis, then the URL analysis,
// then the rest of tokenize() (on the memoized analyses) apart. With --dump FILE, writes every
// message's tokens as JSON lines ({"id", "tokens"}), in corpus order, to compare two versions.
// Run (compiled, e.g. with npx tsc -p tsconfig.json --outDir .build-tok):
//   node .build-tok/bench/bayes/tokenize-speed.js [--rounds N] [--reparse] [--breakdown] [--dump FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tokenize } from '../../src/classifier/tokenizer.js';
import { htmlOf } from '../../src/content/html.js';
import { urlsOf } from '../../src/content/urls.js';
import type { ParsedMessage } from '../../src/core/message.js';
import { parseMessage } from '../../src/mime/parse.js';
import { loadCorpus } from './corpus.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    reparse: { type: 'boolean', default: false },
    breakdown: { type: 'boolean', default: false },
    dump: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: a positive integer');
if (values.reparse && values.breakdown) throw new Error('--breakdown: not with --reparse');

const corpus = loadCorpus();
const count = corpus.length;

const median = (samples: number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const µs = (value: number): string => value.toFixed(1);

if (values.dump !== undefined) {
  const lines: string[] = [];
  for (const message of corpus) lines.push(JSON.stringify({ id: message.id, tokens: tokenize(await parseMessage(message.raw)) }));
  writeFileSync(values.dump, `${lines.join('\n')}\n`);
  console.log(`tokens of ${count} messages written to ${values.dump}`);
}

const walls: number[] = [];
if (values.reparse) {
  for (let round = 0; round < rounds; round++) {
    let total = 0;
    for (const message of corpus) {
      const parsed = await parseMessage(message.raw);
      const start = performance.now();
      tokenize(parsed);
      total += performance.now() - start;
    }
    walls.push((total * 1000) / count);
    console.log(`round ${round + 1}: tokenize ${µs(walls.at(-1)!)} µs/message`);
  }
  console.log(`${count} messages, each parsed again before its tokenize, ${rounds} rounds: tokenize median ${µs(median(walls))} µs/message (fastest round ${µs(Math.min(...walls))})`);
} else {
  const parsed: ParsedMessage[] = [];
  for (const message of corpus) parsed.push(await parseMessage(message.raw));
  /** Every message's memoized analyses dropped: the state parseMessage left them in. */
  const forget = (): void => {
    for (const message of parsed) message.derived.clear();
  };
  /** Wall-clock and CPU µs per message of running `work` over every message. */
  const timed = (work: (message: ParsedMessage) => unknown): { wall: number; cpu: number } => {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    for (const message of parsed) work(message);
    const wall = ((performance.now() - start) * 1000) / count;
    const cpuUsed = process.cpuUsage(cpuStart);
    return { wall, cpu: (cpuUsed.user + cpuUsed.system) / count };
  };
  /** tokenize() as the daemon runs it: on a message no analysis has seen yet, dropping the analyses afterwards. */
  const tokenizeFresh = (message: ParsedMessage): string[] => {
    const tokens = tokenize(message);
    message.derived.clear();
    return tokens;
  };
  const cpus: number[] = [];
  const phases = { html: [] as number[], urls: [] as number[], rest: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    forget();
    const { wall, cpu } = timed(tokenizeFresh);
    walls.push(wall);
    cpus.push(cpu);
    let line = `round ${round + 1}: tokenize ${µs(wall)} µs/message (CPU ${µs(cpu)})`;
    if (values.breakdown) {
      forget();
      const html = timed(htmlOf).wall;
      const urls = timed(urlsOf).wall;
      const rest = timed(tokenize).wall;
      forget();
      phases.html.push(html);
      phases.urls.push(urls);
      phases.rest.push(rest);
      line += `; apart: html ${µs(html)}, urls ${µs(urls)}, rest ${µs(rest)}`;
    }
    console.log(line);
  }
  console.log(
    `${count} messages parsed once, ${rounds} rounds: tokenize median ${µs(median(walls))} µs/message (fastest round ${µs(Math.min(...walls))}), ` +
      `CPU median ${µs(median(cpus))} (least ${µs(Math.min(...cpus))})`,
  );
  if (values.breakdown) {
    console.log(`apart, wall-clock medians: html ${µs(median(phases.html))}, urls ${µs(median(phases.urls))}, rest of tokenize ${µs(median(phases.rest))} µs/message`);
  }
}
