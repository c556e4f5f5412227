// Opens the store the configuration names (SQLite today; Redis arrives with clustering).
import type { Config } from '../config/schema.js';
import { SqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export function openStore(config: Config['store'], onBackgroundError: (error: unknown) => void = () => {}): Store {
  switch (config.backend) {
    case 'sqlite':
      return new SqliteStore(config.path, config.timeout * 1000, onBackgroundError);
  }
}
