// The rempart daemon: loads the configuration, opens the store, builds the check pipeline, runs the
// policy and milter servers, the HTTP API with /metrics and the dashboard, and the periodic store
// maintenance. SIGHUP reloads the configuration and list files
// without dropping connections; SIGTERM (or SIGINT) drains in-flight requests and exits.
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, type LoggerHandle } from '../core/log.js';
import { Pipeline } from '../core/pipeline.js';
import { CHECKS } from '../core/registry.js';
import { loadConfig } from '../config/loader.js';
import type { Config } from '../config/schema.js';
import { envelopeFromAttributes, policyAction } from '../policy/adapter.js';
import type { PolicyAttributes } from '../policy/codec.js';
import { PolicyServer } from '../policy/server.js';
import { MilterServer } from '../milter/server.js';
import { MilterAdapter } from '../milter/adapter.js';
import { openStore } from '../store/open.js';
import type { GreylistStats, Store, StoreStatus } from '../store/types.js';
import { reusedFor } from '../core/reused.js';
import { VERSION } from '../version.js';
import { resolverFromConfig } from '../dns/from-config.js';
import { newFailures } from '../dns/failure-report.js';
import type { DnsResolver } from '../dns/resolver.js';
import { HttpServer, httpSettingsProblem } from '../http/server.js';
import { Metrics } from '../metrics/metrics.js';
import { OfflineScanner } from '../scan/offline.js';

/** How long the greylist's counts (a count over the whole table) are reused by /api/stats and /metrics, in ms. */
const GREYLIST_COUNTS_MS = 10_000;
/** How often DNS failures are looked for and reported, in ms. */
const DNS_REPORT_INTERVAL_MS = 60_000;

export interface DaemonOptions {
  /** The configuration file, or undefined for the embedded defaults. */
  configPath: string | undefined;
  config: Config;
  clock?: Clock;
}

export class Daemon {
  private config: Config;
  private readonly logger: LoggerHandle;
  private readonly store: Store;
  private pipeline: Pipeline;
  private dns: DnsResolver;
  private policy: PolicyServer | undefined;
  private milter: MilterServer | undefined;
  private http: HttpServer | undefined;
  private readonly metrics: Metrics;
  /** The greylist's counts for /api/stats and /metrics, reused for GREYLIST_COUNTS_MS. */
  private readonly greylistCounts: () => Promise<GreylistStats>;
  /** The scanner of POST /api/check, made for the current configuration on first use. */
  private scanner: OfflineScanner | undefined;
  private readonly startedMs = Date.now();
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private readonly dnsWatch: NodeJS.Timeout;
  private dnsFailuresSeen: Record<string, number> = {};
  private maintenanceRunning = false;
  /** When the store became unreachable (ms), while it is. */
  private storeDownSince: number | undefined;
  private stopping = false;
  private readonly clock: Clock;

  constructor(private readonly options: DaemonOptions) {
    this.config = options.config;
    this.clock = options.clock ?? systemClock;
    this.logger = createLogger(this.config.log.level, this.config.log.format);
    this.store = openStore(this.config.store, {
      onBackgroundError: (error) => {
        this.metrics.countError('store');
        this.log.error({ err: error }, 'store background work failed');
      },
      onStateChange: (status) => this.storeStateChanged(status),
    });
    this.dns = resolverFromConfig(this.config.dns);
    this.greylistCounts = reusedFor(GREYLIST_COUNTS_MS, () => this.store.greylist.stats(this.config.greylist.auto_allow_clients));
    this.metrics = new Metrics({
      store: this.store,
      dnsStats: () => this.dns.stats(),
      pipelineCounters: () => this.pipeline.counters,
      greylistCounts: this.greylistCounts,
      storeTimeoutMs: () => this.config.store.timeout * 1000,
    });
    this.pipeline = this.buildPipeline(this.config, { checkErrors: new Map(), checkTimeouts: new Map(), onDecision: (record) => this.metrics.observeDecision(record) });
    this.dnsWatch = setInterval(() => this.reportDnsFailures(), DNS_REPORT_INTERVAL_MS);
    this.dnsWatch.unref();
  }

  private get log() {
    return this.logger.log;
  }

  private buildPipeline(config: Config, counters?: Pipeline['counters']): Pipeline {
    const pipeline = new Pipeline(CHECKS, { config, store: this.store, dns: this.dns, clock: this.clock, log: this.log }, counters);
    for (const problem of pipeline.problems) this.log.warn({ check: problem.check, problem: problem.message }, 'configuration problem (check keeps running)');
    return pipeline;
  }

