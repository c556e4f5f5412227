// `rempart check` and `rempart filter` as processes, on messages made here: a directory and an mbox
// scanned with --json and as text; the pipe filter's output and exit codes (ham 0, spam 1, unsure
// 2, error 3 with the message passed through); an allowed sender's spam accepted at the end of the
// message while its executable attachment is still refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rempartCli } from './helpers/paths.js';

function run(args: string[], input?: Buffer | string) {
  const result = spawnSync(process.execPath, [rempartCli, ...args], { input, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString() };
}

const message = (from: string, subject: string, body: string, extra = ''): string =>
  `Return-Path: <${from}>\nFrom: ${from}\nTo: bob@example.org\nSubject: ${subject}\nDate: ${new Date().toUTCString()}\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\n${extra}\n${body}\n`;

const exeMessage = (from: string): string =>
  [
    `Return-Path: <${from}>`,
    `From: ${from}`,
    'To: bob@example.org',
    'Subject: invoice',
    `Date: ${new Date().toUTCString()}`,
    'Message-ID: <exe@example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'see attached',
    '--b1',
    'Content-Type: application/octet-stream; name="invoice.pdf.exe"',
    'Content-Disposition: attachment; filename="invoice.pdf.exe"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('MZ fake').toString('base64'),
    '--b1--',
    '',
  ].join('\n');

function setUp(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-check-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'rempart.yaml');
  writeFileSync(
    config,
    [
      `store: { path: ${JSON.stringify(join(dir, 'store'))} }`,
      'content:',
      '  rules:',
      '    - { name: TEST_PILLS, score: 7, body: true, pattern: "cheap pills", description: "sells pills" }',
      '    - { name: TEST_MAYBE, score: 4.5, header: Subject, pattern: "^maybe" }',
      'spam_headers: { subject_tag: "[SPAM] " }',
      '',
    ].join('\n'),
  );
  return { dir, config };
}

test('check: a directory and an mbox, as JSON lines and as text', async (t) => {
  const { dir, config } = setUp(t);
  mkdirSync(join(dir, 'mail'));
  writeFileSync(join(dir, 'mail', '1.eml'), message('alice@example.net', 'Minutes', 'The minutes are attached below.'));
  writeFileSync(join(dir, 'mail', '2.eml'), message('promo@example.com', 'Offer', 'cheap pills for everyone'));
  writeFileSync(join(dir, 'box.mbox'), `From promo@example.com Mon Nov 30 06:00:00 2026\n${message('promo@example.com', 'Again', 'cheap pills again')}\nFrom x@example.net Mon Nov 30 06:00:01 2026\n${exeMessage('x@example.net')}`);

  const json = run(['check', '--json', '--config', config, join(dir, 'mail'), join(dir, 'box.mbox')]);
  assert.equal(json.status, 0, json.stderr);
  const reports = json.stdout.toString().trim().split('\n').map((line) => JSON.parse(line) as { file: string; action: string; score: number; symbols: Array<{ name: string; score: number; description: string }>; reply?: string });
  assert.deepEqual(
    reports.map((r) => [r.file.slice(dir.length + 1), r.action]),
    [
      ['mail/1.eml', 'accept'],
      ['mail/2.eml', 'add_header'],
      ['box.mbox#1', 'add_header'],
      ['box.mbox#2', 'reject'],
    ],
  );
  assert.deepEqual(reports[1]!.symbols, [{ name: 'TEST_PILLS', score: 7, description: 'sells pills: "cheap pills"' }]);
  assert.equal(reports[1]!.score, 7);
  assert.match(reports[3]!.reply!, /^554 5\.7\.1 Message rejected: attachment "invoice\.pdf\.exe" is not allowed \((double extension|banned extension \.exe)\)$/);

  const text = run(['check', '--config', config, join(dir, 'mail', '2.eml')]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout.toString(), /2\.eml: add_header, score 7 \(spam at 6\)\n {2}TEST_PILLS +7 {2}sells pills: "cheap pills"\n/);

  const missing = run(['check', '--config', config, join(dir, 'nowhere.eml')]);
  assert.equal(missing.status, 1, 'an unreadable path is a problem');
  assert.match(missing.stderr, /nowhere\.eml/);
  assert.equal(run(['check', '--config', config]).status, 2, 'no path is a usage error');
});

test('filter: marked output and exit codes 0 ham, 1 spam, 2 unsure, 3 error (message passed through)', async (t) => {
  const { dir, config } = setUp(t);
  const ham = message('alice@example.net', 'Minutes', 'The minutes are below.', 'X-Spam-Flag: YES\n');
  const hamOut = run(['filter', '--config', config], ham);
  assert.equal(hamOut.status, 0, hamOut.stderr);
  assert.equal(hamOut.stdout.toString(), ham.replace('X-Spam-Flag: YES\n', ''), 'ham: the forged flag removed, nothing else changed');

  const spam = message('promo@example.com', 'Offer', 'cheap pills for everyone');
  const spamOut = run(['filter', '--config', config], spam);
  assert.equal(spamOut.status, 1, spamOut.stderr);
  const marked = spamOut.stdout.toString();
  assert.match(marked, /^Subject: \[SPAM\] Offer$/m);
  assert.match(marked, /^X-Spam-Flag: YES$/m);
  assert.match(marked, /^X-Spam-Status: Yes, score=7\.0 required=6\.0 tests=TEST_PILLS$/m);
  assert.ok(marked.endsWith('\ncheap pills for everyone\n'), 'the body is unchanged');

  const unsure = run(['filter', '--config', config], message('carol@example.net', 'maybe lunch', 'see you'));
  assert.equal(unsure.status, 2, unsure.stderr);

  writeFileSync(join(dir, 'bad.yaml'), 'greylist: { delay: soon }\n');
  const broken = run(['filter', '--config', join(dir, 'bad.yaml')], spam);
  assert.equal(broken.status, 3);
  assert.equal(broken.stdout.toString(), spam, 'on error the message passes through unchanged');
  assert.match(broken.stderr, /passed through unchanged/);
});

test('an allowed sender: content not judged at the end of the message, attachments still are', async (t) => {
  const { dir, config } = setUp(t);
  const added = run(['allow', 'add', 'promo@example.com', '--config', config]);
  assert.equal(added.status, 0, added.stderr);
  writeFileSync(join(dir, 'spam.eml'), message('promo@example.com', 'Offer', 'cheap pills for everyone'));
  writeFileSync(join(dir, 'exe.eml'), exeMessage('promo@example.com'));
  const result = run(['check', '--json', '--config', config, join(dir, 'spam.eml'), join(dir, 'exe.eml')]);
  assert.equal(result.status, 0, result.stderr);
  const [spam, exe] = result.stdout.toString().trim().split('\n').map((line) => JSON.parse(line) as { action: string; symbols: unknown[] });
  assert.equal(spam!.action, 'accept');
  assert.deepEqual(spam!.symbols, []);
  assert.equal(exe!.action, 'reject');
});
