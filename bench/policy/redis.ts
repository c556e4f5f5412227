// The Redis server of the policy benchmark's Redis variants (rempart-redis: one Rempart daemon on
// Redis; rempart-redis-2: two daemons sharing it): Debian's redis-server in the foreground on a free
// loopback port, in memory only (no RDB snapshots, no AOF), with a fresh key prefix for the run. It
// counts the commands the daemons send (INFO commandstats, read before and after each measured
// window) and reports its memory; its CPU is measured from /proc/PID/stat by the load generator
// (it is one of the server's helper processes). Stopped by PID; its temporary directory is removed.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from '../../test/helpers/ports.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

const START_TIMEOUT_MS = 10_000; // redis-server must accept connections within 10 s
const STOP_TIMEOUT_MS = 10_000; // SIGTERM, then SIGKILL after 10 s
const INFO_TIMEOUT_MS = 5_000; // one INFO of the benchmark's own connection
const BYTES_PER_MB = 2 ** 20;
/** Commands left out of the counts: the benchmark's own INFO (the daemons send none while serving). */
const UNCOUNTED_COMMANDS = new Set(['info']);

/** Commands Redis has executed so far (`calls` of INFO commandstats), the benchmark's INFO left out. */
export interface CommandCounts {
  total: number;
  /** By command name in lower case (`evalsha`, `get`, `client|setname`, …). */
  byCommand: Record<string, number>;
}

export interface BenchRedis {
  pid: number;
  port: number;
  /** `redis://127.0.0.1:PORT/0`, for the daemons' `store.redis.url`. */
  url: string;
  /** A key prefix of this run only (`rempart-bench-<random>:`), for `store.redis.prefix`. */
  prefix: string;
  /** Commands executed so far. */
  commandCounts(): Promise<CommandCounts>;
  /** Memory Redis holds for its data (INFO memory `used_memory`), in MB. */
  usedMemoryMB(): Promise<number>;
  /** Last lines of redis-server's log (for error reports). */
  logTail(): string;
  stop(): Promise<void>;
}

/** "Redis 7.0.15" (for the report). */
export function redisVersion(): string {
  try {
    const text = execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return `Redis ${/v=(\S+)/.exec(text)?.[1] ?? 'unknown version'}`;
  } catch {
    return 'Redis (version unknown)';
  }
}

/** Parses INFO commandstats (`cmdstat_get:calls=5,usec=…`) into call counts. */
export function parseCommandStats(info: string): CommandCounts {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = match[1]!.toLowerCase();
    if (UNCOUNTED_COMMANDS.has(name)) continue;
    const calls = Number(match[2]);
    byCommand[name] = calls;
    total += calls;
  }
  return { total, byCommand };
}

/** The commands of the window between two counts: `after - before`, by command (zeros left out). */
export function commandsBetween(before: CommandCounts, after: CommandCounts): CommandCounts {
  const byCommand: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after.byCommand)) {
    const n = calls - (before.byCommand[name] ?? 0);
    if (n > 0) byCommand[name] = n;
  }
  return { total: after.total - before.total, byCommand };
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Starts redis-server on a free loopback port and connects the benchmark's own client (for INFO). */
export async function startBenchRedis(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-bench-'));
  const port = await freePort();
  const logPath = join(dir, 'redis.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    REDIS_SERVER,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', '--protected-mode', 'yes'],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-10).join('\n');
    } catch {
      return '';
    }
  };
  const url = `redis://127.0.0.1:${port}/0`;
  let client: Redis | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client?.disconnect();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const early = exited(child).then(() => 'exited' as const);
    const result = await Promise.race([waitForPort(port, '127.0.0.1', START_TIMEOUT_MS).then(() => 'up' as const), early]);
    if (result === 'exited') throw new Error(`redis-server exited at start-up (code ${child.exitCode}, signal ${child.signalCode})`);
    if (child.pid === undefined) throw new Error('redis-server: no pid');
    client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: INFO_TIMEOUT_MS, commandTimeout: INFO_TIMEOUT_MS, disableClientInfo: true });
    await client.connect();
    await client.ping();
  } catch (error) {
    const tail = logTail();
    await stop();
    throw new Error(`${(error as Error).message}\n${tail}`);
  }
  const info = client;
  return {
    pid: child.pid,
    port,
    url,
    prefix: `rempart-bench-${randomBytes(5).toString('hex')}:`,
    commandCounts: async () => parseCommandStats(await info.info('commandstats')),
    usedMemoryMB: async () => Number(/^used_memory:(\d+)/m.exec(await info.info('memory'))?.[1] ?? NaN) / BYTES_PER_MB,
    logTail,
    stop,
  };
}
