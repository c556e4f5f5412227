// Starts and stops the policy servers under test (Rempart and Debian's postgrey), each on its own
// free loopback port with its own fresh database directory, and removes everything afterwards; also
// Rempart with the whole envelope pipeline on ("rempart-envelope", with its own local DNS servers,
// see dns.ts), Rempart greylisting alone while a dashboard polls its HTTP API ("rempart-dashboard",
// the poller is poller.ts, driven by run.ts), Rempart greylisting alone on a Redis store
// ("rempart-redis": one daemon; "rempart-redis-2": two daemons sharing one Redis and key prefix, the
// load spread over both; the Redis server is redis.ts), and a "null" server that answers DUNNO
// without any work, to show the load generator's own ceiling. Every Rempart daemon gets free
// loopback ports of its own for the policy server, the milter (on, idle) and the HTTP API (on, with
// a password).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from '../../test/helpers/ports.js';
import { DNSBL_REJECT_ZONE, DNSBL_SCORE_ZONE, REJECT_ZONE_FILTER, startBenchDns, type BenchDns } from './dns.js';
import { RECIPIENTS } from './load.js';
import { redisVersion, startBenchRedis, type BenchRedis } from './redis.js';

/**
 * rempart: greylisting alone (as postgrey); rempart-dashboard: the same daemon and configuration,
 * measured while a dashboard polls its HTTP API; rempart-redis: the same greylisting on a Redis
 * store; rempart-redis-2: two such daemons sharing one Redis; rempart-envelope: every envelope check
 * on, with DNS.
 */
export type ServerName = 'rempart' | 'rempart-dashboard' | 'rempart-redis' | 'rempart-redis-2' | 'rempart-envelope' | 'postgrey' | 'null';
/**
 * In the order of a default run: rempart-dashboard right after rempart, the run it is compared
 * with; then the Redis variants, one node before two.
 */
export const SERVER_NAMES: readonly ServerName[] = ['rempart', 'rempart-dashboard', 'rempart-redis', 'rempart-redis-2', 'rempart-envelope', 'postgrey', 'null'];
export type RempartName = 'rempart' | 'rempart-dashboard' | 'rempart-redis' | 'rempart-redis-2' | 'rempart-envelope';
/** The variants on a Redis store, with their number of daemons. */
export const REDIS_NODES: Readonly<Partial<Record<ServerName, number>>> = { 'rempart-redis': 1, 'rempart-redis-2': 2 };

/** The build directory this file runs from (dist/ for npm run bench:policy): this file is BUILD/bench/policy/servers.js. */
const BUILD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The repository root (the build directory's parent). */
export const REPO_ROOT = resolve(BUILD_DIR, '..');
/**
 * The daemon's CLI: the one of the same build as the benchmark (dist/src/cli/main.js when run by
 * npm run bench:policy), or REMPART_BENCH_CLI when set.
 */
export const REMPART_MAIN = process.env.REMPART_BENCH_CLI ? resolve(process.env.REMPART_BENCH_CLI) : join(BUILD_DIR, 'src', 'cli', 'main.js');
export const POSTGREY = '/usr/sbin/postgrey';
/** Debian's default postgrey allow lists; both servers load them when --allow-lists is on. */
const POSTGREY_CLIENTS = '/etc/postgrey/whitelist_clients';
const POSTGREY_RECIPIENTS = '/etc/postgrey/whitelist_recipients';

const START_TIMEOUT_MS = 20_000; // a server must accept connections within 20 s
const STOP_TIMEOUT_MS = 15_000; // SIGTERM, then SIGKILL after 15 s

export interface ServerOptions {
  /** Greylisting delay, in s. */
  delaySeconds: number;
  /** Load Debian's postgrey allow lists (client names, recipients) into both servers. */
  allowLists: boolean;
}

/** One process answering policy requests: a Rempart daemon, postgrey or the null server. */
export interface ServerNode {
  port: number;
  pid: number;
  /** Rempart's HTTP API (`http://127.0.0.1:PORT`) and its `http.password`; undefined for the others. */
  http?: { url: string; password: string };
}

export interface RunningServer {
  name: ServerName;
  host: string;
  /** The first node's policy port, pid and HTTP API. */
  port: number;
  pid: number;
  http?: { url: string; password: string };
  /** Every node (two for rempart-redis-2, one for the others), all on `host`. */
  nodes: ServerNode[];
  /**
   * Helper processes (rempart-envelope's DNS servers, the Redis variants' redis-server; CPU measured
   * apart), empty for the others.
   */
  helperPids: number[];
  /** The Redis server of the Redis variants. */
  redis?: BenchRedis;
  /** Database directory. */
  dir: string;
  /** Sum of the file sizes in the database directory, in MB. */
  diskMB(): number;
  /** Last lines of the server's stdout/stderr (for error reports). */
  logTail(): string;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) resolvePromise();
    else child.once('exit', () => resolvePromise());
  });
}

