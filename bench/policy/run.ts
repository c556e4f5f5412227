// Policy server benchmark (run on demand, not a test): drives Rempart (greylisting alone, the same
// while a dashboard polls its HTTP API, the same on a Redis store with one daemon and with two
// sharing it, and with the whole envelope pipeline on against local DNS servers) and postgrey in
// the same run with the
// `new`, `retry` and `mix` workloads, fills Rempart with 1,000,000 triplets to measure its memory,
// and writes the results into docs/benchmarks.md between markers.
// Run: npm run bench:policy [-- --quick] [-- --help for all options]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { machine, revision, writeSection, type TargetRow } from '../report.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad, memoryMB, TripletIds, workloadSource, DNSBL_PER_MILLE, RECIPIENTS, SENDER_DOMAIN_FOUND, SENDER_DOMAIN_MISSING, type KnownSet, type LoadResult, type WorkloadName } from './load.js';
import { PLACEHOLDERS, REDIS_NODES, REDIS_PLACEHOLDERS, REPO_ROOT, SERVER_NAMES, rempartConfig, serverVersion, startServer, type RunningServer, type ServerName } from './servers.js';
import { commandsBetween, type CommandCounts } from './redis.js';
import { POLL_KINDS, POLL_PATHS, forkPoller, type PollKind, type PollerHandle, type PollerResult } from './poller.js';
import { DNSBL_REJECT_ZONE, DNSBL_SCORE_ZONE, FILTERED_ANSWER, LISTED_ANSWER, REJECT_ZONE_FILTER, dnsDescription } from './dns.js';

const usage = `npm run bench:policy -- [options]

  --quick                  smoke run of about two minutes (3 s per workload, small fills); does not
                           write docs/benchmarks.md unless --write is given
  --servers LIST           servers to run, comma-separated: rempart (greylisting alone), rempart-dashboard
                           (the same, while a dashboard and Prometheus poll its HTTP API), rempart-redis
                           (greylisting alone on a Redis store: a redis-server of its own), rempart-redis-2
                           (two such daemons sharing one Redis, the connections split between them),
                           rempart-envelope (every envelope check on, DNS from a local dnsmasq + rbldnsd),
                           postgrey, null (default all seven; null answers DUNNO without work and runs only
                           the first workload: it shows the load generator's own ceiling)
  --workloads LIST         workloads, comma-separated: new, retry, mix (default new,retry,mix)
  --dashboard-workloads L  the workloads rempart-dashboard runs, among --workloads (default: all of them)
  --connections LIST       connection counts, comma-separated (default 50 connections)
  --duration S             measured time per workload, in s (default 20 s; quick 3 s)
  --requests N             measured requests per workload instead of a fixed --duration (default: unset)
  --warmup S               unmeasured time before each workload, in s (default 3 s; quick 1 s)
  --known N                known triplets for the retry/mix workloads, the same on every server:
                           stored, retried once after the delay (unmeasured), then replayed
                           (default 20000 triplets; quick 2000)
  --mix-new F              fraction of new triplets in the mix workload (default 0.5 = 50 %)
  --fill-rempart N         triplets stored in a fresh Rempart before reading its RSS (default 1000000 triplets; quick 20000; 0 = skip)
  --fill-postgrey N        the same for postgrey (default 20000 triplets; quick 2000; 0 = skip)
  --fill-connections N     connections used by the fills (default 50 connections)
  --fill-limit S           stop a fill after this long, in s (default 300 s)
  --delay S                greylisting delay of every server, in s (default 1 s, so that retries pass)
  --no-allow-lists         do not load Debian's postgrey allow lists (default: every server loads them)
  --write / --no-write     update docs/benchmarks.md (default: write, except with --quick)
  --doc FILE               the file to update (default docs/benchmarks.md)
  --json FILE              also write the raw results as JSON
  --help                   this text
`;

const MARK_START = '<!-- bench:policy:start -->';
const MARK_END = '<!-- bench:policy:end -->';
const TARGET_CONNECTIONS = 50; // the targets are stated at 50 connections
const TARGET_SPEEDUP = 10; // Rempart requests/s ≥ 10× postgrey's, every workload
const TARGET_P99_MS = 5; // Rempart p99 < 5 ms
const TARGET_RSS_MB = 150; // Rempart RSS < 150 MB with 1,000,000 triplets
const TARGET_FILL = 1_000_000; // triplets
const TARGET_ENVELOPE_SPEEDUP = 5; // Rempart with the whole envelope pipeline: requests/s ≥ 5× postgrey's, every workload
const TARGET_DASHBOARD_SHARE = 0.95; // Rempart while the dashboard polls: requests/s ≥ 95 % of the same daemon's without, every workload
const TARGET_REDIS_SPEEDUP = 5; // one Rempart daemon on Redis: requests/s ≥ 5× postgrey's, every workload
const ENVELOPE = 'rempart-envelope';
const DASHBOARD = 'rempart-dashboard';
const REDIS_ONE = 'rempart-redis';
const REDIS_TWO = 'rempart-redis-2';
const METRICS_TIMEOUT_MS = 10_000; // one GET /metrics of a Redis variant's node, after each window
const REDIS_TOP_COMMANDS = 6; // commands named in the Redis table's breakdown; the rest summed as "other"

const DASHBOARD_TICK_MS = 1000; // the dashboard's overview and live history views poll once a second
const METRICS_SCRAPE_MS = 5000; // a Prometheus scrape interval
/**
 * rempart-dashboard runs each workload as one continuous load (no gaps, the same connections
 * throughout), its poller paused and resumed every DASHBOARD_PERIOD_MS: off, on, off, on, ... from
 * the start of the measured window, and compares the requests answered in the polled periods with
 * those in the others. On the shared 2-core VM, the throughput of consecutive windows of a few
 * seconds of the same load varies by ±25 % (slow drift and sudden jumps), so a few windows a side
 * (it was 6 windows of 3.3 s each) cannot resolve a 5 % effect; short periods, alternating, put
 * each polled period between two unpolled neighbours that saw about the same machine, and give
 * many of them.
 */
const DASHBOARD_PERIOD_MS = 2000; // a multiple of DASHBOARD_TIMELINE_MS and of DASHBOARD_TICK_MS
const DASHBOARD_TIMELINE_MS = 100; // bucket width of the continuous run's timeline (replies per bucket), in ms
/**
 * Each polled period ends this much early, in ms: the dashboard ticks at once on resume and every
 * DASHBOARD_TICK_MS after, so a period's third tick would fall due at the very moment of the pause
 * and race with it (sent or not by a millisecond either way, and its work landing in the next,
 * unpolled period). With the lead, a polled period has its two ticks, at its start and a second
 * later, as a dashboard polled continuously would, and their work lands in it.
 */
const DASHBOARD_PAUSE_LEAD_MS = 50;
const DASHBOARD_HARD_LIMIT_MS = 1_200_000; // with --requests: at most 20 min per workload (twice the requests of the others' 10 min)
const DNS_CACHE_DEFAULT = 100_000; // answers: rempart's dns.cache_size default
const DNS_ANSWERS_PER_TRIPLET = 4; // answers per new client: sender MX, then A (AAAA only without A), and one per DNS list (2)

interface Plan {
  quick: boolean;
  servers: ServerName[];
  workloads: WorkloadName[];
  /** The workloads rempart-dashboard runs (a subset of workloads, in their order). */
  dashboardWorkloads: WorkloadName[];
  connections: number[];
  durationS: number;
  requests: number | undefined;
  warmupS: number;
  known: number;
  mixNew: number;
  fill: Record<'rempart' | 'postgrey', number>;
  fillConnections: number;
  fillLimitS: number;
  delayS: number;
  allowLists: boolean;
  write: boolean;
  doc: string;
  json: string | undefined;
  argv: string[];
}

/** What the Redis of a Redis variant did in the measured window of one workload. */
interface RedisWindow {
  /** Commands Redis executed (the benchmark's own INFO left out), in all and by command (lower case). */
  commands: CommandCounts;
  commandsPerRequest: number;
  /** redis-server CPU (utime + stime) per measured request, in µs, and over the window, in % of one core. */
  cpuMicrosPerRequest: number;
  cpuPercent: number;
  /** Memory for Redis's data (INFO memory used_memory) at the end of the workload, in MB. */
  usedMemoryMB: number;
  /** redis-server's resident set at the end of the workload, in MB. */
  rssMB: number;
  /**
   * Store failures of the daemons in the window (rempart_check_failures_total plus
   * rempart_errors_total{kind="store"} of every node's /metrics): requests answered without their
   * store (failed open). NaN when /metrics could not be read.
   */
  storeFailures: number;
}

interface WorkloadRun {
  workload: WorkloadName;
  result: LoadResult;
  /**
   * rempart-dashboard: what the dashboard poller saw in the measured window, all of its polls
   * (`result` is the whole continuous run, polled periods and others together).
   */
  polls?: PollerResult;
  /** rempart-dashboard: the requests answered in each period of the run, polled or not. */
  dashboardPeriods?: DashboardPeriods;
  /** rempart-dashboard: the comparison of the polled periods with the others. */
  dashboardShare?: DashboardShare;
  /** The Redis variants: what their Redis did in the measured window. */
  redis?: RedisWindow;
}

/** rempart-dashboard's continuous run of one workload, cut into the poller's periods. */
interface DashboardPeriods {
  /** Length of a period, in ms. */
  periodMs: number;
  /**
   * Requests answered in each complete period of the measured window, in the order run: off[i] is
   * period 2i (unpolled), on[i] period 2i + 1 (polled); off has one more when the last complete
   * period is unpolled.
   */
  off: number[];
  on: number[];
}

/** rempart-dashboard's figures of one workload, from its periods. */
interface DashboardShare {
  /** Periods of each kind in the ratio of sums (the last unpolled one left out when it has no polled partner). */
  periodsEach: number;
  /** Requests/s of those polled periods and of those unpolled ones. */
  onRequestsPerSecond: number;
  offRequestsPerSecond: number;
  /** The target's estimate: the requests of the polled periods over those of as many unpolled ones. */
  sumRatio: number;
  /** For each polled period between two unpolled ones: its requests over the mean of theirs (robust to drift). */
  pairedRatios: number[];
  /** Median and quartiles of pairedRatios (NaN when there is none). */
  pairedMedian: number;
  pairedQ1: number;
  pairedQ3: number;
}

