// The ban and allow/block list checks through the whole scan core (pipeline + SQLite store + policy
// adapter), registered here in the order they are meant to run (bans, lists, ..., greylist): block
// replies with their reasons at each stage, an allow passing a client greylisting would defer,
// recipient lists against global ones, bans at CONNECT and RCPT, and a change made by the CLI (another
// process) reaching the running pipeline within a second; plus the pipeline's `allow` outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bansCheck } from '../src/checks/envelope/bans.js';
import { listsCheck } from '../src/checks/envelope/lists.js';
import { greylistCheck } from '../src/checks/envelope/greylist/greylist.js';
import type { CheckDescriptor, CheckOutcome } from '../src/core/check.js';
import { ManualClock } from '../src/core/clock.js';
import { createLogger } from '../src/core/log.js';
import { Pipeline } from '../src/core/pipeline.js';
import { parseConfigText, resolveComputedDefaults } from '../src/config/loader.js';
import { DnsResolver } from '../src/dns/resolver.js';
import { envelopeFromAttributes, policyAction } from '../src/policy/adapter.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import type { ListEntryInput } from '../src/store/types.js';
import { rempartCli } from './helpers/paths.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

interface Harness {
  ask(attrs: Record<string, string>): Promise<string>;
  clock: ManualClock;
  store: SqliteStore;
  logLines: string[];
  dir: string;
  configPath: string;
}

