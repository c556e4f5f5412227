// Load generator for the policy benchmark: keeps N TCP connections open to a Postfix policy server,
// with exactly one request outstanding on each (as Postfix's smtpd does), spread evenly over the
// server's nodes when it has several (one policy port each), and measures throughput, latency
// percentiles and the server processes' CPU time and memory from /proc.
import { connect, type Socket } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// ---------------------------------------------------------------------------------------------
// Request attributes

/** Greylisting grows per /24 network; triplet ids map to distinct /24s (up to 100 * 65536). */
export const MAX_TRIPLETS = 100 * 65536;

/** Local recipients the benchmark mails to (a small, realistic set). */
export const RECIPIENTS = 200; // addresses

/** Counts requests, so that instance and client port differ from one request to the next. */
let sequence = 0;

/** The client address of triplet `id`: a distinct /24 per id, 11.0.0.0/8 .. 110.0.0.0/8 (never 127/8, 10/8 or 0/8). */
export function clientAddress(id: number): string {
  const a = 11 + (id >>> 16);
  const b = (id >>> 8) & 255;
  const c = id & 255;
  const d = 1 + ((id * 7) % 254);
  return `${a}.${b}.${c}.${d}`;
}

/**
 * Sender domains: `m<id>.example.com` (the benchmark's DNS server answers A for every name under
 * example.com, no MX), except one id in 50 (2 %), whose domain is `m<id>.example.org`: that zone is
 * empty, so those domains do not exist (NXDOMAIN). Same length either way, so the requests of the
 * greylisting-only servers, which look nothing up, are the same size.
 */
export const SENDER_DOMAIN_FOUND = 'example.com';
export const SENDER_DOMAIN_MISSING = 'example.org';
const MISSING_DOMAIN_EVERY = 50; // ids; 1 in 50 = 2 %

/** The envelope sender of triplet `id` ('' for the null sender of one id in 20, as bounces). */
export function senderAddress(id: number): string {
  if (id % 20 === 0) return '';
  const parent = id % MISSING_DOMAIN_EVERY === 3 ? SENDER_DOMAIN_MISSING : SENDER_DOMAIN_FOUND;
  return `news${id % 1000}@m${id.toString(36)}.${parent}`;
}

/** Where the benchmark's DNS block lists list the client of triplet `id`. */
export type DnsblListing = 'reject' | 'reject-filtered' | 'score' | undefined;

/** Per mille of client addresses in each list (disjoint sets, chosen by a hash of the id). */
export const DNSBL_PER_MILLE = { reject: 10, 'reject-filtered': 5, score: 10 } as const; // 1 %, 0.5 %, 1 %

/**
 * The DNS block list entry of triplet `id`'s client, if any: `reject` = listed in the reject zone
 * with an answer inside its filter (127.0.0.2), `reject-filtered` = present in the reject zone but
 * with an answer outside the filter (127.0.0.20: not a listing), `score` = listed in the score zone.
 */
export function dnsblListing(id: number): DnsblListing {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  const bucket = ((h ^ (h >>> 16)) >>> 0) % 1000;
  if (bucket < DNSBL_PER_MILLE.reject) return 'reject';
  if (bucket < DNSBL_PER_MILLE.reject + DNSBL_PER_MILLE['reject-filtered']) return 'reject-filtered';
  if (bucket < DNSBL_PER_MILLE.reject + DNSBL_PER_MILLE['reject-filtered'] + DNSBL_PER_MILLE.score) return 'score';
  return undefined;
}

/**
 * A full Postfix 3.7-style RCPT-stage request for triplet `id`. The client network, the client
 * host name and the sender depend only on `id`, so sending the same id again is a retry of the
 * same (client /24, sender, recipient) triplet; instance and client port change per request.
 */
