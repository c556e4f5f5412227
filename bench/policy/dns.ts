// The DNS the envelope-pipeline benchmark server asks: Debian's dnsmasq on a free loopback port
// answers the load generator's sender domains (A for every name under example.com, NXDOMAIN under
// example.org) and forwards the two DNS block list zones to Debian's rbldnsd, which lists a small
// fraction of the load generator's client addresses. Both run in the foreground without query
// logs, are started and stopped by PID, and their temporary directory is removed at stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeDnsPort } from '../../test/helpers/dns-server.js';
import { reverseIpName } from '../../src/dns/names.js';
import { clientAddress, dnsblListing, MAX_TRIPLETS, SENDER_DOMAIN_FOUND, SENDER_DOMAIN_MISSING } from './load.js';

const DNSMASQ = '/usr/sbin/dnsmasq';
const RBLDNSD = '/usr/sbin/rbldnsd';

/** The two block list zones, both served by rbldnsd behind dnsmasq. */
export const DNSBL_PARENT = 'dnsbl.example';
export const DNSBL_REJECT_ZONE = `block.${DNSBL_PARENT}`;
export const DNSBL_SCORE_ZONE = `score.${DNSBL_PARENT}`;
/** Answer of a listing, inside the reject zone's answer filter. */
export const LISTED_ANSWER = '127.0.0.2';
/** Answer of the reject zone's filtered entries: outside its filter, so not a listing. */
export const FILTERED_ANSWER = '127.0.0.20';
/** The reject zone's answer filter (as a zen.spamhaus.org SBL/XBL filter). */
export const REJECT_ZONE_FILTER = '127.0.0.2-127.0.0.11';
/** The A record of every sender domain under example.com. */
const SENDER_DOMAIN_ADDRESS = '192.0.2.10';

const TTL_SECONDS = 60; // TTL of every answer, in s
const START_TIMEOUT_MS = 10_000; // each server must answer within 10 s
const STOP_TIMEOUT_MS = 5_000; // SIGTERM, then SIGKILL after 5 s
const FORWARD_MAX = 1_000; // queries dnsmasq forwards at once (its default, 150, is below 50 connections × 2 zones × retries)

export interface BenchDns {
  /** `127.0.0.1:port` of dnsmasq, for rempart's `dns.servers`. */
  address: string;
  /** PIDs of dnsmasq and rbldnsd (their CPU is measured apart from rempart's). */
  pids: number[];
  /** Entries in each zone, for the report. */
  entries: { reject: number; filtered: number; score: number };
  /** Output of both servers so far (for error reports). */
  output(): string;
  stop(): Promise<void>;
}

/** One line per statement of what the benchmark's DNS serves (for the report). */
export function dnsDescription(): string {
  return (
    `dnsmasq (no cache: \`cache-size=0\`, no query log) answers A ${SENDER_DOMAIN_ADDRESS} for every name under ${SENDER_DOMAIN_FOUND} ` +
    `and no MX or AAAA (so a sender domain costs 2 lookups: MX, then A), NXDOMAIN for every name under ${SENDER_DOMAIN_MISSING}, ` +
    `and forwards ${DNSBL_PARENT} to rbldnsd (two \`ip4set\` zones: \`${DNSBL_REJECT_ZONE}\` and \`${DNSBL_SCORE_ZONE}\`); all TTLs ${TTL_SECONDS} s`
  );
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited(child);
  clearTimeout(timer);
}

/** Spawns a server in the foreground, collecting its output (both servers print little). */
function spawnServer(binary: string, args: string[], output: string[]): ChildProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.once('error', (error) => output.push(`${binary}: ${error.message}\n`));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => output.push(d));
  return child;
}

