// A fresh SQLite store in a temporary directory for one test, closed and removed afterwards:
//   test('…', withStore(async (store, dir) => { … }));
// and downgradeStore(dir, version), which turns a closed store back into an older schema version
// (dropping what the later migrations made) to test upgrades.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATABASE_FILE, openDatabaseFile } from '../../src/store/sqlite/database.js';
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

/** SQL undoing each migration (index i undoes migration i + 1); append one with every new migration. */
const UNDO_MIGRATIONS: string[] = [
  'DROP TABLE greylist_triplets; DROP TABLE greylist_clients; DROP TABLE history;',
  'DROP TABLE list_entries; DROP TABLE bans; DROP TABLE strikes;',
  'DROP TABLE recipients;',
  "DROP TABLE bayes_scopes; DROP TABLE bayes_tokens; DROP TABLE bayes_messages; DELETE FROM meta WHERE key = 'bayes_version';",
  `DROP TABLE history_clients; DROP TABLE history_senders; DELETE FROM meta WHERE key = 'history_indexed_upto'; DROP INDEX history_rejects_by_time_client; DROP INDEX history_rejects_by_time_sender;
   DROP INDEX history_rejects_by_client; DROP INDEX history_rejects_by_sender;
   DROP TABLE history_symbols; DROP TABLE history_recipients; DROP TABLE stats_minutes; DROP TABLE stats_hours;
   DROP TABLE stats_symbol_minutes; DROP TABLE stats_symbol_hours;`,
];

/** Turns the (closed) store in `dir` back into schema version `version`; its data in older tables stays. */
export function downgradeStore(dir: string, version: number): void {
  const db = openDatabaseFile(join(dir, DATABASE_FILE), STORE_TIMEOUT_MS);
  try {
    const current = Number((db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value);
    db.transaction(() => {
      for (let undone = current; undone > version; undone--) db.exec(UNDO_MIGRATIONS[undone - 1]!);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(version));
    })();
  } finally {
    db.close();
  }
}
