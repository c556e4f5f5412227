// Policy server benchmark (run on demand, not a test): drives Rempart and postgrey in the same run
// with the `new`, `retry` and `mix` greylisting workloads, fills Rempart with 1,000,000 triplets to
// measure its memory, and writes the results into docs/benchmarks.md between markers.
// Run: npm run bench:policy [-- --quick] [-- --help for all options]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLoad, memoryMB, TripletIds, workloadSource, type KnownSet, type LoadResult, type WorkloadName } from './load.js';
import { REPO_ROOT, serverVersion, startServer, type RunningServer, type ServerName } from './servers.js';

const usage = `npm run bench:policy -- [options]

  --quick                  smoke run of under a minute (3 s per workload, small fills); does not
                           write docs/benchmarks.md unless --write is given
  --servers LIST           servers to run, comma-separated: rempart, postgrey, null (default all three;
                           null answers DUNNO without work and runs only the first workload: it
                           shows the load generator's own ceiling)
  --workloads LIST         workloads, comma-separated: new, retry, mix (default new,retry,mix)
  --connections LIST       connection counts, comma-separated (default 50 connections)
  --duration S             measured time per workload, in s (default 20 s; quick 3 s)
  --requests N             measured requests per workload instead of a fixed --duration (default: unset)
  --warmup S               unmeasured time before each workload, in s (default 3 s; quick 1 s)
  --known N                known triplets for the retry/mix workloads, the same on both servers:
                           stored, retried once after the delay (unmeasured), then replayed
                           (default 20000 triplets; quick 2000)
  --mix-new F              fraction of new triplets in the mix workload (default 0.5 = 50 %)
  --fill-rempart N         triplets stored in a fresh Rempart before reading its RSS (default 1000000 triplets; quick 20000; 0 = skip)
  --fill-postgrey N        the same for postgrey (default 20000 triplets; quick 2000; 0 = skip)
  --fill-connections N     connections used by the fills (default 50 connections)
  --fill-limit S           stop a fill after this long, in s (default 300 s)
  --delay S                greylisting delay of both servers, in s (default 1 s, so that retries pass)
  --no-allow-lists         do not load Debian's postgrey allow lists (default: both servers load them)
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

interface Plan {
  quick: boolean;
  servers: ServerName[];
  workloads: WorkloadName[];
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

interface WorkloadRun {
  workload: WorkloadName;
  result: LoadResult;
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
  const servers = list(values.servers ?? 'rempart,postgrey,null');
  for (const s of servers) if (s !== 'rempart' && s !== 'postgrey' && s !== 'null') throw new Error(`--servers: unknown server ${s}`);
  const workloads = list(values.workloads ?? 'new,retry,mix');
  for (const w of workloads) if (w !== 'new' && w !== 'retry' && w !== 'mix') throw new Error(`--workloads: unknown workload ${w}`);
  const connections = list(values.connections ?? String(TARGET_CONNECTIONS)).map((c) => Math.round(positive('connections', c, 1)));
  const mixNew = positive('mix-new', values['mix-new'], 0.5, true);
  if (mixNew > 1) throw new Error('--mix-new: expected a fraction between 0 and 1');
  return {
    quick,
    servers: servers as ServerName[],
    workloads: workloads as WorkloadName[],
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
    host: server.host,
    port: server.port,
    connections: Math.min(connections, count),
    nextId: () => next++,
    requests: count,
    durationMs: limitS * 1000,
    serverPid: server.pid,
    progress: (done) => {
      if (process.stderr.isTTY) process.stderr.write(`\r  ${server.name}: ${fmt(done)} / ${fmt(count)} triplets `);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (result.requests < count) log(`${server.name}: fill stopped at ${fmt(result.requests)} of ${fmt(count)} triplets (errors or --fill-limit ${limitS} s)`);
  if (result.errors > 0) log(`${server.name}: ${result.errors} errors while filling`);
  return { set: { first, count: result.requests }, result };
}

async function benchServer(name: ServerName, plan: Plan): Promise<ServerRuns> {
  const out: ServerRuns = { server: name, version: serverVersion(name), runs: [] };
  const serverOptions = { delaySeconds: plan.delayS, allowLists: plan.allowLists };
  let server: RunningServer | undefined;
  try {
    if (plan.workloads.length > 0) {
      log(`${name}: starting`);
      server = await startServer(name, serverOptions);
      running.add(server);
      log(`${name}: pid ${server.pid}, 127.0.0.1:${server.port}, RSS ${fmt(memoryMB(server.pid).rss, 1)} MB`);
      const ids = new TripletIds();
      let known: KnownSet | undefined;
      for (const connections of plan.connections) {
        for (const workload of name === 'null' ? plan.workloads.slice(0, 1) : plan.workloads) {
          if (workload !== 'new' && !known) {
            log(`${name}: storing ${fmt(plan.known)} known triplets for retry/mix`);
            const filled = await fillTriplets(server, ids, plan.known, plan.fillConnections, plan.fillLimitS);
            known = filled.set;
            await sleep(plan.delayS * 1000 + 500); // let the greylisting delay pass, so retries are accepted
            log(`${name}: first retry of each known triplet (passes greylisting; not measured)`);
            let next = known.first;
            const sweep = await runLoad({
              host: server.host,
              port: server.port,
              connections: Math.min(plan.fillConnections, known.count),
              nextId: () => next++,
              requests: known.count,
              durationMs: plan.fillLimitS * 1000,
              serverPid: server.pid,
            });
            out.knownFill = {
              triplets: filled.result.requests,
              storeRate: filled.result.requestsPerSecond,
              firstRetryRate: sweep.requestsPerSecond,
              actions: sweep.actions,
            };
            log(`${name}: stored at ${fmt(filled.result.requestsPerSecond)} req/s, first retries at ${fmt(sweep.requestsPerSecond)} req/s (${actionsText(sweep.actions)})`);
          }
          const length = plan.requests !== undefined ? `${fmt(plan.requests)} requests` : `${plan.durationS} s`;
          log(`${name}: workload ${workload}, ${connections} connections, ${plan.warmupS} s warm-up + ${length}`);
          const result = await runLoad({
            host: server.host,
            port: server.port,
            connections,
            nextId: workloadSource(workload, ids, known, plan.mixNew),
            ...(plan.requests !== undefined
              ? { requests: plan.requests, hardLimitMs: 600_000 } // at most 10 min per workload
              : { durationMs: plan.durationS * 1000 }),
            warmupMs: plan.warmupS * 1000,
            serverPid: server.pid,
          });
          log(
            `${name} ${workload} c=${connections}: ${fmt(result.requestsPerSecond)} req/s, p50 ${fmt(result.p50Ms, 2)} ms, ` +
              `p99 ${fmt(result.p99Ms, 2)} ms, ${fmt(result.cpuMicrosPerRequest)} µs CPU/req, RSS ${fmt(result.rssMB, 1)} MB, ` +
              `server CPU ${fmt(result.serverCpuPercent)} %, load gen CPU ${fmt(result.clientCpuPercent)} %, other CPU ${fmt(result.otherCpuPercent)} %, errors ${result.errors}; ${actionsText(result.actions)}`,
          );
          out.runs.push({ workload, result });
        }
      }
      await server.stop();
      running.delete(server);
      server = undefined;
    }

    const fillCount = name === 'null' ? 0 : plan.fill[name];
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

/** The commit the benchmark ran on, and whether the tree had uncommitted changes. */
function revision(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `commit ${commit}${dirty ? ' with uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown revision';
  }
}

