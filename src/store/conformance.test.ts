// The store conformance suite: the contract of every store interface (src/store/types.ts), run
// against the embedded SQLite store and against a real Redis (REDIS_URL, else a redis-server of
// the test's own on a free loopback port). Each part of the contract lives in conformance/.
import { after, before, describe } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/store.js';
import { RedisStore } from './redis/store.js';
import { parseConfigText } from '../config/loader.js';
import { startTestRedis, type TestRedis } from '../../test/helpers/redis-server.js';
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

function run(backend: Backend, parts: ConformancePart[]): void {
  describe(`store conformance: ${backend.name}`, () => {
    for (const part of parts) part(backend);
  });
}

before(async () => {
  redisServer = await startTestRedis();
});
after(async () => {
  await redisServer?.close();
});

run(sqlite, PARTS);
run(redis, PARTS);
