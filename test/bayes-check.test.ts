// The Bayesian check in the end-of-message pipeline, with a real SQLite token store trained here:
// no opinion before min_messages; spam gives BAYES_SPAM, ham BAYES_HAM (negative), both scaled by
// certainty, with X-Spam-Bayes and the facts; a recipient's own database with per_user; auto-learn
// of the scorer's clear cases and never of a check's verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, resolveComputedDefaults } from '../src/config/loader.js';
import type { Config } from '../src/config/schema.js';
import { autoLearnClass, bayesSymbol } from '../src/checks/content/bayes.js';
import { tokenize } from '../src/classifier/tokenizer.js';
import type { Decision } from '../src/core/pipeline.js';
import { parseMessage } from '../src/mime/parse.js';
import { OfflineScanner } from '../src/scan/offline.js';
import { messageDigest } from '../src/scan/message-digest.js';
import { openStore } from '../src/store/open.js';

const SPAM_WORDS = ['cheap', 'pills', 'viagra', 'casino', 'winner', 'lottery', 'unsubscribe', 'offer', 'discount', 'pharmacy'];
const HAM_WORDS = ['meeting', 'minutes', 'project', 'review', 'agenda', 'budget', 'schedule', 'report', 'thanks', 'colleagues'];

/** A message of six words drawn from `words` (deterministic by n), with its own Message-ID. */
function message(words: string[], n: number, extraHeaders = ''): Buffer {
  const body = Array.from({ length: 6 }, (_, i) => words[(n * 7 + i * 3) % words.length]).join(' ');
  return Buffer.from(`From: sender${n}@example.net\nTo: bob@example.org\nSubject: note ${n}\nDate: Mon, 30 Nov 2026 06:00:00 +0000\nMessage-ID: <m${n}.${words[0]}@example.net>\n${extraHeaders}\n${body}\n`);
}

function setUp(t: { after: (fn: () => void) => void }, yaml: string): { config: Config; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bayes-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = resolveComputedDefaults(parseConfigText(`store: { path: ${JSON.stringify(join(dir, 'store'))} }\n${yaml}`, 'test.yaml'));
  return { config, dir };
}

/** Learns `count` spam and `count` ham messages into a scope, through the store as `rempart learn` does. */
async function train(config: Config, count: number, scope = ''): Promise<void> {
  const store = openStore(config.store);
  try {
    for (let n = 0; n < count; n++) {
      for (const [kind, words] of [['spam', SPAM_WORDS], ['ham', HAM_WORDS]] as const) {
        const raw = message(words, n);
        await store.bayes.learn(scope, { digest: messageDigest(raw), kind, tokens: tokenize(await parseMessage(raw)), now: 1_700_000_000 });
      }
    }
  } finally {
    await store.close();
  }
}

test('no opinion before min_messages, then spam and ham with scaled scores, X-Spam-Bayes and facts', async (t) => {
  const { config } = setUp(t, 'bayes: { min_messages: 5 }\n');
  await train(config, 4);
  const early = new OfflineScanner(config);
  const untrained = await early.scan(message(SPAM_WORDS, 100));
  await early.close();
  assert.deepEqual(untrained.decision.symbols, []);
  assert.equal(untrained.decision.facts.bayes_probability, undefined, 'no opinion with 4 of each');

  await train(config, 10);
  const scanner = new OfflineScanner(config);
  t.after(() => scanner.close());
  const spam = (await scanner.scan(message(SPAM_WORDS, 101))).decision;
  const symbol = spam.symbols.find((s) => s.name === 'BAYES_SPAM');
  assert.ok(symbol, JSON.stringify(spam));
  assert.ok(symbol.score >= 2.5 && symbol.score <= 5, `half to all of spam_score: ${symbol.score}`);
  assert.equal(spam.facts.bayes_verdict, 'spam');
  assert.ok((spam.facts.bayes_probability as number) >= config.bayes.spam_cutoff);
  assert.ok((spam.facts.bayes_evidence as number) > 2, `evidence ${spam.facts.bayes_evidence}`);
  assert.match(spam.headers.find((h) => h.name === 'X-Spam-Bayes')!.value, /^(0|1)\.\d{4}$/);

  const ham = (await scanner.scan(message(HAM_WORDS, 102))).decision;
  const hamSymbol = ham.symbols.find((s) => s.name === 'BAYES_HAM');
  assert.ok(hamSymbol && hamSymbol.score <= -1.5 && hamSymbol.score >= -3, JSON.stringify(ham.symbols));
  assert.equal(ham.facts.bayes_verdict, 'ham');
  assert.ok((ham.facts.bayes_evidence as number) < -2, `evidence ${ham.facts.bayes_evidence}`);
});

