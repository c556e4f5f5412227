// The DNSBL check against a real rbldnsd on loopback: a reject zone rejects with Postfix's
// reject_rbl_client reply, score zones add their score (a DNSWL subtracts), the answer filter is
// applied, refusals (127.255.255.x) are never listings, IPv6 clients are looked up as nibbles,
// private and trusted clients are never looked up, and a silent server is no finding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsResolver } from '../src/dns/resolver.js';
import { answerMatcher, dnsblCheck } from '../src/checks/envelope/dnsbl.js';
import { parseConfigText } from '../src/config/loader.js';
import { testPipeline } from './helpers/pipeline.js';
import { dnsServersUnavailable, startRbldnsd, startStubDnsServer } from './helpers/dns-server.js';

function pipelineFor(yaml: string, dnsPort: number, timeoutMs = 2000) {
  const { ask, lines } = testPipeline({
    yaml: `hostname: mx.example.org\nmy_networks: [198.51.100.0/24]\nhistory: { enabled: false }\nstore: { path: /nonexistent }\n${yaml}`,
    checks: [dnsblCheck],
    dns: new DnsResolver({ servers: [`127.0.0.1:${dnsPort}`], timeoutMs }),
    defaults: { sender: 'a@example.net', recipient: 'bob@example.org' },
  });
  return { ask: (client: string, extra: Record<string, string> = {}) => ask({ client_address: client, ...extra }), lines };
}

const zonesYaml = `dnsbl:
  zones:
    - { zone: bl.rtest, action: reject, answers: ["127.0.0.2-127.0.0.11"] }
    - { zone: score.rtest, score: 2.5 }
    - { zone: wl.rtest, score: -3, name: DNSWL_TEST }
`;

test('DNS lists looked up in a real rbldnsd', async (t) => {
  const unavailable = dnsServersUnavailable();
  if (unavailable) return t.skip(unavailable);
  const server = await startRbldnsd({
    zones: [
      { zone: 'bl.rtest', type: 'ip4set', lines: [':127.0.0.2:listed', '192.0.2.66', '192.0.2.99 :127.0.0.50:outside the filter', '192.0.2.77 :127.255.255.254:refused'] },
      { zone: 'bl.rtest', type: 'ip6trie', lines: [':127.0.0.2:v6 listed', '2001:db8:bad::/48'] },
      { zone: 'score.rtest', type: 'ip4set', lines: [':127.0.0.2:listed', '192.0.2.0/24'] },
      { zone: 'wl.rtest', type: 'ip4set', lines: [':127.0.2.1:trusted', '203.0.113.5'] },
    ],
  });
  t.after(() => server.stop());
  const { ask, lines } = pipelineFor(zonesYaml, server.port);

  assert.equal(await ask('192.0.2.66'), '554 5.7.1 Service unavailable; Client host [192.0.2.66] blocked using bl.rtest');
  assert.match(lines.at(-1)!, /action=reject reason="client listed in bl\.rtest \(127\.0\.0\.2\)" .* check=dnsbl .* symbols=.*DNSBL_BL_RTEST/);
  assert.equal(await ask('192.0.2.99'), 'DUNNO', 'an answer outside the filter is not a listing');
  assert.match(lines.at(-1)!, /score=2\.5 symbols=DNSBL_SCORE_RTEST\(2\.5\)/);
  assert.equal(await ask('192.0.2.77'), 'DUNNO', 'a refusal is not a listing');
  assert.ok(lines.some((l) => /warn DNS list refused the query .* zone=bl\.rtest answer=127\.255\.255\.254/.test(l)), 'the refusal is logged');
  assert.equal(await ask('2001:db8:bad::25'), '554 5.7.1 Service unavailable; Client host [2001:db8:bad::25] blocked using bl.rtest');
  assert.equal(await ask('203.0.113.5'), 'DUNNO');
  assert.match(lines.at(-1)!, /score=-3 symbols=DNSWL_TEST\(-3\)/);
  assert.equal(await ask('203.0.113.6'), 'DUNNO');
  assert.doesNotMatch(lines.at(-1)!, /symbols=/);
  assert.equal(await ask('10.1.2.3'), 'DUNNO', 'private addresses are not looked up');
  assert.equal(await ask('192.0.2.66', { sasl_username: 'alice' }), 'DUNNO', 'SASL clients are not looked up');
  assert.equal(await ask('198.51.100.9'), 'DUNNO', 'my_networks are not looked up');
  assert.ok((await server.queryCount('66.2.0.192.bl.rtest')) >= 1, 'the query log counts what was asked');
  assert.equal(await server.queryCount('9.100.51.198.bl.rtest'), 0);
  assert.equal(await server.queryCount('3.2.1.10.bl.rtest'), 0);

  const custom = pipelineFor('dnsbl: { zones: [ { zone: bl.rtest, action: reject, reply: "Listed at %z, see https://bl.rtest/?ip=%a" } ] }', server.port);
  assert.equal(await custom.ask('192.0.2.66'), '554 5.7.1 Listed at bl.rtest, see https://bl.rtest/?ip=192.0.2.66');
});

test('a DNS list server that never answers is no finding', async (t) => {
  const unavailable = dnsServersUnavailable();
  if (unavailable) return t.skip(unavailable);
  const silent = await startStubDnsServer({ mode: 'silent' });
  t.after(() => silent.stop());
  const { ask } = pipelineFor(zonesYaml, silent.port, 300);
  const started = Date.now();
  assert.equal(await ask('192.0.2.66'), 'DUNNO');
  assert.ok(Date.now() - started < 2000);
});

test('answer filters: addresses, CIDR and ranges; empty means any 127/8 answer', () => {
  const any = answerMatcher([]);
  assert.equal(any('127.0.0.2'), true);
  assert.equal(any('10.0.0.2'), false);
  const filtered = answerMatcher(['127.0.0.2-127.0.0.11', '127.0.1.0/24', '127.0.2.9']);
  for (const [answer, expected] of [['127.0.0.2', true], ['127.0.0.11', true], ['127.0.0.12', false], ['127.0.1.200', true], ['127.0.2.9', true], ['127.0.2.8', false]] as const) {
    assert.equal(filtered(answer), expected, answer);
  }
});

test('zone settings are validated', () => {
  assert.throws(() => parseConfigText('dnsbl: { zones: [ { zone: bl.example, answers: ["127.0.0.x"] } ] }', 'x.yaml'), /IPv4 answer/);
  assert.throws(() => parseConfigText('dnsbl: { zones: [ { zone: bl.example, action: block } ] }', 'x.yaml'), /dnsbl\.zones\.0\.action/);
});