interface FillRun {
  triplets: number;
  errors: number;
  seconds: number;
  requestsPerSecond: number;
  rssMB: number;
  peakMB: number;
  diskMB: number;
  actions: Record<string, number>;
}

interface ServerRuns {
  server: ServerName;
  version: string;
  /** Why the server could not be measured (or only partly). */
  problem?: string;
  runs: WorkloadRun[];
  /** Storing the known set (all greylisted), then its first retries (all passing). */
  knownFill?: { triplets: number; storeRate: number; firstRetryRate: number; actions: Record<string, number> };
  fill?: FillRun;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function positive(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`--${name}: expected a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`);
  return n;
}

function parsePlan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      servers: { type: 'string' },
      workloads: { type: 'string' },
      'dashboard-workloads': { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      requests: { type: 'string' },
      known: { type: 'string' },
      'mix-new': { type: 'string' },
      'fill-rempart': { type: 'string' },
      'fill-postgrey': { type: 'string' },
      'fill-connections': { type: 'string' },
      'fill-limit': { type: 'string' },
      delay: { type: 'string' },
      'no-allow-lists': { type: 'boolean', default: false },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean', default: false },
      doc: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const servers = list(values.servers ?? SERVER_NAMES.join(','));
  for (const s of servers) if (!(SERVER_NAMES as readonly string[]).includes(s)) throw new Error(`--servers: unknown server ${s}`);
  const workloads = list(values.workloads ?? 'new,retry,mix');
  for (const w of workloads) if (w !== 'new' && w !== 'retry' && w !== 'mix') throw new Error(`--workloads: unknown workload ${w}`);
  const dashboardWorkloads = values['dashboard-workloads'] === undefined ? workloads : list(values['dashboard-workloads']);
  for (const w of dashboardWorkloads) if (!workloads.includes(w)) throw new Error(`--dashboard-workloads: ${w} is not among --workloads (${workloads.join(',')})`);
  const connections = list(values.connections ?? String(TARGET_CONNECTIONS)).map((c) => Math.round(positive('connections', c, 1)));
  const mixNew = positive('mix-new', values['mix-new'], 0.5, true);
  if (mixNew > 1) throw new Error('--mix-new: expected a fraction between 0 and 1');
  return {
    quick,
    servers: servers as ServerName[],
    workloads: workloads as WorkloadName[],
    dashboardWorkloads: workloads.filter((w) => dashboardWorkloads.includes(w)) as WorkloadName[],
    connections,
    durationS: positive('duration', values.duration, quick ? 3 : 20),
    requests: values.requests === undefined ? undefined : Math.round(positive('requests', values.requests, 1)),
    warmupS: positive('warmup', values.warmup, quick ? 1 : 3, true),
    known: Math.round(positive('known', values.known, quick ? 2000 : 20_000)),
    mixNew,
    fill: {
      rempart: Math.round(positive('fill-rempart', values['fill-rempart'], quick ? 20_000 : TARGET_FILL, true)),
      postgrey: Math.round(positive('fill-postgrey', values['fill-postgrey'], quick ? 2000 : 20_000, true)),
    },
    fillConnections: Math.round(positive('fill-connections', values['fill-connections'], 50)),
    fillLimitS: positive('fill-limit', values['fill-limit'], 300),
    delayS: positive('delay', values.delay, 1, true),
    allowLists: !values['no-allow-lists'],
    write: values['no-write'] ? false : (values.write ?? !quick),
    doc: values.doc ?? join(REPO_ROOT, 'docs', 'benchmarks.md'),
    json: values.json,
    argv,
  };
}

// ---------------------------------------------------------------------------------------------

const running = new Set<RunningServer>();

function log(message: string): void {
  process.stderr.write(`[bench:policy ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function actionsText(actions: Record<string, number>): string {
  const total = Object.values(actions).reduce((a, b) => a + b, 0);
  return Object.entries(actions)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt((v / total) * 100)} %`)
    .join(', ');
}

/** Sends `count` distinct fresh triplets; returns the set, the time and the server's memory afterwards. */
async function fillTriplets(server: RunningServer, ids: TripletIds, count: number, connections: number, limitS: number): Promise<{ set: KnownSet; result: LoadResult }> {
  const first = ids.reserve(count);
  let next = first;
  const result = await runLoad({
    ...loadTarget(server),
    connections: Math.min(connections, count),
    nextId: () => next++,
    requests: count,
    durationMs: limitS * 1000,
    progress: (done) => {
      if (process.stderr.isTTY) process.stderr.write(`\r  ${server.name}: ${fmt(done)} / ${fmt(count)} triplets `);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (result.requests < count) log(`${server.name}: fill stopped at ${fmt(result.requests)} of ${fmt(count)} triplets (errors or --fill-limit ${limitS} s)`);
  if (result.errors > 0) log(`${server.name}: ${result.errors} errors while filling`);
  return { set: { first, count: result.requests }, result };
}

function pollSummary(polls: PollerResult): string {
  return POLL_KINDS.map((k) => {
    const p = polls.kinds[k];
    return `${k} ${p.requests} (${p.failures} failed${p.skipped > 0 ? `, ${p.skipped} ticks skipped` : ''}, p50 ${fmt(p.p50Ms, 1)} ms, p99 ${fmt(p.p99Ms, 1)} ms)`;
  }).join(', ');
}

/** Where runLoad sends a server's load and whose CPU it measures: every node, and the helpers apart. */
function loadTarget(server: RunningServer): { host: string; ports: number[]; serverPids: number[]; helperPids: number[] } {
  return { host: server.host, ports: server.nodes.map((n) => n.port), serverPids: server.nodes.map((n) => n.pid), helperPids: server.helperPids };
}

/**
 * Store failures so far, summed over the server's nodes, from their /metrics (check failures, all
 * of the store with greylisting alone, and failed background writes); NaN when unreadable.
 */
async function storeFailures(server: RunningServer): Promise<number> {
  let total = 0;
  for (const node of server.nodes) {
    if (!node.http) return NaN;
    try {
      const response = await fetch(`${node.http.url}/metrics`, {
        headers: { Authorization: `Bearer ${node.http.password}` },
        signal: AbortSignal.timeout(METRICS_TIMEOUT_MS),
      });
      if (!response.ok) return NaN;
      const text = await response.text();
      for (const m of text.matchAll(/^(?:rempart_check_failures_total\{[^}]*\}|rempart_errors_total\{kind="store"\}) (\S+)$/gm)) total += Number(m[1]);
    } catch {
      return NaN;
    }
  }
  return total;
}

/** Reads Redis's counters at the end of a measured window (before /metrics) and puts the window together. */
async function measureRedis(server: RunningServer, redis: NonNullable<RunningServer['redis']>, atStart: { counts: CommandCounts; failures: number }, result: LoadResult): Promise<RedisWindow | undefined> {
  try {
    const counts = commandsBetween(atStart.counts, await redis.commandCounts());
    const usedMemoryMB = await redis.usedMemoryMB();
    const failures = await storeFailures(server);
    return {
      commands: counts,
      commandsPerRequest: result.requests > 0 ? counts.total / result.requests : NaN,
      cpuMicrosPerRequest: result.helperCpuMicrosPerRequest,
      cpuPercent: result.helperCpuPercent,
      usedMemoryMB,
      rssMB: memoryMB(redis.pid).rss,
      storeFailures: failures - atStart.failures,
    };
  } catch (error) {
    log(`${server.name}: reading Redis's counters failed: ${(error as Error).message}`);
    return undefined;
  }
}

/** "evalsha 1.00, get 0.50, other 0.02": the commands of a window per request, largest first. */
function commandBreakdown(window: RedisWindow, requests: number): string {
  const entries = Object.entries(window.commands.byCommand).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0 || requests === 0) return 'none';
  const perRequest = (n: number) => (n / requests < 0.005 ? '<0.01' : fmt(n / requests, 2));
  const shown = entries.slice(0, REDIS_TOP_COMMANDS).map(([name, n]) => `${name.toUpperCase()} ${perRequest(n)}`);
  const rest = entries.slice(REDIS_TOP_COMMANDS).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) shown.push(`other ${perRequest(rest)}`);
  return shown.join(', ');
}

function sumOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The q-quantile (0..1) of the values, linearly interpolated between the nearest ranks (NaN when there are none). */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** "21 stats, 21 history, 4 metrics, 0 failed": a poller result in a few words. */
function pollCounts(polls: PollerResult): string {
  const failed = sumOf(POLL_KINDS.map((k) => polls.kinds[k].failures));
  return `${POLL_KINDS.map((k) => `${polls.kinds[k].requests} ${k}`).join(', ')}, ${failed} failed`;
}

/** "stats 1.00, history 1.00, metrics 0.20": polls of each kind per second the poller was not paused. */
function pollRates(polls: PollerResult): string {
  return POLL_KINDS.map((k) => `${k} ${fmt(polls.kinds[k].requests / polls.polledSeconds, 2)}`).join(', ');
}

/** "98.7 %": a ratio as a percentage with one decimal. */
function percent(ratio: number): string {
  return `${fmt(ratio * 100, 1)} %`;
}

/** "+1.3 %" or "−2.0 %": a ratio's difference from 1, signed. */
function change(ratio: number): string {
  const pct = (ratio - 1) * 100;
  return `${pct >= 0 ? '+' : '−'}${fmt(Math.abs(pct), 1)} %`;
}

/** The measured length of a workload of rempart-dashboard in words: twice that of the other servers. */
function dashboardLength(plan: Plan): string {
  return plan.requests !== undefined ? `${fmt(2 * plan.requests)} requests` : `${fmt(2 * plan.durationS)} s`;
}

/** One period of the poller in the measured window, in ms since the window's start: when it was due and when its switch was sent, to the next switch. */
interface PollerPeriod {
  polled: boolean;
  dueMs: number;
  startMs: number;
  endMs: number;
}

