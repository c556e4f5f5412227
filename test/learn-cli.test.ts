// `rempart learn` and `rempart bayes stats` as a user runs them (child processes on a real store),
// on a corpus made here: a maildir, mboxes, single files and standard input; counts after learning;
// learning again ('already'); a correction ('relearned'), also of a copy that delivery and filing
// changed; --unlearn; --for a recipient's own database; unreadable inputs and usage errors. Then the
// import of a real bogofilter wordlist dump made here with Debian's bogofilter and bogoutil
// (skipped when they are not installed). REMPART_CLI names the compiled CLI to run (default dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rempartCli } from './helpers/paths.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { learnableHam as ham, learnableSpam as spam } from './helpers/message-builder.js';
import { foundCounts } from './helpers/bayes-lookup.js';

const cli = process.env.REMPART_CLI ?? rempartCli;

type Run = (args: string[], input?: string) => { code: number | null; stdout: string; stderr: string };

function setUp(t: { after: (fn: () => void) => void }): { dir: string; run: Run; store: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-learn-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = join(dir, 'store');
  const config = join(dir, 'rempart.yaml');
  writeFileSync(config, `store: { path: ${JSON.stringify(store)} }\n`);
  const run: Run = (args, input) => {
    const r = spawnSync(process.execPath, [cli, ...args, '--config', config], { input, encoding: 'utf8', timeout: 60_000, env: { ...process.env, REMPART_CONFIG: '' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return { dir, run, store };
}

const mbox = (messages: string[]): string => messages.map((m, i) => `From sender@example.net Mon Nov 30 06:00:0${i} 2026\n${m}\n`).join('');

/** The summary line and the database line of a learn run. */
function summary(stdout: string): { outcomes: string; database: string } {
  const lines = stdout.trim().split('\n');
  return { outcomes: lines[0]!, database: lines[1]! };
}

const outcomes = (learned: number, relearned: number, already: number, unlearned: number, notLearned: number, errors: number): string =>
  `learned ${learned}, relearned ${relearned}, already ${already}, unlearned ${unlearned}, not learned ${notLearned}, errors ${errors}`;

test('learn from a maildir, mboxes, files and standard input: counts, again, corrections, unlearn, --for, stats', async (t) => {
  const { dir, run, store } = setUp(t);
  const maildir = join(dir, 'Maildir', '.Junk');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  writeFileSync(join(maildir, 'cur', '1764482400.M1P1.mx:2,S'), spam(1));
  writeFileSync(join(maildir, 'new', '1764482401.M2P1.mx'), spam(2));
  writeFileSync(join(dir, 'spam.mbox'), mbox([spam(3), spam(4)]));
  writeFileSync(join(dir, 'ham1.eml'), ham(1));
  writeFileSync(join(dir, 'ham2.eml'), ham(2));

  const first = run(['learn', 'spam', maildir, join(dir, 'spam.mbox')]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(summary(first.stdout).outcomes, outcomes(4, 0, 0, 0, 0, 0));
  const spamTokens = Number(/^database global: 4 spam and 0 ham messages, (\d+) tokens$/.exec(summary(first.stdout).database)?.[1]);
  assert.ok(spamTokens > 20, first.stdout);

  const hams = run(['learn', 'ham', join(dir, 'ham1.eml'), join(dir, 'ham2.eml')]);
  assert.equal(hams.code, 0, hams.stderr);
  assert.equal(summary(hams.stdout).outcomes, outcomes(2, 0, 0, 0, 0, 0));
  const stdin = run(['learn', 'ham', '-'], ham(3));
  assert.equal(stdin.code, 0, stdin.stderr);
  assert.equal(summary(stdin.stdout).outcomes, outcomes(1, 0, 0, 0, 0, 0));
  const allTokens = Number(/^database global: 4 spam and 3 ham messages, (\d+) tokens$/.exec(summary(stdin.stdout).database)?.[1]);
  assert.ok(allTokens > spamTokens, stdin.stdout);

  const again = run(['learn', 'spam', maildir, join(dir, 'spam.mbox')]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(summary(again.stdout), { outcomes: outcomes(0, 0, 4, 0, 0, 0), database: `database global: 4 spam and 3 ham messages, ${allTokens} tokens` }, 'learning again changes nothing');

  // A false positive: the copy the user moves out of Junk went through delivery and our filter.
  const filed = `Return-Path: <deals@spam.example>\r\nDelivered-To: bob@example.org\r\nReceived: from mx.spam.example (mx.spam.example [192.0.2.9])\r\n\tby mx.example.org (Postfix) with ESMTP id 4F00; Mon, 30 Nov 2026 06:00:01 +0000\r\nX-Spam-Flag: YES\r\nX-Spam-Score: 9.1\r\n${spam(1).replace('Subject: ', 'Subject: [SPAM] ').replace(/\n/g, '\r\n')}\r\n`;
  writeFileSync(join(dir, 'filed.eml'), filed);
  const corrected = run(['learn', 'ham', join(dir, 'filed.eml'), join(dir, 'spam.mbox')]);
  assert.equal(corrected.code, 0, corrected.stderr);
  assert.equal(summary(corrected.stdout).outcomes, outcomes(0, 3, 0, 0, 0, 0), 'the delivered copy has the digest of the message as it was learned');
  assert.match(summary(corrected.stdout).database, /^database global: 1 spam and 6 ham messages, \d+ tokens$/);

  const unlearned = run(['learn', 'ham', '--unlearn', join(dir, 'spam.mbox')]);
  assert.equal(summary(unlearned.stdout).outcomes, outcomes(0, 0, 0, 2, 0, 0));
  assert.match(summary(unlearned.stdout).database, /^database global: 1 spam and 4 ham messages, \d+ tokens$/);
  assert.equal(summary(run(['learn', 'spam', '--unlearn', join(dir, 'spam.mbox')]).stdout).outcomes, outcomes(0, 0, 0, 0, 2, 0));

  const scoped = run(['learn', 'spam', '--for', 'Bob@Example.ORG', maildir]);
  assert.equal(scoped.code, 0, scoped.stderr);
  assert.equal(summary(scoped.stdout).outcomes, outcomes(2, 0, 0, 0, 0, 0), 'a recipient database is a database of its own');
  assert.match(summary(scoped.stdout).database, /^database bob@example\.org: 2 spam and 0 ham messages, \d+ tokens$/);

  const stats = run(['bayes', 'stats']);
  assert.equal(stats.code, 0, stats.stderr);
  assert.deepEqual(stats.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/).slice(0, 3)), [
    ['database', 'spam', 'ham'],
    ['global', '1', '4'],
    ['bob@example.org', '2', '0'],
  ]);
  const json = run(['bayes', 'stats', '--json']).stdout.trim().split('\n').map((line) => JSON.parse(line) as { scope: string; spamMessages: number; hamMessages: number; tokens: number });
  assert.deepEqual(json.map((row) => [row.scope, row.spamMessages, row.hamMessages]), [['', 1, 4], ['bob@example.org', 2, 0]]);
  assert.ok(json.every((row) => row.tokens > 0));
  assert.match(run(['bayes', 'stats', '--for', 'carol@example.org']).stdout, /^carol@example\.org\s+0\s+0\s+0$/m, 'a database never learned is empty');

  // The tokens themselves, as the daemon reads them.
  const reader = new SqliteStore(store, 1000);
  try {
    const asked = ['subject:viagra', 'subject:meeting', 'minutes', 'from:@spam.example', 'never-seen'];
    const found = foundCounts(await reader.bayes.lookup('', asked), asked);
    assert.deepEqual(Object.fromEntries([...found].map(([token, c]) => [token, [c.spam, c.ham]])), {
      'subject:viagra': [1, 1],
      'subject:meeting': [0, 3],
      minutes: [0, 3],
      'from:@spam.example': [1, 1],
    });
    assert.deepEqual([...foundCounts(await reader.bayes.lookup('bob@example.org', ['subject:viagra', 'minutes']), ['subject:viagra', 'minutes'])], [['subject:viagra', { spam: 2, ham: 0 }]]);
  } finally {
    await reader.close();
  }
});

test('learn: unreadable inputs are reported and the rest is learned (exit 1); usage errors exit 2', (t) => {
  const { dir, run } = setUp(t);
  writeFileSync(join(dir, 'ham.eml'), ham(1));
  const partial = run(['learn', 'ham', join(dir, 'missing'), join(dir, 'ham.eml')]);
  assert.equal(partial.code, 1);
  assert.match(partial.stderr, new RegExp(`${join(dir, 'missing')}: ENOENT`));
  assert.equal(summary(partial.stdout).outcomes, outcomes(1, 0, 0, 0, 0, 1));

  for (const args of [['learn'], ['learn', 'junk', 'x'], ['learn', 'spam'], ['learn', 'spam', '--for', 'not-an-address', 'x'], ['learn', '--import-bogofilter', 'dump.txt', 'spam'], ['learn', 'spam', '--bogus', 'x'], ['bayes'], ['bayes', 'stats', 'extra']]) {
    const result = run(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^rempart: /);
  }
  assert.match(run(['--help']).stdout, /^rempart learn spam\|ham \[--unlearn\] \[--for RECIPIENT\] FILE\|DIR\|- \.\.\.$/m);
  assert.match(run(['--help']).stdout, /^rempart bayes stats \[--for RECIPIENT\] \[--json\]$/m);
});

test('learn --import-bogofilter: a real bogofilter wordlist, dumped with bogoutil, imported with its counts', async (t) => {
  if (spawnSync('bogofilter', ['-V']).error || spawnSync('bogoutil', ['-V']).error) {
    t.skip('bogofilter is not installed (apt-get install bogofilter): the import of a real dump is not tested');
    return;
  }
  const { dir, run, store } = setUp(t);
  const wordlist = join(dir, 'bogofilter');
  mkdirSync(wordlist);
  const train = (flag: string, text: string) => {
    const result = spawnSync('bogofilter', ['-d', wordlist, flag], { input: text, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  };
  for (const n of [1, 2, 3]) train('-s', spam(n));
  for (const n of [1, 2]) train('-n', ham(n));
  const dumped = spawnSync('bogoutil', ['-d', join(wordlist, 'wordlist.db')], { encoding: 'utf8' });
  assert.equal(dumped.status, 0, dumped.stderr);
  assert.match(dumped.stdout, /^\.MSG_COUNT 3 2 \d{8}$/m, 'the dump format this import reads');
  assert.match(dumped.stdout, /^subj:viagra 3 0 \d{8}$/m);
  const dump = join(dir, 'wordlist.txt');
  writeFileSync(dump, dumped.stdout);

  const imported = run(['learn', '--import-bogofilter', dump]);
  assert.equal(imported.code, 0, imported.stderr);
  const report = /^imported (\d+) tokens from (\d+) bogofilter tokens \((\d+) without a counterpart skipped; (\d+) merged(?:; [.A-Z_, ]+ ignored)?\), 3 spam and 2 ham messages$/m.exec(imported.stdout);
  assert.ok(report, imported.stdout);
  const [ours, theirs, skipped, merged] = report.slice(1).map(Number) as [number, number, number, number];
  assert.equal(ours + skipped + merged, theirs, 'every bogofilter token is imported, skipped or merged');
  assert.ok(skipped > 0 && ours > 20, imported.stdout);
  assert.match(imported.stdout, new RegExp(`^database global: 3 spam and 2 ham messages, ${ours} tokens$`, 'm'));

  const reader = new SqliteStore(store, 1000);
  try {
    const asked = ['subject:viagra', 'subject:minutes', 'viagra', 'cheap', 'budget', 'from:@spam.example', 'from:@example.net', 'head:date'];
    const found = foundCounts(await reader.bayes.lookup('', asked), asked);
    assert.deepEqual(Object.fromEntries([...found].map(([token, c]) => [token, [c.spam, c.ham]])), {
      'subject:viagra': [3, 0],
      'subject:minutes': [0, 2],
      viagra: [3, 0],
      cheap: [3, 0],
      budget: [0, 2],
      'from:@spam.example': [3, 0],
      'from:@example.net': [0, 2],
    });
  } finally {
    await reader.close();
  }

  const scoped = run(['learn', '--import-bogofilter', '-', '--for', 'bob@example.org'], dumped.stdout);
  assert.equal(scoped.code, 0, scoped.stderr);
  assert.match(scoped.stdout, new RegExp(`^database bob@example\\.org: 3 spam and 2 ham messages, ${ours} tokens$`, 'm'));

  writeFileSync(dump, `${dumped.stdout}broken line\n`);
  const bad = run(['learn', '--import-bogofilter', dump]);
  assert.equal(bad.code, 1, 'a bad line is a problem found');
  assert.match(bad.stderr, new RegExp(`^${dump}:${dumped.stdout.split('\n').length}: expected "TOKEN SPAM HAM \\[YYYYMMDD\\]": broken line$`, 'm'));
  assert.match(bad.stdout, /; 1 bad line\(s\) skipped\), 3 spam and 2 ham messages$/m);
  assert.match(bad.stdout, /^database global: 6 spam and 4 ham messages, /m, 'an import adds to what is there');
  assert.equal(run(['learn', '--import-bogofilter', join(dir, 'missing.txt')]).code, 1);
});
