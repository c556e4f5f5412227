// Opens the SQLite database (better-sqlite3) with the settings a daemon and a CLI can share:
// WAL journal, a busy timeout, and a versioned schema upgraded in one transaction at open.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Db = Database.Database;

/** Schema migrations, in order; migration i brings the schema to version i + 1. Never edit one that shipped. */
const MIGRATIONS: string[] = [
  `CREATE TABLE greylist_triplets (
     key TEXT PRIMARY KEY,
     client_net TEXT, sender TEXT, recipient TEXT,
     first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
     attempts INTEGER NOT NULL, passed_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX greylist_triplets_expires ON greylist_triplets (expires_at);
   CREATE TABLE greylist_clients (
     key TEXT PRIMARY KEY,
     passes INTEGER NOT NULL, last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX greylist_clients_expires ON greylist_clients (expires_at);
   CREATE TABLE history (
     id INTEGER PRIMARY KEY,
     time INTEGER NOT NULL, node TEXT NOT NULL, protocol TEXT NOT NULL, stage TEXT NOT NULL,
     client_address TEXT NOT NULL, client_name TEXT NOT NULL, helo TEXT NOT NULL,
     sender TEXT NOT NULL, recipients TEXT NOT NULL, queue_id TEXT NOT NULL, message_id TEXT NOT NULL,
     instance TEXT NOT NULL, action TEXT NOT NULL, decided_by TEXT NOT NULL, reason TEXT NOT NULL,
     reply TEXT NOT NULL, score REAL NOT NULL, symbols TEXT NOT NULL, detail TEXT NOT NULL,
     duration_ms REAL NOT NULL
   );`,
  // 2: allow/block lists, bans and strikes (issue 3). expires_at 0 = never.
  `CREATE TABLE list_entries (
     id INTEGER PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('allow', 'block')),
     type TEXT NOT NULL CHECK (type IN ('sender', 'domain', 'ip', 'helo')),
     value TEXT NOT NULL,
     scope TEXT NOT NULL,
     reason TEXT NOT NULL, comment TEXT NOT NULL, added_by TEXT NOT NULL,
     created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     UNIQUE (kind, value, scope)
   );
   CREATE INDEX list_entries_expires ON list_entries (expires_at) WHERE expires_at > 0;
   CREATE TABLE bans (
     network TEXT PRIMARY KEY,
     reason TEXT NOT NULL, source TEXT NOT NULL,
     created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX bans_expires ON bans (expires_at) WHERE expires_at > 0;
   CREATE TABLE strikes (
     address TEXT NOT NULL, reason TEXT NOT NULL,
     times TEXT NOT NULL, expires_at INTEGER NOT NULL,
     PRIMARY KEY (address, reason)
   ) WITHOUT ROWID;
   CREATE INDEX strikes_expires ON strikes (expires_at);`,
  // 3: valid recipients (issue 3): `user@domain` or `@domain` (a catch-all), lower case.
  `CREATE TABLE recipients (
     id INTEGER PRIMARY KEY,
     address TEXT NOT NULL UNIQUE,
     domain TEXT NOT NULL,
     comment TEXT NOT NULL, added_by TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX recipients_domain ON recipients (domain, address);`,
  // 4: the Bayesian filter's databases (issue 5), one per scope ('' global, or a recipient address).
  // Tokens are keyed by (scope id, token) without a rowid: the key is the row, and lookups read one
  // B-tree. Token times are seconds since the epoch; maintenance expires tokens by scanning the key
  // in chunks rather than through an index on the time, which would repeat every token and be
  // rewritten at every learn. `tokens` in bayes_scopes is kept equal to the scope's token rows.
  `CREATE TABLE bayes_scopes (
     id INTEGER PRIMARY KEY,
     scope TEXT NOT NULL UNIQUE,
     spam_messages INTEGER NOT NULL DEFAULT 0,
     ham_messages INTEGER NOT NULL DEFAULT 0,
     tokens INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE bayes_tokens (
     scope_id INTEGER NOT NULL,
     token TEXT NOT NULL,
     spam INTEGER NOT NULL,
     ham INTEGER NOT NULL,
     last_learned INTEGER NOT NULL,
     PRIMARY KEY (scope_id, token)
   ) WITHOUT ROWID;
   CREATE TABLE bayes_messages (
     scope_id INTEGER NOT NULL,
     digest TEXT NOT NULL,
     class TEXT NOT NULL CHECK (class IN ('spam', 'ham')),
     learned_at INTEGER NOT NULL,
     PRIMARY KEY (scope_id, digest)
   ) WITHOUT ROWID;`,
  // 5: history for the HTTP API and dashboard (issue 6). Search tables for the client, sender,
  // recipient and symbol filters, (value, record id), so that "newest first" pages come in key
  // order (addresses compared without regard to ASCII case), filled by the writer in bulk about
  // once a second and before every read (meta.history_indexed_upto: the last record indexed), which
  // costs a fraction of indexing each record as it is written; action, node and time have none; the symbols and recipients of each record in their own tables (whole-value matches, by
  // index); partial indexes of the rejected decisions, by time (the most rejected clients and
  // senders of a short window) and by address (those of a long window, walked in chunks); and
  // rollups of the decision counts per minute and per hour (times in minutes or hours since the
  // epoch), written by the writer thread in the transaction of the history rows, so that statistics
  // read a few thousand rollup rows instead of the history. first_id and last_id bound the ids of
  // the records of that minute or hour: a time filter becomes an id range. Rollups only exist for
  // recorded decisions (history.enabled false: no statistics). Records already stored are filled in.
  `CREATE TABLE history_clients (
     client TEXT NOT NULL COLLATE NOCASE,
     history_id INTEGER NOT NULL,
     PRIMARY KEY (client, history_id)
   ) WITHOUT ROWID;
   CREATE TABLE history_senders (
     sender TEXT NOT NULL COLLATE NOCASE,
     history_id INTEGER NOT NULL,
     PRIMARY KEY (sender, history_id)
   ) WITHOUT ROWID;
   CREATE INDEX history_rejects_by_time_client ON history (time, client_address) WHERE action = 'reject';
   CREATE INDEX history_rejects_by_time_sender ON history (time, sender) WHERE action = 'reject';
   CREATE INDEX history_rejects_by_client ON history (client_address COLLATE NOCASE, time) WHERE action = 'reject';
   CREATE INDEX history_rejects_by_sender ON history (sender COLLATE NOCASE, time) WHERE action = 'reject';
   CREATE TABLE history_symbols (
     name TEXT NOT NULL,
     history_id INTEGER NOT NULL,
     PRIMARY KEY (name, history_id)
   ) WITHOUT ROWID;
   CREATE TABLE history_recipients (
     recipient TEXT NOT NULL COLLATE NOCASE,
     history_id INTEGER NOT NULL,
     PRIMARY KEY (recipient, history_id)
   ) WITHOUT ROWID;
   CREATE TABLE stats_minutes (
     minute INTEGER NOT NULL, action TEXT NOT NULL, protocol TEXT NOT NULL,
     count INTEGER NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
     PRIMARY KEY (minute, action, protocol)
   ) WITHOUT ROWID;
   CREATE TABLE stats_hours (
     hour INTEGER NOT NULL, action TEXT NOT NULL, protocol TEXT NOT NULL,
     count INTEGER NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
     PRIMARY KEY (hour, action, protocol)
   ) WITHOUT ROWID;
   CREATE TABLE stats_symbol_minutes (
     minute INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL,
     PRIMARY KEY (minute, name)
   ) WITHOUT ROWID;
   CREATE TABLE stats_symbol_hours (
     hour INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL,
     PRIMARY KEY (hour, name)
   ) WITHOUT ROWID;
   INSERT OR IGNORE INTO history_clients (client, history_id) SELECT client_address, id FROM history;
   INSERT OR IGNORE INTO history_senders (sender, history_id) SELECT sender, id FROM history;
   INSERT OR REPLACE INTO meta (key, value) SELECT 'history_indexed_upto', coalesce(max(id), 0) FROM history;
   INSERT OR IGNORE INTO history_symbols (name, history_id)
     SELECT json_extract(s.value, '$.name'), h.id FROM history h, json_each(h.symbols) s
     WHERE json_valid(h.symbols) AND json_extract(s.value, '$.name') IS NOT NULL;
   INSERT OR IGNORE INTO history_recipients (recipient, history_id)
     SELECT r.value, h.id FROM history h, json_each(h.recipients) r
     WHERE json_valid(h.recipients) AND r.type = 'text';
   INSERT INTO stats_minutes (minute, action, protocol, count, first_id, last_id)
     SELECT CAST(time AS INTEGER) / 60000, action, protocol, count(*), min(id), max(id) FROM history GROUP BY 1, 2, 3;
   INSERT INTO stats_hours (hour, action, protocol, count, first_id, last_id)
     SELECT CAST(time AS INTEGER) / 3600000, action, protocol, count(*), min(id), max(id) FROM history GROUP BY 1, 2, 3;
   INSERT INTO stats_symbol_minutes (minute, name, count)
     SELECT CAST(h.time AS INTEGER) / 60000, s.name, count(*) FROM history_symbols s JOIN history h ON h.id = s.history_id GROUP BY 1, 2;
   INSERT INTO stats_symbol_hours (hour, name, count)
     SELECT CAST(h.time AS INTEGER) / 3600000, s.name, count(*) FROM history_symbols s JOIN history h ON h.id = s.history_id GROUP BY 1, 2;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
export const DATABASE_FILE = 'rempart.db';

/** Opens (creating when needed) the database in `directory` and brings its schema up to date. */
export function openDatabase(directory: string, busyTimeoutMs: number): Db {
  mkdirSync(directory, { recursive: true });
  const db = openDatabaseFile(join(directory, DATABASE_FILE), busyTimeoutMs);
  migrate(db);
  return db;
}

/** Opens a database file with the shared settings; the schema is left as it is. */
export function openDatabaseFile(path: string, busyTimeoutMs: number): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.max(1, Math.round(busyTimeoutMs))}`);
  db.pragma('cache_size = -16000'); // 16 MB of page cache
  db.pragma('foreign_keys = ON');
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const upgrade = db.transaction(() => {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    const current = row ? Number(row.value) : 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(`the store has schema version ${current}, newer than this rempart knows (${SCHEMA_VERSION}): upgrade rempart`);
    }
    for (let version = current; version < SCHEMA_VERSION; version++) db.exec(MIGRATIONS[version]!);
    db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(
      String(SCHEMA_VERSION),
    );
  });
  upgrade.immediate();
}