export function policyRequest(id: number): string {
  if (id < 0 || id >= MAX_TRIPLETS) throw new Error(`triplet id ${id} outside 0..${MAX_TRIPLETS - 1}`);
  const seq = ++sequence;
  const address = clientAddress(id);
  const d = 1 + ((id * 7) % 254);
  const host = `mail${d}.n${id.toString(36)}.example.net`;
  const named = id % 10 < 7; // 70 % of clients have forward-confirmed names
  const clientName = named ? host : 'unknown';
  const reverseName = id % 10 < 9 ? host : 'unknown';
  const helo = named ? host : `[${address}]`;
  const sender = senderAddress(id);
  const recipient = `user${id % RECIPIENTS}@bench.example`;
  const tls = id % 2 === 0;
  const instance = `${(seq & 0xffff).toString(16)}.${(0x6560000 + seq).toString(16)}.${(seq * 7919) % 1000000}.0`;
  return (
    'request=smtpd_access_policy\n' +
    'protocol_state=RCPT\n' +
    'protocol_name=ESMTP\n' +
    `helo_name=${helo}\n` +
    'queue_id=\n' +
    `sender=${sender}\n` +
    `recipient=${recipient}\n` +
    'recipient_count=0\n' +
    `client_address=${address}\n` +
    `client_name=${clientName}\n` +
    `reverse_client_name=${reverseName}\n` +
    `instance=${instance}\n` +
    'sasl_method=\nsasl_username=\nsasl_sender=\n' +
    `size=${1024 + (id % 97) * 1500}\n` +
    'ccert_subject=\nccert_issuer=\nccert_fingerprint=\nccert_pubkey_fingerprint=\n' +
    (tls
      ? 'encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\nencryption_keysize=256\n'
      : 'encryption_protocol=\nencryption_cipher=\nencryption_keysize=0\n') +
    'etrn_domain=\nstress=\n' +
    `client_port=${1024 + (seq % 64000)}\n` +
    'policy_context=\nserver_address=127.0.0.1\nserver_port=25\n' +
    'compatibility_level=3.6\nmail_version=3.7.11\n\n'
  );
}

// ---------------------------------------------------------------------------------------------
// Workloads: which triplet id the next request uses

/** Hands out triplet ids never used before on one server (a new server starts at 0). */
export class TripletIds {
  private next = 0;
  /** A fresh id. */
  fresh(): number {
    if (this.next >= MAX_TRIPLETS) throw new Error('out of distinct triplets');
    return this.next++;
  }
  /** Reserves `count` consecutive fresh ids and returns the first. */
  reserve(count: number): number {
    const first = this.next;
    if (first + count > MAX_TRIPLETS) throw new Error('out of distinct triplets');
    this.next += count;
    return first;
  }
}

export type WorkloadName = 'new' | 'retry' | 'mix';

/** A known set of triplets (already sent once) that retries are drawn from. */
export interface KnownSet {
  first: number;
  count: number;
}

/** Returns the id source for a workload: `new` = always fresh, `retry` = a random known triplet, `mix` = either. */
export function workloadSource(name: WorkloadName, ids: TripletIds, known: KnownSet | undefined, newFraction: number): () => number {
  const retry = () => {
    if (!known || known.count === 0) throw new Error('retry workload needs a filled known set');
    return known.first + Math.floor(Math.random() * known.count);
  };
  switch (name) {
    case 'new':
      return () => ids.fresh();
    case 'retry':
      return retry;
    case 'mix':
      return () => (Math.random() < newFraction ? ids.fresh() : retry());
  }
}

// ---------------------------------------------------------------------------------------------
// /proc sampling of the server process (and its descendants, should it fork workers)

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux; `getconf CLK_TCK`

function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' '); // [0] = state (field 3)
  } catch {
    return undefined;
  }
}

