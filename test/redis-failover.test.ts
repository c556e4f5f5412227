// A Sentinel failover under a running daemon (issue 7): the daemon reaches Redis through a Sentinel
// (store.redis.sentinels); the master is killed, the Sentinel promotes its replica, and the daemon
// finds the new master by itself: a triplet greylisted before the failover passes after it (the
// greylist survived on the replica), new triplets are written on the new master, and the log
// says when the store went away and came back. Mail never stops meanwhile (fail open).
// Real processes: a redis-server master and replica and a redis-server in Sentinel mode, the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRempart } from './helpers/daemon.js';
import { apiOf } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { startTestRedisSentinel } from './helpers/redis-server.js';
import { cleanupsOf } from './helpers/cleanups.js';
import { eventually } from './helpers/eventually.js';

const PASSWORD = 'failover test password';
const DOWN_AFTER_MS = 1000; // ms: the Sentinel calls the master down after this long without an answer
const FAILOVER_WAIT_MS = 30_000; // ms: the Sentinel promotes the replica, the daemon reconnects to it
const GREYLIST_DELAY_S = 1; // s

const triplet = (n: number) => ({ client_address: `198.51.100.${n}`, sender: `sender${n}@example.net`, recipient: 'user@example.org' });

test('a Sentinel failover: the daemon follows the promoted replica and the greylist survives', { timeout: 120_000 }, async (t) => {
  const cleanups = cleanupsOf(t);
  const sentinel = await startTestRedisSentinel({ replica: true, downAfterMs: DOWN_AFTER_MS });
  cleanups.push(() => sentinel.close());
  const prefix = sentinel.newPrefix();
  const policyPort = await freePort();
  const httpPort = await freePort();
  const daemon = await startRempart({
    configYaml:
      `hostname: mx.test\nmy_networks: []\nlocal_domains: [example.org]\n` +
      `store: { backend: redis, timeout: 1s, redis: { sentinels: ["127.0.0.1:${sentinel.sentinelPort}"], sentinel_name: rempart, prefix: "${prefix}", max_reconnect_delay: 1s, connect_timeout: 1s } }\n` +
      `policy: { listen: "127.0.0.1:${policyPort}" }\nhttp: { listen: "127.0.0.1:${httpPort}", password: "${PASSWORD}" }\n` +
      `greylist: { delay: ${GREYLIST_DELAY_S}s }\nsender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\n`,
    policyPort,
  });
  cleanups.push(() => daemon.stop());
  const policy = await PolicyClient.connect(policyPort);
  cleanups.push(() => policy.close());
  const api = apiOf(daemon.httpUrl!, PASSWORD);
  // The daemon answers before its store is connected (fail open): wait until it is.
  await eventually(async () => (await api.call('GET', '/health', { token: null })).body.store.available === true, 'the daemon connected through the Sentinel', FAILOVER_WAIT_MS, 200);

  assert.match(await policy.ask(triplet(1)), /^DEFER_IF_PERMIT/, 'greylisted through the first master');
  const before = await api.call('GET', '/api/greylist');
  assert.equal(before.status, 200);
  assert.equal(before.body.triplets.length, 1, JSON.stringify(before.body));

  await sentinel.killMaster();
  await eventually(async () => (await sentinel.currentMasterPort()) === sentinel.replicaPort, 'the Sentinel to promote the replica', FAILOVER_WAIT_MS, 200);
  // While the daemon finds its way to the new master, mail is answered all the same (fail open, or already through).
  assert.match(await policy.ask(triplet(9), 5_000), /^(DEFER_IF_PERMIT|DUNNO)/);

  await new Promise((resolve) => setTimeout(resolve, GREYLIST_DELAY_S * 1000 + 200));
  // The triplet greylisted before the failover passes now: its entry was on the replica, now the master.
  const retried = await eventually(
    async () => {
      const answer = await policy.ask(triplet(1), 5_000);
      return /^(PREPEND|DUNNO)/.test(answer) ? answer : undefined;
    },
    'the greylisted triplet to pass on the new master',
    FAILOVER_WAIT_MS,
    200,
  );
  assert.match(retried, /^PREPEND X-Greylist/, 'a passing first retry, with the delay it waited');
  assert.match(await policy.ask(triplet(2)), /^DEFER_IF_PERMIT/, 'a new triplet is written on the new master');
  const after = await api.call('GET', '/api/greylist');
  assert.equal(after.status, 200);
  assert.ok(after.body.triplets.some((row: { labels?: { sender: string } }) => row.labels?.sender === 'sender2@example.net'), JSON.stringify(after.body));

  await daemon.waitForLog(/store unreachable/, 1000);
  await daemon.waitForLog(/store reachable again/, 1000);
  const health = await api.call('GET', '/health', { token: null });
  assert.equal(health.body.store.available, true);
});
