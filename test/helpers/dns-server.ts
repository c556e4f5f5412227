// Real DNS servers for tests, on free loopback ports, stopped by PID (also at an abnormal exit):
// - startDnsmasq: Debian's dnsmasq (package dnsmasq-base, no system service) answering A, AAAA,
//   MX (null MX included), PTR and TXT records of test domains; other names under those domains get
//   NXDOMAIN, names outside them REFUSED (no upstream). Queries are logged, so tests can count them.
// - startRbldnsd: Debian's rbldnsd serving DNSBL zones (ip4set, ip4trie, ip6trie, ip6tset, dnset…).
// - startStubDnsServer: a few lines of UDP for the failures real servers cannot be told to produce
//   on demand: a server that never answers (timeouts) and one that answers every query SERVFAIL.
// Usage:  const dns = await startDnsmasq({ domains: ['test'], hosts: [...] });  t.after(() => dns.stop());
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ptrName } from '../../src/dns/names.js';
import { findBinary, onAbnormalExit } from './postfix.js';
import { freePort } from './ports.js';

/** A query a server logged: record type (A, MX…) and name (lower case, no final dot). */
export interface LoggedQuery {
  type: string;
  name: string;
}

export interface DnsServer {
  /** Loopback port (UDP; dnsmasq also serves TCP on it). */
  port: number;
  /** `127.0.0.1:port`, ready for DnsResolver's `servers`. */
  address: string;
  /** PID of the server process (undefined for the in-process stub server). */
  pid: number | undefined;
  /** Queries received so far, oldest first. */
  queries(): Promise<LoggedQuery[]>;
  /** How many queries for `name` (and `type`, when given) were received so far. */
  queryCount(name: string, type?: string): Promise<number>;
  /** Output of the server so far (start-up messages, errors), for failure messages. */
  output(): string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s), waits for it, removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface DnsmasqOptions {
  /** Domains answered only from the records below: other names under them get NXDOMAIN. */
  domains: string[];
  /** A/AAAA records, with an optional TTL (seconds; default `ttlSeconds`). */
  hosts?: Array<{ name: string; ipv4?: string[]; ipv6?: string[]; ttlSeconds?: number }>;
  /** MX records; exchange '.' with preference 0 is a null MX (RFC 7505). */
  mx?: Array<{ name: string; exchange: string; preference: number }>;
  /** PTR records: the address and the name it points to. */
  ptr?: Array<{ ip: string; name: string }>;
  /** TXT records: each entry is one record of one or more character-strings. */
  txt?: Array<{ name: string; strings: string[] }>;
  /** Every name under `domain` (and `domain` itself) answers A with `address`. */
  wildcards?: Array<{ domain: string; address: string }>;
  /** TTL of the MX, PTR, TXT and wildcard records, and default for hosts, in seconds (default 60 s). */
  ttlSeconds?: number;
  /** More dnsmasq arguments (e.g. `--dns-rr=...`). */
  extraArgs?: string[];
}

/** One rbldnsd dataset: zone name, dataset type, and the data file's lines (rbldnsd's own format). */
export interface RbldnsdZone {
  zone: string;
  type: 'ip4set' | 'ip4tset' | 'ip4trie' | 'ip6tset' | 'ip6trie' | 'dnset' | 'generic' | 'combined';
  lines: string[];
}

export interface RbldnsdOptions {
  /** Datasets; several with the same `zone` make one zone. */
  zones: RbldnsdZone[];
  /** TTL of the answers, in seconds (default 60 s). */
  ttlSeconds?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Why the Debian DNS servers cannot run here, or undefined when they can. */
export function dnsServersUnavailable(): string | undefined {
  const missing = (['dnsmasq', 'rbldnsd'] as const).filter((b) => findBinary(b) === undefined);
  if (missing.length === 0) return undefined;
  return `${missing.join(', ')} not installed (Debian packages dnsmasq-base, rbldnsd; .ci/run installs them)`;
}

/** A loopback port free for both TCP and UDP right now. */
export async function freeDnsPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if ((await udpPortFree(port)) && (await tcpPortFree(port))) return port;
  }
  throw new Error('no loopback port free for both TCP and UDP after 50 attempts');
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Name the start-up probe asks for (left out of the query logs). */
const PROBE_NAME = 'rempart-ready.invalid';
const withoutProbes = (queries: LoggedQuery[]) => queries.filter((q) => q.name !== PROBE_NAME);