/** The pid and all its descendants that are alive now. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    tree.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return tree;
}

/** CPU seconds used so far (utime + stime, all threads) by the process tree rooted at pid. */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const fields = statFields(p);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]); // fields 14 and 15: utime, stime
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/**
 * CPU seconds all processes of the machine have spent so far (all cores; /proc/stat user + nice +
 * system). Interrupt and softirq time is left out: loopback TCP traffic of the benchmark itself
 * lands there, and it is not charged to any process.
 */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number); // user nice system idle iowait irq softirq steal ...
    return (ticks[0]! + ticks[1]! + ticks[2]!) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Memory of the process tree rooted at pid: resident set now and its peak, in MB (2^20 bytes). */
export function memoryMB(pid: number): { rss: number; peak: number } {
  let rssKb = 0;
  let peakKb = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rssKb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      peakKb += Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // the process ended
    }
  }
  return { rss: rssKb / 1024, peak: peakKb / 1024 };
}

// ---------------------------------------------------------------------------------------------
// The load loop

export interface LoadOptions {
  host: string;
  /**
   * Policy ports on host, one per node of the server under test: connection i goes to
   * ports[i % ports.length] (with two nodes, half the connections to each).
   */
  ports: number[];
  /** Connections kept open, each with one request outstanding. */
  connections: number;
  /** Next triplet id to send. */
  nextId: () => number;
  /** Stop sending after this many measured requests (undefined: no count limit). */
  requests?: number;
  /** Stop sending after this long, in ms, counted from the start of the measured window, at the end of the warm-up (undefined: no time limit). */
  durationMs?: number;
  /** Replies in this first period, in ms, are not measured (default 0 ms). */
  warmupMs?: number;
  /** Hard limit for the whole run, in ms, whatever happens (default: duration + warm-up + 60 000 ms, or 3 600 000 ms). */
  hardLimitMs?: number;
  /** A request without a reply after this long, in ms, counts as an error (default 10 000 ms). */
  requestTimeoutMs?: number;
  /** Give up (stop and close everything) after this many errors (default 1000 errors). */
  maxErrors?: number;
  /** Server pids (one per node) for CPU and memory sampling (/proc/PID/stat, /proc/PID/status), summed. */
  serverPids: number[];
  /** Helper processes of the server (its DNS servers, its Redis), whose CPU is measured apart (default: none). */
  helperPids?: number[];
  /** Other processes of the benchmark itself (the dashboard poller), whose CPU is measured apart (default: none). */
  observerPids?: number[];
  /**
   * Called when the measured period begins (at the end of the warm-up), with its start
   * (performance.now()), the origin of `timeline` and of the duration limit.
   */
  onMeasuring?: (windowStart: number) => void;
  /**
   * Width of the buckets of LoadResult.timeline, in ms (undefined: no timeline). A caller that
   * changes something during the measured window (the dashboard poller, paused and resumed) reads
   * from it the throughput of each part.
   */
  timelineMs?: number;
  /** Called about once a second with the number of measured replies so far. */
  progress?: (done: number) => void;
}

export interface LoadResult {
  connections: number;
  /** Measured replies. */
  requests: number;
  errors: number;
  /** Measured window, in s. */
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Server CPU (utime + stime, all nodes) per measured request, in µs. */
  cpuMicrosPerRequest: number;
  /** Helper processes' CPU per measured request, in µs (NaN: no helpers). */
  helperCpuMicrosPerRequest: number;
  /** Server CPU use over the window, in % of one core. */
  serverCpuPercent: number;
  /** Load generator CPU use over the window, in % of one core. */
  clientCpuPercent: number;
  /** CPU use of the helper processes (DNS servers, Redis) over the window, in % of one core (NaN: no helpers). */
  helperCpuPercent: number;
  /** CPU use of the observer processes (dashboard poller) over the window, in % of one core (NaN: none). */
  observerCpuPercent: number;
  /** CPU used by everything else on the machine over the window, in % of one core (noise). */
  otherCpuPercent: number;
  /** Server resident set at the end (all nodes), in MB. */
  rssMB: number;
  /** Count of reply actions by first word (DEFER_IF_PERMIT, PREPEND, DUNNO, ...). */
  actions: Record<string, number>;
  /**
   * With LoadOptions.timelineMs: the replies completed in each bucket of that width since the start
   * of the measured window (bucket i covers [i·w, (i + 1)·w) ms), up to its end (the last reply; the
   * last bucket may be partial). Every reply counts, including the few (at most one per
   * connection) to requests sent before the window that `requests` leaves out: it is the rate the
   * server answered at.
   */
  timeline?: number[];
}

