// End-to-end content defense through a real Postfix: swaks -> Postfix smtpd -> smtpd_milters ->
// rempart's milter (child process) -> smtp-sink. A message with an .exe attachment and one with a
// zip holding a .js are refused with 554 5.7.1 at the end of DATA; a spammy HTML message is
// delivered with X-Spam-Flag: YES (and the X-Spam-Flag: NO it came with is gone); a clean message
// is delivered with its body intact; garbage sent to the milter port does not stop the daemon
// serving the next message. A second daemon shows greylisting through the milter alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { startRempart, type RempartInstance } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';
import { postfixUnavailable, startPostfix, type PostfixInstance } from '../helpers/postfix.js';

/** A raw MIME message: a text part and optional attachments (base64), CRLF line ends. */
function mimeMessage(options: { subject: string; from: string; text: string; html?: string; attachments?: Array<{ name: string; type: string; content: Uint8Array }>; extraHeaders?: string[] }): string {
  const boundary = 'rempart-e2e-boundary';
  const head = [
    `From: <${options.from}>`,
    'To: <bob@example.com>',
    `Subject: ${options.subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@sender.example>`,
    'MIME-Version: 1.0',
    ...(options.extraHeaders ?? []),
  ];
  if (!options.attachments && !options.html) return [...head, 'Content-Type: text/plain; charset=utf-8', '', options.text, ''].join('\r\n');
  const parts: string[] = [];
  parts.push(`--${boundary}`, 'Content-Type: text/plain; charset=utf-8', '', options.text);
  if (options.html) parts.push(`--${boundary}`, 'Content-Type: text/html; charset=utf-8', '', options.html);
  for (const attachment of options.attachments ?? []) {
    const base64 = Buffer.from(attachment.content).toString('base64').replace(/.{76}/g, '$&\r\n');
    parts.push(`--${boundary}`, `Content-Type: ${attachment.type}; name="${attachment.name}"`, 'Content-Transfer-Encoding: base64', `Content-Disposition: attachment; filename="${attachment.name}"`, '', base64);
  }
  parts.push(`--${boundary}--`, '');
  return [...head, `Content-Type: multipart/${options.html && !options.attachments ? 'alternative' : 'mixed'}; boundary="${boundary}"`, '', ...parts].join('\r\n');
}

/**
 * Rempart with its milter on a port of its own (the given extra configuration lines added), then a
 * Postfix using it as smtpd_milters and trusting XCLIENT from loopback; both stopped after the test.
 */
async function startWithMilter(t: { after: (fn: () => Promise<void>) => void }, extra: string[]): Promise<{ rempart: RempartInstance; postfix: PostfixInstance; milterPort: number }> {
  let rempart: RempartInstance | undefined;
  let postfix: PostfixInstance | undefined;
  t.after(async () => {
    await postfix?.stop();
  });
  t.after(async () => {
    await rempart?.stop();
  });
  const policyPort = await freePort();
  const milterPort = await freePort();
  rempart = await startRempart({
    policyPort,
    configYaml: (dir) =>
      [
        'hostname: rempart-test.example',
        'my_networks: []',
        `store: { path: ${JSON.stringify(join(dir, 'store'))} }`,
        `policy: { listen: "127.0.0.1:${policyPort}" }`,
        `milter: { listen: "127.0.0.1:${milterPort}" }`,
        // The sandbox's resolver knows no names: sender domains are not judged here.
        'sender: { domain_not_found: off, null_mx: off }',
        'dns: { timeout: 1s }',
        ...extra,
        '',
      ].join('\n'),
  });
  await rempart.waitForLog(/rempart started/);
  postfix = await startPostfix({ milterPort, extraMainCf: 'smtpd_authorized_xclient_hosts = 127.0.0.0/8' });
  return { rempart, postfix, milterPort };
}

