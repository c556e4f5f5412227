// The URI block list check against a real rbldnsd on loopback (dnset zones): listed domains score
// per zone or reject, answer filters apply, refusals (127.255.255.x) are never listings, at most
// max_domains domains are asked, IP hosts and our own domains never; local bad domains (inline and
// files) match subdomains; a silent server is no finding. Skipped when rbldnsd is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckOutcome } from '../src/core/check.js';
import { DnsResolver } from '../src/dns/resolver.js';
import { loadBadDomains, uriblCheck } from '../src/checks/content/uribl.js';
import { parseConfigText } from '../src/config/loader.js';
import { contentEnvironment, messageWith, taskWith, type MessageSpec } from './helpers/message-builder.js';
import { dnsServersUnavailable, startRbldnsd, startStubDnsServer } from './helpers/dns-server.js';

const ZONES_YAML = `local_domains: [example.org]
uribl:
  max_domains: 4
  zones:
    - { zone: multi.rtest, score: 4, answers: ["127.0.0.2-127.0.0.10"] }
    - { zone: dbl.rtest, action: reject, name: URIBL_DBL_TEST }
`;

function checkFor(yaml: string, port: number, lines: string[] = [], timeoutMs = 2000) {
  const env = contentEnvironment(yaml, { dns: new DnsResolver({ servers: [`127.0.0.1:${port}`], timeoutMs }), lines });
  const instance = uriblCheck.create(env);
  assert.ok(instance);
  return {
    instance,
    run: async (spec: MessageSpec) => (await instance.evaluate(taskWith(messageWith(spec)))) as CheckOutcome | undefined,
  };
}

const linking = (...urls: string[]): MessageSpec => ({ html: urls.map((u) => `<a href="${u}">link</a>`).join(' ') });

test('URI lists looked up in a real rbldnsd', async (t) => {
  const unavailable = dnsServersUnavailable();
  if (unavailable) return t.skip(unavailable);
  const server = await startRbldnsd({
    zones: [
      {
        zone: 'multi.rtest',
        type: 'dnset',
        lines: [':127.0.0.2:listed', 'evil.example', '.spam.example', 'outside.example :127.0.0.99:outside the filter', 'refused.example :127.255.255.254:refused'],
      },
      { zone: 'dbl.rtest', type: 'dnset', lines: [':127.0.1.2:phishing', 'phish.example'] },
    ],
  });
  t.after(() => server.stop());
  const lines: string[] = [];
  const { run } = checkFor(ZONES_YAML, server.port, lines);

  const listed = await run(linking('https://www.evil.example/offer', 'http://cdn.spam.example/x', 'https://clean.example/'));
  assert.deepEqual(listed, {
    symbols: [{ name: 'URIBL_MULTI_RTEST', score: 4, description: 'links to evil.example (127.0.0.2), spam.example (127.0.0.2), listed in multi.rtest' }],
  });

  const rejected = await run({ text: 'Verify your account at https://login.phish.example/verify and https://www.evil.example/' });
  assert.deepEqual(rejected?.verdict, {
    action: 'reject',
    reason: 'links to phish.example, listed in dbl.rtest (127.0.1.2)',
    reply: { code: 554, enhanced: '5.7.1', text: 'Message rejected: it links to phish.example, listed in dbl.rtest' },
  });
  assert.deepEqual(rejected?.symbols?.map((s) => [s.name, s.score]).sort(), [['URIBL_DBL_TEST', 3], ['URIBL_MULTI_RTEST', 4]]);

  assert.equal(await run(linking('https://outside.example/')), undefined, 'an answer outside the filter is not a listing');
  assert.equal(await run(linking('https://refused.example/')), undefined, 'a refusal is not a listing');
  assert.ok(lines.some((l) => /warn URI list refused the query .* zone=multi\.rtest answer=127\.255\.255\.254 domain=refused\.example/.test(l)), 'the refusal is logged');
  assert.equal(await run(linking('https://clean.example/', 'https://www.example.org/')), undefined, 'unlisted domains: no finding');

  // Only the first max_domains distinct registrable domains are asked; IP hosts and our own domains never.
  await run(linking('http://45.33.12.7/', 'https://a.first.example/', 'https://b.first.example/', 'https://intranet.example.org/', 'https://second.example/', 'https://third.example/', 'https://fourth.example/', 'https://fifth.example/'));
  assert.equal(await server.queryCount('first.example.multi.rtest'), 1, 'two hosts of one domain: one query');
  assert.equal(await server.queryCount('fourth.example.dbl.rtest'), 1);
  assert.equal(await server.queryCount('fifth.example.multi.rtest'), 0, 'beyond max_domains');
  assert.equal(await server.queryCount('example.org.multi.rtest'), 0, 'our own domain');
  assert.equal((await server.queries()).filter((q) => /^(45\.33\.12\.7|7\.12\.33\.45)\./.test(q.name)).length, 0, 'IP hosts are not looked up');
});

