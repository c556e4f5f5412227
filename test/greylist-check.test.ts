// Greylisting alone through the scan core (pipeline + SQLite store + policy adapter) with a manual
// clock: replies, X-Greylist once per message, grouping by network, sender normalisation,
// auto-allowed clients, allow-list files, privacy mode, stages, and failing open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.js';
import { createLogger } from '../src/core/log.js';
import { Pipeline } from '../src/core/pipeline.js';
import { DnsResolver } from '../src/dns/resolver.js';
import { greylistCheck } from '../src/checks/envelope/greylist/greylist.js';
import { parseConfigText, resolveComputedDefaults } from '../src/config/loader.js';
import { envelopeFromAttributes, policyAction } from '../src/policy/adapter.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import type { Store } from '../src/store/types.js';

interface Harness {
  ask(attrs: Record<string, string>): Promise<string>;
  clock: ManualClock;
  store: Store;
  logLines: string[];
  dir: string;
}

async function withGreylist(yaml: string, fn: (h: Harness) => Promise<void>, wrapStore?: (s: Store) => Store): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-grey-'));
  const realStore = new SqliteStore(join(dir, 'store'), 1000);
  const store = wrapStore ? wrapStore(realStore) : realStore;
  const logLines: string[] = [];
  try {
    const config = resolveComputedDefaults(parseConfigText(`hostname: mx.example.org\nmy_networks: [10.9.0.0/16]\n${yaml.includes('store:') ? '' : 'store: { path: $DIR }\n'}${yaml}`.replaceAll('$DIR', dir), 'test.yaml'));
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 12, 0, 0));
    const log = createLogger('info', 'text', { write: (l: string) => logLines.push(l) }).log;
    const pipeline = new Pipeline([greylistCheck], { config, store, dns: new DnsResolver(), clock, log });
    assert.deepEqual(pipeline.problems, []);
    const ask = async (attrs: Record<string, string>) => {
      const full = new Map(Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', client_address: '192.0.2.10', client_name: 'mail.example.net', helo_name: 'mail.example.net', sender: 'alice@example.net', recipient: 'bob@example.org', instance: `i${Math.random()}`, ...attrs }));
      return (await pipeline.decide(envelopeFromAttributes(full), (d) => policyAction(d, config.greylist.action))).reply;
    };
    await fn({ ask, clock, store, logLines, dir });
  } finally {
    await realStore.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('first attempt and early retries are greylisted, a retry after the delay passes with one X-Greylist header per message', () =>
  withGreylist('greylist: { delay: 5m }', async ({ ask, clock, logLines }) => {
    assert.equal(await ask({}), 'DEFER_IF_PERMIT 4.2.0 Greylisted for example.org, see RFC 6647; retry in 300 seconds');
    clock.advance(60);
    assert.equal(await ask({}), 'DEFER_IF_PERMIT 4.2.0 Greylisted for example.org, see RFC 6647; retry in 240 seconds');
    clock.advance(250);
    const pass = await ask({ instance: 'msg-1' });
    assert.match(pass, /^PREPEND X-Greylist: delayed 310 seconds by rempart at mx\.example\.org; \w{3}, \d{1,2} Nov 2026 \d\d:\d\d:\d\d [+-]\d{4}$/);
    assert.equal(await ask({ instance: 'msg-1', recipient: 'bob@example.org' }), 'DUNNO', 'second request of the same message: no second header');
    assert.equal(await ask({ instance: 'msg-2' }), 'DUNNO', 'a known triplet passes without a header');
    const decisions = logLines.filter((l) => l.includes(' decision '));
    assert.equal(decisions.length, 5);
    assert.match(decisions[0]!, /action=greylist reason=new protocol=policy stage=rcpt client_address=192\.0\.2\.10 client_name=mail\.example\.net helo=mail\.example\.net sender=alice@example\.net recipient=bob@example\.org seconds_left=300/);
    assert.match(decisions[1]!, /reason="early-retry \(240s missing\)"/);
    assert.match(decisions[2]!, /action=accept reason="greylist: retry passed after 310s" .* delay=310 /);
    assert.match(decisions[4]!, /reason="greylist: triplet known"/);
  }));

test('clients are grouped by /24 and /64; other networks start anew', () =>
  withGreylist('greylist: { delay: 60 }', async ({ ask, clock }) => {
    assert.match(await ask({ client_address: '192.0.2.10' }), /^DEFER_IF_PERMIT/);
    assert.match(await ask({ client_address: '2001:db8:1:2::1' }), /^DEFER_IF_PERMIT/);
    clock.advance(61);
    assert.match(await ask({ client_address: '192.0.2.200' }), /^PREPEND X-Greylist/, 'same /24');
    assert.match(await ask({ client_address: '::ffff:192.0.2.77' }), /^DUNNO/, 'IPv4-mapped IPv6 is the same /24');
    assert.match(await ask({ client_address: '2001:db8:1:2:ffff::9' }), /^PREPEND X-Greylist/, 'same /64');
    assert.match(await ask({ client_address: '192.0.3.10' }), /^DEFER_IF_PERMIT/, 'another /24');
    assert.match(await ask({ client_address: '2001:db8:1:3::1' }), /^DEFER_IF_PERMIT/, 'another /64');
  }));

test('exact-address grouping with prefixes 32 and 128', () =>
  withGreylist('greylist: { delay: 60, ipv4_prefix: 32, ipv6_prefix: 128 }', async ({ ask, clock }) => {
    await ask({ client_address: '192.0.2.10' });
    clock.advance(61);
    assert.match(await ask({ client_address: '192.0.2.11' }), /^DEFER_IF_PERMIT/);
    assert.match(await ask({ client_address: '192.0.2.10' }), /^PREPEND/);
  }));

test('senders are normalised: VERP numbers, +extensions, BATV tags and case do not make new triplets', () =>
  withGreylist('greylist: { delay: 60 }', async ({ ask, clock }) => {
    await ask({ sender: 'prvs=1234567890=bounce-1234-77@lists.example.net', recipient: 'BOB@Example.org' });
    clock.advance(61);
    assert.match(await ask({ sender: 'Bounce-9876-12@LISTS.example.net', recipient: 'bob@example.org' }), /^PREPEND/);
  }));

test('a client whose retries pass in 5 different hours is auto-allowed', () =>
  withGreylist('greylist: { delay: 60, auto_allow_clients: 5 }', async ({ ask, clock, logLines }) => {
    for (let i = 0; i < 5; i++) {
      const recipient = `user${i}@example.org`;
      assert.match(await ask({ recipient }), /^DEFER_IF_PERMIT/);
      clock.advance(61);
      assert.match(await ask({ recipient }), /^PREPEND/);
      clock.advance(3600);
    }
    assert.equal(await ask({ recipient: 'brand-new@example.org' }), 'DUNNO');
    assert.ok(logLines.at(-1)!.includes('reason="greylist: client auto-allowed"'));
    assert.match(await ask({ recipient: 'brand-new@example.org', client_address: '192.0.2.11' }), /^DEFER_IF_PERMIT/, 'auto-allow is per address, not per network');
  }));

test('passes within the same hour count once toward auto-allow', () =>
  withGreylist('greylist: { delay: 60, auto_allow_clients: 2 }', async ({ ask, clock }) => {
    for (const recipient of ['a@example.org', 'b@example.org']) await ask({ recipient });
    clock.advance(61);
    for (const recipient of ['a@example.org', 'b@example.org']) assert.match(await ask({ recipient }), /^PREPEND/);
    assert.match(await ask({ recipient: 'c@example.org' }), /^DEFER_IF_PERMIT/, 'two passes in one hour count as one');
  }));

test("postgrey-format allow files: clients by name, subdomain and CIDR; recipients by user@ and domain", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-lists-'));
  try {
    writeFileSync(join(dir, 'clients'), '# comment\nexample.net\n198.51.100.0/24\n2001:db8:feed::/48\n/^mx\\d+\\.bulk\\.example$/\n');
    writeFileSync(join(dir, 'recipients'), 'postmaster@\nopen.example.org\n');
    const yaml = `greylist: { allow_clients_files: [${dir}/clients, ${dir}/clients.local], allow_recipients_files: [${dir}/recipients] }`;
    await withGreylist(yaml, async ({ ask, logLines }) => {
      assert.equal(await ask({ client_name: 'smtp.out.example.net' }), 'DUNNO');
      assert.match(logLines.at(-1)!, /reason="greylist: client allow list .*clients:2 example\.net"/);
      assert.match(await ask({ client_name: 'mail.notexample.net', client_address: '203.0.113.5' }), /^DEFER_IF_PERMIT/);
      assert.equal(await ask({ client_name: 'unknown', client_address: '198.51.100.99' }), 'DUNNO');
      assert.equal(await ask({ client_name: 'unknown', client_address: '2001:db8:feed:1::5' }), 'DUNNO');
      assert.equal(await ask({ client_name: 'mx12.bulk.example', client_address: '203.0.113.6' }), 'DUNNO');
      assert.equal(await ask({ client_name: 'x.other.test', client_address: '203.0.113.7', recipient: 'postmaster+x@anything.test' }), 'DUNNO');
      assert.equal(await ask({ client_name: 'x.other.test', client_address: '203.0.113.7', recipient: 'a@sub.open.example.org' }), 'DUNNO');
      assert.match(await ask({ client_name: 'x.other.test', client_address: '203.0.113.7', recipient: 'a@example.org' }), /^DEFER_IF_PERMIT/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only the RCPT stage is greylisted; authenticated and my_networks clients pass', () =>
  withGreylist('', async ({ ask }) => {
    for (const state of ['CONNECT', 'HELO', 'MAIL', 'DATA', 'END-OF-MESSAGE', 'VRFY']) assert.equal(await ask({ protocol_state: state }), 'DUNNO', state);
    assert.equal(await ask({ sasl_username: 'alice' }), 'DUNNO');
    assert.equal(await ask({ client_address: '10.9.3.4' }), 'DUNNO');
    assert.equal(await ask({ client_address: 'unknown' }), 'DUNNO');
    assert.match(await ask({}), /^DEFER_IF_PERMIT/);
  }));

test('DEFER action and custom text and header templates', () =>
  withGreylist('greylist: { action: DEFER, delay: 10, text: "Come back in %s s (%r)", header: "X-Delayed: %t on %h" }', async ({ ask, clock }) => {
    assert.equal(await ask({}), 'DEFER 4.2.0 Come back in 10 s (example.org)');
    clock.advance(12);
    assert.equal(await ask({}), 'PREPEND X-Delayed: 12 on mx.example.org');
  }));

test('privacy mode stores hashes only', () =>
  withGreylist('greylist: { privacy: true }', async ({ ask, store }) => {
    await ask({});
    const rows = await store.greylist.listTriplets({});
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.labels, undefined);
    assert.match(rows[0]!.key, /^[0-9a-f]{64}$/);
  }));

test('a broken store fails open: DUNNO, logged, and the error is in the decision', () =>
  withGreylist(
    '',
    async ({ ask, logLines }) => {
      assert.equal(await ask({}), 'DUNNO');
      assert.ok(logLines.some((l) => l.includes('check failed; counted as no finding') && l.includes('disk on fire')));
      assert.match(logLines.at(-1)!, /action=accept reason="check failed, failing open" .*errors=greylist:error/);
    },
    (store) => ({ ...store, greylist: { ...store.greylist, updateClientThenTriplet: async () => { throw new Error('disk on fire'); } } }) as Store,
  ));

test('a hanging store fails open after the deadline', () =>
  withGreylist(
    'store: { path: $DIR, timeout: 0.05s }',
    async ({ ask, logLines }) => {
      const started = Date.now();
      assert.equal(await ask({}), 'DUNNO');
      assert.ok(Date.now() - started < 3000);
      assert.match(logLines.at(-1)!, /errors=greylist:timeout/);
    },
    (store) => ({ ...store, greylist: { ...store.greylist, updateClientThenTriplet: () => new Promise(() => {}) } }) as Store,
  ));