test('Postfix with smtpd_milters: banned attachments refused, spam marked, clean mail intact, garbage survived', { timeout: 180_000 }, async (t) => {
  const unavailable = postfixUnavailable();
  if (unavailable) return t.skip(`real-Postfix e2e test skipped: ${unavailable}`);
  const work = mkdtempSync(join(tmpdir(), 'rempart-milter-e2e-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const { rempart: daemon, postfix, milterPort } = await startWithMilter(t, [
    'greylist: { enabled: false }',
    // A user rule makes "spammy" certain, whatever the built-in rules' scores.
    'content: { rules: [ { name: TEST_PILLS, score: 7, body: true, pattern: "cheap pills" } ] }',
  ]);
  const context = async (out: string) => `${out}\n--- rempart ---\n${daemon.logs().join('\n')}\n--- maillog ---\n${await postfix.maillog()}`;
  const send = async (name: string, raw: string, from = 'alice@sender.example') => {
    const path = join(work, `${name}.eml`);
    writeFileSync(path, raw);
    const result = await postfix.swaks(['--helo', 'mail.sender.example', '--xclient-addr', '192.0.2.67', '--xclient-name', 'mail.sender.example', '--from', from, '--to', 'bob@example.com', '--data', path]);
    return { code: result.code, text: result.stdout + result.stderr };
  };

  const exe = await send('exe', mimeMessage({ subject: 'your invoice', from: 'alice@sender.example', text: 'see attached', attachments: [{ name: 'invoice.exe', type: 'application/octet-stream', content: Buffer.from('MZ\x90\x00fake program') }] }));
  assert.equal(exe.code, 26, await context(exe.text)); // swaks: 26 = refused after DATA
  assert.match(exe.text, /<\*\* +554 5\.7\.1 Message rejected: attachment "invoice\.exe" is not allowed \(banned extension \.exe\)/, await context(exe.text));

  const zip = zipSync({ 'run.js': strToU8('WScript.Echo("hi")') });
  const zipped = await send('zip', mimeMessage({ subject: 'documents', from: 'alice@sender.example', text: 'the files', attachments: [{ name: 'files.zip', type: 'application/zip', content: zip }] }));
  assert.equal(zipped.code, 26, await context(zipped.text));
  assert.match(zipped.text, /<\*\* +554 5\.7\.1 Message rejected: attachment "files\.zip\/run\.js" is not allowed \(banned extension \.js/, await context(zipped.text));

  const spammy = await send(
    'spam',
    mimeMessage({
      subject: 'CHEAP PILLS TODAY',
      from: 'promo@sender.example',
      text: 'cheap pills',
      html: '<html><body><p>cheap pills <a href="http://192.0.2.99/buy">http://pharmacy.example/</a></p><script>track()</script></body></html>',
      extraHeaders: ['X-Spam-Flag: NO'],
    }),
    'promo@sender.example',
  );
  assert.equal(spammy.code, 0, await context(spammy.text));

  const cleanBody = 'Hello Bob,\r\n\r\nthe minutes of Monday\'s meeting are below.\r\n\r\nAlice\r\n';
  const clean = await send('clean', mimeMessage({ subject: 'Minutes of Monday', from: 'alice@sender.example', text: cleanBody }));
  assert.equal(clean.code, 0, await context(clean.text));
  const delivered = await postfix.waitForDelivery(2, 30_000);
  const spamCopy = delivered.find((m) => m.includes('CHEAP PILLS TODAY'));
  const cleanCopy = delivered.find((m) => m.includes('Minutes of Monday'));
  assert.ok(spamCopy && cleanCopy, await context(delivered.join('\n=====\n')));
  assert.match(spamCopy, /^X-Spam-Flag: YES\r?$/m, spamCopy);
  assert.match(spamCopy, /^X-Spam-Status: Yes, score=\d+\.\d required=6\.0 tests=[A-Z_,]*TEST_PILLS/m, spamCopy);
  assert.doesNotMatch(spamCopy, /X-Spam-Flag: NO/, 'the header the sender set is gone');
  assert.doesNotMatch(cleanCopy, /X-Spam-/, cleanCopy);
  assert.ok(cleanCopy.replace(/\r\n/g, '\n').includes(cleanBody.replace(/\r\n/g, '\n')), cleanCopy);

  // Garbage on the milter port: that connection is closed, the daemon serves the next message.
  await new Promise<void>((resolve) => {
    const socket = connect(milterPort, '127.0.0.1', () => socket.end(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x4f, 1, 2, 3, 4, 5])));
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
    socket.resume();
  });
  const after = await send('after-garbage', mimeMessage({ subject: 'After the garbage', from: 'alice@sender.example', text: 'still here' }));
  assert.equal(after.code, 0, await context(after.text));
  await postfix.waitForDelivery(3, 30_000);
  assert.equal(daemon.exitCode(), undefined, 'the daemon is still running');
  assert.ok(daemon.logs().some((l) => /milter protocol error/.test(l)), 'the garbage was logged');

  assert.equal(await daemon.stop(), 0);
  const lines = daemon.logs().filter((l) => / decision /.test(l) && /protocol=milter/.test(l));
  assert.ok(lines.some((l) => /stage=eom .*action=reject|action=reject .*stage=eom/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /action=add_header/.test(l)), lines.join('\n'));
});

test('greylisting through the milter alone: 450 4.2.0 at RCPT, then delivered with X-Greylist', { timeout: 120_000 }, async (t) => {
  const unavailable = postfixUnavailable();
  if (unavailable) return t.skip(`real-Postfix e2e test skipped: ${unavailable}`);
  const { postfix } = await startWithMilter(t, ['greylist: { delay: 1s }']);
  const args = ['--helo', 'mail.sender.example', '--xclient-addr', '192.0.2.68', '--xclient-name', 'mail.sender.example', '--from', 'carol@sender.example', '--to', 'bob@example.com', '--header', 'Subject: greylisted through the milter'];
  const first = await postfix.swaks(args);
  const firstText = first.stdout + first.stderr;
  assert.equal(first.code, 24, firstText); // swaks: 24 = no recipient accepted
  assert.match(firstText, /<\*\* +450 4\.2\.0 Greylisted for example\.com/, firstText);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const retry = await postfix.swaks(args);
  assert.equal(retry.code, 0, retry.stdout + retry.stderr);
  const [delivered] = await postfix.waitForDelivery(1, 30_000);
  assert.match(delivered!, /^X-Greylist: delayed \d+ seconds by rempart at rempart-test\.example;/m, delivered);
});
