// Prometheus metrics of the daemon (prom-client, a registry of our own): decisions by action and
// protocol, symbol hits and decision latency, counted as decisions are made; DNS, check failures
// and store sizes, read when Prometheus scrapes; plus Node's process metrics. docs/metrics.md
// lists every series.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PipelineCounters } from '../core/pipeline.js';
import type { ResultRecord } from '../core/result.js';
import type { DnsStats } from '../dns/resolver.js';
import type { GreylistStats, Store, StoreStatus } from '../store/types.js';
import { withDeadline } from '../http/errors.js';

/** Latency buckets of a decision, in seconds (0.2 ms to 10 s: a cached policy answer to a slow content scan). */
const DECISION_SECONDS_BUCKETS = [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Where the scrape-time values come from; functions, because the daemon replaces its resolver and pipeline on reload. */
export interface MetricsSources {
  store: Store;
  dnsStats: () => DnsStats;
  pipelineCounters: () => PipelineCounters;
  /** The greylist's counts (reused for a few seconds: they count the whole table). */
  greylistCounts: () => Promise<GreylistStats>;
  /** Deadline of the store reads of a scrape, in ms. */
  storeTimeoutMs: () => number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly decisions: Counter<'action' | 'protocol'>;
  private readonly symbols: Counter<'symbol'>;
  private readonly latency: Histogram<'protocol' | 'stage'>;
  private readonly errors: Counter<'kind'>;
  private readonly storeOutages: Counter;
  /** Label children by key, so the hot path skips prom-client's label hashing. */
  private readonly decisionChildren = new Map<string, { inc(): void }>();
  private readonly symbolChildren = new Map<string, { inc(): void }>();
  private readonly latencyChildren = new Map<string, { observe(value: number): void }>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.decisions = new Counter({ name: 'rempart_decisions_total', help: 'Decisions made, by action and protocol.', labelNames: ['action', 'protocol'], registers });
    this.symbols = new Counter({ name: 'rempart_symbol_hits_total', help: 'Symbols found by the checks, by symbol.', labelNames: ['symbol'], registers });
    this.latency = new Histogram({
      name: 'rempart_decision_duration_seconds',
      help: 'Time from request to decision, by protocol and SMTP stage.',
      labelNames: ['protocol', 'stage'],
      buckets: DECISION_SECONDS_BUCKETS,
      registers,
    });
    this.errors = new Counter({ name: 'rempart_errors_total', help: 'Unexpected errors, by kind (store, http, process); mail kept flowing.', labelNames: ['kind'], registers });

    this.storeOutages = new Counter({ name: 'rempart_store_outages_total', help: 'Times the store became unreachable (Redis); mail flowed per store.unavailable_action.', registers });
    new Gauge({
      name: 'rempart_store_up',
      help: 'Whether the store can be reached (1) or not (0); SQLite is always 1.',
      registers,
      collect() {
        this.set(sources.store.status().available ? 1 : 0);
      },
    });
    new Counter({
      name: 'rempart_check_failures_total',
      help: 'Checks that failed or ran out of time (counted as no finding), by check and kind.',
      labelNames: ['check', 'kind'],
      registers,
      collect() {
        this.reset();
        const counters = sources.pipelineCounters();
        for (const [check, n] of counters.checkErrors) this.inc({ check, kind: 'error' }, n);
        for (const [check, n] of counters.checkTimeouts) this.inc({ check, kind: 'timeout' }, n);
      },
    });
    new Counter({
      name: 'rempart_dns_queries_total',
      help: 'DNS queries sent (cache misses), since the resolver was last replaced by a reload.',
      registers,
      collect() {
        this.reset();
        this.inc(sources.dnsStats().queries);
      },
    });
    new Counter({
      name: 'rempart_dns_cache_hits_total',
      help: 'DNS answers served from the cache.',
      registers,
      collect() {
        this.reset();
        this.inc(sources.dnsStats().cacheHits);
      },
    });
    new Counter({
      name: 'rempart_dns_failures_total',
      help: 'DNS queries that failed temporarily (the checks that needed them found nothing), by code.',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(sources.dnsStats().failures)) this.inc({ code }, n);
      },
    });
    new Gauge({
      name: 'rempart_store_entries',
      help: 'Entries in the store, by table (greylist_triplets, greylist_clients, bans, history, bayes_tokens).',
      labelNames: ['table'],
      registers,
      async collect() {
        const store = sources.store;
        const now = Math.floor(Date.now() / 1000);
        this.reset();
        // An unreachable store leaves the sizes out of the scrape; rempart_store_up says why.
        if (!store.status().available) return;
        // Each size on its own: one that does not come within the store's deadline (the history's
        // count waits for the records still queued, a backlog after a burst) is left out of this
        // scrape, and the others are still given.
        const within = <T>(read: () => Promise<T>): Promise<T | undefined> =>
          withDeadline(read(), sources.storeTimeoutMs()).catch(() => undefined);
        const [greylist, bans, history, bayes] = await Promise.all([
          within(() => sources.greylistCounts()),
          within(() => store.bans.active(now)),
          within(() => store.history.count()),
          within(() => store.bayes.counts('')),
        ]);
        if (greylist) {
          this.set({ table: 'greylist_triplets' }, greylist.triplets);
          this.set({ table: 'greylist_clients' }, greylist.clients);
        }
        if (bans) this.set({ table: 'bans' }, bans.length);
        if (history !== undefined) this.set({ table: 'history' }, history);
        if (bayes) this.set({ table: 'bayes_tokens' }, bayes.tokens);
      },
    });
  }

  /** Counts one decision (called by the pipeline for every decision). */
  observeDecision(record: ResultRecord): void {
    const decisionKey = `${record.action}\0${record.protocol}`;
    let decision = this.decisionChildren.get(decisionKey);
    if (!decision) this.decisionChildren.set(decisionKey, (decision = this.decisions.labels(record.action, record.protocol)));
    decision.inc();
    const latencyKey = `${record.protocol}\0${record.stage}`;
    let latency = this.latencyChildren.get(latencyKey);
    if (!latency) this.latencyChildren.set(latencyKey, (latency = this.latency.labels(record.protocol, record.stage)));
    latency.observe(record.durationMs / 1000);
    for (const symbol of record.symbols) {
      let hit = this.symbolChildren.get(symbol.name);
      if (!hit) this.symbolChildren.set(symbol.name, (hit = this.symbols.labels(symbol.name)));
      hit.inc();
    }
  }

  /** Counts the store becoming unreachable. */
  storeStateChanged(status: StoreStatus): void {
    if (!status.available) this.storeOutages.inc();
  }

  /** Counts an unexpected error of one kind. */
  countError(kind: 'store' | 'http' | 'process'): void {
    this.errors.inc({ kind });
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