test('bayesSymbol: half the score at the cutoff, all of it at certainty, nothing when unsure', () => {
  const settings = resolveComputedDefaults(parseConfigText('', 'test.yaml')).bayes;
  assert.deepEqual(bayesSymbol({ probability: 1, verdict: 'spam' }, settings)?.score, 5);
  assert.deepEqual(bayesSymbol({ probability: settings.spam_cutoff, verdict: 'spam' }, settings)?.score, 2.5);
  assert.deepEqual(bayesSymbol({ probability: 0, verdict: 'ham' }, settings)?.score, -3);
  assert.deepEqual(bayesSymbol({ probability: settings.ham_cutoff, verdict: 'ham' }, settings)?.score, -1.5);
  assert.equal(bayesSymbol({ probability: 0.7, verdict: 'unsure' }, settings), undefined);
});

test("per_user: a recipient's own database judges mail to that recipient alone once it has min_messages", async (t) => {
  const { config } = setUp(t, 'bayes: { min_messages: 5, per_user: true }\n');
  await train(config, 10);
  // Bob's own database learned the opposite: for him, the "spam" words are wanted mail.
  const store = openStore(config.store);
  for (let n = 0; n < 10; n++) {
    for (const [kind, words] of [['ham', SPAM_WORDS], ['spam', HAM_WORDS]] as const) {
      const raw = message(words, n + 500);
      await store.bayes.learn('bob@example.org', { digest: messageDigest(raw), kind, tokens: tokenize(await parseMessage(raw)), now: 1_700_000_000 });
    }
  }
  await store.close();
  const scanner = new OfflineScanner(config);
  t.after(() => scanner.close());
  const forBob = (await scanner.scan(message(SPAM_WORDS, 103, 'X-Original-To: bob@example.org\n'))).decision;
  assert.equal(forBob.facts.bayes_verdict, 'ham');
  assert.equal(forBob.facts.bayes_database, 'bob@example.org');
  const forCarol = (await scanner.scan(message(SPAM_WORDS, 104, 'X-Original-To: carol@example.org\n'))).decision;
  assert.equal(forCarol.facts.bayes_verdict, 'spam', 'Carol has no database of her own: the global one');
  assert.equal(forCarol.facts.bayes_database, undefined);
});

test('auto-learn: clear scores are learned, a check’s verdict and unsure scores are not', async (t) => {
  const settings = resolveComputedDefaults(parseConfigText('bayes: { auto_learn: { enabled: true } }', 'test.yaml')).bayes.auto_learn;
  const decision = (symbols: Array<[string, number]>, decidedBy = ''): Decision => ({
    action: 'accept',
    decidedBy,
    reason: '',
    headers: [],
    symbols: symbols.map(([name, score]) => ({ name, score, description: name })),
    score: symbols.reduce((sum, [, s]) => sum + s, 0),
    facts: {},
    errors: [],
  });
  assert.equal(autoLearnClass(decision([['LOCAL', 13]]), settings), 'spam');
  assert.equal(autoLearnClass(decision([['LOCAL', 9], ['BAYES_SPAM', 5]]), settings), undefined, 'Bayes symbols do not count');
  assert.equal(autoLearnClass(decision([['BAYES_HAM', -3]]), settings), 'ham');
  assert.equal(autoLearnClass(decision([['MISSING_DATE', 1.4]]), settings), undefined);
  assert.equal(autoLearnClass(decision([['LOCAL', 20]], 'attachments'), settings), undefined, 'a verdict is not a score');

  // Through rempart filter's scanner: a message scoring 20 with a user rule is learned as spam.
  const { config } = setUp(t, 'bayes: { auto_learn: { enabled: true } }\ncontent: { rules: [ { name: LOCAL_SPAM, score: 20, body: true, pattern: casino } ] }\n');
  const filterScanner = new OfflineScanner(config, { autoLearn: true });
  await filterScanner.scan(message(SPAM_WORDS, 3));
  await new Promise((resolve) => setTimeout(resolve, 200)); // observers run after the decision
  await filterScanner.close();
  const checkScanner = new OfflineScanner(config); // rempart check: never learns
  await checkScanner.scan(message(SPAM_WORDS, 10));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await checkScanner.close();
  const store = openStore(config.store);
  t.after(() => store.close());
  const counts = await store.bayes.counts('');
  assert.equal(counts.spamMessages, 1, JSON.stringify(counts));
  assert.equal(counts.hamMessages, 0);
});
