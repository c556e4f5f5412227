// End-to-end greylisting through a real Postfix: swaks -> Postfix smtpd -> check_policy_service ->
// rempart daemon (child process) -> smtp-sink. The first two attempts are greylisted (450 4.2.0),
// a retry after the 2 s delay is accepted and delivered with rempart's X-Greylist header.
// Skips itself only when postfix/swaks (or smtp-sink, script) are not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRempart, type RempartInstance } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { postfixUnavailable, startPostfix, type PostfixInstance, type SwaksResult } from '../helpers/postfix.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const swaksMessage = [
  '--helo', 'mx.sender.example',
  '--from', 'alice@sender.example',
  '--to', 'bob@example.com',
  '--header', 'Subject: rempart greylisting e2e',
];

test('Postfix greylists through rempart, then accepts the retry and delivers it with X-Greylist', { timeout: 120_000 }, async (t) => {
  const unavailable = postfixUnavailable();
  if (unavailable) {
    t.skip(`real-Postfix e2e test skipped: ${unavailable}`);
    return;
  }

  const policyPort = await freePort();
  // The store lives in the daemon helper's temp dir, removed by rempart.stop().
  const configYaml = (dir: string) =>
    [
      'hostname: rempart-test.example',
      'my_networks: []',
      `store: { path: ${JSON.stringify(join(dir, 'store'))} }`,
      `policy: { listen: "127.0.0.1:${policyPort}" }`,
      'greylist: { delay: 2s }',
      // Greylisting alone: no DNS here, the sender domain rules would see every domain as missing.
      'sender: { domain_not_found: off, null_mx: off }',
      '',
    ].join('\n');

  let rempart: RempartInstance | undefined;
  let pf: PostfixInstance | undefined;
  // Registered before starting anything, so both are stopped whatever fails below.
  t.after(async () => {
    await pf?.stop();
  });
  t.after(async () => {
    await rempart?.stop();
  });

  rempart = await startRempart({ configYaml, policyPort });
  pf = await startPostfix({ policyPort });
  const postfix = pf;
  const daemon = rempart;

  /** Everything useful when an assertion fails. */
  const context = async (result?: SwaksResult) =>
    [
      result ? `--- swaks (exit ${result.code}) ---\n${result.stdout}${result.stderr}` : '',
      `--- rempart output ---\n${daemon.logs().join('\n')}`,
      `--- Postfix maillog ---\n${await postfix.maillog()}`,
    ].join('\n');

  const expectGreylisted = async (attempt: string) => {
    const result = await postfix.swaks(swaksMessage);
    const text = result.stdout + result.stderr;
    const why = `${attempt}: expected a 450 greylisting reply\n${await context(result)}`;
    assert.equal(result.code, 24, why); // swaks: 24 = RCPT TO rejected
    assert.match(text, /<\*\* +450 4\.2\.0 /, why);
    assert.match(text, /Greylisted/, why);
  };

  const firstAttemptAt = Date.now();
  await expectGreylisted('first attempt');
  await expectGreylisted('immediate retry');

  // Retry once the 2 s delay has surely passed (rounding to whole seconds included).
  await sleep(Math.max(0, firstAttemptAt + 3_000 - Date.now()));
  const accepted = await postfix.swaks(swaksMessage);
  assert.equal(accepted.code, 0, `retry after the delay: expected acceptance\n${await context(accepted)}`);
  assert.match(accepted.stdout, /<- +250 2\.0\.0 Ok: queued as /, await context(accepted));

  const [message] = await postfix.waitForDelivery(1, 20_000);
  assert.ok(message !== undefined);
  const headers = message.split(/\r?\n\r?\n/, 1)[0]!;
  const greylistHeaders = headers.split(/\r?\n/).filter((line) => /^X-Greylist:/i.test(line));
  assert.equal(greylistHeaders.length, 1, `expected one X-Greylist header in the delivered message:\n${message}`);
  const match = /^X-Greylist: delayed (\d+) seconds by rempart at rempart-test\.example; (.+)$/.exec(greylistHeaders[0]!);
  assert.ok(match, `X-Greylist header has an unexpected form: ${greylistHeaders[0]}`);
  assert.ok(Number(match[1]) >= 2, `X-Greylist says delayed ${match[1]} seconds, expected >= 2`);
  assert.ok(!Number.isNaN(Date.parse(match[2]!)), `X-Greylist date is not a date: ${match[2]}`);

  // Stop the daemon first, so every line it wrote (through its exit) has been read.
  const rempartExit = await daemon.stop();
  const lines = daemon.logs();
  const all = lines.join('\n');
  assert.equal(rempartExit, 0, `rempart should exit 0 on SIGTERM:\n${all}`);
  const decisions = (action: string) => lines.filter((l) => new RegExp(`\\bdecision\\b.*\\baction=${action}\\b`).test(l));
  assert.equal(decisions('greylist').length, 2, `expected two decision lines with action=greylist:\n${all}`);
  // The passing retry: the Action vocabulary (src/core/check.ts) calls it `accept`.
  assert.equal(decisions('accept').length, 1, `expected one decision line with action=accept:\n${all}`);
});