function dirSizeMB(dir: string): number {
  let bytes = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) bytes += statSync(path).size;
    }
  };
  try {
    walk(dir);
  } catch {
    // gone
  }
  return bytes / 2 ** 20;
}

/**
 * Spawns `command args`, waits until host:port accepts, and wraps it as a RunningServer of one node;
 * `label` names it in errors (a node of a server of several), `cleanup` is removed at stop.
 */
async function launch(name: ServerName, command: string, args: string[], port: number, dir: string, cleanup: string, label: string = name): Promise<RunningServer> {
  const host = '127.0.0.1';
  const logPath = join(cleanup, `${name}.log`);
  const logFd = openSync(logPath, 'a');
  const child = spawn(command, args, { stdio: ['ignore', logFd, logFd], cwd: REPO_ROOT });
  closeSync(logFd);
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
    }
    rmSync(cleanup, { recursive: true, force: true });
  };
  const early = exited(child).then(() => 'exited' as const);
  try {
    const result = await Promise.race([waitForPort(port, host, START_TIMEOUT_MS).then(() => 'up' as const), early]);
    if (result === 'exited') throw new Error(`${label} exited at start-up (code ${child.exitCode}, signal ${child.signalCode})`);
  } catch (error) {
    const tail = logTail();
    await stop();
    throw new Error(`${(error as Error).message}\n${tail}`);
  }
  if (child.pid === undefined) throw new Error(`${label}: no pid`);
  return { name, host, port, pid: child.pid, nodes: [{ port, pid: child.pid }], helperPids: [], dir, diskMB: () => dirSizeMB(dir), logTail, stop };
}

/** Where a Rempart configuration puts things (real paths, or placeholders for the report). */
export interface RempartPlaces {
  store: string;
  listen: string;
  /** milter.listen (on, idle: the benchmark speaks the policy protocol only). */
  milter: string;
  /** http.listen and http.password. */
  http: string;
  password: string;
  /** dns.servers entry (rempart-envelope only). */
  dns: string;
  /** Valid-recipients file (rempart-envelope only). */
  recipients: string;
  /** store.redis.url and store.redis.prefix (the Redis variants only; the others use SQLite in `store`). */
  redis?: { url: string; prefix: string };
}

/**
 * The YAML configuration of `rempart` (greylisting alone; `rempart-dashboard` runs the same, and so
 * do the Redis variants, on the Redis of `places.redis`) or `rempart-envelope` (every envelope check).
 */
export function rempartConfig(name: 'rempart' | 'rempart-envelope', options: ServerOptions, places: RempartPlaces): string {
  const lists = options.allowLists && existsSync(POSTGREY_CLIENTS) && existsSync(POSTGREY_RECIPIENTS);
  const greylist = [
    'greylist:',
    `  delay: ${options.delaySeconds}`,
    ...(lists
      ? [`  allow_clients_files: [${JSON.stringify(POSTGREY_CLIENTS)}]`, `  allow_recipients_files: [${JSON.stringify(POSTGREY_RECIPIENTS)}]`]
      : []),
  ];
  const common = [
    'hostname: bench.example',
    ...(name === 'rempart-envelope' ? ['local_domains: [bench.example]'] : []),
    'my_networks: []',
    places.redis
      ? `store: { backend: redis, redis: { url: ${JSON.stringify(places.redis.url)}, prefix: ${JSON.stringify(places.redis.prefix)} } }`
      : `store: { path: ${JSON.stringify(places.store)} }`,
    `policy: { listen: ${JSON.stringify(places.listen)} }`,
    `milter: { listen: ${JSON.stringify(places.milter)} }`,
    // The HTTP API on (as by default) on a port of its own; the password given as such, not as a
    // $scrypt$ hash: a hash costs one scrypt per Bearer request, a cost the dashboard itself does not
    // pay (it logs in once and sends its session cookie).
    `http: { listen: ${JSON.stringify(places.http)}, password: ${JSON.stringify(places.password)} }`,
    'log: { level: warn }',
  ];
  if (name === 'rempart') {
    return [
      `# written by bench/policy/servers.ts: greylisting alone${places.redis ? ', on a Redis store' : ''}`,
      ...common,
      // Greylisting alone, as postgrey does it: every other check off (the envelope variant below
      // shows the whole pipeline).
      'helo: { invalid: off, not_fqdn: off, bare_ip: off, literal_mismatch: off, ours: off }',
      'rdns: { missing: off, unconfirmed: off, dynamic: off }',
      'sender: { not_fqdn: off, domain_not_found: off, null_mx: off }',
      'recipients: { unknown: off }',
      'lists: { enabled: false }',
      'bans: { enabled: false }',
      'strikes: { no_ptr: { strikes: 0 }, dnsbl: { strikes: 0 }, unknown_recipient: { strikes: 0 } }',
      ...greylist,
      '',
    ].join('\n');
  }
  return [
    '# written by bench/policy/servers.ts: the whole envelope pipeline',
    ...common,
    `dns: { servers: [${JSON.stringify(places.dns)}] }   # dnsmasq, forwarding the DNSBL zones to rbldnsd; other dns keys at their defaults`,
    '# helo, rdns, sender, relay: every rule at its default (sender: FQDN, then MX, else A/AAAA lookups)',
    `recipients: { files: [${JSON.stringify(places.recipients)}] }   # user0..user${RECIPIENTS - 1}@bench.example, all valid`,
    'dnsbl:',
    '  zones:',
    `    - { zone: ${DNSBL_REJECT_ZONE}, action: reject, answers: [${JSON.stringify(REJECT_ZONE_FILTER)}] }`,
    `    - { zone: ${DNSBL_SCORE_ZONE}, action: score, score: 3 }`,
    ...greylist,
    '',
  ].join('\n');
}

