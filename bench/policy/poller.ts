// The dashboard poller of the policy benchmark's `rempart-dashboard` variant: a child process of
// bench/policy/run.ts (forked with an IPC channel, so that neither its work nor its timing shares
// the load generator's event loop) that does, against the daemon's HTTP API, what an open
// dashboard and a Prometheus server do: every second GET /api/stats?window=1h (the overview page's
// tick) and GET /api/history?limit=50&after=<the newest id seen> (the live history view's tick: the
// first one without `after`), both with
// `Authorization: Bearer <password>`, and every 5 s GET /metrics. As the dashboard does, a tick is
// skipped while the previous request of the same kind is still outstanding. The benchmark pauses
// and resumes it every few seconds, to compare the daemon's throughput polled and not polled
// within one continuous load.
//
// Protocol (process.send / 'message'): the parent forks it with the argument
//   JSON {"url": "http://127.0.0.1:PORT", "password": "...", "tickMs": 1000, "metricsMs": 5000}
// and it answers {type: 'ready'} once it reached /health; it starts paused. {cmd: 'resume'} starts
// polling (again), {cmd: 'pause'} stops sending new polls (those in flight complete and are
// counted), {cmd: 'measure'} forgets everything counted so far (the end of the load generator's
// warm-up), {cmd: 'stop'} stops, waits for the requests in flight and answers {type: 'result',
// result: PollerResult}, then the process exits.
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export type PollKind = 'stats' | 'history' | 'metrics';
export const POLL_KINDS: readonly PollKind[] = ['stats', 'history', 'metrics'];

/** What each kind of poll asks for. */
export const POLL_PATHS: Record<PollKind, string> = {
  stats: '/api/stats?window=1h',
  history: '/api/history?limit=50&after=<newest id>',
  metrics: '/metrics',
};

export interface PollerOptions {
  url: string;
  password: string;
  /** Interval of the dashboard's ticks (stats, history), in ms. */
  tickMs: number;
  /** Interval of the /metrics scrapes, in ms of polled (unpaused) time. */
  metricsMs: number;
}

export interface PollStats {
  /** Requests that completed (answered or failed) in the measured period. */
  requests: number;
  failures: number;
  /** Ticks skipped because the previous request of this kind was still outstanding. */
  skipped: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Mean size of a successful answer's body, in bytes. */
  meanBytes: number;
  /** The first few failure reasons (status, error message). */
  failureSamples: string[];
  /** Last successful answer's figure: decisions in the stats window, records in the history page, lines of /metrics. */
  lastFigure: number;
}

export interface PollerResult {
  /** Measured period (from measure() to stop()), in s. */
  seconds: number;
  /** The part of the measured period the poller was not paused, in s. */
  polledSeconds: number;
  kinds: Record<PollKind, PollStats>;
}

const REQUEST_TIMEOUT_MS = 10_000; // a poll without an answer after 10 s is a failure
const STOP_GRACE_MS = 11_000; // wait this long for the requests in flight at stop

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

class Counter {
  latencies: number[] = [];
  failures = 0;
  skipped = 0;
  bytes = 0;
  successes = 0;
  failureSamples: string[] = [];
  lastFigure = NaN;

  stats(): PollStats {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      requests: this.latencies.length,
      failures: this.failures,
      skipped: this.skipped,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
      meanBytes: this.successes > 0 ? this.bytes / this.successes : NaN,
      failureSamples: this.failureSamples,
      lastFigure: this.lastFigure,
    };
  }
}

/** Checks an answer's body and returns its figure (see PollStats.lastFigure), or throws. */
function check(kind: PollKind, body: string): number {
  if (kind === 'metrics') {
    if (!body.includes('rempart_decisions_total')) throw new Error('no rempart_decisions_total in /metrics');
    return body.split('\n').length;
  }
  const json = JSON.parse(body) as { actions?: Record<string, number>; records?: unknown[] };
  if (kind === 'stats') {
    if (typeof json.actions !== 'object' || json.actions === null) throw new Error('no "actions" in the stats answer');
    return Object.values(json.actions).reduce((a, b) => a + b, 0);
  }
  if (!Array.isArray(json.records)) throw new Error('no "records" in the history answer');
  return json.records.length;
}

