// The sender check against a real DNS server (dnsmasq on loopback): an MX, A-only and AAAA-only
// domains pass; NXDOMAIN and a name without MX/A/AAAA are "Domain not found" (450 by default, 550
// when configured); a null MX is 550 5.7.27; a non-FQDN sender is 504; a DNS failure (a server
// that never answers) is no finding, never a rejection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsResolver } from '../src/dns/resolver.js';
import { senderCheck } from '../src/checks/envelope/sender.js';
import { testPipeline } from './helpers/pipeline.js';
import { dnsServersUnavailable, startDnsmasq, startStubDnsServer } from './helpers/dns-server.js';

function pipelineFor(yaml: string, dnsPort: number, timeoutMs = 2000) {
  return testPipeline({
    yaml: `hostname: mx.example.org\nmy_networks: [10.0.0.0/8]\nhistory: { enabled: false }\nstore: { path: /nonexistent }\n${yaml}`,
    checks: [senderCheck],
    dns: new DnsResolver({ servers: [`127.0.0.1:${dnsPort}`], timeoutMs }),
    defaults: { client_address: '192.0.2.10', recipient: 'bob@example.org' },
  });
}

function senderAsker(yaml: string, dnsPort: number, timeoutMs?: number) {
  const { ask, lines } = pipelineFor(yaml, dnsPort, timeoutMs);
  return { ask: (sender: string, extra: Record<string, string> = {}) => ask({ sender, ...extra }), lines };
}

test('sender domains checked against a real DNS server', async (t) => {
  const unavailable = dnsServersUnavailable();
  if (unavailable) return t.skip(unavailable);
  const server = await startDnsmasq({
    domains: ['dns.test'],
    hosts: [
      { name: 'mx1.good.dns.test', ipv4: ['192.0.2.25'] },
      { name: 'a-only.dns.test', ipv4: ['192.0.2.26'] },
      { name: 'aaaa-only.dns.test', ipv6: ['2001:db8::26'] },
    ],
    mx: [
      { name: 'good.dns.test', exchange: 'mx1.good.dns.test', preference: 10 },
      { name: 'nomail.dns.test', exchange: '.', preference: 0 },
    ],
    txt: [{ name: 'txt-only.dns.test', strings: ['v=spf1 -all'] }],
  });
  t.after(() => server.stop());
  const { ask, lines } = senderAsker('', server.port);
  assert.equal(await ask('alice@good.dns.test'), 'DUNNO');
  assert.equal(await ask('alice@A-Only.dns.test'), 'DUNNO');
  assert.equal(await ask('alice@aaaa-only.dns.test'), 'DUNNO');
  assert.equal(await ask(''), 'DUNNO', 'the null sender is exempt');
  assert.equal(await ask('alice@missing.dns.test'), '450 4.1.8 <alice@missing.dns.test>: Sender address rejected: Domain not found');
  assert.match(lines.at(-1)!, /action=defer reason="sender domain missing\.dns\.test not found: no such domain" .* symbols=SENDER_DOMAIN_NOT_FOUND\(4\)/);
  assert.equal(await ask('alice@txt-only.dns.test'), '450 4.1.8 <alice@txt-only.dns.test>: Sender address rejected: Domain not found');
  assert.match(lines.at(-1)!, /no MX, A or AAAA record/);
  assert.equal(await ask('alice@nomail.dns.test'), '550 5.7.27 <alice@nomail.dns.test>: Sender address rejected: Domain nomail.dns.test does not accept mail (null MX)');
  assert.equal(await ask('alice'), '504 5.5.2 <alice>: Sender address rejected: need fully-qualified address');
  assert.equal(await ask('alice@localhost'), '504 5.5.2 <alice@localhost>: Sender address rejected: need fully-qualified address');
  assert.equal(await ask('alice@missing.dns.test', { client_address: '10.1.1.1' }), 'DUNNO', 'my_networks are exempt');

  const permanent = senderAsker('sender: { domain_not_found_code: 550 }', server.port);
  assert.equal(await permanent.ask('alice@missing.dns.test'), '550 5.1.8 <alice@missing.dns.test>: Sender address rejected: Domain not found');
  const scored = senderAsker('sender: { domain_not_found: score, null_mx: off }', server.port);
  assert.equal(await scored.ask('alice@missing.dns.test'), 'DUNNO');
  assert.match(scored.lines.at(-1)!, /score=4 symbols=SENDER_DOMAIN_NOT_FOUND\(4\)/);
  assert.equal(await scored.ask('alice@nomail.dns.test'), 'DUNNO');
  assert.doesNotMatch(scored.lines.at(-1)!, /SENDER_NULL_MX/);
});

test('a DNS server that never answers is no finding: the sender passes within the deadline', async (t) => {
  const unavailable = dnsServersUnavailable();
  if (unavailable) return t.skip(unavailable);
  const silent = await startStubDnsServer({ mode: 'silent' });
  t.after(() => silent.stop());
  const { ask, lines } = senderAsker('', silent.port, 300);
  const started = Date.now();
  assert.equal(await ask('alice@anything.example'), 'DUNNO');
  assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
  assert.match(lines.at(-1)!, /action=accept reason="sender: sender domain anything\.example not checked: MX lookup failed \(ETIMEOUT\)"/);
});