  async start(): Promise<void> {
    const config = this.config;
    // The HTTP server is made first: it refuses a non-loopback address without a password before anything listens.
    if (config.http.enabled) {
      this.http = new HttpServer({
        config: () => this.config,
        store: this.store,
        metrics: this.metrics,
        log: this.log,
        version: VERSION,
        startedMs: this.startedMs,
        pipelineCounters: () => this.pipeline.counters,
        scan: (raw) => this.scan(raw),
        greylistCounts: this.greylistCounts,
        reload: () => this.reload(),
      });
    }
    if (config.policy.enabled) {
      this.policy = new PolicyServer({ ...this.policyOptions(config), listen: config.policy.listen });
      await this.policy.start();
    }
    if (config.milter.enabled) {
      const adapter = new MilterAdapter({ pipeline: () => this.pipeline, config: () => this.config, log: this.log });
      this.milter = new MilterServer(config.milter, adapter, this.log);
      await this.milter.start();
    }
    await this.http?.start();
    this.log.info(
      {
        version: VERSION,
        config: this.options.configPath ?? '(embedded defaults)',
        store: this.store.describe(),
        policy: this.policy?.listening() ?? 'off',
        milter: this.milter?.listening() ?? 'off',
        http: this.http?.listening() ?? 'off',
        checks: this.pipeline.enabledChecks().join(',') || 'none',
      },
      'rempart started',
    );
    this.scheduleMaintenance(5);
    if (config.bayes.enabled) {
      // The Bayes lookups' in-memory copy loads between requests now rather than at the first message.
      const started = Date.now();
      this.store.bayes.warm().then(
        (outcome) =>
          'reason' in outcome
            ? this.log.info({ reason: outcome.reason }, 'bayes: global token database not held in memory; lookups read the store')
            : this.log.info({ tokens: outcome.heldTokens, ms: Date.now() - started }, 'bayes: global token database held in memory for lookups'),
        (error: unknown) => this.log.warn({ err: error }, 'bayes: loading the token database into memory failed; lookups read the store'),
      );
    }
  }

  private policyOptions(config: Config) {
    return {
      maxLineLength: config.policy.max_line_length,
      maxAttributes: config.policy.max_attributes,
      maxRequestSize: config.policy.max_request_size,
      idleTimeout: config.policy.idle_timeout,
      maxConnections: config.policy.max_connections,
      log: this.log,
      handle: (attributes: PolicyAttributes) => this.handlePolicy(attributes),
    };
  }

  private async handlePolicy(attributes: PolicyAttributes): Promise<string> {
    const request = attributes.get('request');
    if (request !== 'smtpd_access_policy') {
      this.log.warn({ request: request ?? '(missing)' }, 'policy request of an unknown type; answering DUNNO');
      return 'DUNNO';
    }
    const greylistAction = this.config.greylist.action;
    const envelope = envelopeFromAttributes(attributes);
    const recipient = envelope.stage === 'rcpt' ? envelope.recipients[0] : undefined;
    const { reply } = await this.pipeline.decide(envelope, (decision) => policyAction(decision, greylistAction, recipient));
    return reply || 'DUNNO';
  }

  /** POST /api/check: the end-of-message scan with this daemon's store and resolver, no history. */
  private async scan(raw: Uint8Array) {
    this.scanner ??= new OfflineScanner(this.config, { shared: { store: this.store, dns: this.dns, log: this.log } });
    return (await this.scanner.scan(raw)).decision;
  }

  /** Logs the store becoming unreachable (mail then flows per store.unavailable_action) or reachable again. */
  private storeStateChanged(status: StoreStatus): void {
    this.metrics.storeStateChanged(status);
    if (!status.available) {
      this.log.error(
        { store: this.store.describe(), error: status.error ?? 'unknown', unavailable_action: this.config.store.unavailable_action },
        this.config.store.unavailable_action === 'defer'
          ? 'store unreachable: deferring mail (451 4.3.0) until it returns; reconnecting with backoff'
          : 'store unreachable: checks that need it count as no finding and mail flows; reconnecting with backoff',
      );
    } else if (this.storeDownSince !== undefined) {
      this.log.warn({ store: this.store.describe(), down_seconds: Math.round((status.since - this.storeDownSince) / 1000) }, 'store reachable again');
    } else {
      this.log.info({ store: this.store.describe() }, 'store connected');
    }
    this.storeDownSince = status.available ? undefined : (this.storeDownSince ?? status.since);
  }

  /** Says loudly, at most once a minute, that DNS queries failed (checks then found nothing). */
  private reportDnsFailures(): void {
    const failures = this.dns.stats().failures;
    const grown = newFailures(this.dnsFailuresSeen, failures);
    this.dnsFailuresSeen = { ...failures };
    const total = Object.values(grown).reduce((a, b) => a + b, 0);
    if (total > 0) {
      this.log.warn(
        { failures: total, by_code: Object.entries(grown).map(([code, n]) => `${code}:${n}`).join(','), servers: this.config.dns.servers.join(',') || 'system' },
        'DNS queries failed in the last minute; the checks that needed them found nothing',
      );
    }
  }