export class Poller {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 }); // a browser and Prometheus keep their connections
  private readonly base: URL;
  private counters = new Map<PollKind, Counter>(POLL_KINDS.map((k) => [k, new Counter()]));
  private tickTimer: NodeJS.Timeout | undefined;
  private scrapeTimer: NodeJS.Timeout | undefined;
  /** Paused: no new polls (it starts paused, until resume()). */
  private paused = true;
  /** When the current polled stretch began (performance.now()); meaningful while not paused. */
  private resumedAt = 0;
  /** Polled time of the measured period before the current stretch, in ms. */
  private polledMsBefore = 0;
  /** When the next /metrics scrape is due (performance.now()); meaningful while not paused. */
  private scrapeDueAt = 0;
  /** Polled time left until the next /metrics scrape, in ms, kept while paused (0: at the next resume()). */
  private scrapeDueInMs = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly inFlight = new Set<PollKind>();
  private measuredFrom = performance.now();
  /** The newest history record seen: the live view asks for what came after it. */
  private newestHistoryId = 0;

  constructor(private readonly options: PollerOptions) {
    this.base = new URL(options.url);
  }

  /** One GET; resolves with the status and body (never rejects). */
  private get(path: string, auth: boolean): Promise<{ status: number; body: string } | { error: string }> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: this.base.hostname,
          port: this.base.port,
          path,
          method: 'GET',
          agent: this.agent,
          headers: { Accept: path === '/metrics' ? 'text/plain' : 'application/json', ...(auth ? { Authorization: `Bearer ${this.options.password}` } : {}) },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (error) => resolve({ error: error.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer after ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (error) => resolve({ error: error.message }));
      req.end();
    });
  }

  private poll(kind: PollKind): void {
    if (this.inFlight.has(kind)) {
      this.counters.get(kind)!.skipped++;
      return;
    }
    this.inFlight.add(kind);
    const started = performance.now();
    const path = kind === 'history' ? `/api/history?limit=50${this.newestHistoryId > 0 ? `&after=${this.newestHistoryId}` : ''}` : POLL_PATHS[kind];
    const done = this.get(path, true).then((answer) => {
      if (kind === 'history' && !('error' in answer) && answer.status === 200) {
        try {
          for (const record of (JSON.parse(answer.body) as { records?: { id?: number }[] }).records ?? []) {
            if (typeof record.id === 'number' && record.id > this.newestHistoryId) this.newestHistoryId = record.id;
          }
        } catch {
          // check() below reports the bad answer
        }
      }
      const elapsed = performance.now() - started;
      this.inFlight.delete(kind);
      // A request that began before the measured period (measure()) is not counted.
      const current = this.counters.get(kind)!;
      if (started < this.measuredFrom) return;
      current.latencies.push(elapsed);
      let failure: string | undefined;
      if ('error' in answer) failure = answer.error;
      else if (answer.status !== 200) failure = `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
      else {
        try {
          current.lastFigure = check(kind, answer.body);
          current.bytes += Buffer.byteLength(answer.body);
          current.successes++;
        } catch (error) {
          failure = (error as Error).message;
        }
      }
      if (failure !== undefined) {
        current.failures++;
        if (current.failureSamples.length < 3) current.failureSamples.push(failure);
      }
    });
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Waits until GET /health answers 200 (the HTTP API starts just after the mail servers). */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await this.get('/health', false);
      if ('status' in answer && answer.status === 200) return;
      if (Date.now() > deadline) throw new Error(`${this.options.url}/health: ${'error' in answer ? answer.error : `HTTP ${answer.status}`}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Starts polling, or starts it again after pause(): the dashboard's ticks (stats and history,
   * both views open) at once and then every tickMs, as a dashboard brought back to the screen does;
   * the /metrics scrapes when their own schedule says, one scrape every metricsMs of polled time
   * (the first at once), so that over many short polled stretches the scrapes per polled second
   * are those of a Prometheus that never stops.
   */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumedAt = performance.now();
    const tick = () => {
      this.poll('stats');
      this.poll('history');
    };
    tick();
    this.tickTimer = setInterval(tick, this.options.tickMs);
    this.scrapeDueAt = this.resumedAt + this.scrapeDueInMs;
    this.scheduleScrape();
  }

  /** Arms the timer of the next /metrics scrape at scrapeDueAt; each scrape sets the next one metricsMs later (no drift from late timers). */
  private scheduleScrape(): void {
    this.scrapeTimer = setTimeout(
      () => {
        this.poll('metrics');
        this.scrapeDueAt += this.options.metricsMs;
        this.scheduleScrape();
      },
      Math.max(0, this.scrapeDueAt - performance.now()),
    );
  }

  /**
   * Stops sending new polls until resume() (the requests in flight complete and are counted); the
   * scrape schedule keeps the polled time left until its next scrape.
   */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    const now = performance.now();
    clearInterval(this.tickTimer);
    clearTimeout(this.scrapeTimer);
    this.scrapeDueInMs = Math.max(0, this.scrapeDueAt - now);
    this.polledMsBefore += now - Math.max(this.resumedAt, this.measuredFrom);
  }

  /** Starts the measured period: what was counted before is forgotten. */
  measure(): void {
    this.counters = new Map(POLL_KINDS.map((k) => [k, new Counter()]));
    this.measuredFrom = performance.now();
    this.polledMsBefore = 0;
  }

  /** Stops polling, waits for the requests in flight (up to STOP_GRACE_MS) and returns what the measured period saw. */
  async stop(): Promise<PollerResult> {
    this.pause();
    const seconds = (performance.now() - this.measuredFrom) / 1000;
    const polledSeconds = this.polledMsBefore / 1000;
    await Promise.race([Promise.all([...this.pending]), new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
    this.agent.destroy();
    const kinds = Object.fromEntries(POLL_KINDS.map((k) => [k, this.counters.get(k)!.stats()])) as Record<PollKind, PollStats>;
    return { seconds, polledSeconds, kinds };
  }
}

/** Run as a forked child: see the protocol at the top. */
async function child(): Promise<void> {
  const send = (message: unknown, then?: () => void) => process.send!(message, undefined, {}, () => then?.());
  const options = JSON.parse(process.argv[2] ?? '{}') as PollerOptions;
  const poller = new Poller(options);
  try {
    await poller.ready();
  } catch (error) {
    send({ type: 'error', message: (error as Error).message }, () => process.disconnect());
    return;
  }
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'resume') poller.resume();
    else if (message.cmd === 'pause') poller.pause();
    else if (message.cmd === 'measure') poller.measure();
    else if (message.cmd === 'stop') {
      void poller.stop().then((result) => {
        send({ type: 'result', result }, () => process.disconnect());
      });
    }
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away
  send({ type: 'ready' });
}