class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Runs one load phase and returns its measurements. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const warmupMs = options.warmupMs ?? 0;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const maxErrors = options.maxErrors ?? 1000;
  const hardLimitMs =
    options.hardLimitMs ?? (options.durationMs !== undefined ? options.durationMs + warmupMs + 60_000 : 3_600_000);
  if (options.durationMs === undefined && options.requests === undefined) {
    throw new Error('runLoad needs a duration or a request count');
  }
  if (options.ports.length === 0 || options.serverPids.length === 0) throw new Error('runLoad needs at least one port and one server pid');

  return new Promise<LoadResult>((resolve) => {
    const start = performance.now();
    const latencies = new Samples();
    const actions: Record<string, number> = {};
    let measuring = warmupMs === 0;
    let measured = 0;
    let sent = 0; // requests sent in the measured period (for the count limit)
    let errors = 0;
    let stopping = false;
    let windowStart = start;
    let windowEnd = start;
    const timelineMs = options.timelineMs;
    const timeline: number[] = [];
    const serverCpu = () => options.serverPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const helperPids = options.helperPids ?? [];
    const helperCpu = () => helperPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const observerPids = options.observerPids ?? [];
    const observerCpu = () => observerPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    let cpuAtStart = measuring ? serverCpu() : 0;
    let helperAtStart = measuring ? helperCpu() : 0;
    let observerAtStart = measuring ? observerCpu() : 0;
    let clientCpuAtStart = process.cpuUsage();
    let machineAtStart = machineBusySeconds();
    let open = 0;
    let finished = false;
    const sockets = new Set<Socket>();

    // The duration limit counts from the start of the measured window (not from the warm-up
    // timer's due time, which a busy event loop passes late), so that the window lasts at least
    // durationMs and a timeline of it holds every whole bucket of that length.
    let stopTimer: NodeJS.Timeout | undefined;
    const armStopTimer = () => {
      if (options.durationMs !== undefined) stopTimer = setTimeout(() => (stopping = true), options.durationMs);
    };
    const beginMeasuring = () => {
      measuring = true;
      windowStart = performance.now();
      armStopTimer();
      cpuAtStart = serverCpu();
      helperAtStart = helperCpu();
      observerAtStart = observerCpu();
      clientCpuAtStart = process.cpuUsage();
      machineAtStart = machineBusySeconds();
      options.onMeasuring?.(windowStart);
    };
    if (measuring) {
      armStopTimer();
      options.onMeasuring?.(windowStart);
    }
    const warmupTimer = warmupMs > 0 ? setTimeout(beginMeasuring, warmupMs) : undefined;
    const hardTimer = setTimeout(() => {
      stopping = true;
      for (const socket of sockets) socket.destroy();
    }, hardLimitMs);
    const progressTimer = setInterval(() => options.progress?.(measured), 1000);

    const finish = () => {
      if (finished) return;
      finished = true;
      if (!measuring) beginMeasuring(); // before the timers are cleared: it arms the stop timer
      clearTimeout(warmupTimer);
      clearTimeout(stopTimer);
      clearTimeout(hardTimer);
      clearInterval(progressTimer);
      const cpu = serverCpu() - cpuAtStart;
      const helpers = helperCpu() - helperAtStart;
      const observers = observerCpu() - observerAtStart;
      const clientCpu = process.cpuUsage(clientCpuAtStart);
      const machine = machineBusySeconds() - machineAtStart;
      const elapsed = Math.max(1e-6, (performance.now() - windowStart) / 1000);
      const seconds = Math.max(1e-6, (windowEnd - windowStart) / 1000);
      const sorted = latencies.sorted();
      resolve({
        connections: options.connections,
        requests: measured,
        errors,
        seconds,
        requestsPerSecond: measured / seconds,
        p50Ms: percentile(sorted, 50),
        p90Ms: percentile(sorted, 90),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
        cpuMicrosPerRequest: measured > 0 ? (cpu * 1e6) / measured : NaN,
        helperCpuMicrosPerRequest: helperPids.length > 0 && measured > 0 ? (helpers * 1e6) / measured : NaN,
        serverCpuPercent: (cpu / seconds) * 100,
        clientCpuPercent: ((clientCpu.user + clientCpu.system) / 1e6 / seconds) * 100,
        helperCpuPercent: helperPids.length > 0 ? (helpers / seconds) * 100 : NaN,
        observerCpuPercent: observerPids.length > 0 ? (observers / seconds) * 100 : NaN,
        otherCpuPercent: Math.max(0, ((machine - cpu - helpers - observers - (clientCpu.user + clientCpu.system) / 1e6) / elapsed) * 100),
        rssMB: options.serverPids.reduce((sum, pid) => sum + memoryMB(pid).rss, 0),
        actions,
        ...(timelineMs !== undefined ? { timeline } : {}),
      });
    };

    const mayStart = (): boolean => {
      if (stopping) return false;
      if (errors >= maxErrors) {
        stopping = true;
        for (const socket of sockets) socket.destroy();
        return false;
      }
      if (performance.now() - start > hardLimitMs) return false;
      if (options.requests !== undefined && measuring && sent >= options.requests) {
        stopping = true;
        return false;
      }
      return true;
    };

    /** Opens connection `slot` (0 .. connections - 1) to its node; reopened on the same node after an error. */
    const openConnection = (slot: number) => {
      if (!mayStart()) {
        if (open === 0) finish();
        return;
      }
      open++;
      const socket = connect(options.ports[slot % options.ports.length]!, options.host);
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.setEncoding('latin1');
      let buffer = '';
      let sentAt = 0;
      let sentMeasured = false;
      let timer: NodeJS.Timeout | undefined;
      let closed = false;

      const sendNext = () => {
        if (!mayStart()) {
          socket.end();
          return;
        }
        sentMeasured = measuring;
        if (measuring) sent++;
        const request = policyRequest(options.nextId());
        sentAt = performance.now();
        timer = setTimeout(() => {
          errors++;
          socket.destroy();
        }, requestTimeoutMs);
        socket.write(request);
      };

      socket.on('connect', sendNext);
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        const end = buffer.indexOf('\n\n');
        if (end < 0) return;
        const now = performance.now();
        clearTimeout(timer);
        timer = undefined;
        const reply = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (buffer.length > 0 || !reply.startsWith('action=')) {
          errors++;
          socket.destroy();
          return;
        }
        if (measuring && timelineMs !== undefined) {
          const bucket = Math.floor((now - windowStart) / timelineMs);
          while (timeline.length <= bucket) timeline.push(0);
          timeline[bucket]!++;
        }
        if (measuring && sentMeasured) {
          latencies.push(now - sentAt);
          measured++;
          windowEnd = now;
          const space = reply.indexOf(' ');
          const action = reply.slice(7, space < 0 ? undefined : space).toUpperCase();
          actions[action] = (actions[action] ?? 0) + 1;
        }
        sendNext();
      });
      socket.on('error', () => {
        if (timer !== undefined || !stopping) errors++;
      });
      socket.on('close', () => {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        sockets.delete(socket);
        open--;
        // reconnect after an error, like Postfix would; a normal end stops this slot
        if (!stopping && !finished) setTimeout(() => openConnection(slot), 50);
        else if (open === 0) finish();
      });
    };

    for (let slot = 0; slot < options.connections; slot++) openConnection(slot);
  });
}
