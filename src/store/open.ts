// Opens the store the configuration names: SQLite (embedded, the default) or Redis (shared by
// several hosts).
import type { Config } from '../config/schema.js';
import { SqliteStore } from './sqlite/store.js';
import { RedisStore } from './redis/store.js';
import type { Store, StoreStatus } from './types.js';

export interface OpenStoreOptions {
  /** Errors of background work no caller waits for (writes; SQLite's in-memory Bayes copy). */
  onBackgroundError?: (error: unknown) => void;
  /** Redis: told when the store becomes unreachable or reachable again. */
  onStateChange?: (status: StoreStatus) => void;
  /** Redis: commands wait for the first connection (CLI commands); the daemon never waits. */
  waitForConnection?: boolean;
}

export function openStore(config: Config['store'], options: OpenStoreOptions = {}): Store {
  switch (config.backend) {
    case 'sqlite':
      return new SqliteStore(config.path, config.timeout * 1000, options.onBackgroundError);
    case 'redis':
      return new RedisStore({
        settings: config.redis,
        commandTimeoutMs: config.timeout * 1000,
        waitForConnection: options.waitForConnection,
        onBackgroundError: options.onBackgroundError,
        onStateChange: options.onStateChange,
      });
  }
}

/** The store of a CLI command: Redis commands wait for the first connection (each within store.timeout). */
export function openCommandStore(config: Config['store'], onBackgroundError?: (error: unknown) => void): Store {
  return openStore(config, { waitForConnection: true, onBackgroundError });
}