  /**
   * Re-reads the configuration and list files; keeps the old ones when the new ones are invalid.
   * Returns what was wrong, or undefined when the new configuration runs.
   */
  reload(): string | undefined {
    let next: Config;
    try {
      next = loadConfig(this.options.configPath);
    } catch (error) {
      this.log.error({ err: error }, 'reload failed: configuration invalid, keeping the running one');
      return (error as Error).message;
    }
    const httpProblem = this.http ? httpSettingsProblem({ ...next.http, listen: this.config.http.listen, enabled: true }) : undefined;
    if (httpProblem) {
      this.log.error({ problem: httpProblem }, 'reload refused: the running HTTP server would be left without protection; keeping the running configuration');
      return httpProblem;
    }
    const restartNeeded: string[] = [];
    if (next.policy.listen !== this.config.policy.listen || next.policy.enabled !== this.config.policy.enabled) restartNeeded.push('policy.listen/enabled');
    if (JSON.stringify(next.milter) !== JSON.stringify(this.config.milter)) restartNeeded.push('milter');
    if (next.store.path !== this.config.store.path || next.store.backend !== this.config.store.backend) restartNeeded.push('store');
    if (next.log.format !== this.config.log.format) restartNeeded.push('log.format');
    if (next.http.listen !== this.config.http.listen || next.http.enabled !== this.config.http.enabled || next.http.max_upload_size !== this.config.http.max_upload_size) {
      restartNeeded.push('http.listen/enabled/max_upload_size');
    }
    if (restartNeeded.length > 0) this.log.warn({ keys: restartNeeded.join(',') }, 'these settings change only at restart');
    this.log.level = next.log.level;
    if (JSON.stringify(next.dns) !== JSON.stringify(this.config.dns)) {
      this.dns = resolverFromConfig(next.dns);
      this.dnsFailuresSeen = {};
    }
    this.pipeline = this.buildPipeline(next, this.pipeline.counters);
    this.policy?.updateOptions(this.policyOptions(next));
    const intervalChanged = next.store.maintenance_interval !== this.config.store.maintenance_interval;
    this.config = next;
    this.scanner = undefined;
    this.http?.update();
    if (intervalChanged) this.scheduleMaintenance(next.store.maintenance_interval);
    this.log.info({ checks: this.pipeline.enabledChecks().join(',') || 'none' }, 'configuration reloaded');
    return undefined;
  }

  private scheduleMaintenance(delaySeconds: number): void {
    clearTimeout(this.maintenanceTimer);
    this.maintenanceTimer = setTimeout(() => void this.runMaintenance(), delaySeconds * 1000);
    this.maintenanceTimer.unref();
  }

  private async runMaintenance(): Promise<void> {
    if (this.maintenanceRunning || this.stopping) return;
    this.maintenanceRunning = true;
    try {
      const report = await this.store.maintenance({
        now: Math.floor(this.clock.nowMs() / 1000),
        historyMaxAge: this.config.history.max_age,
        historyMaxRecords: this.config.history.max_records,
        bayesTokenMaxAge: this.config.bayes.token_max_age,
      });
      this.log.info(
        {
          expired_triplets: report.expiredTriplets,
          expired_clients: report.expiredClients,
          expired_list_entries: report.expiredListEntries,
          expired_bans: report.expiredBans,
          expired_strikes: report.expiredStrikes,
          expired_bayes_tokens: report.expiredBayesTokens ?? 0,
          removed_history: report.removedHistory,
          duration_ms: Math.round(report.durationMs),
          dns_queries: this.dns.stats().queries,
          dns_cache_hits: this.dns.stats().cacheHits,
          dns_failures: Object.values(this.dns.stats().failures).reduce((a, b) => a + b, 0),
        },
        'store maintenance done',
      );
    } catch (error) {
      this.log.error({ err: error }, 'store maintenance failed; will try again next interval');
    } finally {
      this.maintenanceRunning = false;
      if (!this.stopping) this.scheduleMaintenance(this.config.store.maintenance_interval);
    }
  }

  /** Drains the servers, writes pending history and closes the store. */
  async stop(signal: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ signal, drain_timeout: this.config.policy.drain_timeout }, 'stopping: draining in-flight requests');
    clearTimeout(this.maintenanceTimer);
    clearInterval(this.dnsWatch);
    await Promise.all([this.policy?.stop(this.config.policy.drain_timeout), this.milter?.close(), this.http?.stop()]);
    this.dns.cancel();
    try {
      await this.store.close();
    } catch (error) {
      this.log.error({ err: error }, 'closing the store failed');
    }
    this.log.info({}, 'rempart stopped');
  }

  /** Logs unexpected errors instead of dying with them: mail keeps flowing. */
  installProcessHandlers(): void {
    process.on('SIGHUP', () => this.reload());
    const stop = (signal: string) =>
      void this.stop(signal).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('uncaughtException', (error) => {
      this.metrics.countError('process');
      this.log.error({ err: error }, 'unexpected error (kept running)');
    });
    process.on('unhandledRejection', (error) => {
      this.metrics.countError('process');
      this.log.error({ err: error }, 'unexpected rejection (kept running)');
    });
  }
}
