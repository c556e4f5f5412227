// A Redis outage never stops mail (issue 7): a daemon started while Redis is down answers at once
// with the configured fail-open action, says so in its log, /health, /metrics and the dashboard's
// banner source; it reconnects by itself when Redis comes back and greylists again; an outage
// during operation is the same; with store.unavailable_action defer, requests get 451 4.3.0.
// Real processes: the daemon and a redis-server of the test's own, stopped and started by PID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRempart, type RempartInstance } from './helpers/daemon.js';
import { apiOf } from './helpers/http-client.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { startTestRedis, type TestRedis } from './helpers/redis-server.js';
import { cleanupsOf, type Cleanups } from './helpers/cleanups.js';

const PASSWORD = 'outage test password';
const STORE_TIMEOUT_S = 1; // s: store.timeout of the daemons
/** A reply must come well within the store's deadline while Redis is down (commands fail at once). */
const DOWN_REPLY_LIMIT_MS = STORE_TIMEOUT_S * 1000 + 1000; // ms
/** Reconnection: backoff capped at 1 s here, so the daemon is back within a few seconds. */
const RECONNECT_WAIT_MS = 15_000; // ms

async function startDaemon(t: Cleanups, redis: TestRedis, prefix: string, extra = '') {
  const policyPort = await freePort();
  const httpPort = await freePort();
  const configYaml =
    `hostname: mx.test\nmy_networks: []\nlocal_domains: [example.org]\n` +
    `store: { backend: redis, timeout: ${STORE_TIMEOUT_S}s, redis: { url: "${redis.url}", prefix: "${prefix}", max_reconnect_delay: 1s, connect_timeout: 1s }${extra} }\n` +
    `policy: { listen: "127.0.0.1:${policyPort}" }\nhttp: { listen: "127.0.0.1:${httpPort}", password: "${PASSWORD}", metrics_open: true }\n` +
    `greylist: { delay: 1h }\nsender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\n`;
  const daemon = await startRempart({ configYaml, policyPort });
  t.push(() => daemon.stop());
  const policy = await PolicyClient.connect(policyPort);
  t.push(() => policy.close());
  return { daemon, policy, api: apiOf(daemon.httpUrl!, PASSWORD) };
}

/** Asks once and measures how long the answer took. */
async function timedAsk(policy: PolicyClient, attrs: Record<string, string>): Promise<{ answer: string; ms: number }> {
  const started = performance.now();
  const answer = await policy.ask(attrs, DOWN_REPLY_LIMIT_MS * 3);
  return { answer, ms: performance.now() - started };
}

function metricValue(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function waitForStore(daemon: RempartInstance, api: ReturnType<typeof apiOf>, available: boolean): Promise<void> {
  const deadline = Date.now() + RECONNECT_WAIT_MS;
  for (;;) {
    const health = await api.call('GET', '/health', { token: null });
    if (health.body.store.available === available) return;
    if (Date.now() > deadline) assert.fail(`store.available stayed ${!available}: ${daemon.logs().slice(-5).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('a Redis outage never stops mail, and the daemon recovers by itself', { timeout: 120_000 }, async (t) => {
  const cleanups = cleanupsOf(t);
  const redis = await startTestRedis();
  cleanups.push(() => redis.close());
  if (!redis.own) {
    t.skip('REDIS_URL names a shared Redis: this test needs one it may stop');
    return;
  }
  const prefix = redis.newPrefix();
  await redis.stop();

  // Started while Redis is down: it starts, says so, and answers at once (accept: greylisting found nothing).
  const { daemon, policy, api } = await startDaemon(cleanups, redis, prefix);
  await daemon.waitForLog(/store unreachable: checks that need it count as no finding and mail flows/);
  const whileDown = await timedAsk(policy, { client_address: '198.51.100.1', sender: 'a@example.net' });
  assert.doesNotMatch(whileDown.answer, /^(DEFER|4|5)/, whileDown.answer);
  assert.ok(whileDown.ms < DOWN_REPLY_LIMIT_MS, `answered in ${Math.round(whileDown.ms)} ms`);
  await daemon.waitForLog(/check failed, failing open|greylist:error/);
  const health = await api.call('GET', '/health', { token: null });
  assert.equal(health.body.status, 'degraded');
  assert.equal(health.body.store.backend, 'redis');
  assert.equal(health.body.store.available, false);
  assert.ok(health.body.store.error);
  const metrics = await api.call('GET', '/metrics', { token: null });
  assert.equal(metricValue(metrics.text, 'rempart_store_up'), 0);
  // An API call that needs the store says why it cannot answer.
  const stats = await api.call('GET', '/api/greylist');
  assert.equal(stats.status, 503, stats.text);
  assert.match(stats.body.error, /store is unavailable/);

  // Redis comes back: the daemon reconnects by itself and greylists again.
  await redis.start();
  await waitForStore(daemon, api, true);
  await daemon.waitForLog(/store reachable again/);
  assert.match((await policy.ask({ client_address: '198.51.100.2', sender: 'b@example.net' })).toString(), /^DEFER_IF_PERMIT 4\.2\.0/);
  assert.equal((await api.call('GET', '/health', { token: null })).body.status, 'ok');

  // Down again during operation: answered at once again, counted as an outage.
  await redis.stop();
  await waitForStore(daemon, api, false);
  const duringOperation = await timedAsk(policy, { client_address: '198.51.100.3', sender: 'c@example.net' });
  assert.doesNotMatch(duringOperation.answer, /^(DEFER|4|5)/, duringOperation.answer);
  assert.ok(duringOperation.ms < DOWN_REPLY_LIMIT_MS, `answered in ${Math.round(duringOperation.ms)} ms`);
  const outages = metricValue((await api.call('GET', '/metrics', { token: null })).text, 'rempart_store_outages_total');
  assert.ok(outages !== undefined && outages >= 2, `outages ${outages}`);

  // With unavailable_action defer, a request waits for the store's return instead.
  const deferring = await startDaemon(cleanups, redis, prefix, ', unavailable_action: defer');
  await deferring.daemon.waitForLog(/store unreachable: deferring mail/);
  assert.match(await deferring.policy.ask({ client_address: '198.51.100.4' }), /^451 4\.3\.0 Temporary failure, please try again later/);

  await redis.start();
  await waitForStore(daemon, api, true);
  await waitForStore(deferring.daemon, deferring.api, true);
  assert.match(await deferring.policy.ask({ client_address: '198.51.100.5', sender: 'e@example.net' }), /^DEFER_IF_PERMIT 4\.2\.0/);
  await redis.dropPrefix(prefix);
});