/**
 * Drives the poller's alternation through one continuous run, from now (just before runLoad) on.
 * During the warm-up the same alternation runs, its periods counted back from the warm-up's end so
 * that the last is polled: the daemon reaches the alternation's steady state, and the measured
 * window's first period, unpolled, follows a polled one as every later unpolled one does. From
 * onMeasuring (the window's start, windowStart), the schedule starts afresh: period k (from 0)
 * begins at windowStart + k · DASHBOARD_PERIOD_MS, unpolled when k is even, polled when odd, a
 * polled period ending DASHBOARD_PAUSE_LEAD_MS early; the poller's measure() is sent with the first
 * pause. Each switch's timer is set from the schedule, not from the previous switch, so that late
 * timers do not drift. With the measured window's length known (measuredMs, with --duration), no
 * switch is armed at or after its end: a period starting there, while the load drains, would only
 * send polls after the window. stop() clears the timers and returns the measured window's periods.
 */
function alternatePoller(poller: PollerHandle, warmupMs: number, measuredMs: number | undefined): { onMeasuring: (windowStart: number) => void; stop: () => PollerPeriod[] } {
  const periodMs = DASHBOARD_PERIOD_MS;
  /** When switch k (into period k) of a schedule starting at `origin` is due (performance.now()). */
  const dueAt = (origin: number, k: number) => origin + k * periodMs - (k % 2 === 0 && k > 0 ? DASHBOARD_PAUSE_LEAD_MS : 0);
  const setPolled = (polled: boolean) => (polled ? poller.resume() : poller.pause());
  const periods: PollerPeriod[] = [];
  let windowStart: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Arms switch k of the schedule starting at origin, then (when it has run) the next one, those due before origin + endMs only. */
  const follow = (origin: number, k: number, endMs: number) => {
    if (dueAt(0, k) >= endMs || stopped) return;
    timer = setTimeout(
      () => {
        const polled = k % 2 === 1;
        setPolled(polled);
        if (windowStart !== undefined) {
          const sentMs = performance.now() - windowStart;
          periods[periods.length - 1]!.endMs = sentMs;
          periods.push({ polled, dueMs: dueAt(0, k), startMs: sentMs, endMs: NaN });
        }
        follow(origin, k + 1, endMs);
      },
      Math.max(0, dueAt(origin, k) - performance.now()),
    );
  };
  // The warm-up as the last `warmupPeriods` periods (an even number, covering it) of a schedule
  // whose next period, unpolled, would start at the warm-up's end: from the period it starts in, up
  // to the pause that ends the last of them, polled (then the measured schedule takes over).
  const now = performance.now();
  const warmupPeriods = 2 * Math.ceil(warmupMs / (2 * periodMs)); // even, covering the warm-up
  const warmupOrigin = now + warmupMs - warmupPeriods * periodMs;
  const firstPeriod = Math.floor((now - warmupOrigin) / periodMs);
  if (warmupMs > 0) {
    setPolled(firstPeriod % 2 === 1);
    follow(warmupOrigin, firstPeriod + 1, warmupPeriods * periodMs);
  }
  return {
    onMeasuring: (start) => {
      clearTimeout(timer);
      windowStart = start;
      poller.pause();
      poller.measure();
      periods.push({ polled: false, dueMs: 0, startMs: performance.now() - start, endMs: NaN });
      follow(start, 1, measuredMs ?? Infinity);
    },
    stop: () => {
      if (!stopped && windowStart !== undefined && periods.length > 0) periods[periods.length - 1]!.endMs = performance.now() - windowStart;
      stopped = true;
      clearTimeout(timer);
      return periods;
    },
  };
}

/**
 * Cuts the continuous run's timeline (replies per DASHBOARD_TIMELINE_MS bucket from the start of
 * the measured window, `seconds` long) into the poller's periods: the requests answered in each
 * period the window covers completely, by the periods' schedule (DASHBOARD_PERIOD_MS each, a whole
 * number of buckets; the switches themselves come a few ms late, the log says how late). The
 * partial period the window ends in is left out.
 */
function dashboardPeriods(timeline: readonly number[], seconds: number): DashboardPeriods {
  const bucketsPerPeriod = DASHBOARD_PERIOD_MS / DASHBOARD_TIMELINE_MS;
  if (!Number.isInteger(bucketsPerPeriod)) throw new Error('DASHBOARD_PERIOD_MS must be a multiple of DASHBOARD_TIMELINE_MS');
  const wholeBuckets = Math.min(timeline.length, Math.floor((seconds * 1000) / DASHBOARD_TIMELINE_MS));
  const periods: DashboardPeriods = { periodMs: DASHBOARD_PERIOD_MS, off: [], on: [] };
  for (let k = 0; (k + 1) * bucketsPerPeriod <= wholeBuckets; k++) {
    const requests = sumOf(timeline.slice(k * bucketsPerPeriod, (k + 1) * bucketsPerPeriod));
    (k % 2 === 0 ? periods.off : periods.on).push(requests);
  }
  return periods;
}

/**
 * The polled periods against the others, two ways. (a) The ratio of the sums of as many periods of
 * each kind (the last unpolled one left out if it has no polled partner): the target's estimate,
 * every request weighing the same. (b) For each polled period between two unpolled ones, its
 * requests over the mean of theirs, and the median and quartiles of those ratios: a steady drift
 * of the machine's speed cancels within each such triple, and a sudden jump spoils only the pairs
 * it falls in.
 */
function compareDashboardPeriods(periods: DashboardPeriods): DashboardShare {
  const periodsEach = Math.min(periods.on.length, periods.off.length);
  const on = sumOf(periods.on.slice(0, periodsEach));
  const off = sumOf(periods.off.slice(0, periodsEach));
  const seconds = (periodsEach * periods.periodMs) / 1000;
  const pairedRatios: number[] = [];
  for (const [i, polled] of periods.on.entries()) {
    const before = periods.off[i];
    const after = periods.off[i + 1];
    if (before !== undefined && after !== undefined && before + after > 0) pairedRatios.push(polled / ((before + after) / 2));
  }
  return {
    periodsEach,
    onRequestsPerSecond: seconds > 0 ? on / seconds : NaN,
    offRequestsPerSecond: seconds > 0 ? off / seconds : NaN,
    sumRatio: off > 0 ? on / off : NaN,
    pairedRatios,
    pairedMedian: quantile(pairedRatios, 0.5),
    pairedQ1: quantile(pairedRatios, 0.25),
    pairedQ3: quantile(pairedRatios, 0.75),
  };
}

/**
 * One workload of rempart-dashboard as a paired measurement within one continuous run of one
 * daemon: the load runs without a break for twice a workload's measured time (the connections kept,
 * one id source, so new triplets stay new), while one poller process is paused and resumed every
 * DASHBOARD_PERIOD_MS (alternatePoller); the timeline of the replies, cut into those periods
 * (dashboardPeriods), gives the throughput polled and not (compareDashboardPeriods). Comparing
 * this daemon with the separate `rempart` daemon measured before it was dominated by the machine's
 * run-to-run noise (85 % to 123 % on repeats on a 2-core VM), and so were a dozen windows of a few
 * seconds each (89.6 % to 104 % for identical code): the machine's throughput varies by ±25 % within
 * seconds. `result` is the whole run, polled and unpolled periods together.
 */
async function measureDashboardWorkload(server: RunningServer, workload: WorkloadName, connections: number, nextId: () => number, plan: Plan): Promise<WorkloadRun> {
  const name = server.name;
  const http = server.http;
  if (!http) throw new Error(`${name}: no HTTP API address`);
  const warmupMs = plan.warmupS * 1000;
  log(
    `${name}: workload ${workload}, ${connections} connections, ${plan.warmupS} s warm-up + ${dashboardLength(plan)} measured as one continuous load on one daemon, ` +
      `the poller paused and resumed every ${fmt(DASHBOARD_PERIOD_MS / 1000)} s (off, on, off, … from the start of the measured window; the same alternation through the warm-up)`,
  );
  const poller = await forkPoller({ url: http.url, password: http.password, tickMs: DASHBOARD_TICK_MS, metricsMs: METRICS_SCRAPE_MS });
  const measuredMs = plan.requests !== undefined ? undefined : 2 * plan.durationS * 1000;
  const alternation = alternatePoller(poller, warmupMs, measuredMs);
  let result: LoadResult;
  let polls: PollerResult;
  let switches: PollerPeriod[];
  try {
    result = await runLoad({
      ...loadTarget(server),
      connections,
      nextId,
      ...(plan.requests !== undefined
        ? { requests: 2 * plan.requests, hardLimitMs: DASHBOARD_HARD_LIMIT_MS }
        : { durationMs: measuredMs }),
      warmupMs,
      timelineMs: DASHBOARD_TIMELINE_MS,
      observerPids: [poller.pid],
      onMeasuring: alternation.onMeasuring,
    });
    switches = alternation.stop();
    polls = await poller.stop();
  } finally {
    alternation.stop();
    poller.kill(); // an error: do not leave the poller behind (after stop() it has exited already)
  }
  const periods = dashboardPeriods(result.timeline ?? [], result.seconds);
  const share = compareDashboardPeriods(periods);
  const lateMs = Math.max(0, ...switches.map((p) => p.startMs - p.dueMs));
  log(
    `${name} ${workload} c=${connections} whole run (${fmt(result.seconds, 1)} s, polled and unpolled periods together): ${fmt(result.requestsPerSecond)} req/s, ` +
      `p50 ${fmt(result.p50Ms, 2)} ms, p99 ${fmt(result.p99Ms, 2)} ms, ${fmt(result.cpuMicrosPerRequest)} µs CPU/req, RSS ${fmt(result.rssMB, 1)} MB, ` +
      `server CPU ${fmt(result.serverCpuPercent)} %, load gen CPU ${fmt(result.clientCpuPercent)} %, poller CPU ${fmt(result.observerCpuPercent, 1)} %, ` +
      `other CPU ${fmt(result.otherCpuPercent)} %, errors ${result.errors}; ${actionsText(result.actions)}`,
  );
  log(
    `${name} ${workload} c=${connections}: ${periods.off.length} unpolled and ${periods.on.length} polled complete periods of ${fmt(DASHBOARD_PERIOD_MS / 1000)} s ` +
      `(${switches.length} switches, at most ${fmt(lateMs, 1)} ms late), requests in order: ` +
      `${periods.off.map((off, i) => `${fmt(off)}${periods.on[i] !== undefined ? ` / ${fmt(periods.on[i]!)}` : ''}`).join(' / ')}`,
  );
  log(
    `${name} ${workload} c=${connections}: with the dashboard ${fmt(share.onRequestsPerSecond)} req/s, without ${fmt(share.offRequestsPerSecond)} req/s ` +
      `(${share.periodsEach} periods each): ratio of the sums ${percent(share.sumRatio)}; paired median ${percent(share.pairedMedian)} ` +
      `(IQR ${percent(share.pairedQ1)} to ${percent(share.pairedQ3)}, ${share.pairedRatios.length} polled periods between unpolled ones)`,
  );
  log(
    `${name} ${workload} dashboard polls in ${fmt(polls.seconds, 1)} s measured, ${fmt(polls.polledSeconds, 1)} s of them polled: ${pollSummary(polls)}; ` +
      `per polled second ${pollRates(polls)}; poller CPU ${fmt(result.observerCpuPercent, 1)} % over the whole run`,
  );
  return { workload, result, polls, dashboardPeriods: periods, dashboardShare: share };
}