/** Placeholders for the report's copy of a configuration. */
export const PLACEHOLDERS: RempartPlaces = {
  store: '/tmp/…/store',
  listen: '127.0.0.1:PORT',
  milter: '127.0.0.1:MILTERPORT',
  http: '127.0.0.1:HTTPPORT',
  password: 'PASSWORD',
  dns: '127.0.0.1:DNSPORT',
  recipients: '/tmp/…/recipients',
};

/** Placeholders for the report's copy of a Redis variant's configuration. */
export const REDIS_PLACEHOLDERS: RempartPlaces = {
  ...PLACEHOLDERS,
  redis: { url: 'redis://127.0.0.1:REDISPORT/0', prefix: 'rempart-bench-RANDOM:' },
};

/** What the daemons of one server share: rempart-envelope's DNS servers, the Redis variants' Redis. */
interface SharedHelpers {
  dns?: BenchDns;
  redis?: BenchRedis;
}

/**
 * Starts one Rempart daemon (`node dist/src/cli/main.js serve --config FILE`) on free ports of its
 * own, in a fresh temporary directory (its SQLite store, unless on Redis); `label` names it in
 * errors. Returns once its policy server and its HTTP API both accept.
 */
async function startRempartNode(name: RempartName, options: ServerOptions, shared: SharedHelpers, label: string): Promise<RunningServer> {
  const root = mkdtempSync(join(tmpdir(), 'rempart-bench-'));
  try {
    const store = join(root, 'store');
    const port = await freePort();
    const milterPort = await freePort();
    const httpPort = await freePort();
    const password = randomBytes(18).toString('base64url');
    const recipients = join(root, 'recipients');
    if (shared.dns) writeFileSync(recipients, Array.from({ length: RECIPIENTS }, (_, i) => `user${i}@bench.example\n`).join(''));
    const places: RempartPlaces = {
      store,
      listen: `127.0.0.1:${port}`,
      milter: `127.0.0.1:${milterPort}`,
      http: `127.0.0.1:${httpPort}`,
      password,
      dns: shared.dns?.address ?? '',
      recipients,
      ...(shared.redis ? { redis: { url: shared.redis.url, prefix: shared.redis.prefix } } : {}),
    };
    const config = rempartConfig(name === 'rempart-envelope' ? name : 'rempart', options, places);
    const configPath = join(root, 'rempart.yaml');
    writeFileSync(configPath, config);
    // REMPART_BENCH_CPU_PROF=DIR: V8 CPU profiles of the server under load, one .cpuprofile per run, in DIR.
    const profileDir = process.env.REMPART_BENCH_CPU_PROF;
    const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const launched = await launch(name, process.execPath, [...nodeFlags, REMPART_MAIN, 'serve', '--config', configPath], port, store, root, label);
    // The HTTP API starts just after the mail servers: wait for it too.
    try {
      await waitForPort(httpPort, '127.0.0.1', START_TIMEOUT_MS);
    } catch (error) {
      const tail = launched.logTail();
      await launched.stop();
      throw new Error(`${label}: HTTP API: ${(error as Error).message}\n${tail}`);
    }
    const http = { url: `http://127.0.0.1:${httpPort}`, password };
    return { ...launched, http, nodes: [{ port, pid: launched.pid, http }] };
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Starts Rempart on free ports with a fresh store: greylisting alone (rempart, rempart-dashboard),
 * the same on a fresh redis-server started first (rempart-redis; rempart-redis-2: two daemons with
 * the same configuration sharing it and its key prefix), or (rempart-envelope) every envelope check,
 * with its DNS servers started first. Returns once every daemon's policy server and HTTP API accept.
 */
export async function startRempart(options: ServerOptions, name: RempartName = 'rempart'): Promise<RunningServer> {
  if (!existsSync(REMPART_MAIN)) throw new Error(`${REMPART_MAIN} is missing: build first (npx tsc -p .), or set REMPART_BENCH_CLI`);
  const nodeCount = REDIS_NODES[name] ?? 1;
  const shared: SharedHelpers = {};
  const nodes: RunningServer[] = [];
  const stopAll = async () => {
    for (const node of nodes) await node.stop();
    await shared.redis?.stop();
    await shared.dns?.stop();
  };
  try {
    if (name === 'rempart-envelope') shared.dns = await startBenchDns();
    if (REDIS_NODES[name] !== undefined) shared.redis = await startBenchRedis();
    for (let i = 1; i <= nodeCount; i++) nodes.push(await startRempartNode(name, options, shared, nodeCount > 1 ? `${name} node ${i}` : name));
  } catch (error) {
    const tail = shared.redis ? `\nredis-server: ${shared.redis.logTail()}` : '';
    await stopAll();
    throw new Error(`${(error as Error).message}${tail}`);
  }
  const first = nodes[0]!;
  const { dns, redis } = shared;
  return {
    ...first,
    nodes: nodes.flatMap((node) => node.nodes),
    helperPids: [...(dns?.pids ?? []), ...(redis ? [redis.pid] : [])],
    ...(redis ? { redis } : {}),
    diskMB: () => nodes.reduce((sum, node) => sum + node.diskMB(), 0),
    logTail: () =>
      [
        ...nodes.map((node, i) => (nodes.length > 1 ? `node ${i + 1}:\n${node.logTail()}` : node.logTail())),
        ...(dns ? [dns.output().split('\n').slice(-5).join('\n')] : []),
        ...(redis ? [`redis-server:\n${redis.logTail()}`] : []),
      ].join('\n'),
    stop: stopAll,
  };
}

/** Starts postgrey in the foreground (so the spawned pid is the server) on a free port with a fresh dbdir. */
export async function startPostgrey(options: ServerOptions): Promise<RunningServer> {
  if (!existsSync(POSTGREY)) throw new Error(`${POSTGREY} is missing (apt-get install postgrey)`);
  const root = mkdtempSync(join(tmpdir(), 'postgrey-bench-'));
  const dbdir = join(root, 'db');
  const port = await freePort();
  const uid = Number(execFileSync('id', ['-u', 'postgrey'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgrey'], { encoding: 'utf8' }).trim());
  mkdirSync(dbdir); // root stays ours; the dbdir belongs to the postgrey user, who must write there
  chownSync(dbdir, uid, gid);
  chmodSync(dbdir, 0o700);
  chmodSync(root, 0o755);
  const args = [
    `--inet=127.0.0.1:${port}`,
    `--dbdir=${dbdir}`,
    `--pidfile=${join(dbdir, 'postgrey.pid')}`, // only used with --daemonize; we run in the foreground
    `--delay=${options.delaySeconds}`,
    '--user=postgrey',
    '--group=postgrey',
    '--quiet', // no log line per decision (Rempart runs at log level warn)
    ...(options.allowLists ? [] : ['--whitelist-clients=/dev/null', '--whitelist-recipients=/dev/null']),
  ];
  return launch('postgrey', POSTGREY, args, port, dbdir, root);
}

/** A policy server that parses nothing and answers every request with DUNNO (process argv[1] = port). */
const NULL_SERVER = `
const { createServer } = require('node:net');
createServer((socket) => {
  let buffer = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\\n\\n'); end >= 0; end = buffer.indexOf('\\n\\n')) {
      buffer = buffer.slice(end + 2);
      socket.write('action=DUNNO\\n\\n');
    }
  });
  socket.on('error', () => {});
}).listen(Number(process.argv[1]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** Starts the null server (a separate Node process, so it does not share the load generator's thread). */
export async function startNull(): Promise<RunningServer> {
  const root = mkdtempSync(join(tmpdir(), 'null-bench-'));
  const port = await freePort();
  return launch('null', process.execPath, ['-e', NULL_SERVER, String(port)], port, root, root);
}

export function startServer(name: ServerName, options: ServerOptions): Promise<RunningServer> {
  if (name === 'null') return startNull();
  if (name === 'postgrey') return startPostgrey(options);
  return startRempart(options, name);
}

/** Version strings for the report. */
export function serverVersion(name: ServerName): string {
  try {
    if (name === 'null') return `null server (Node ${process.version}, answers DUNNO)`;
    if (name === 'postgrey') return execFileSync(POSTGREY, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0]!;
    const version = execFileSync(process.execPath, [REMPART_MAIN, '--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${name} ${version}${REDIS_NODES[name] !== undefined ? ` on ${redisVersion()}` : ''}`;
  } catch {
    return `${name} (version unknown)`;
  }
}
