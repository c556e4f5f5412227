// Two Rempart daemons sharing one Redis behave as one filter (issue 7): a triplet greylisted
// through node A passes through node B after the delay; a spamtrap ban made by A is enforced by B;
// Bayes learned through A is used by B; a block entry added through B's API applies at A; and the
// history read from either node shows both nodes' decisions, each with its node name. Real
// processes, a real redis-server (test/helpers/redis-server.ts), real policy and HTTP traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRempart, type RempartInstance } from './helpers/daemon.js';
import { apiOf, corpusMessages, type Api } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { startTestRedis } from './helpers/redis-server.js';
import { cleanupsOf, type Cleanups } from './helpers/cleanups.js';

const PASSWORD = 'cluster test password';
const GREYLIST_DELAY_S = 2; // s
/** How long a change made on one node may take to show on the other (version checks every 1 s). */
const PROPAGATION_MS = 5000; // ms

interface Node {
  name: string;
  daemon: RempartInstance;
  policy: PolicyClient;
  api: Api;
}

async function startNode(t: Cleanups, name: string, redisUrl: string, prefix: string): Promise<Node> {
  const policyPort = await freePort();
  const httpPort = await freePort();
  const configYaml =
    `hostname: ${name}\nmy_networks: []\nlocal_domains: [example.org]\n` +
    `store: { backend: redis, redis: { url: "${redisUrl}", prefix: "${prefix}" } }\n` +
    `policy: { listen: "127.0.0.1:${policyPort}" }\nhttp: { listen: "127.0.0.1:${httpPort}", password: "${PASSWORD}" }\n` +
    `greylist: { delay: ${GREYLIST_DELAY_S}s }\nsender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\n` +
    `spamtraps: { addresses: [trap@example.org] }\nbayes: { min_messages: 1 }\n`;
  const daemon = await startRempart({ configYaml, policyPort });
  t.push(() => daemon.stop());
  const policy = await PolicyClient.connect(policyPort);
  t.push(() => policy.close());
  return { name, daemon, policy, api: apiOf(daemon.httpUrl!, PASSWORD) };
}

/** Asks until the answer matches (a change made on the other node is seen within PROPAGATION_MS). */
async function eventually(ask: () => Promise<string>, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + PROPAGATION_MS;
  for (;;) {
    const answer = await ask();
    if (pattern.test(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('two daemons sharing one Redis behave as one filter', { timeout: 120_000 }, async (t) => {
  const cleanups = cleanupsOf(t);
  const redis = await startTestRedis();
  cleanups.push(() => redis.close());
  const prefix = redis.newPrefix();
  cleanups.push(() => redis.dropPrefix(prefix));
  const a = await startNode(cleanups, 'mx1.test', redis.url, prefix);
  const b = await startNode(cleanups, 'mx2.test', redis.url, prefix);
  for (const node of [a, b]) await node.daemon.waitForLog(/store reachable|rempart started/);

  await t.test('a triplet greylisted through A passes through B after the delay', async () => {
    const triplet = { client_address: '198.51.100.20', sender: 'first@example.net', recipient: 'carol@example.org' };
    assert.match(await a.policy.ask(triplet), /^DEFER_IF_PERMIT 4\.2\.0/);
    // Too early on B as well: the triplet is shared.
    assert.match(await b.policy.ask(triplet), /^DEFER_IF_PERMIT 4\.2\.0/);
    await new Promise((resolve) => setTimeout(resolve, GREYLIST_DELAY_S * 1000 + 500));
    assert.doesNotMatch(await b.policy.ask(triplet), /^DEFER/);
    assert.doesNotMatch(await a.policy.ask(triplet), /^DEFER/);
  });

  await t.test('a spamtrap ban made by A is enforced by B', async () => {
    const client = '203.0.113.66';
    assert.match(await a.policy.ask({ client_address: client, recipient: 'trap@example.org' }), /^550 5\.1\.1/);
    const answer = await eventually(() => b.policy.ask({ client_address: client, recipient: 'dave@example.org', sender: 'x@example.net' }), /^554 5\.7\.1/);
    assert.match(answer, /^554 5\.7\.1 Client host \[203\.0\.113\.66\] blocked: banned until .*spamtrap hit/);
    const bans = await b.api.call('GET', '/api/bans');
    assert.ok(bans.body.bans.some((ban: { network: string; source: string }) => ban.network === client && ban.source === 'spamtrap'), bans.text);
  });

  await t.test('Bayes learned through A is used by B', async () => {
    const spam = corpusMessages('spam-2', 8);
    const ham = corpusMessages('easy-ham-1', 8);
    const before = await b.api.call('POST', '/api/bayes/check', { body: spam[1]! });
    assert.notEqual(before.body.bayes?.verdict, 'spam', before.text);
    for (const raw of spam.slice(1)) assert.equal((await a.api.call('POST', '/api/bayes/learn?class=spam', { body: raw })).status, 200);
    for (const raw of ham.slice(1)) assert.equal((await a.api.call('POST', '/api/bayes/learn?class=ham', { body: raw })).status, 200);
    const counts = await b.api.call('GET', '/api/bayes');
    assert.equal(counts.body.scopes[0].spamMessages, 7);
    assert.equal(counts.body.scopes[0].hamMessages, 7);
    // B classifies with what A learned (before, B had no opinion: too few messages learned).
    const checked = await b.api.call('POST', '/api/bayes/check', { body: spam[1]! });
    assert.equal(checked.status, 200, checked.text);
    assert.equal(checked.body.bayes.verdict, 'spam', checked.text);
    assert.equal((await b.api.call('POST', '/api/bayes/check', { body: ham[1]! })).body.bayes.verdict, 'ham');
  });

  await t.test("a block entry added through B's API applies at A", async () => {
    const added = await b.api.call('POST', '/api/lists', { json: { kind: 'block', value: '@blocked.example', reason: 'spam' } });
    assert.equal(added.status, 201, added.text);
    const answer = await eventually(() => a.policy.ask({ client_address: '198.51.100.30', sender: 'someone@blocked.example' }), /^554 5\.7\.1/);
    assert.match(answer, /^554 5\.7\.1 <someone@blocked\.example>: Sender address rejected/);
  });

  await t.test("the history shows both nodes' decisions, each with its node name", async () => {
    const deadline = Date.now() + PROPAGATION_MS;
    let nodes = new Set<string>();
    for (const node of [a, b]) {
      while (Date.now() < deadline) {
        const page = await node.api.call('GET', '/api/history?limit=100');
        assert.equal(page.status, 200, page.text);
        nodes = new Set(page.body.records.map((record: { node: string }) => record.node));
        if (nodes.has('mx1.test') && nodes.has('mx2.test')) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual([...nodes].sort(), ['mx1.test', 'mx2.test'], `history read through ${node.name}`);
    }
    const onlyB = await a.api.call('GET', '/api/history?node=mx2.test');
    assert.ok(onlyB.body.records.length > 0);
    assert.ok(onlyB.body.records.every((record: { node: string }) => record.node === 'mx2.test'));
  });
});