/** The workloads a server runs: null only the first, rempart-dashboard those of --dashboard-workloads. */
function workloadsOf(name: ServerName, plan: Plan): WorkloadName[] {
  if (name === 'null') return plan.workloads.slice(0, 1);
  if (name === DASHBOARD) return plan.dashboardWorkloads;
  return plan.workloads;
}

async function benchServer(name: ServerName, plan: Plan): Promise<ServerRuns> {
  const out: ServerRuns = { server: name, version: serverVersion(name), runs: [] };
  const serverOptions = { delaySeconds: plan.delayS, allowLists: plan.allowLists };
  const workloads = workloadsOf(name, plan);
  let server: RunningServer | undefined;
  try {
    if (workloads.length > 0) {
      log(`${name}: starting`);
      server = await startServer(name, serverOptions);
      running.add(server);
      for (const [i, node] of server.nodes.entries()) {
        log(
          `${name}${server.nodes.length > 1 ? ` node ${i + 1}` : ''}: pid ${node.pid}, 127.0.0.1:${node.port}${node.http ? `, HTTP API ${node.http.url}` : ''}, ` +
            `RSS ${fmt(memoryMB(node.pid).rss, 1)} MB`,
        );
      }
      if (server.redis) log(`${name}: redis-server pid ${server.redis.pid}, ${server.redis.url}, key prefix ${server.redis.prefix}`);
      const ids = new TripletIds();
      let known: KnownSet | undefined;
      for (const connections of plan.connections) {
        for (const workload of workloads) {
          if (workload !== 'new' && !known) {
            log(`${name}: storing ${fmt(plan.known)} known triplets for retry/mix`);
            const filled = await fillTriplets(server, ids, plan.known, plan.fillConnections, plan.fillLimitS);
            known = filled.set;
            await sleep(plan.delayS * 1000 + 500); // let the greylisting delay pass, so retries are accepted
            log(`${name}: first retry of each known triplet (passes greylisting; not measured)`);
            let next = known.first;
            const sweep = await runLoad({
              ...loadTarget(server),
              connections: Math.min(plan.fillConnections, known.count),
              nextId: () => next++,
              requests: known.count,
              durationMs: plan.fillLimitS * 1000,
            });
            out.knownFill = {
              triplets: filled.result.requests,
              storeRate: filled.result.requestsPerSecond,
              firstRetryRate: sweep.requestsPerSecond,
              actions: sweep.actions,
            };
            log(`${name}: stored at ${fmt(filled.result.requestsPerSecond)} req/s, first retries at ${fmt(sweep.requestsPerSecond)} req/s (${actionsText(sweep.actions)})`);
          }
          if (name === DASHBOARD) {
            // Windows with and without the poller on this one daemon; one id source for all of them.
            out.runs.push(await measureDashboardWorkload(server, workload, connections, workloadSource(workload, ids, known, plan.mixNew), plan));
            continue;
          }
          const length = plan.requests !== undefined ? `${fmt(plan.requests)} requests` : `${plan.durationS} s`;
          log(`${name}: workload ${workload}, ${connections} connections, ${plan.warmupS} s warm-up + ${length}`);
          // The Redis variants: Redis's command counters and the daemons' store failures at the
          // start of the measured window (the /metrics scrape first: its own Redis commands are not
          // the requests'); read again at its end, in the other order.
          const current = server;
          const redis = current.redis;
          let redisAtStart: Promise<{ counts: CommandCounts; failures: number } | undefined> | undefined;
          const onMeasuring = () => {
            if (!redis) return;
            redisAtStart = storeFailures(current)
              .then(async (failures) => ({ failures, counts: await redis.commandCounts() }))
              .catch((error: unknown) => {
                log(`${name}: reading Redis's counters failed: ${(error as Error).message}`);
                return undefined;
              });
          };
          const result = await runLoad({
            ...loadTarget(server),
            connections,
            nextId: workloadSource(workload, ids, known, plan.mixNew),
            ...(plan.requests !== undefined
              ? { requests: plan.requests, hardLimitMs: 600_000 } // at most 10 min per workload
              : { durationMs: plan.durationS * 1000 }),
            warmupMs: plan.warmupS * 1000,
            onMeasuring,
          });
          const atStart = await redisAtStart;
          const redisWindow = redis && atStart ? await measureRedis(server, redis, atStart, result) : undefined;
          log(
            `${name} ${workload} c=${connections}: ${fmt(result.requestsPerSecond)} req/s, p50 ${fmt(result.p50Ms, 2)} ms, ` +
              `p99 ${fmt(result.p99Ms, 2)} ms, ${fmt(result.cpuMicrosPerRequest)} µs CPU/req, RSS ${fmt(result.rssMB, 1)} MB, ` +
              `server CPU ${fmt(result.serverCpuPercent)} %, ${server.helperPids.length > 0 ? `${server.redis ? 'Redis' : 'DNS servers'} CPU ${fmt(result.helperCpuPercent)} %, ` : ''}load gen CPU ${fmt(result.clientCpuPercent)} %, other CPU ${fmt(result.otherCpuPercent)} %, errors ${result.errors}; ${actionsText(result.actions)}`,
          );
          if (redisWindow) {
            log(
              `${name} ${workload} Redis: ${fmt(redisWindow.commandsPerRequest, 2)} commands/request (${commandBreakdown(redisWindow, result.requests)}), ` +
                `${fmt(redisWindow.cpuMicrosPerRequest)} µs Redis CPU/req, Redis CPU ${fmt(redisWindow.cpuPercent)} %, used_memory ${fmt(redisWindow.usedMemoryMB, 1)} MB, ` +
                `store failures ${fmt(redisWindow.storeFailures)}`,
            );
          }
          out.runs.push({ workload, result, ...(redisWindow ? { redis: redisWindow } : {}) });
        }
      }
      await server.stop();
      running.delete(server);
      server = undefined;
    }

    // The memory fill is about greylisting: once for rempart, not for its variants.
    const fillCount = name === 'rempart' || name === 'postgrey' ? plan.fill[name] : 0;
    if (fillCount > 0) {
      log(`${name}: fresh server, storing ${fmt(fillCount)} triplets over ${plan.fillConnections} connections`);
      server = await startServer(name, serverOptions);
      running.add(server);
      const { result } = await fillTriplets(server, new TripletIds(), fillCount, plan.fillConnections, plan.fillLimitS);
      await sleep(2000); // let the server settle (pending writes, timers) before reading its memory
      const memory = memoryMB(server.pid);
      out.fill = {
        triplets: result.requests,
        errors: result.errors,
        seconds: result.seconds,
        requestsPerSecond: result.requestsPerSecond,
        rssMB: memory.rss,
        peakMB: memory.peak,
        diskMB: server.diskMB(),
        actions: result.actions,
      };
      log(
        `${name} fill: ${fmt(result.requests)} triplets in ${fmt(result.seconds, 1)} s (${fmt(result.requestsPerSecond)} req/s), ` +
          `RSS ${fmt(memory.rss, 1)} MB (peak ${fmt(memory.peak, 1)} MB), store ${fmt(out.fill.diskMB, 1)} MB on disk, errors ${result.errors}`,
      );
      await server.stop();
      running.delete(server);
      server = undefined;
    }
  } catch (error) {
    out.problem = (error as Error).message;
    log(`${name}: ${out.problem}`);
  } finally {
    if (server) {
      await server.stop();
      running.delete(server);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Report


function targets(plan: Plan, all: ServerRuns[]): TargetRow[] {
  const rempart = all.find((s) => s.server === 'rempart');
  const postgrey = all.find((s) => s.server === 'postgrey');
  const at = (s: ServerRuns | undefined, w: WorkloadName) => s?.runs.find((r) => r.workload === w && r.result.connections === TARGET_CONNECTIONS)?.result;
  const rows: TargetRow[] = [];
  for (const w of plan.workloads) {
    const r = at(rempart, w);
    const p = at(postgrey, w);
    const ratio = r && p && p.requestsPerSecond > 0 ? r.requestsPerSecond / p.requestsPerSecond : NaN;
    rows.push({
      target: `\`${w}\`: Rempart requests/s ≥ ${TARGET_SPEEDUP}× postgrey at ${TARGET_CONNECTIONS} connections`,
      measured: Number.isFinite(ratio) ? `${fmt(ratio, 1)}× (${fmt(r!.requestsPerSecond)} vs ${fmt(p!.requestsPerSecond)} requests/s)` : 'not measured',
      status: Number.isFinite(ratio) ? (ratio >= TARGET_SPEEDUP ? 'met' : 'not met') : 'not measured',
    });
  }
  for (const w of plan.workloads) {
    const r = at(rempart, w);
    rows.push({
      target: `\`${w}\`: Rempart p99 < ${TARGET_P99_MS} ms at ${TARGET_CONNECTIONS} connections`,
      measured: r ? `${fmt(r.p99Ms, 2)} ms` : 'not measured',
      status: r ? (r.p99Ms < TARGET_P99_MS && r.errors === 0 ? 'met' : 'not met') : 'not measured',
    });
  }
  const fill = rempart?.fill;
  rows.push({
    target: `Rempart RSS < ${TARGET_RSS_MB} MB with ${fmt(TARGET_FILL)} triplets`,
    measured: fill ? `${fmt(fill.rssMB, 1)} MB with ${fmt(fill.triplets)} triplets (peak ${fmt(fill.peakMB, 1)} MB)` : 'not measured',
    status: fill && fill.triplets >= TARGET_FILL && fill.errors === 0 ? (fill.rssMB < TARGET_RSS_MB ? 'met' : 'not met') : 'not measured',
  });
  const envelope = all.find((s) => s.server === ENVELOPE);
  if (envelope) {
    for (const w of plan.workloads) {
      const e = at(envelope, w);
      const p = at(postgrey, w);
      const ratio = e && p && p.requestsPerSecond > 0 ? e.requestsPerSecond / p.requestsPerSecond : NaN;
      rows.push({
        target: `\`${w}\`: envelope pipeline ≥ ${TARGET_ENVELOPE_SPEEDUP}× postgrey requests/s at ${TARGET_CONNECTIONS} connections`,
        measured: Number.isFinite(ratio) ? `${fmt(ratio, 1)}× (${fmt(e!.requestsPerSecond)} vs ${fmt(p!.requestsPerSecond)} requests/s)` : 'not measured',
        status: Number.isFinite(ratio) ? (ratio >= TARGET_ENVELOPE_SPEEDUP && e!.errors === 0 ? 'met' : 'not met') : 'not measured',
      });
    }
  }
  const redisOne = all.find((s) => s.server === REDIS_ONE);
  if (redisOne) {
    for (const w of plan.workloads) {
      const run = redisOne.runs.find((x) => x.workload === w && x.result.connections === TARGET_CONNECTIONS);
      const r = run?.result;
      const p = at(postgrey, w);
      const ratio = r && p && p.requestsPerSecond > 0 ? r.requestsPerSecond / p.requestsPerSecond : NaN;
      // Met only without errors and with every request answered with its store (none failed open).
      const failures = run?.redis?.storeFailures ?? NaN;
      const failureText = Number.isFinite(failures) ? `, ${fmt(failures)} failed open` : ', store failures not read';
      rows.push({
        target: `\`${w}\`: one node on Redis ≥ ${TARGET_REDIS_SPEEDUP}× postgrey requests/s at ${TARGET_CONNECTIONS} connections`,
        measured: Number.isFinite(ratio) ? `${fmt(ratio, 1)}× (${fmt(r!.requestsPerSecond)} vs ${fmt(p!.requestsPerSecond)} requests/s${failureText})` : 'not measured',
        status: Number.isFinite(ratio) ? (ratio >= TARGET_REDIS_SPEEDUP && r!.errors === 0 && failures === 0 ? 'met' : 'not met') : 'not measured',
      });
    }
  }
  const dashboard = all.find((s) => s.server === DASHBOARD);
  if (dashboard) {
    for (const w of plan.dashboardWorkloads) {
      // Both sides from the same continuous run of one daemon: its polled periods against its unpolled ones.
      const run = dashboard.runs.find((x) => x.workload === w && x.result.connections === TARGET_CONNECTIONS);
      const d = run?.result;
      const share = run?.dashboardShare;
      const polls = run?.polls;
      const ratio = share && share.periodsEach > 0 ? share.sumRatio : NaN;
      const sent = polls ? sumOf(POLL_KINDS.map((k) => polls.kinds[k].requests)) : 0;
      const failed = polls ? sumOf(POLL_KINDS.map((k) => polls.kinds[k].failures)) : 0;
      const pollText = polls ? `; polls ${pollCounts(polls)}` : '; no polls';
      // Met only when the dashboard really was polled, without failures, and no policy request failed in the run.
      const valid = Number.isFinite(ratio) && polls !== undefined && sent > 0 && failed === 0 && d!.errors === 0;
      rows.push({
        target: `\`${w}\`: Rempart requests/s with the dashboard polled ≥ ${fmt(TARGET_DASHBOARD_SHARE * 100)} % of without at ${TARGET_CONNECTIONS} connections`,
        measured: Number.isFinite(ratio)
          ? `${percent(ratio)} (${fmt(share!.onRequestsPerSecond)} vs ${fmt(share!.offRequestsPerSecond)} requests/s: the sums of ${share!.periodsEach} polled and ${share!.periodsEach} ` +
            `unpolled periods of ${fmt(DASHBOARD_PERIOD_MS / 1000)} s, alternating in one continuous run of the same daemon; paired, median ${percent(share!.pairedMedian)}, ` +
            `IQR ${percent(share!.pairedQ1)} to ${percent(share!.pairedQ3)} over ${share!.pairedRatios.length} polled periods between unpolled ones)${pollText}`
          : 'not measured',
        status: Number.isFinite(ratio) ? (valid && ratio >= TARGET_DASHBOARD_SHARE ? 'met' : 'not met') : 'not measured',
      });
    }
  }
  return rows;
}

/** The load generator's CPU per request in this run, in µs. */
const loadGenMicrosPerRequest = (r: LoadResult): number => (r.clientCpuPercent / 100) * 1e6 / r.requestsPerSecond;

/**
 * Cores the whole machine needs to answer `rate` requests/s at these CPU costs per request (µs):
 * the server's own, its helpers' (DNS servers, Redis) and the load generator's, all on this machine.
 */
const coresNeeded = (rate: number, ...microsPerRequest: number[]): number => (rate * microsPerRequest.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0)) / 1e6;

/** What the numbers imply for the targets, derived from this run's own measurements. */
function readingNotes(plan: Plan, all: ServerRuns[]): string[] {
  const notes: string[] = [];
  const at = (name: ServerName, w: WorkloadName) =>
    all.find((s) => s.server === name)?.runs.find((r) => r.workload === w && r.result.connections === TARGET_CONNECTIONS)?.result;
  const needed: string[] = [];
  for (const w of plan.workloads) {
    const p = at('postgrey', w);
    const r = at('rempart', w);
    if (!p || !r) continue;
    const rate = TARGET_SPEEDUP * p.requestsPerSecond;
    const cores = r.serverCpuPercent / 100;
    needed.push(
      `\`${w}\` ${fmt(rate)} requests/s, i.e. ≤ ${fmt((1e6 / rate) * cores)} µs CPU per request at the ${fmt(cores, 2)} cores it used ` +
        `(measured ${fmt(r.cpuMicrosPerRequest)} µs), or more cores`,
    );
  }
  if (needed.length > 0) {
    notes.push(
      `- **Throughput.** The rate is (cores used) × 1,000,000 / (CPU µs per request): "server CPU %" near 100 % per thread ` +
        `it can run means it is CPU-bound, and with 2 cores the load generator needs its share too. ${TARGET_SPEEDUP}× postgrey means: ${needed.join('; ')}.`,
    );
  }
  const envelopeNotes: string[] = [];
  // At the target rate: the cores this run's costs need, and the cores needed even if the envelope
  // checks cost rempart nothing (greylisting alone's CPU per request), with the DNS servers' and the
  // load generator's shares, which the checks bring whatever rempart does.
  const envelopeBudget = (rate: number, e: LoadResult, r: LoadResult): string => {
    const asMeasured = coresNeeded(rate, e.cpuMicrosPerRequest, e.helperCpuMicrosPerRequest, loadGenMicrosPerRequest(e));
    const checksFree = coresNeeded(rate, r.cpuMicrosPerRequest, e.helperCpuMicrosPerRequest, loadGenMicrosPerRequest(e));
    return `${fmt(asMeasured, 2)} cores at this run's costs per request (rempart, DNS servers and load generator), and ${fmt(checksFree, 2)} ` +
      `even if the checks cost rempart nothing (greylisting alone's ${fmt(r.cpuMicrosPerRequest)} µs)`;
  };
  for (const w of plan.workloads) {
    const e = at(ENVELOPE, w);
    const r = at('rempart', w);
    const p = at('postgrey', w);
    if (!e || !r) continue;
    envelopeNotes.push(
      `\`${w}\` ${fmt(e.requestsPerSecond)} requests/s, ${fmt((e.requestsPerSecond / r.requestsPerSecond) * 100)} % of greylisting alone, ` +
        `${fmt(e.cpuMicrosPerRequest)} µs rempart CPU per request (${fmt(e.cpuMicrosPerRequest - r.cpuMicrosPerRequest)} µs more) ` +
        `and ${fmt(e.helperCpuMicrosPerRequest)} µs of DNS servers' CPU` +
        (p ? `; ${TARGET_ENVELOPE_SPEEDUP}× postgrey is ${fmt(TARGET_ENVELOPE_SPEEDUP * p.requestsPerSecond)} requests/s` : '') +
        (p ? `, which needs ${envelopeBudget(TARGET_ENVELOPE_SPEEDUP * p.requestsPerSecond, e, r)}` : ''),
    );
  }
  if (envelopeNotes.length > 0) {
    notes.push(
      `- **Envelope pipeline.** ${envelopeNotes.join('; ')} (this machine has ${machine().cores} cores). Each new client costs about ${DNS_ANSWERS_PER_TRIPLET} DNS lookups (sender MX, then A; ` +
        `one per DNS list), and the DNS servers share the ${machine().cores} cores with rempart and the load generator. In \`new\` and in the new half of \`mix\`, every ` +
        'request brings a client and a sender domain never seen before, so no cache can answer: 5× postgrey there means some 45,000 DNS ' +
        `queries a second, sent, answered by dnsmasq and rbldnsd, and read back on the same ${machine().cores} cores. Profiled under this load ` +
        '(`REMPART_BENCH_CPU_PROF=DIR`), about a fifth of rempart\'s CPU goes to the kernel sending those UDP queries and a tenth to writing ' +
        'the replies; greylisting, the checks and the store use the rest. Real traffic repeats clients and sender domains, which the cache ' +
        'answers: that is the `retry` row. Rempart caches answers ' +
        'for their TTL (60 s here; NXDOMAIN and NODATA 1 min) up to `dns.cache_size` (100,000 answers by default): ' +
        (plan.known * DNS_ANSWERS_PER_TRIPLET > DNS_CACHE_DEFAULT
          ? `fewer than the ${fmt(plan.known)} known triplets need (about ${DNS_ANSWERS_PER_TRIPLET} answers each), so most retries look their client and sender up again.`
          : `enough for the ${fmt(plan.known)} known triplets (about ${DNS_ANSWERS_PER_TRIPLET} answers each), so retries within the TTL are answered from the cache.`),
    );
  }
  const dashboardNotes: string[] = [];
  for (const w of plan.dashboardWorkloads) {
    const run = all.find((s) => s.server === DASHBOARD)?.runs.find((r) => r.workload === w && r.result.connections === TARGET_CONNECTIONS);
    const share = run?.dashboardShare;
    const periods = run?.dashboardPeriods;
    if (!share || !periods || share.periodsEach === 0) continue;
    // The spread of the unpolled periods around their mean: how much the machine's speed varied
    // from one period to the next, against which the difference of the two sides can be read.
    const offMean = sumOf(periods.off) / periods.off.length;
    const spread = `${change(Math.min(...periods.off) / offMean)} to ${change(Math.max(...periods.off) / offMean)}`;
    dashboardNotes.push(
      `\`${w}\` ${fmt(share.onRequestsPerSecond)} vs ${fmt(share.offRequestsPerSecond)} requests/s (ratio of the sums ${change(share.sumRatio)}; ` +
        `paired median ${change(share.pairedMedian)}, IQR ${change(share.pairedQ1)} to ${change(share.pairedQ3)} over ${share.pairedRatios.length} polled periods; ` +
        `the unpolled periods ${spread} around their mean)`,
    );
  }
  if (dashboardNotes.length > 0) {
    notes.push(
      `- **Dashboard.** With the dashboard polled, against without, in one continuous run of the same daemon: ${dashboardNotes.join('; ')}. ` +
        `Each polled period of ${fmt(DASHBOARD_PERIOD_MS / 1000)} s sits between two unpolled ones of the same load on the same daemon, its store at about the same size ` +
        'and the machine in about the same state: on this shared 2-core VM the throughput of a few seconds of the same load varies by ' +
        '±25 % (slow drift and sudden jumps), which neither two daemons measured one after the other (85 % to 123 % on repeats) nor a dozen ' +
        'windows of a few seconds each (89.6 % to 104 % for the same code) could average out. The ratio of the sums, the target\'s estimate, ' +
        'weighs every request alike; the paired median compares each polled period with the mean of its two neighbours, so that a steady ' +
        'drift cancels and a sudden jump spoils only the pairs it falls in, and its interquartile range shows how much one pair varies ' +
        'with the machine\'s noise. When the two estimates disagree, or the shortfall is near the target, a rerun is worth it. The row\'s ' +
        'latency and CPU in the tables above cover the whole alternating run, not one side. The polls cost the daemon CPU ' +
        'on its main thread, the one that answers Postfix: the queries on its read connection (the stats sum the per-minute and ' +
        'per-hour rollups, not the records; the history page walks the primary key) and the answers\' serialisation (sizes in the ' +
        'table above); the writer thread that stores the decisions and fills the rollups is the same with or without them.',
    );
  }
  const redisNotes: string[] = [];
  for (const w of plan.workloads) {
    const one = at(REDIS_ONE, w);
    const two = at(REDIS_TWO, w);
    const r = at('rempart', w);
    const p = at('postgrey', w);
    const parts: string[] = [];
    if (one) {
      parts.push(
        `one node ${fmt(one.requestsPerSecond)} requests/s` +
          (r ? ` (${fmt((one.requestsPerSecond / r.requestsPerSecond) * 100)} % of SQLite's ${fmt(r.requestsPerSecond)})` : '') +
          `, ${fmt(one.cpuMicrosPerRequest)} µs rempart CPU and ${fmt(one.helperCpuMicrosPerRequest)} µs Redis CPU per request` +
          (p ? `; ${TARGET_REDIS_SPEEDUP}× postgrey is ${fmt(TARGET_REDIS_SPEEDUP * p.requestsPerSecond)} requests/s` : '') +
          (p
            ? `, which needs ${fmt(coresNeeded(TARGET_REDIS_SPEEDUP * p.requestsPerSecond, one.cpuMicrosPerRequest, one.helperCpuMicrosPerRequest, loadGenMicrosPerRequest(one)), 2)} ` +
              "cores at this run's costs per request (rempart, Redis and load generator)"
            : ''),
      );
    }
    if (two) {
      parts.push(
        `two nodes ${fmt(two.requestsPerSecond)} requests/s together` + (one ? ` (${fmt(two.requestsPerSecond / one.requestsPerSecond, 2)}× one node)` : '') +
          `, p99 ${fmt(two.p99Ms, 2)} ms, ${fmt(two.cpuMicrosPerRequest)} µs CPU of both daemons and ${fmt(two.helperCpuMicrosPerRequest)} µs Redis CPU per request`,
      );
    }
    if (parts.length > 0) redisNotes.push(`\`${w}\` ${parts.join('; ')}`);
  }
  if (redisNotes.length > 0) {
    notes.push(
      `- **Redis.** ${redisNotes.join('. ')}. Here the daemons, Redis and the load generator share the same ${machine().cores} cores, so two nodes ` +
        'cannot add cores: what they can show is whether sharing one Redis costs throughput or latency, and how much Redis CPU a ' +
        'request takes (the share of a Redis core a site of that many requests/s needs). On separate hosts each node brings its own cores ' +
        'and the shared Redis, which executes commands on one thread, bounds the total at roughly 1,000,000 / (Redis CPU µs per request) requests/s.',
    );
  }
  const rate = 1000 / TARGET_P99_MS * TARGET_CONNECTIONS;
  notes.push(
    `- **Latency.** With ${TARGET_CONNECTIONS} connections and one request outstanding on each, the mean latency is ` +
      `${TARGET_CONNECTIONS} / (requests/s) (Little's law), so a p99 under ${TARGET_P99_MS} ms needs more than ${fmt(rate)} requests/s ` +
      'even if every request took the same time.',
  );
  const nul = all.find((s) => s.server === 'null')?.runs[0]?.result;
  if (nul) {
    notes.push(
      `- **Load generator.** Against the null server it reached ${fmt(nul.requestsPerSecond)} requests/s (p99 ${fmt(nul.p99Ms, 2)} ms) ` +
        `using ${fmt(nul.clientCpuPercent)} % of a core, so it is not what limits the servers above; part of any p99 at such rates is its own.`,
    );
  }
  const p = at('postgrey', plan.workloads[0] ?? 'new');
  if (p && p.serverCpuPercent < 90) {
    notes.push(
      `- **postgrey** uses about ${fmt(p.serverCpuPercent)} % of a core: besides Perl, it waits for disk, as BerkeleyDB writes ` +
        'its transaction log on every update.',
    );
  }
  const noisy = all.flatMap((s) => s.runs.filter((r) => r.result.otherCpuPercent > 15).map((r) => `${s.server} \`${r.workload}\` (${fmt(r.result.otherCpuPercent)} %)`));
  if (noisy.length > 0) {
    notes.push(`- **Noise.** Other processes used CPU during ${noisy.join(', ')}: rerun on a quiet machine before drawing conclusions.`);
  }
  notes.push('');
  return notes;
}

const POLL_FIGURE: Record<PollKind, (n: number) => string> = {
  stats: (n) => `${fmt(n)} decisions in the hour`,
  history: (n) => `${fmt(n)} records`,
  metrics: (n) => `${fmt(n)} lines`,
};

/** The table of the Redis variants' Redis, one row per server and workload. */
function redisTable(all: ServerRuns[]): string[] {
  const servers = all.filter((s) => REDIS_NODES[s.server] !== undefined);
  if (servers.length === 0) return [];
  const lines = ['### Redis store', ''];
  lines.push(
    'The Redis of `rempart-redis` and `rempart-redis-2` (above) in the measured window of each workload: "commands/request" is the ' +
      'commands Redis executed divided by the requests answered, then by command (the most frequent first); "Redis CPU" is ' +
      'redis-server\'s utime + stime; "used MB" is `INFO memory` used_memory and "RSS MB" redis-server\'s VmRSS, both at the end of ' +
      'the workload (the same Redis through the workloads of a server); "failed open" is the requests the daemons answered without their store.',
    '',
  );
  lines.push('| server | nodes | workload | connections | requests/s | p99 ms | commands/request | by command (per request) | Redis CPU µs/request | Redis CPU % | used MB | RSS MB | failed open |');
  lines.push('|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const s of servers) {
    for (const run of s.runs) {
      const r = run.result;
      const w = run.redis;
      lines.push(
        `| ${s.server} | ${REDIS_NODES[s.server]} | ${run.workload} | ${r.connections} | ${fmt(r.requestsPerSecond)} | ${fmt(r.p99Ms, 2)} | ` +
          (w
            ? `${fmt(w.commandsPerRequest, 2)} | ${commandBreakdown(w, r.requests)} | ${fmt(w.cpuMicrosPerRequest)} | ${fmt(w.cpuPercent)} | ${fmt(w.usedMemoryMB, 1)} | ${fmt(w.rssMB, 1)} | ${fmt(w.storeFailures)} |`
            : 'not read | | | | | | |'),
      );
    }
    if (s.runs.length === 0) lines.push(`| ${s.server} | ${REDIS_NODES[s.server]} | – | – | not measured | | | | | | | | |`);
  }
  lines.push('');
  return lines;
}

/** The table of rempart-dashboard's polls, one row per workload and kind of poll. */
function dashboardTable(all: ServerRuns[]): string[] {
  const dashboard = all.find((s) => s.server === DASHBOARD);
  if (!dashboard) return [];
  const lines = ['### Dashboard polls', ''];
  lines.push(
    'What the poller of `rempart-dashboard` (above) sent and got in the measured window of each workload: in its polled periods, ' +
      `every other ${fmt(DASHBOARD_PERIOD_MS / 1000)} s of the continuous run (requests still in flight at a pause complete and count). "ticks skipped": ` +
      'ticks when the previous request of that kind was still unanswered (none sent). "last answer": what the last successful ' +
      'answer held (decisions counted by the stats of the last hour; records on the history page; lines of the metrics text).',
    '',
  );
  lines.push('| workload | connections | poll | requests | failures | ticks skipped | p50 ms | p99 ms | max ms | answer kB | last answer |');
  lines.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|');
  const cpu: string[] = [];
  const failures: string[] = [];
  for (const run of dashboard.runs) {
    const polls = run.polls;
    if (!polls) continue;
    for (const kind of POLL_KINDS) {
      const p = polls.kinds[kind];
      lines.push(
        `| ${run.workload} | ${run.result.connections} | \`GET ${POLL_PATHS[kind]}\` | ${p.requests} | ${p.failures} | ${p.skipped} | ${fmt(p.p50Ms, 1)} | ${fmt(p.p99Ms, 1)} | ${fmt(p.maxMs, 1)} | ` +
          `${fmt(p.meanBytes / 1000, 1)} | ${Number.isFinite(p.lastFigure) ? POLL_FIGURE[kind](p.lastFigure) : '–'} |`,
      );
      if (p.failureSamples.length > 0) failures.push(`\`${run.workload}\` ${kind}: ${p.failureSamples.map((f) => `"${f.replace(/\|/g, '/')}"`).join(', ')}`);
    }
    cpu.push(`\`${run.workload}\` ${fmt(polls.polledSeconds, 1)} s of the ${fmt(polls.seconds, 1)} s measured, using ${fmt(run.result.observerCpuPercent, 1)} % of a core over the whole run`);
  }
  lines.push('');
  if (cpu.length > 0) lines.push(`The poller was polling ${cpu.join('; ')}.`, '');
  if (failures.length > 0) lines.push(`Failures (first of each): ${failures.join('; ')}.`, '');
  return lines;
}

function report(plan: Plan, all: ServerRuns[], started: Date, finished: Date): string {
  const m = machine();
  const lines: string[] = [];
  const command = `npm run bench:policy${plan.argv.length > 0 ? ` -- ${plan.argv.join(' ')}` : ''}`;
  lines.push('## Policy server (bench/policy)', '');
  lines.push(
    `Written by \`${command}\` on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
      `(took ${fmt((finished.getTime() - started.getTime()) / 60000, 1)} min); rerunning it replaces this section.` +
      (plan.quick ? ' **This was a `--quick` smoke run: short phases, small fills; not for comparison.**' : ''),
    '',
  );
  lines.push('Run it with `npm run bench:policy` (builds first; takes about 12 minutes), or a smoke run of about two minutes with');
  lines.push('`npm run bench:policy -- --quick`. Options (`npm run bench:policy -- --help`):', '');
  lines.push('```', usage.trimEnd(), '```', '');
  lines.push(
    `**Machine:** ${m.cpu}, ${m.cores} cores shared by the load generator and the server under test; ` +
      `Node ${m.node}; ${m.kernel}. ` +
      `Servers: ${all.map((s) => s.version).join('; ')}; Rempart built from ${revision(REPO_ROOT, ['src'])}.`,
    '',
  );
  lines.push(
    '**Method.** The load generator (one Node process) keeps N TCP connections open to the server on loopback, with exactly one ' +
      'request outstanding on each, as Postfix does: a full RCPT-stage request of Postfix 3.7 (31 attributes: client address, ' +
      'client and reverse names, HELO, sender, recipient, instance, size, TLS, …), many requests per connection. ' +
      'Workloads: `new` sends a triplet never seen before each time (every triplet in its own client /24 with its own sender); ' +
      `\`retry\` first stores a known set of ${fmt(plan.known)} triplets (same on every server), waits for the greylisting delay, retries each ` +
      'once (they pass; not measured), then replays random triplets of that set: a regular correspondent whose triplet already passed; ' +
      `\`mix\` is ${fmt(plan.mixNew * 100)} % new, the rest retries. ` +
      `Each workload runs ${plan.warmupS} s unmeasured, then ${plan.requests !== undefined ? `${fmt(plan.requests)} requests` : `${plan.durationS} s`} measured` +
      `${all.some((s) => s.server === DASHBOARD) ? ` (\`rempart-dashboard\` twice that, as one continuous run: below)` : ''}. ` +
      'Latency is from writing a request to reading the end of its reply. CPU is the server\'s utime + stime from /proc/PID/stat ' +
      '(all threads, plus any child processes) over the measured window, divided by the requests answered; RSS is VmRSS from ' +
      '/proc/PID/status at the end of the workload. "server CPU %" and "load gen CPU %" are percent of one core: with 2 cores, ' +
      'a value near 100 % means that process was the bottleneck. "helper CPU %" is the same for the server\'s helper processes: the envelope pipeline\'s two DNS servers ' +
      '(dnsmasq and rbldnsd together), the Redis variants\' redis-server; not included in CPU µs/request, which is rempart\'s own. "other CPU %" is what the rest of the machine used meanwhile ' +
      '(/proc/stat minus the server, its helpers, the load generator and the dashboard poller): above a few percent, something else was running and the row is less reliable. ' +
      'Servers: `rempart` is greylisting alone, as postgrey does it; `rempart-dashboard` is the same daemon and configuration ' +
      'while a dashboard and Prometheus poll its HTTP API (below); `rempart-redis` is the same greylisting on a Redis store, and `rempart-redis-2` two such daemons sharing one Redis (below); ' +
      '`rempart-envelope` is the whole envelope pipeline (below) with ' +
      'its DNS answered by local servers on loopback; `postgrey` is Debian\'s; `null` answers DUNNO without work. ' +
      '"replies" is the share of each reply action (first word): `DEFER_IF_PERMIT` greylisted, `DUNNO` passed, `PREPEND` a passing ' +
      'first retry (X-Greylist header), `450` sender domain not found (4.1.8) or a client banned by strikes (4.7.1), `554` client listed in a reject DNS list.',
    '',
  );
  lines.push(
    `**Configuration.** All greylist by (client /24, sender, recipient) with a ${plan.delayS} s delay` +
      (plan.allowLists ? ', and all load Debian\'s postgrey allow lists (/etc/postgrey/whitelist_clients, whitelist_recipients)' : ', no allow lists') +
      '. Rempart, greylisting alone (`rempart`): `node dist/src/cli/main.js serve --config FILE` with `my_networks: []`, ' +
      '`log: { level: warn }`, every other check off (HELO, reverse DNS, sender, recipients, lists, bans, strikes: postgrey ' +
      'has none of them), a fresh store in a temporary directory and otherwise default settings (SQLite store, history ' +
      'records on); every Rempart runs its milter (idle) and its HTTP API (`http: { listen, password }`) as by default, each on a ' +
      'free loopback port of its own. postgrey: in the foreground with ' +
      '`--quiet` (no log line per decision), a fresh `--dbdir` in a temporary directory, otherwise Debian defaults (BerkeleyDB).',
    '',
  );
  if (all.some((s) => s.server === ENVELOPE)) {
    const pct = (perMille: number) => `${fmt(perMille / 10, 1)} %`;
    lines.push(
      '**Envelope pipeline (`rempart-envelope`).** The same greylisting, after every envelope check: HELO and reverse-DNS rules ' +
        'at their defaults (from the request\'s attributes: 30 % of clients have no forward-confirmed name, 10 % no PTR), the sender ' +
        'rules at their defaults (fully-qualified address, then the domain\'s MX, else A and AAAA, looked up in DNS), the relay check ' +
        `(\`local_domains: [bench.example]\`), the recipients check (a file of the ${RECIPIENTS} recipients the load generator uses) and two DNS lists. ` +
        `DNS: ${dnsDescription()}. The load generator's senders are \`news…@m<id>.${SENDER_DOMAIN_FOUND}\` (found), one in 50 ` +
        `\`…@m<id>.${SENDER_DOMAIN_MISSING}\` (not found: 450), and the null sender one in 20 (not looked up); of its client addresses ` +
        `(a hash of the triplet id), ${pct(DNSBL_PER_MILLE.reject)} are listed in \`${DNSBL_REJECT_ZONE}\` (${LISTED_ANSWER}: 554), ` +
        `${pct(DNSBL_PER_MILLE['reject-filtered'])} are there with ${FILTERED_ANSWER}, outside its answer filter ${REJECT_ZONE_FILTER} (no listing), ` +
        `and ${pct(DNSBL_PER_MILLE.score)} are listed in \`${DNSBL_SCORE_ZONE}\` (score 3, below every action threshold). ` +
        'Its configuration (paths and ports filled in at start):',
      '',
      '```yaml',
      rempartConfig(ENVELOPE, { delaySeconds: plan.delayS, allowLists: plan.allowLists }, PLACEHOLDERS).trimEnd(),
      '```',
      '',
    );
  }
  if (all.some((s) => s.server === DASHBOARD)) {
    const only = plan.dashboardWorkloads.length < plan.workloads.length ? ` It runs the workloads ${plan.dashboardWorkloads.map((w) => `\`${w}\``).join(', ')} only.` : '';
    const period = `${fmt(DASHBOARD_PERIOD_MS / 1000)} s`;
    lines.push(
      '**Dashboard polling (`rempart-dashboard`).** The mail path must not notice the dashboard. This is the daemon of `rempart`, ' +
        'started afresh with the very same configuration (history on: the overview reads the per-minute rollups the history writer ' +
        'fills as the decisions are stored), and its throughput with the dashboard polled is compared with its own without, within ' +
        `one continuous run: each workload's load runs without a break (the same connections, one source of triplet ids: a new triplet is never sent twice), ` +
        `${plan.warmupS} s unmeasured, then ${dashboardLength(plan)} measured, while one poller process, forked once per workload, is paused and ` +
        `resumed every ${period}: unpolled, polled, unpolled, polled, … from the start of the measured window (the same alternation runs through the ` +
        `warm-up, ending with a polled period, so that the daemon is in its steady state). Each polled period ends ${DASHBOARD_PAUSE_LEAD_MS} ms early: a tick due at its very end ` +
        'would race with the pause. The load generator counts the replies in buckets of ' +
        `${DASHBOARD_TIMELINE_MS} ms from the start of the measured window, which give the requests answered in each complete period (the partial one the window ends in is left out). ` +
        'Why: on this shared 2-core VM the throughput of consecutive windows of a few seconds of the same load varies by ±25 % (slow drift ' +
        'and sudden jumps); comparing this daemon with the `rempart` daemon measured just before it gave 85 % to 123 % on repeats, and ' +
        'six windows of 3.3 s a side on one daemon still 89.6 % to 104 % for the same code. Alternating every ' +
        `${period} puts each polled period between two unpolled neighbours that saw the same daemon, its store at about the same size, ` +
        'and about the same machine, and gives many pairs. Two estimates: the ratio of the sums of the requests of the polled periods and ' +
        'of as many unpolled ones (the last period left out when one kind has one more), which the target uses, and, robust to drift, ' +
        'for each polled period between two unpolled ones its requests over the mean of theirs, of which the targets give the median ' +
        'and the interquartile range. With and without, the requests/s are those periods\' requests over their time. The row of the tables ' +
        'above is the whole run, polled and unpolled periods together: its latency, CPU and "helper"/"other CPU %" columns cover the ' +
        'alternating run, not one side. The poller (bench/policy/poller.ts, a Node process of its ' +
        'own, so that it shares neither the load generator\'s event loop nor its timing) does, while not paused, against ' +
        `the daemon's HTTP API what an open dashboard does: every ${DASHBOARD_TICK_MS / 1000} s \`GET ${POLL_PATHS.stats}\` (the overview page's tick) ` +
        `and \`GET ${POLL_PATHS.history}\` (the live history view's tick, the first without \`after\`; the dashboard shows one of the two views at a time, so this is more than it asks), both with \`Authorization: Bearer <http.password>\`, ` +
        `at once when resumed and every ${DASHBOARD_TICK_MS / 1000} s after, and, as Prometheus would, \`GET ${POLL_PATHS.metrics}\` every ${METRICS_SCRAPE_MS / 1000} s of polled time ` +
        '(one schedule counted in polled time only, so that the scrapes per polled second are those of a Prometheus that never stops); over keep-alive connections, each kind ' +
        'of poll skipping its tick while its previous request is still unanswered, as the dashboard does. Paused, it sends nothing new; ' +
        'requests in flight complete and count. It counts the measured window only: requests, failures (no answer within 10 s, ' +
        'a status other than 200, or an answer without its expected content), latency from sending the request to the end of the ' +
        'answer. Its CPU is not in "other CPU %" ' +
        `(it is given below the poll table). The password is given as such, not as a \`$scrypt$\` hash: with a hash each Bearer request costs a ` +
        `scrypt, which the dashboard itself does not pay (it logs in once, then sends its session cookie).${only} ` +
        `Target: with the dashboard polled, at least ${fmt(TARGET_DASHBOARD_SHARE * 100)} % of the same daemon's requests/s without it (the ratio of the sums), every workload it runs.`,
      '',
    );
  }
  if (all.some((s) => REDIS_NODES[s.server] !== undefined)) {
    lines.push(
      '**Redis store (`rempart-redis`, `rempart-redis-2`).** The greylisting of `rempart`, with the same configuration except the ' +
        'store: Redis instead of SQLite. For each of the two, the benchmark starts a redis-server of its own (Debian\'s, ' +
        '`redis-server --bind 127.0.0.1 --port <free port> --save "" --appendonly no`: in memory only, no snapshots, no append-only file), ' +
        'with a fresh key prefix for the run, and stops it by PID afterwards. `rempart-redis` is one daemon on it; `rempart-redis-2` is ' +
        'two daemons with the same configuration (each with its own ports), sharing that Redis and key prefix, as two MX hosts would: ' +
        `the load generator opens half the connections to each, and the row gives both together (requests/s and latency percentiles of all ` +
        'requests; CPU µs/request, RSS and server CPU % of both daemons summed). The known triplets of `retry` and `mix` are stored and ' +
        'retried through both daemons, so a triplet first seen by one passes on the other: the replies show whether the two share ' +
        `their greylist. Redis runs on the same ${m.cores} cores as the daemons and the load generator; its CPU is in "helper CPU %". The table ` +
        '"Redis store" below gives, for each measured window, the commands Redis executed (`INFO commandstats`, read before and after, ' +
        'the benchmark\'s own `INFO` left out) per request answered, by command, redis-server\'s CPU per request (/proc/PID/stat, like ' +
        'the servers\'), its memory, and the requests the daemons answered without their store (their `/metrics`: ' +
        '`rempart_check_failures_total` and `rempart_errors_total{kind="store"}`, which must stay 0; a failed store call fails open, which ' +
        `would look fast). Target: one daemon on Redis at least ${TARGET_REDIS_SPEEDUP}× postgrey's requests/s, every workload, at ` +
        `${TARGET_CONNECTIONS} connections. Its store configuration (port and prefix filled in at start; the rest is \`rempart\`'s):`,
      '',
      '```yaml',
      ...rempartConfig('rempart', { delaySeconds: plan.delayS, allowLists: plan.allowLists }, REDIS_PLACEHOLDERS)
        .split('\n')
        .filter((line) => line.startsWith('store:')),
      '```',
      '',
    );
  }
  for (const s of all) if (s.problem) lines.push(`**${s.server}: ${s.problem.split('\n')[0]}**`, '');

  for (const w of plan.workloads) {
    lines.push(`### Workload \`${w}\``, '');
    lines.push('| server | connections | requests/s | p50 ms | p99 ms | CPU µs/request | RSS MB | server CPU % | helper CPU % | load gen CPU % | other CPU % | errors | replies |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const s of all) {
      if (s.server === 'null' && !s.runs.some((r) => r.workload === w)) continue;
      for (const run of s.runs.filter((r) => r.workload === w)) {
        const r = run.result;
        lines.push(
          `| ${s.server} | ${r.connections} | ${fmt(r.requestsPerSecond)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ` +
            `${fmt(r.cpuMicrosPerRequest)} | ${fmt(r.rssMB, 1)} | ${fmt(r.serverCpuPercent)} | ${fmt(r.helperCpuPercent)} | ${fmt(r.clientCpuPercent)} | ${fmt(r.otherCpuPercent)} | ${r.errors} | ${actionsText(r.actions)} |`,
        );
      }
      if (!s.runs.some((r) => r.workload === w)) lines.push(`| ${s.server} | – | not measured | | | | | | | | | | |`);
    }
    lines.push('');
    if (w === 'retry') {
      const notes = all
        .filter((s) => s.knownFill)
        .map((s) => `${s.server} stored them at ${fmt(s.knownFill!.storeRate)} requests/s and answered their first retries (${actionsText(s.knownFill!.actions)}) at ${fmt(s.knownFill!.firstRetryRate)} requests/s`);
      if (notes.length > 0) lines.push(`Setting up the ${fmt(plan.known)} known triplets (${plan.fillConnections} connections, not in the table): ${notes.join('; ')}.`, '');
    }
  }

  lines.push(...redisTable(all));
  lines.push(...dashboardTable(all));

  lines.push('### Memory with many triplets', '');
  lines.push('A fresh server is sent N distinct triplets (one request each, over ' + `${plan.fillConnections} connections); RSS is read 2 s after the last reply (greylisting alone; not run for the envelope pipeline, the dashboard variant and the Redis variants).`, '');
  lines.push('| server | triplets stored | time s | requests/s | RSS MB | peak RSS MB | store on disk MB | errors | replies |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of all.filter((x) => x.server === 'rempart' || x.server === 'postgrey')) {
    const f = s.fill;
    if (f) {
      lines.push(
        `| ${s.server} | ${fmt(f.triplets)} | ${fmt(f.seconds, 1)} | ${fmt(f.requestsPerSecond)} | ${fmt(f.rssMB, 1)} | ${fmt(f.peakMB, 1)} | ${fmt(f.diskMB, 1)} | ${f.errors} | ${actionsText(f.actions)} |`,
      );
    } else lines.push(`| ${s.server} | not measured | | | | | | | |`);
  }
  const rf = all.find((s) => s.server === 'rempart')?.fill;
  lines.push('');
  lines.push(
    rf
      ? `**Rempart with ${fmt(rf.triplets)} triplets: RSS ${fmt(rf.rssMB, 1)} MB** (peak ${fmt(rf.peakMB, 1)} MB).`
      : '**Rempart with 1,000,000 triplets: not measured.**',
    '',
  );

  lines.push('### Targets', '');
  lines.push('| target | measured | status |', '|---|---|---|');
  for (const t of targets(plan, all)) lines.push(`| ${t.target} | ${t.measured} | ${t.status} |`);
  lines.push('');
  lines.push(...readingNotes(plan, all));
  return lines.join('\n');
}

function writeDoc(path: string, section: string): void {
  writeSection(path, MARK_START, MARK_END, section);
}

async function main(): Promise<number> {
  const plan = parsePlan(process.argv.slice(2));
  const stopAll = async () => {
    for (const s of running) await s.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the servers`);
      void stopAll().finally(() => process.exit(130));
    });
  }
  const started = new Date();
  log(`plan: ${JSON.stringify({ ...plan, argv: undefined })}`);
  const all: ServerRuns[] = [];
  for (const name of plan.servers) all.push(await benchServer(name, plan));
  const finished = new Date();
  const section = report(plan, all, started, finished);
  process.stdout.write(`${section}\n`);
  if (plan.json) writeFileSync(plan.json, JSON.stringify({ plan, machine: machine(), started, finished, servers: all }, null, 2));
  if (plan.write) {
    writeDoc(plan.doc, section);
    log(`updated ${plan.doc}`);
  }
  return all.some((s) => s.problem) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench:policy: ${(error as Error).message}\n`);
    process.exitCode = 2;
  },
);