/** The parent's side: a forked poller process. */
export interface PollerHandle {
  pid: number;
  /** Starts polling, or starts it again after pause() (the poller starts paused). */
  resume(): void;
  /** Stops sending new polls until resume(); the polls in flight complete and are counted. */
  pause(): void;
  /** Starts the measured period (the end of the warm-up). */
  measure(): void;
  /** Stops polling and returns what the measured period saw; the process then exits. */
  stop(): Promise<PollerResult>;
  /** Ends the process at once (on errors). */
  kill(): void;
}

const CHILD_TIMEOUT_MS = 30_000; // ready within 30 s, a result within 30 s of stop

/** The IPC channel carries JSON, which turns NaN (no sample) into null: back to NaN. */
function revive(result: PollerResult): PollerResult {
  for (const kind of POLL_KINDS) {
    const stats = result.kinds[kind] as unknown as Record<string, unknown>;
    for (const key of ['p50Ms', 'p99Ms', 'maxMs', 'meanBytes', 'lastFigure']) if (stats[key] === null) stats[key] = NaN;
  }
  return result;
}

/** Forks this file as a poller of options.url and waits until it reached the API's /health. */
export function forkPoller(options: PollerOptions): Promise<PollerHandle> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`poller: no ${type} message after ${CHILD_TIMEOUT_MS} ms`)), CHILD_TIMEOUT_MS);
      const onMessage = (message: Record<string, unknown>) => {
        if (message.type !== type && message.type !== 'error') return;
        done();
        if (message.type === 'error') reject(new Error(`poller: ${String(message.message)}`));
        else resolve(message);
      };
      const onExit = () => {
        done();
        reject(new Error(`poller exited (code ${child.exitCode}, signal ${child.signalCode}) before its ${type} message`));
      };
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return next('ready').then(
    () => ({
      pid: child.pid!,
      resume: () => child.send({ cmd: 'resume' }),
      pause: () => child.send({ cmd: 'pause' }),
      measure: () => child.send({ cmd: 'measure' }),
      stop: async () => {
        const result = next('result');
        child.send({ cmd: 'stop' });
        try {
          const message = await result;
          await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
          return revive(message.result as PollerResult);
        } finally {
          kill();
        }
      },
      kill,
    }),
    (error: unknown) => {
      kill();
      throw error;
    },
  );
}

if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) void child();
