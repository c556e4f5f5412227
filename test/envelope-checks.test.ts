// The envelope integrity checks (HELO, reverse DNS, relay) through the pipeline and the policy
// adapter: each rule's reply when it rejects, its symbol when it scores, nothing when it is off,
// and trusted clients exempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heloCheck } from '../src/checks/envelope/helo.js';
import { rdnsCheck } from '../src/checks/envelope/rdns.js';
import { relayCheck } from '../src/checks/envelope/relay.js';
import { testPipeline } from './helpers/pipeline.js';

function pipelineFor(yaml: string) {
  return testPipeline({
    yaml: `hostname: mx.example.org\nlocal_domains: [example.org]\nmy_networks: [10.0.0.0/8]\nstore: { path: /nonexistent }\nhistory: { enabled: false }\n${yaml}`,
    checks: [relayCheck, heloCheck, rdnsCheck],
    defaults: {
      client_address: '192.0.2.10',
      client_name: 'mail.example.net',
      reverse_client_name: 'mail.example.net',
      helo_name: 'mail.example.net',
      sender: 'alice@example.net',
      recipient: 'bob@example.org',
    },
  });
}

test('HELO rules reject with the Postfix-style replies by default', async () => {
  const { ask, lines } = pipelineFor('');
  assert.equal(await ask({}), 'DUNNO');
  assert.equal(await ask({ helo_name: 'localhost' }), '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname');
  assert.match(lines.at(-1)!, /action=reject reason="HELO localhost is not a fully-qualified host name" .* check=helo .* symbols=HELO_NOT_FQDN\(3\)/);
  assert.equal(await ask({ helo_name: 'bad..name' }), '501 5.5.2 <bad..name>: Helo command rejected: Invalid name');
  assert.equal(await ask({ helo_name: '' }), '501 5.5.2 <>: Helo command rejected: Invalid name');
  assert.equal(await ask({ helo_name: 'mx.example.org' }), '550 5.7.1 <mx.example.org>: Helo command rejected: you are not mx.example.org');
  assert.equal(await ask({ helo_name: 'EXAMPLE.ORG' }), '550 5.7.1 <EXAMPLE.ORG>: Helo command rejected: you are not example.org');
  assert.equal(await ask({ helo_name: '[192.0.2.10]' }), 'DUNNO', "the client's own address literal");
  assert.equal(await ask({ helo_name: '[198.51.100.25]', server_address: '198.51.100.25' }), '550 5.7.1 <[198.51.100.25]>: Helo command rejected: you are not 198.51.100.25');
  assert.equal(await ask({ helo_name: '198.51.100.25', server_address: '198.51.100.25' }), '550 5.7.1 <198.51.100.25>: Helo command rejected: you are not 198.51.100.25');
  assert.equal(await ask({ helo_name: '[192.0.2.99]' }), 'DUNNO', 'a mismatching literal only scores by default');
  assert.match(lines.at(-1)!, /symbols=HELO_LITERAL_MISMATCH\(2\)/);
  assert.equal(await ask({ helo_name: '192.0.2.10' }), 'DUNNO');
  assert.match(lines.at(-1)!, /symbols=HELO_BARE_IP\(2\)/);
});

test('HELO rules can score or be off instead; trusted clients are exempt', async () => {
  const scored = pipelineFor('helo: { not_fqdn: score, invalid: off }');
  assert.equal(await scored.ask({ helo_name: 'localhost' }), 'DUNNO');
  assert.match(scored.lines.at(-1)!, /action=accept .*score=3 symbols=HELO_NOT_FQDN\(3\)/);
  assert.equal(await scored.ask({ helo_name: 'bad..name' }), 'DUNNO');
  assert.doesNotMatch(scored.lines.at(-1)!, /HELO_INVALID/);
  const { ask } = pipelineFor('');
  assert.equal(await ask({ helo_name: 'localhost', client_address: '10.1.2.3' }), 'DUNNO', 'my_networks');
  assert.equal(await ask({ helo_name: 'localhost', sasl_username: 'alice' }), 'DUNNO', 'SASL');
});

test('reverse DNS: no PTR, unconfirmed PTR and dynamic-looking names score by default, reject with 450 when asked', async () => {
  const { ask, lines } = pipelineFor('');
  assert.equal(await ask({ client_name: 'unknown', reverse_client_name: 'unknown' }), 'DUNNO');
  assert.match(lines.at(-1)!, /symbols=RDNS_NONE\(1\.5\)/);
  assert.equal(await ask({ client_name: 'unknown', reverse_client_name: 'host.example.net' }), 'DUNNO');
  assert.match(lines.at(-1)!, /symbols=RDNS_UNCONFIRMED\(1\)/);
  assert.equal(await ask({ client_name: 'dyn-192-0-2-10.pool.isp.example', reverse_client_name: 'dyn-192-0-2-10.pool.isp.example' }), 'DUNNO');
  assert.match(lines.at(-1)!, /symbols=RDNS_DYNAMIC\(1\.5\)/);
  assert.equal(await ask({ client_name: 'mail.example.net' }), 'DUNNO');
  assert.doesNotMatch(lines.at(-1)!, /RDNS_/);
  const strict = pipelineFor('rdns: { missing: reject, unconfirmed: reject }');
  assert.equal(await strict.ask({ client_name: 'unknown', reverse_client_name: 'unknown' }), '450 4.7.25 Client host rejected: cannot find your reverse hostname, [192.0.2.10]');
  assert.match(strict.lines.at(-1)!, /action=defer /);
  assert.equal(await strict.ask({ client_name: 'unknown', reverse_client_name: 'h.example.net' }), '450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]');
});

test('relay protection: untrusted clients may only send to local domains', async () => {
  const { ask } = pipelineFor('');
  assert.equal(await ask({ recipient: 'bob@example.org' }), 'DUNNO');
  assert.equal(await ask({ recipient: 'bob@lists.example.org' }), 'DUNNO', 'subdomain');
  assert.equal(await ask({ recipient: 'victim@elsewhere.example' }), '554 5.7.1 <victim@elsewhere.example>: Relay access denied');
  assert.equal(await ask({ recipient: 'victim@notexample.org' }), '554 5.7.1 <victim@notexample.org>: Relay access denied');
  assert.equal(await ask({ recipient: 'victim@elsewhere.example', client_address: '10.0.0.5' }), 'DUNNO', 'my_networks');
  assert.equal(await ask({ recipient: 'victim@elsewhere.example', sasl_username: 'alice' }), 'DUNNO', 'SASL');
  const off = pipelineFor('relay: { enabled: false }');
  assert.equal(await off.ask({ recipient: 'victim@elsewhere.example' }), 'DUNNO');
});