async function withChecks(checks: readonly CheckDescriptor[], fn: (h: Harness) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-listcheck-'));
  const store = new SqliteStore(join(dir, 'store'), 1000);
  const logLines: string[] = [];
  try {
    const yaml = `hostname: mx.example.org\nmy_networks: [10.9.0.0/16]\nstore: { path: ${dir}/store }\ngreylist: { delay: 5m }\n`;
    const configPath = join(dir, 'rempart.yaml');
    writeFileSync(configPath, yaml);
    const config = resolveComputedDefaults(parseConfigText(yaml, configPath));
    const clock = new ManualClock(NOW);
    const log = createLogger('info', 'text', { write: (l: string) => logLines.push(l) }).log;
    const pipeline = new Pipeline(checks, { config, store, dns: new DnsResolver(), clock, log });
    assert.deepEqual(pipeline.problems, []);
    const ask = async (attrs: Record<string, string>) => {
      const full = new Map(Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', client_address: '192.0.2.10', client_name: 'mail.example.net', helo_name: 'mail.example.net', sender: 'alice@example.net', recipient: 'bob@example.org', instance: `i${Math.random()}`, ...attrs }));
      return (await pipeline.decide(envelopeFromAttributes(full), (d) => policyAction(d, config.greylist.action))).reply;
    };
    await fn({ ask, clock, store, logLines, dir, configPath });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ENVELOPE_CHECKS = [bansCheck, listsCheck, greylistCheck];
const entry = (kind: 'allow' | 'block', value: string, extra: Partial<ListEntryInput> = {}): ListEntryInput => ({
  kind, value, scope: '', reason: '', comment: '', addedBy: 'test', createdAt: NOW / 1000, expiresAt: 0, ...extra,
});

test('a block entry rejects with its reason: sender and domain at MAIL and RCPT, ip from CONNECT, helo from HELO', () =>
  withChecks(ENVELOPE_CHECKS, async ({ ask, store, logLines }) => {
    await store.lists.put([
      entry('block', '@spam.example', { reason: 'abusive-domain' }),
      entry('block', 'mallory@example.net', { reason: 'compromised' }),
      entry('block', '203.0.113.0/24', { reason: 'Known snowshoe network' }),
      entry('block', 'helo:friend', { reason: 'spam' }),
    ]);
    assert.equal(await ask({ sender: 'x@mx.spam.example' }), '554 5.7.1 <x@mx.spam.example>: Sender address rejected: abusive domain');
    assert.match(logLines.at(-1)!, /action=reject reason="block list #1 @spam\.example: abusive domain" .*list_entry=1 .*check=lists/);
    assert.equal(await ask({ protocol_state: 'MAIL', recipient: '', sender: 'Mallory@Example.NET' }), '554 5.7.1 <Mallory@Example.NET>: Sender address rejected: compromised account');
    assert.equal(await ask({ protocol_state: 'CONNECT', sender: '', helo_name: '', recipient: '', client_address: '203.0.113.77' }), '554 5.7.1 Client host [203.0.113.77] blocked: Known snowshoe network');
    assert.equal(await ask({ protocol_state: 'HELO', sender: '', recipient: '', helo_name: 'FRIEND' }), '554 5.7.1 <FRIEND>: Helo command rejected: spam');
    assert.equal(await ask({ protocol_state: 'CONNECT', sender: '', recipient: '', helo_name: 'friend' }), 'DUNNO', 'no HELO name at CONNECT');
    assert.match(await ask({ sender: 'x@spam.example.org' }), /^DEFER_IF_PERMIT/, 'other names go on to greylisting');
  }));

test('an allow entry passes a client that greylisting would defer, and no later check runs', () =>
  withChecks(ENVELOPE_CHECKS, async ({ ask, store, logLines }) => {
    assert.match(await ask({ sender: 'news@partner.example' }), /^DEFER_IF_PERMIT 4\.2\.0/);
    await store.lists.put([entry('allow', '@partner.example', { comment: 'our supplier' })]);
    assert.equal(await ask({ sender: 'news@partner.example', recipient: 'carol@example.org' }), 'DUNNO');
    assert.match(logLines.at(-1)!, /action=accept reason="allow list #1 @partner\.example" .*check=lists/);
    assert.equal((await store.greylist.listTriplets({ search: 'carol' })).length, 0, 'greylisting did not run');
  }));

test("a recipient's own list comes before the global one; before RCPT a global block waits when a user allows", () =>
  withChecks(ENVELOPE_CHECKS, async ({ ask, store }) => {
    await store.lists.put([
      entry('block', '@bulk.example', { reason: 'spam' }),
      entry('allow', '@bulk.example', { scope: 'bob@example.org' }),
      entry('block', 'alice@example.net', { scope: 'dave@example.org', reason: 'ex-partner' }),
    ]);
    assert.equal(await ask({ protocol_state: 'MAIL', recipient: '', sender: 'offers@bulk.example' }), 'DUNNO', 'held back at MAIL: bob allows it');
    assert.equal(await ask({ sender: 'offers@bulk.example', recipient: 'Bob@example.org' }), 'DUNNO');
    assert.equal(await ask({ sender: 'offers@bulk.example', recipient: 'carol@example.org' }), '554 5.7.1 <offers@bulk.example>: Sender address rejected: spam');
    assert.equal(await ask({ recipient: 'dave@example.org' }), '554 5.7.1 <alice@example.net>: Sender address rejected: ex-partner');
    assert.match(await ask({ recipient: 'erin@example.org' }), /^DEFER_IF_PERMIT/, "dave's block is only for dave");
  }));

test('a banned client is refused at CONNECT and at RCPT until the ban expires; my_networks never', () =>
  withChecks(ENVELOPE_CHECKS, async ({ ask, store, clock, logLines }) => {
    const until = Date.UTC(2026, 10, 30, 12, 0, 0) / 1000;
    await store.lists.put([entry('allow', '@example.net')]);
    await store.bans.ban({ network: '192.0.2.1', reason: 'spamtrap hit', source: 'spamtrap', createdAt: NOW / 1000, expiresAt: until });
    await store.bans.ban({ network: '10.9.0.0/16', reason: 'oops', source: 'manual', createdAt: NOW / 1000, expiresAt: 0 });
    const text = '554 5.7.1 Client host [192.0.2.1] blocked: banned until 2026-11-30T12:00:00Z (spamtrap hit)';
    assert.equal(await ask({ protocol_state: 'CONNECT', client_address: '192.0.2.1', sender: '', recipient: '', helo_name: '' }), text);
    assert.equal(await ask({ client_address: '192.0.2.1' }), text, 'bans come before allow entries');
    assert.match(logLines.at(-1)!, /action=reject reason="banned 192\.0\.2\.1 \(spamtrap: spamtrap hit\)" .*ban=192\.0\.2\.1 ban_source=spamtrap ban_expires=2026-11-30T12:00:00Z .*check=bans/);
    assert.equal(await ask({ client_address: '::ffff:192.0.2.1', protocol_state: 'DATA' }), '554 5.7.1 Client host [::ffff:192.0.2.1] blocked: banned until 2026-11-30T12:00:00Z (spamtrap hit)');
    assert.equal(await ask({ client_address: '192.0.2.2' }), 'DUNNO', 'another client');
    assert.equal(await ask({ client_address: '10.9.1.1', sender: 'x@elsewhere.example' }), 'DUNNO', 'my_networks is never banned');
    clock.set(until * 1000);
    assert.equal(await ask({ client_address: '192.0.2.1' }), 'DUNNO', 'expired');
  }));

test('a change made with the CLI (another process) reaches the running pipeline within a second', { timeout: 60_000 }, () =>
  withChecks(ENVELOPE_CHECKS, async ({ ask, clock, configPath }) => {
    const cli = (...args: string[]) => {
      const result = spawnSync(process.execPath, [rempartCli, ...args, '--config', configPath], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(result.status, 0, result.stderr);
    };
    assert.match(await ask({ sender: 'x@junk.example' }), /^DEFER_IF_PERMIT/);
    cli('block', 'add', '@junk.example', '--reason', 'spam');
    cli('bans', 'add', '198.51.100.9', '--reason', 'hammering');
    assert.match(await ask({ sender: 'x@junk.example' }), /^DEFER_IF_PERMIT/, 'the matcher is kept up to a second');
    clock.advance(1);
    assert.equal(await ask({ sender: 'x@junk.example' }), '554 5.7.1 <x@junk.example>: Sender address rejected: spam');
    assert.equal(await ask({ client_address: '198.51.100.9' }), '554 5.7.1 Client host [198.51.100.9] blocked: banned permanently (hammering)');
    cli('block', 'remove', '@junk.example');
    cli('bans', 'remove', '198.51.100.9');
    clock.advance(1);
    assert.match(await ask({ sender: 'x@junk.example' }), /^DEFER_IF_PERMIT/);
    assert.match(await ask({ client_address: '198.51.100.9' }), /^DEFER_IF_PERMIT/);
  }));

test('an expired entry stops applying without any change to the store', () =>
  withChecks(ENVELOPE_CHECKS, async ({ ask, store, clock }) => {
    await store.lists.put([entry('block', '192.0.2.10', { reason: 'spam', expiresAt: NOW / 1000 + 60 })]);
    assert.equal(await ask({}), '554 5.7.1 Client host [192.0.2.10] blocked: spam');
    clock.advance(60);
    assert.match(await ask({}), /^DEFER_IF_PERMIT/);
  }));

test('checks are prepared without opening the store (config check), and a failing store fails open', async () => {
  const unopened = new Proxy({} as SqliteStore, { get: () => { throw new Error('store opened'); } });
  const config = resolveComputedDefaults(parseConfigText('hostname: mx.example.org\nhistory: { enabled: false }\n', 'x.yaml'));
  const log = createLogger('error', 'text', { write: () => true }).log;
  const pipeline = new Pipeline([bansCheck, listsCheck], { config, store: unopened, dns: new DnsResolver(), clock: new ManualClock(NOW), log });
  assert.deepEqual(pipeline.enabledChecks(), ['bans', 'lists']);
  const full = new Map(Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', client_address: '192.0.2.1', sender: 'a@b.example', recipient: 'c@d.example' }));
  const { decision } = await pipeline.decide(envelopeFromAttributes(full), (d) => policyAction(d, 'DEFER_IF_PERMIT'));
  assert.equal(decision.action, 'accept');
  assert.deepEqual(decision.errors, ['bans:error', 'lists:error']);
});

test('pipeline: an allow outcome stops the scan with accept, whatever the score so far, and later checks do not run', async () => {
  const ran: string[] = [];
  const check = (name: string, outcome: CheckOutcome): CheckDescriptor => ({
    name,
    stages: ['rcpt'],
    timeoutMs: 1000,
    create: () => ({ evaluate: () => (ran.push(name), outcome) }),
  });
  const checks = [
    check('scored', { symbols: [{ name: 'BAD_SIGN', score: 100, description: 'bad' }] }),
    check('allower', { allow: { reason: 'allow list #1 x' }, facts: { list_entry: 1 } }),
    check('rejecter', { verdict: { action: 'reject', reason: 'no', reply: { code: 554, enhanced: '5.7.1', text: 'no' } } }),
  ];
  await withChecks(checks, async ({ ask, logLines }) => {
    assert.equal(await ask({}), 'DUNNO');
    assert.deepEqual(ran, ['scored', 'allower']);
    assert.match(logLines.at(-1)!, /action=accept reason="allow list #1 x" .*list_entry=1 .*check=allower/);
  });
});
