// What every part of the Redis store is given: the client, the key builder and where to report
// errors of background work (history batches) that no caller waits for.
import type { RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';

export interface RedisContext {
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly onBackgroundError: (error: unknown) => void;
}

/** What a part's maintenance pass removed (the fields of MaintenanceReport it owns). */
export type PartialReport = Partial<Record<'expiredTriplets' | 'expiredClients' | 'removedHistory' | 'expiredListEntries' | 'expiredBans' | 'expiredStrikes' | 'expiredBayesTokens', number>>;
