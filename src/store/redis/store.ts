// The Redis store, for several MX hosts sharing one memory: the same interfaces as the SQLite
// store, each part in its own file and key area (keys.ts, docs/redis.md). Entries expire through
// Redis TTLs; index sorted sets that list them are pruned by maintenance. Read-modify-writes are
// atomic across hosts (compare-and-set Lua scripts, MULTI), so two nodes updating one triplet,
// ban, strike tally or token at once stay correct.
import { describeRedis, RedisConnection, type RedisSettings } from './connection.js';
import type { RedisContext } from './context.js';
import { RedisKeys } from './keys.js';
import { RedisGreylistStore } from './greylist.js';
import { RedisHistoryStore } from './history.js';
import { RedisListStore } from './lists.js';
import { RedisBanStore } from './bans.js';
import { RedisStrikeStore } from './strikes.js';
import { RedisRecipientStore } from './recipients.js';
import { RedisBayesStore } from './bayes.js';
import type { MaintenanceLimits, MaintenanceReport, Store, StoreStatus } from '../types.js';

export interface RedisStoreOptions {
  settings: RedisSettings;
  /** Deadline of one command, ms (store.timeout). */
  commandTimeoutMs: number;
  /** CLI commands wait for the first connection; the daemon never queues commands. */
  waitForConnection?: boolean;
  onBackgroundError?: (error: unknown) => void;
  onStateChange?: (status: StoreStatus) => void;
}

export class RedisStore implements Store {
  readonly greylist: RedisGreylistStore;
  readonly history: RedisHistoryStore;
  readonly lists: RedisListStore;
  readonly bans: RedisBanStore;
  readonly strikes: RedisStrikeStore;
  readonly recipients: RedisRecipientStore;
  readonly bayes: RedisBayesStore;
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;

  constructor(private readonly options: RedisStoreOptions) {
    this.connection = new RedisConnection({
      settings: options.settings,
      commandTimeoutMs: options.commandTimeoutMs,
      waitForConnection: options.waitForConnection,
      onStateChange: options.onStateChange,
    });
    this.keys = new RedisKeys(options.settings.prefix);
    const context: RedisContext = { redis: this.connection.client, keys: this.keys, onBackgroundError: options.onBackgroundError ?? (() => {}) };
    this.greylist = new RedisGreylistStore(context);
    this.history = new RedisHistoryStore(context);
    this.lists = new RedisListStore(context);
    this.strikes = new RedisStrikeStore(context);
    this.bans = new RedisBanStore(context, this.strikes);
    this.recipients = new RedisRecipientStore(context);
    this.bayes = new RedisBayesStore(context);
  }

  describe(): string {
    return describeRedis(this.options.settings);
  }

  status(): StoreStatus {
    return this.connection.status();
  }

  /** Resolves once connected (CLI commands), or rejects after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    return this.connection.ready(timeoutMs);
  }

  async maintenance(limits: MaintenanceLimits): Promise<MaintenanceReport> {
    const started = performance.now();
    const parts = [this.greylist, this.history, this.lists, this.bans, this.strikes, this.bayes];
    const reports = [];
    // One part after the other: each works in small batches, so requests are never stalled long.
    for (const part of parts) reports.push(await part.maintenance(limits));
    const sum = Object.assign({}, ...reports) as Partial<MaintenanceReport>;
    return {
      expiredTriplets: sum.expiredTriplets ?? 0,
      expiredClients: sum.expiredClients ?? 0,
      removedHistory: sum.removedHistory ?? 0,
      expiredListEntries: sum.expiredListEntries ?? 0,
      expiredBans: sum.expiredBans ?? 0,
      expiredStrikes: sum.expiredStrikes ?? 0,
      expiredBayesTokens: sum.expiredBayesTokens ?? 0,
      durationMs: performance.now() - started,
    };
  }

  async close(): Promise<void> {
    await this.history.flush().catch(() => {});
    this.history.stop();
    this.greylist.stop();
    await this.connection.close();
  }
}