function machine(): { cpu: string; cores: number; node: string; kernel: string } {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return { cpu, cores: availableParallelism(), node: process.version, kernel: `Linux ${release()}` };
}

type Status = 'met' | 'not met' | 'not measured';

interface TargetRow {
  target: string;
  measured: string;
  status: Status;
}

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
  return rows;
}

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
  lines.push('Run it with `npm run bench:policy` (builds first; takes about 5 minutes), or a smoke run of under a minute with');
  lines.push('`npm run bench:policy -- --quick`. Options (`npm run bench:policy -- --help`):', '');
  lines.push('```', usage.trimEnd(), '```', '');
  lines.push(
    `**Machine:** ${m.cpu}, ${m.cores} cores shared by the load generator and the server under test; ` +
      `Node ${m.node}; ${m.kernel}. ` +
      `Servers: ${all.map((s) => s.version).join('; ')}; Rempart built from ${revision()}.`,
    '',
  );
  lines.push(
    '**Method.** The load generator (one Node process) keeps N TCP connections open to the server on loopback, with exactly one ' +
      'request outstanding on each, as Postfix does: a full RCPT-stage request of Postfix 3.7 (31 attributes: client address, ' +
      'client and reverse names, HELO, sender, recipient, instance, size, TLS, …), many requests per connection. ' +
      'Workloads: `new` sends a triplet never seen before each time (every triplet in its own client /24 with its own sender); ' +
      `\`retry\` first stores a known set of ${fmt(plan.known)} triplets (same on both servers), waits for the greylisting delay, retries each ` +
      'once (they pass; not measured), then replays random triplets of that set: a regular correspondent whose triplet already passed; ' +
      `\`mix\` is ${fmt(plan.mixNew * 100)} % new, the rest retries. ` +
      `Each workload runs ${plan.warmupS} s unmeasured, then ${plan.requests !== undefined ? `${fmt(plan.requests)} requests` : `${plan.durationS} s`} measured. ` +
      'Latency is from writing a request to reading the end of its reply. CPU is the server\'s utime + stime from /proc/PID/stat ' +
      '(all threads, plus any child processes) over the measured window, divided by the requests answered; RSS is VmRSS from ' +
      '/proc/PID/status at the end of the workload. "server CPU %" and "load gen CPU %" are percent of one core: with 2 cores, ' +
      'a value near 100 % means that process was the bottleneck. "other CPU %" is what the rest of the machine used meanwhile ' +
      '(/proc/stat minus both): above a few percent, something else was running and the row is less reliable.',
    '',
  );
  lines.push(
    `**Configuration.** Both greylist by (client /24, sender, recipient) with a ${plan.delayS} s delay` +
      (plan.allowLists ? ', and both load Debian\'s postgrey allow lists (/etc/postgrey/whitelist_clients, whitelist_recipients)' : ', no allow lists') +
      '. Rempart: `node dist/src/cli/main.js serve --config FILE` with `my_networks: []`, `log: { level: warn }`, ' +
      '`sender: { domain_not_found: off, null_mx: off }` (no DNS checks: postgrey has none), a fresh store in a ' +
      'temporary directory and otherwise default settings (SQLite store, history records on, the HELO and reverse-DNS rules ' +
      'scoring from the request\'s attributes). postgrey: in the foreground with ' +
      '`--quiet` (no log line per decision), a fresh `--dbdir` in a temporary directory, otherwise Debian defaults (BerkeleyDB).',
    '',
  );
  for (const s of all) if (s.problem) lines.push(`**${s.server}: ${s.problem.split('\n')[0]}**`, '');

  for (const w of plan.workloads) {
    lines.push(`### Workload \`${w}\``, '');
    lines.push('| server | connections | requests/s | p50 ms | p99 ms | CPU µs/request | RSS MB | server CPU % | load gen CPU % | other CPU % | errors | replies |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const s of all) {
      if (s.server === 'null' && !s.runs.some((r) => r.workload === w)) continue;
      for (const run of s.runs.filter((r) => r.workload === w)) {
        const r = run.result;
        lines.push(
          `| ${s.server} | ${r.connections} | ${fmt(r.requestsPerSecond)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ` +
            `${fmt(r.cpuMicrosPerRequest)} | ${fmt(r.rssMB, 1)} | ${fmt(r.serverCpuPercent)} | ${fmt(r.clientCpuPercent)} | ${fmt(r.otherCpuPercent)} | ${r.errors} | ${actionsText(r.actions)} |`,
        );
      }
      if (!s.runs.some((r) => r.workload === w)) lines.push(`| ${s.server} | – | not measured | | | | | | | | | |`);
    }
    lines.push('');
    if (w === 'retry') {
      const notes = all
        .filter((s) => s.knownFill)
        .map((s) => `${s.server} stored them at ${fmt(s.knownFill!.storeRate)} requests/s and answered their first retries (${actionsText(s.knownFill!.actions)}) at ${fmt(s.knownFill!.firstRetryRate)} requests/s`);
      if (notes.length > 0) lines.push(`Setting up the ${fmt(plan.known)} known triplets (${plan.fillConnections} connections, not in the table): ${notes.join('; ')}.`, '');
    }
  }

  lines.push('### Memory with many triplets', '');
  lines.push('A fresh server is sent N distinct triplets (one request each, over ' + `${plan.fillConnections} connections); RSS is read 2 s after the last reply.`, '');
  lines.push('| server | triplets stored | time s | requests/s | RSS MB | peak RSS MB | store on disk MB | errors | replies |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of all.filter((x) => x.server !== 'null')) {
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
  const block = `${MARK_START}\n${section}\n${MARK_END}`;
  let text = existsSync(path)
    ? readFileSync(path, 'utf8')
    : '# Benchmarks\n\nMeasurements of Rempart, run on demand (they are not tests). Each section is written by its benchmark.\n\n';
  const start = text.indexOf(MARK_START);
  const end = text.indexOf(MARK_END);
  if (start >= 0 && end > start) text = text.slice(0, start) + block + text.slice(end + MARK_END.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, text);
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
