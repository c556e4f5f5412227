// The store conformance suite: the contract of every store interface (src/store/types.ts), run
// against the embedded SQLite store and against real Redis deployments: one server (REDIS_URL, else
// a redis-server of the test's own on a free loopback port), a Cluster of three masters, and a
// master reached through a Sentinel (store.redis.cluster, store.redis.sentinels), each started by
// the test on loopback ports of its own. Each part of the contract lives in conformance/.
import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/store.js';
import { RedisStore } from './redis/store.js';
import { parseConfigText } from '../config/loader.js';
import { startTestRedis, startTestRedisCluster, startTestRedisSentinel, type TestRedis, type TestRedisTopology } from '../../test/helpers/redis-server.js';
import type { Backend, ConformancePart, StoreUnderTest } from './conformance/harness.js';
import type { Store } from './types.js';
import { PARTS } from './conformance/parts.js';

const STORE_TIMEOUT_MS = 2000; // ms

/** Runs `fn` with a store made by `make` (and peers made alike), then closes them all and cleans up. */
async function withStores(make: () => Store, fn: (subject: StoreUnderTest) => Promise<void>, cleanUp: () => unknown): Promise<void> {
  const opened: Store[] = [];
  const open = (): Store => {
    const store = make();
    opened.push(store);
    return store;
  };
  try {
    await fn({ store: open(), peer: open });
  } finally {
    for (const store of opened.reverse()) await store.close().catch(() => {});
    await cleanUp();
  }
}

const sqlite: Backend = {
  name: 'sqlite',
  async with(fn) {
    const dir = mkdtempSync(join(tmpdir(), 'rempart-conformance-'));
    await withStores(() => new SqliteStore(dir, STORE_TIMEOUT_MS), fn, () => rmSync(dir, { recursive: true, force: true }));
  },
};

let redisServer: TestRedis | undefined;

const redis: Backend = {
  name: 'redis',
  async with(fn) {
    const server = redisServer!;
    const prefix = server.newPrefix();
    const settings = { ...parseConfigText('', 'conformance').store.redis, url: server.url, prefix };
    await withStores(() => new RedisStore({ settings, commandTimeoutMs: STORE_TIMEOUT_MS, waitForConnection: true }), fn, () => server.dropPrefix(prefix));
  },
};

/** A backend on a Redis deployment started for the whole suite (`topology()` gives it once started). */
function redisTopology(name: 'redis-cluster' | 'redis-sentinel', topology: () => TestRedisTopology): Backend {
  return {
    name,
    async with(fn) {
      const deployment = topology();
      const prefix = deployment.newPrefix();
      const settings = { ...parseConfigText('', 'conformance').store.redis, ...deployment.settings, prefix };
      await withStores(() => new RedisStore({ settings, commandTimeoutMs: STORE_TIMEOUT_MS, waitForConnection: true }), fn, () => deployment.dropPrefix(prefix));
    },
  };
}

let cluster: TestRedisTopology | undefined;
let sentinel: TestRedisTopology | undefined;

function run(backend: Backend, parts: ConformancePart[]): void {
  describe(`store conformance: ${backend.name}`, () => {
    for (const part of parts) part(backend);
  });
}

before(async () => {
  [redisServer, cluster, sentinel] = await Promise.all([startTestRedis(), startTestRedisCluster(), startTestRedisSentinel()]);
});
after(async () => {
  await Promise.all([redisServer?.close(), cluster?.close(), sentinel?.close()]);
});

run(sqlite, PARTS);
run(redis, PARTS);
run(redisTopology('redis-cluster', () => cluster!), PARTS);
run(redisTopology('redis-sentinel', () => sentinel!), PARTS);
