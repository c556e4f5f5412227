// A fresh SQLite store in a temporary directory for one test, closed and removed afterwards:
//   test('…', withStore(async (store, dir) => { … }));
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/store.js';

const STORE_TIMEOUT_MS = 1000; // ms

export function withStore(fn: (store: SqliteStore, dir: string) => Promise<void>, prefix = 'rempart-store-') {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const store = new SqliteStore(dir, STORE_TIMEOUT_MS);
    try {
      await fn(store, dir);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
