// End-to-end envelope defense through a real Postfix: swaks -> Postfix smtpd ->
// check_policy_service -> rempart (child process), with rbldnsd as the DNS list server. Client
// addresses are set with Postfix's XCLIENT, since swaks connects from 127.0.0.1. A bad HELO gets
// 504 5.5.2; a DNS-listed client 554 5.7.1 "blocked using"; a sender blocked with the CLI gets its
// reason; a spamtrap hit looks like an unknown user and bans the client's next attempt; a clean
// client is delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { rempartCli } from '../helpers/paths.js';
import { startRempart, type RempartInstance } from '../helpers/daemon.js';
import { dnsServersUnavailable, startRbldnsd, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { postfixUnavailable, startPostfix, type PostfixInstance } from '../helpers/postfix.js';

const message = ['--from', 'alice@sender.example', '--to', 'bob@example.com', '--header', 'Subject: rempart envelope e2e'];

test('Postfix applies rempart envelope verdicts: bad HELO, DNSBL-listed client, blocked sender, spamtrap and ban, clean client', { timeout: 120_000 }, async (t) => {
  const unavailable = postfixUnavailable() ?? dnsServersUnavailable();
  if (unavailable) return t.skip(`real-Postfix e2e test skipped: ${unavailable}`);

  let rempart: RempartInstance | undefined;
  let pf: PostfixInstance | undefined;
  let rbl: DnsServer | undefined;
  t.after(async () => {
    await pf?.stop();
  });
  t.after(async () => {
    await rempart?.stop();
  });
  t.after(async () => {
    await rbl?.stop();
  });

  rbl = await startRbldnsd({ zones: [{ zone: 'bl.rtest', type: 'ip4set', lines: [':127.0.0.2:listed', '192.0.2.66'] }] });
  const policyPort = await freePort();
  rempart = await startRempart({
    policyPort,
    configYaml: (dir: string) =>
      [
        'hostname: rempart-test.example',
        'my_networks: []',
        `store: { path: ${JSON.stringify(join(dir, 'store'))} }`,
        `policy: { listen: "127.0.0.1:${policyPort}" }`,
        `dns: { servers: ["127.0.0.1:${rbl!.port}"], timeout: 1s }`,
        'dnsbl: { zones: [ { zone: bl.rtest, action: reject } ] }',
        'greylist: { enabled: false }',
        'spamtraps: { addresses: [trap@example.com] }',
        // The DNS server here serves only the block list: sender domains are not judged.
        'sender: { domain_not_found: off, null_mx: off }',
        '',
      ].join('\n'),
  });
  pf = await startPostfix({ policyPort, extraMainCf: 'smtpd_authorized_xclient_hosts = 127.0.0.0/8' });
  const postfix = pf;
  const daemon = rempart;
  const context = async (out: string) => `${out}\n--- rempart ---\n${daemon.logs().join('\n')}\n--- maillog ---\n${await postfix.maillog()}`;

  const badHelo = await postfix.swaks(['--helo', 'localhost', ...message]);
  const badHeloText = badHelo.stdout + badHelo.stderr;
  assert.equal(badHelo.code, 24, await context(badHeloText));
  // Postfix puts its own "<rcpt>: Recipient address rejected:" before a policy server's text.
  assert.match(badHeloText, /<\*\* +504 5\.5\.2 <bob@example\.com>: Recipient address rejected: <localhost>: Helo command rejected: need fully-qualified hostname/, await context(badHeloText));

  const listed = await postfix.swaks(['--helo', 'mail.listed.example', '--xclient-addr', '192.0.2.66', '--xclient-name', 'mail.listed.example', ...message]);
  const listedText = listed.stdout + listed.stderr;
  assert.equal(listed.code, 24, await context(listedText));
  assert.match(listedText, /<\*\* +554 5\.7\.1 <bob@example\.com>: Recipient address rejected: Service unavailable; Client host \[192\.0\.2\.66\] blocked using bl\.rtest/, await context(listedText));

  const blocked = spawnSync(process.execPath, [rempartCli, 'block', 'add', '@spam.example', '--reason', 'abusive-domain', '--config', daemon.configPath], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(blocked.status, 0, blocked.stderr);
  // The daemon applies a CLI change within a second (tested in test/lists-daemon.test.ts); under a
  // loaded machine allow more, polling until the reject shows.
  const blockedReply = /<\*\* +554 5\.7\.1 <bob@example\.com>: Recipient address rejected: <bad@spam\.example>: Sender address rejected: abusive domain/;
  let fromBlockedText = '';
  for (const deadline = Date.now() + 15_000; ; ) {
    const fromBlocked = await postfix.swaks(['--helo', 'mail.spam.example', '--xclient-addr', '192.0.2.70', '--from', 'bad@spam.example', '--to', 'bob@example.com']);
    fromBlockedText = fromBlocked.stdout + fromBlocked.stderr;
    if (fromBlocked.code === 24 && blockedReply.test(fromBlockedText)) break;
    if (Date.now() > deadline) assert.fail(`the blocked sender was not refused within 15 s\n${await context(fromBlockedText)}`);
    await new Promise((r) => setTimeout(r, 500));
  }

  const trap = await postfix.swaks(['--helo', 'mail.harvester.example', '--xclient-addr', '192.0.2.80', '--from', 'x@harvester.example', '--to', 'trap@example.com']);
  const trapText = trap.stdout + trap.stderr;
  assert.equal(trap.code, 24, await context(trapText));
  assert.match(trapText, /<\*\* +550 5\.1\.1 <trap@example\.com>: Recipient address rejected: User unknown/, await context(trapText));
  const afterTrap = await postfix.swaks(['--helo', 'mail.harvester.example', '--xclient-addr', '192.0.2.80', '--from', 'x@harvester.example', '--to', 'bob@example.com']);
  const afterTrapText = afterTrap.stdout + afterTrap.stderr;
  assert.equal(afterTrap.code, 24, await context(afterTrapText));
  assert.match(afterTrapText, /<\*\* +554 5\.7\.1 <bob@example\.com>: Recipient address rejected: Client host \[192\.0\.2\.80\] blocked: banned until \S+ \(spamtrap hit: trap@example\.com\)/, await context(afterTrapText));

  const clean = await postfix.swaks(['--helo', 'mail.clean.example', '--xclient-addr', '192.0.2.67', '--xclient-name', 'mail.clean.example', ...message]);
  assert.equal(clean.code, 0, await context(clean.stdout + clean.stderr));
  await postfix.waitForDelivery(1, 20_000);

  assert.equal(await daemon.stop(), 0);
  const lines = daemon.logs().filter((l) => / decision /.test(l));
  assert.ok(lines.some((l) => /action=reject .*check=helo/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /action=reject reason="client listed in bl\.rtest \(127\.0\.0\.2\)" .*client_address=192\.0\.2\.66 .*check=dnsbl/.test(l)), lines.join('\n'));
});
