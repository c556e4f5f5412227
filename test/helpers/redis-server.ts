// A Redis for tests: the one REDIS_URL names, else a redis-server of the test's own (Debian's
// package) on a free loopback port, in memory only, stopped by PID afterwards. Each test gets its
// own key prefix, so tests sharing one server never see each other's keys; `dropPrefix` removes
// a prefix's keys. `stop()`/`start()` on an own server let tests cut Redis away and bring it back
// on the same port (failure behaviour). startTestRedisCluster and startTestRedisSentinel run the two
// other deployments the store supports, a Cluster of three masters and a master behind a Sentinel.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { eventually } from './eventually.js';
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

/** A redis-server in memory only; `dir` is its working directory (a replica's master writes its sync snapshot there), else the test's. */
function startServer(port: number, dir?: string): Promise<ChildProcess> {
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'];
  if (dir !== undefined) args.push('--dir', dir);
  const child = spawn('redis-server', args, {
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
    dropPrefix: (prefix: string) => dropKeys([url], prefix),
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

/** A Redis deployment other than one server: the store settings that reach it, and its clean-up. */
export interface TestRedisTopology {
  /** What to merge into `store.redis` (cluster nodes, or sentinels and the master's name). */
  settings: { cluster: string[] } | { sentinels: string[]; sentinel_name: string };
  newPrefix(): string;
  /** Deletes every key starting with `prefix`, on every master. */
  dropPrefix(prefix: string): Promise<void>;
  /** Stops every process it started and removes their files. */
  close(): Promise<void>;
}

const CLUSTER_MASTERS = 3;
const TOPOLOGY_READY_MS = 20_000; // ms: the cluster's slots all served, or the sentinel knowing its master

/** Runs a command to its end; rejects on a non-zero exit with its output. */
function runToEnd(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')}: exit ${code}: ${output}`))));
  });
}

/** Waits until `check` holds (a peer not answering yet counts as not yet). */
const waitUntil = (what: string, check: () => Promise<boolean>): Promise<boolean> => eventually(check, what, TOPOLOGY_READY_MS, 200);

/** Deletes the keys starting with `prefix` on each server (URLs). */
async function dropKeys(urls: string[], prefix: string): Promise<void> {
  for (const url of urls) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) await redis.unlink(key); // one by one: a cluster node refuses keys of several slots at once
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}

/**
 * A Redis Cluster of three masters (no replicas) on free loopback ports, each server in a
 * temporary directory of its own, made with `redis-cli --cluster create`.
 */
export async function startTestRedisCluster(): Promise<TestRedisTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-redis-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const close = async () => {
    for (const child of children) await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < CLUSTER_MASTERS; i++) {
      const port = await freePort();
      ports.push(port);
      const child = spawn(
        'redis-server',
        ['--bind', '127.0.0.1', '--port', String(port), '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push(child);
      await waitForPort(port, '127.0.0.1', START_TIMEOUT_MS);
    }
    await runToEnd('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const port of ports) await waitUntil(`cluster node ${port}`, async () => (await runToEnd('redis-cli', ['-p', String(port), 'cluster', 'info'])).includes('cluster_state:ok'));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    settings: { cluster: ports.map((port) => `127.0.0.1:${port}`) },
    newPrefix: () => `rempart-test-${randomBytes(5).toString('hex')}:`,
    dropPrefix: (prefix) => dropKeys(ports.map((port) => `redis://127.0.0.1:${port}`), prefix),
    close,
  };
}

/** A Sentinel deployment: with `replica`, also the ports, and a way to kill the master (a failover). */
export interface TestRedisSentinel extends TestRedisTopology {
  masterPort: number;
  /** The replica's port (0 without one). */
  replicaPort: number;
  sentinelPort: number;
  /** Kills the master (SIGKILL), as a crashed host. */
  killMaster(): Promise<void>;
  /** The master's port as the Sentinel names it now. */
  currentMasterPort(): Promise<number>;
}

export interface SentinelOptions {
  /** A replica of the master, which the Sentinel promotes when the master is down (default false). */
  replica?: boolean;
  /** How long the master must not answer before the Sentinel calls it down, ms (default 30,000, Redis's). */
  downAfterMs?: number;
}

/**
 * A master (and with `replica`, a replica of it) and one Sentinel watching it (quorum 1), on free
 * loopback ports; the master's name is `rempart`.
 */
export async function startTestRedisSentinel(options: SentinelOptions = {}): Promise<TestRedisSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-redis-sentinel-'));
  const children: ChildProcess[] = [];
  const close = async () => {
    for (const child of children.reverse()) await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const masterPort = await freePort();
  const replicaPort = options.replica ? await freePort() : 0;
  const sentinelPort = await freePort();
  let master: ChildProcess | undefined;
  const currentMasterPort = async () =>
    Number((await runToEnd('redis-cli', ['-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', 'rempart'])).trim().split('\n')[1]);
  try {
    master = await startServer(masterPort, dir);
    children.push(master);
    if (options.replica) {
      const replica = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(replicaPort), '--replicaof', '127.0.0.1', String(masterPort), '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(replica);
      await waitForPort(replicaPort, '127.0.0.1', START_TIMEOUT_MS);
      await waitUntil('replica', async () => (await runToEnd('redis-cli', ['-p', String(replicaPort), 'info', 'replication'])).includes('master_link_status:up'));
    }
    const configFile = join(dir, 'sentinel.conf'); // Sentinel rewrites its configuration file: one of the test's own
    writeFileSync(
      configFile,
      `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor rempart 127.0.0.1 ${masterPort} 1\n` +
        (options.downAfterMs ? `sentinel down-after-milliseconds rempart ${options.downAfterMs}\nsentinel failover-timeout rempart ${options.downAfterMs * 5}\n` : ''),
    );
    children.push(spawn('redis-server', [configFile, '--sentinel', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'inherit'] }));
    await waitForPort(sentinelPort, '127.0.0.1', START_TIMEOUT_MS);
    await waitUntil('sentinel', async () => (await currentMasterPort()) === masterPort);
    if (options.replica) {
      // The Sentinel learns the replica from the master's INFO (every 10 s at first): wait, or it has nothing to promote.
      await waitUntil('sentinel knowing the replica', async () =>
        (await runToEnd('redis-cli', ['-p', String(sentinelPort), 'sentinel', 'replicas', 'rempart'])).includes(String(replicaPort)),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    settings: { sentinels: [`127.0.0.1:${sentinelPort}`], sentinel_name: 'rempart' },
    newPrefix: () => `rempart-test-${randomBytes(5).toString('hex')}:`,
    dropPrefix: async (prefix) => dropKeys([`redis://127.0.0.1:${await currentMasterPort()}`], prefix),
    close,
    masterPort,
    replicaPort,
    sentinelPort,
    async killMaster() {
      if (!master || master.exitCode !== null || master.signalCode !== null) return;
      const exited = new Promise((resolve) => master!.once('exit', resolve));
      master.kill('SIGKILL');
      await exited;
    },
    currentMasterPort,
  };
}