/** Resolves once a DNS server answers anything (even NXDOMAIN or REFUSED) on 127.0.0.1:port. */
async function waitForDns(port: number, child: ChildProcess, output: () => string, name: string, timeoutMs = 10_000): Promise<void> {
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${output()}`);
    }
    const answered = await resolver.resolve4(PROBE_NAME).then(
      () => true,
      (error: NodeJS.ErrnoException) => error.code !== 'ETIMEOUT' && error.code !== 'ECONNREFUSED',
    );
    if (answered) return;
    if (Date.now() > deadline) throw new Error(`${name} does not answer on 127.0.0.1:${port} after ${timeoutMs} ms:\n${output()}`);
    await sleep(50);
  }
}

function collect(child: ChildProcess): () => string {
  const chunks: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  return () => chunks.join('');
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A world-readable temp dir with a world-writable log file (both servers drop root privileges). */
async function makeWorkDir(prefix: string): Promise<{ dir: string; logPath: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  const logPath = join(dir, 'queries.log');
  await writeFile(logPath, '');
  await chmod(logPath, 0o666);
  return { dir, logPath };
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Spawns a server in the foreground, with cleanup at stop() and at an abnormal exit of the tests. */
function spawnServer(binary: string, args: string[], dir: string): Spawned {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('error', () => {}); // reported through exitCode/output by the callers
  const output = collect(child);
  const unregister = onAbnormalExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // nothing more can be done at exit
    }
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 5_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      unregister();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { child, output, stop };
}

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, '');

function counter(queries: () => Promise<LoggedQuery[]>) {
  return async (name: string, type?: string): Promise<number> => {
    const wanted = normalise(name);
    return (await queries()).filter((q) => q.name === wanted && (type === undefined || q.type === type.toUpperCase())).length;
  };
}

/** dnsmasq's configuration-file quoting for one string (quotes and backslashes escaped). */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * dnsmasq's configuration file for `options`: the records go there rather than on the command
 * line, because only the file parser understands quoted strings (TXT with commas or quotes).
 */
export function dnsmasqConfig(options: DnsmasqOptions, port: number, logPath: string): string {
  const ttl = options.ttlSeconds ?? 60;
  const lines = [
    '# generated by test/helpers/dns-server.ts',
    'no-resolv', // no upstream: names outside the local domains are REFUSED
    'no-hosts',
    'no-poll',
    'bind-interfaces',
    'listen-address=127.0.0.1',
    `port=${port}`,
    'log-queries',
    `log-facility=${logPath}`,
    `local-ttl=${ttl}`,
    'cache-size=0',
    // Reverse zones are ours too: an address without a PTR record gets NXDOMAIN.
    'local=/in-addr.arpa/',
    'local=/ip6.arpa/',
  ];
  for (const domain of options.domains) lines.push(`local=/${normalise(domain)}/`);
  for (const host of options.hosts ?? []) {
    const hostTtl = host.ttlSeconds ?? ttl;
    for (const ip of [...(host.ipv4 ?? []), ...(host.ipv6 ?? [])]) lines.push(`host-record=${host.name},${ip},${hostTtl}`);
  }
  for (const mx of options.mx ?? []) lines.push(`mx-host=${mx.name},${mx.exchange},${mx.preference}`);
  for (const ptr of options.ptr ?? []) {
    const name = ptrName(ptr.ip);
    if (name === undefined) throw new Error(`startDnsmasq: not an IP address: ${ptr.ip}`);
    lines.push(`ptr-record=${name},${ptr.name}`);
  }
  for (const txt of options.txt ?? []) lines.push(`txt-record=${txt.name},${txt.strings.map(quoted).join(',')}`);
  for (const wildcard of options.wildcards ?? []) lines.push(`address=/${normalise(wildcard.domain)}/${wildcard.address}`);
  return lines.join('\n') + '\n';
}

/** Parses dnsmasq's `query[A] name from 127.0.0.1` log lines. */
function parseDnsmasqLog(text: string): LoggedQuery[] {
  const found: LoggedQuery[] = [];
  for (const match of text.matchAll(/ query\[([A-Za-z0-9]+)\] (\S+) from /g)) found.push({ type: match[1]!.toUpperCase(), name: normalise(match[2]!) });
  return found;
}

/** Parses rbldnsd's `time client name type class: rcode/n/len` log lines. */
function parseRbldnsdLog(text: string): LoggedQuery[] {
  const found: LoggedQuery[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 5) found.push({ type: fields[3]!.toUpperCase(), name: normalise(fields[2]!) });
  }
  return found;
}

/** Retries start-up on another port when the chosen one was taken in the meantime. */
async function withFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeDnsPort();
    try {
      return await start(port);
    } catch (error) {
      lastError = error;
      if (!/address already in use|in use/i.test((error as Error).message)) throw error;
    }
  }
  throw lastError;
}

/** Starts dnsmasq serving the given records on a free loopback port. */
export function startDnsmasq(options: DnsmasqOptions): Promise<DnsServer> {
  const binary = findBinary('dnsmasq');
  if (!binary) throw new Error(`cannot start dnsmasq: ${dnsServersUnavailable()}`);
  return withFreePort(async (port) => {
    const { dir, logPath } = await makeWorkDir('rempart-dnsmasq-');
    const configPath = join(dir, 'dnsmasq.conf');
    await writeFile(configPath, dnsmasqConfig(options, port, logPath), { mode: 0o644 });
    // No pid file: we hold the PID. Foreground, so that the PID is dnsmasq's own.
    const args = ['--keep-in-foreground', `--conf-file=${configPath}`, '--pid-file=', ...(options.extraArgs ?? [])];
    return launchDnsServer(binary, args, dir, port, 'dnsmasq', logPath, parseDnsmasqLog);
  });
}

/** Starts rbldnsd serving the given DNSBL zones on a free loopback port (UDP only). */
export function startRbldnsd(options: RbldnsdOptions): Promise<DnsServer> {
  const binary = findBinary('rbldnsd');
  if (!binary) throw new Error(`cannot start rbldnsd: ${dnsServersUnavailable()}`);
  return withFreePort(async (port) => {
    const { dir, logPath } = await makeWorkDir('rempart-rbldnsd-');
    const specs: string[] = [];
    for (const [index, zone] of options.zones.entries()) {
      const file = `zone${index}.${zone.type}`;
      await writeFile(join(dir, file), zone.lines.join('\n') + '\n', { mode: 0o644 });
      specs.push(`${normalise(zone.zone)}:${zone.type}:${file}`);
    }
    const args = [
      '-n', // foreground
      '-b', `127.0.0.1/${port}`,
      '-w', dir,
      '-t', String(options.ttlSeconds ?? 60),
      '-l', `+${logPath}`, // unbuffered query log
      ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
      ...specs,
    ];
    return launchDnsServer(binary, args, dir, port, 'rbldnsd', logPath, parseRbldnsdLog);
  });
}

/** Spawns a DNS server, waits until it answers on `port` (stopping it if it does not), and hands it out. */
async function launchDnsServer(
  binary: string,
  args: string[],
  dir: string,
  port: number,
  name: string,
  logPath: string,
  parseLog: typeof parseDnsmasqLog,
): Promise<DnsServer> {
  const server = spawnServer(binary, args, dir);
  const queries = async () => withoutProbes(parseLog(await readFile(logPath, 'utf8').catch(() => '')));
  try {
    await waitForDns(port, server.child, server.output, name);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    pid: server.child.pid,
    queries,
    queryCount: counter(queries),
    output: server.output,
    stop: server.stop,
  };
}

export interface StubDnsOptions {
  /** 'silent': never answers (for timeouts); 'servfail': answers every query with RCODE 2. */
  mode: 'silent' | 'servfail';
}

/**
 * An in-process UDP "server" for failure modes: it answers nothing, or SERVFAIL to everything
 * (the query echoed back with QR set and RCODE 2). It counts the datagrams it received.
 */
export async function startStubDnsServer(options: StubDnsOptions): Promise<DnsServer & { received(): number }> {
  const socket: Socket = createSocket('udp4');
  let received = 0;
  const names: LoggedQuery[] = [];
  socket.on('message', (message, peer) => {
    received++;
    names.push({ type: '?', name: questionName(message) });
    if (options.mode === 'servfail' && message.length >= 12) {
      const reply = Buffer.from(message);
      reply[2] = (reply[2]! | 0x80) & ~0x04; // QR = 1 (response), AA = 0; opcode and RD kept
      reply[3] = 0x80 | 0x02; // RA = 1, RCODE = 2 (SERVFAIL)
      reply.writeUInt16BE(0, 6); // no answers
      reply.writeUInt16BE(0, 8); // no authority
      reply.writeUInt16BE(0, 10); // no additional (drops the query's EDNS OPT record)
      const end = questionEnd(message);
      socket.send(reply.subarray(0, end), peer.port, peer.address);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  let stopped: Promise<void> | undefined;
  const queries = () => Promise.resolve([...names]);
  return {
    port,
    address: `127.0.0.1:${port}`,
    pid: undefined,
    queries,
    queryCount: async (name: string) => names.filter((q) => q.name === normalise(name)).length,
    received: () => received,
    output: () => '',
    stop: () => (stopped ??= new Promise<void>((resolve) => socket.close(() => resolve()))),
  };
}

/** The question name of a DNS query (labels only; '' when malformed). */
function questionName(message: Buffer): string {
  const labels: string[] = [];
  let offset = 12;
  while (offset < message.length) {
    const length = message[offset]!;
    if (length === 0 || length > 63) break;
    labels.push(message.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += 1 + length;
  }
  return normalise(labels.join('.'));
}

/** Offset just past the first question (header + name + type + class). */
function questionEnd(message: Buffer): number {
  let offset = 12;
  while (offset < message.length && message[offset]! !== 0) offset += 1 + message[offset]!;
  return Math.min(message.length, offset + 1 + 4);
}