test('a URI list server that never answers is no finding', async (t) => {
  const unavailable = dnsServersUnavailable();
  if (unavailable) return t.skip(unavailable);
  const silent = await startStubDnsServer({ mode: 'silent' });
  t.after(() => silent.stop());
  const { run } = checkFor(ZONES_YAML, silent.port, [], 300);
  const started = Date.now();
  assert.equal(await run(linking('https://www.evil.example/')), undefined);
  assert.ok(Date.now() - started < 2000);
});

test('local bad domains: inline and from files, subdomains included, problems reported', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rempart-uribl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad-domains.txt');
  await writeFile(file, '# spam domains\nfiled-bad.example\n*.wild.example  # a comment\n\nnot a domain\n.Dotted.Example.\n');
  const missing = join(dir, 'missing.txt');
  const yaml = `uribl: { bad_domains: [inline-bad.example], bad_domains_files: [${JSON.stringify(file)}, ${JSON.stringify(missing)}], bad_domain_score: 6 }`;
  const env = contentEnvironment(yaml);
  const instance = uriblCheck.create(env)!;
  assert.deepEqual(
    instance.problems?.map((p) => p.message.replaceAll(dir, 'DIR')),
    ['DIR/bad-domains.txt:5: not a domain name: not a domain', "DIR/missing.txt: cannot read: ENOENT: no such file or directory, open 'DIR/missing.txt'"],
  );
  const run = async (spec: MessageSpec) => (await instance.evaluate(taskWith(messageWith(spec)))) as CheckOutcome | undefined;
  const cases: [string, string | undefined][] = [
    ['https://inline-bad.example/', 'inline-bad.example'],
    ['https://www.filed-bad.example/x', 'filed-bad.example'],
    ['http://deep.sub.wild.example/', 'wild.example'],
    ['http://dotted.example/', 'dotted.example'],
    ['https://notfiled-bad.example/', undefined],
    ['https://example/', undefined],
  ];
  for (const [url, expected] of cases) {
    const outcome = await run(linking(url));
    assert.deepEqual(outcome?.symbols, expected ? [{ name: 'URIBL_LOCAL', score: 6, description: `links to local bad domain ${expected}` }] : undefined, url);
  }
  assert.equal(await run({ text: 'nothing to see' }), undefined);
  assert.deepEqual(loadBadDomains(['A.Example.', '*.b.example'], []).domains, new Set(['a.example', 'b.example']));
});

test('the check is off without zones or bad domains, and zone settings are validated', () => {
  assert.equal(uriblCheck.create(contentEnvironment('')), undefined);
  assert.throws(() => parseConfigText('uribl: { zones: [ { zone: multi.example, answers: ["127.0.0.x"] } ] }', 'x.yaml'), /IPv4 answer/);
  assert.throws(() => parseConfigText('uribl: { zones: [ { zone: multi.example, ipv6: false } ] }', 'x.yaml'), /ipv6/);
});
