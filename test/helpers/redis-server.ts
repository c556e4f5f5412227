// A Redis for tests: the one REDIS_URL names, else a redis-server of the test's own (Debian's
// package) on a free loopback port, in memory only, stopped by PID afterwards. Each test gets its
// own key prefix, so tests sharing one server never see each other's keys; `dropPrefix` removes
// a prefix's keys. `stop()`/`start()` on an own server let tests cut Redis away and bring it back
// on the same port (failure behaviour).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from './ports.js';

export interface TestRedis {
  url: string;
  port: number;
  /** True when the test started this server (so it may stop and restart it). */
  own: boolean;
  /** A key prefix no other test uses. */
  newPrefix(): string;
  /** Deletes every key starting with `prefix`. */
  dropPrefix(prefix: string): Promise<void>;
  /** Stops an own server (SIGTERM, waits for its exit). */
  stop(): Promise<void>;
  /** Starts an own server again on the same port. */
  start(): Promise<void>;
  /** Stops an own server for good; leaves an external one alone. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000; // ms

function startServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return waitForPort(port, '127.0.0.1', START_TIMEOUT_MS).then(() => child);
}

function stopServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const external = process.env.REDIS_URL;
  let child: ChildProcess | undefined;
  let url: string;
  let port: number;
  if (external) {
    url = external;
    port = Number(new URL(external).port || 6379);
  } else {
    port = await freePort();
    child = await startServer(port);
    url = `redis://127.0.0.1:${port}/0`;
  }
  const own = child !== undefined;
  return {
    url,
    port,
    own,
    newPrefix: () => `rempart-test-${randomBytes(5).toString('hex')}:`,
    async dropPrefix(prefix: string) {
      const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
    async stop() {
      if (!own) throw new Error('cannot stop the Redis of REDIS_URL');
      await stopServer(child);
    },
    async start() {
      if (!own) throw new Error('cannot start the Redis of REDIS_URL');
      child = await startServer(port);
    },
    async close() {
      await stopServer(child);
    },
  };
}