/** Asks `name` A of 127.0.0.1:port until something answers; returns the answer or the error code. */
async function query(port: number, name: string, timeoutMs: number, child: ChildProcess, label: string): Promise<string> {
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited at start-up (code ${child.exitCode}, signal ${child.signalCode})`);
    const answer = await resolver.resolve4(name).then(
      (records) => records.join(','),
      (error: NodeJS.ErrnoException) => error.code ?? 'EUNKNOWN',
    );
    if (answer !== 'ETIMEOUT' && answer !== 'ECONNREFUSED') return answer;
    if (Date.now() > deadline) throw new Error(`${label} does not answer on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The first triplet id whose client has this listing (for the start-up self-check). */
function firstIdListed(listing: 'reject' | 'reject-filtered' | 'score'): number {
  for (let id = 0; id < MAX_TRIPLETS; id++) if (dnsblListing(id) === listing) return id;
  throw new Error(`no triplet id is listed as ${listing}`);
}

/** Starts rbldnsd and dnsmasq, checks a few answers, and returns them running. */
export async function startBenchDns(): Promise<BenchDns> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bench-dns-'));
  chmodSync(dir, 0o755); // rbldnsd drops to user nobody and reads its zone files from here
  const output: string[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children.reverse()) await stopChild(child);
    children.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // rbldnsd zone files: every client address the load generator can use, listed or not by a hash of its id.
    const reject = [`:${LISTED_ANSWER}:Listed by the rempart benchmark`];
    const score = [`:${LISTED_ANSWER}:Listed by the rempart benchmark`];
    const entries = { reject: 0, filtered: 0, score: 0 };
    for (let id = 0; id < MAX_TRIPLETS; id++) {
      const listing = dnsblListing(id);
      if (listing === undefined) continue;
      if (listing === 'reject') {
        reject.push(clientAddress(id));
        entries.reject++;
      } else if (listing === 'reject-filtered') {
        reject.push(`${clientAddress(id)} :${FILTERED_ANSWER}:`);
        entries.filtered++;
      } else {
        score.push(clientAddress(id));
        entries.score++;
      }
    }
    writeFileSync(join(dir, 'block.ip4set'), reject.join('\n') + '\n', { mode: 0o644 });
    writeFileSync(join(dir, 'score.ip4set'), score.join('\n') + '\n', { mode: 0o644 });
    const rbldnsdPort = await freeDnsPort();
    const rbldnsd = spawnServer(
      RBLDNSD,
      [
        '-n', // foreground
        '-b', `127.0.0.1/${rbldnsdPort}`,
        '-w', dir,
        '-t', String(TTL_SECONDS),
        '-u', 'nobody',
        `${DNSBL_REJECT_ZONE}:ip4set:block.ip4set`,
        `${DNSBL_SCORE_ZONE}:ip4set:score.ip4set`,
      ],
      output,
    );
    children.push(rbldnsd);
    await query(rbldnsdPort, `probe.${DNSBL_REJECT_ZONE}`, START_TIMEOUT_MS, rbldnsd, 'rbldnsd');

    const dnsmasqPort = await freeDnsPort();
    const config = [
      '# written by bench/policy/dns.ts',
      'no-resolv', // no upstream: names outside the zones below are REFUSED
      'no-hosts',
      'no-poll',
      'bind-interfaces',
      'listen-address=127.0.0.1',
      `port=${dnsmasqPort}`,
      `local-ttl=${TTL_SECONDS}`,
      'cache-size=0',
      `dns-forward-max=${FORWARD_MAX}`,
      `local=/${SENDER_DOMAIN_FOUND}/`, // answered here only: A below, no MX, no AAAA (NODATA)
      `address=/${SENDER_DOMAIN_FOUND}/${SENDER_DOMAIN_ADDRESS}`,
      `local=/${SENDER_DOMAIN_MISSING}/`, // no record at all: NXDOMAIN
      `server=/${DNSBL_PARENT}/127.0.0.1#${rbldnsdPort}`,
      '',
    ].join('\n');
    const configPath = join(dir, 'dnsmasq.conf');
    writeFileSync(configPath, config, { mode: 0o644 });
    const dnsmasq = spawnServer(DNSMASQ, ['--keep-in-foreground', `--conf-file=${configPath}`, '--pid-file='], output);
    children.push(dnsmasq);

    // Self-check through dnsmasq: a sender domain, a missing one, each kind of listing, an unlisted client.
    const checks: Array<[string, string]> = [
      [`m1.${SENDER_DOMAIN_FOUND}`, SENDER_DOMAIN_ADDRESS],
      [`m3.${SENDER_DOMAIN_MISSING}`, 'ENOTFOUND'],
      [reverseIpName(clientAddress(firstIdListed('reject')), DNSBL_REJECT_ZONE)!, LISTED_ANSWER],
      [reverseIpName(clientAddress(firstIdListed('reject-filtered')), DNSBL_REJECT_ZONE)!, FILTERED_ANSWER],
      [reverseIpName(clientAddress(firstIdListed('score')), DNSBL_SCORE_ZONE)!, LISTED_ANSWER],
      [reverseIpName(clientAddress(firstIdListed('score')), DNSBL_REJECT_ZONE)!, 'ENOTFOUND'],
    ];
    for (const [name, expected] of checks) {
      const got = await query(dnsmasqPort, name, START_TIMEOUT_MS, dnsmasq, 'dnsmasq');
      if (got !== expected) throw new Error(`bench DNS self-check: ${name} A answered ${got}, expected ${expected}`);
    }
    const pids = children.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
    return { address: `127.0.0.1:${dnsmasqPort}`, pids, entries, output: () => output.join(''), stop };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output.join('')}`);
  }
}
