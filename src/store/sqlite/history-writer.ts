// The decision history's writes, run on the SQLite writer thread (writer-worker.ts): each record
// goes into `history`, and the decision counts per minute and per hour (stats_minutes, stats_hours,
// and the symbol counterparts) are added up, inside the commit transaction of the batch (the
// caller's), so the rollups always agree with the records. The search tables (history_clients,
// history_senders, history_recipients, history_symbols) are filled later in bulk by indexPending(),
// in key order: a row per record and table costs a few µs that way, against some 15 µs per record
// and index when each record updates them as it is written. Counts are first summed per batch in memory, then written
// with one UPSERT per (period, action, protocol) or (period, symbol). Rollups exist only for what is
// recorded: with history.enabled false nothing is added, so there are no statistics either.
// Maintenance deletes records by age and by count with their symbol and recipient rows, and rollups
// older than the history's maximum age, in short transactions.
import type Database from 'better-sqlite3';
import type { Db } from './database.js';
import { hourOf, HOUR_MS, minuteOf, MINUTE_MS } from './rows.js';
import type { HistoryTuple } from './writer-protocol.js';

type Statement = Database.Statement<unknown[]>;

/** Maintenance deletes this many history records (or rollup rows) per transaction. */
const DELETE_BATCH = 2000;
/** Records indexed per transaction by indexPending(). */
const INDEX_BATCH = 20_000;

/** One rollup row of decision counts being summed for a batch. */
interface ActionCount {
  period: number;
  action: string;
  protocol: string;
  count: number;
  firstId: number;
  lastId: number;
}

/** One rollup row of symbol counts being summed for a batch. */
interface SymbolCount {
  period: number;
  name: string;
  count: number;
}

/** The decision and symbol counts of one batch for one period length (minutes or hours). */
class PeriodCounts {
  readonly actions = new Map<string, ActionCount>();
  readonly symbols = new Map<string, SymbolCount>();

  addDecision(period: number, action: string, protocol: string, id: number): void {
    const key = `${period}\n${action}\n${protocol}`;
    const found = this.actions.get(key);
    if (!found) this.actions.set(key, { period, action, protocol, count: 1, firstId: id, lastId: id });
    else {
      found.count++;
      if (id < found.firstId) found.firstId = id;
      if (id > found.lastId) found.lastId = id;
    }
  }

  addSymbol(period: number, name: string): void {
    const key = `${period}\n${name}`;
    const found = this.symbols.get(key);
    if (found) found.count++;
    else this.symbols.set(key, { period, name, count: 1 });
  }
}

/** Id ranges sorted and merged where they overlap or touch. */
function mergeRanges(ranges: { low: number; high: number }[]): { low: number; high: number }[] {
  const merged: { low: number; high: number }[] = [];
  for (const range of [...ranges].sort((a, b) => a.low - b.low)) {
    const last = merged[merged.length - 1];
    if (last && range.low <= last.high + 1) last.high = Math.max(last.high, range.high);
    else merged.push({ ...range });
  }
  return merged;
}

/** The distinct symbol names of a stored symbols column (JSON); none when it cannot be read. */
function symbolNames(json: string): string[] {
  try {
    const symbols = JSON.parse(json) as { name?: unknown }[];
    return [...new Set(symbols.map((s) => s.name).filter((n): n is string => typeof n === 'string'))];
  } catch {
    return [];
  }
}

/** The distinct recipients of a stored recipients column (JSON); none when it cannot be read. */
function recipientList(json: string): string[] {
  try {
    return [...new Set((JSON.parse(json) as unknown[]).filter((r): r is string => typeof r === 'string'))];
  } catch {
    return [];
  }
}

interface DeletedRow {
  id: number;
  symbols: string;
  recipients: string;
  client_address: string;
  sender: string;
}

export class HistoryWriter {
  private readonly insertRecord;
  private readonly indexRange: Statement[];
  private readonly readIndexedUpTo;
  private readonly writeIndexedUpTo;
  private readonly newestId;
  private readonly addMinuteCounts;
  private readonly addHourCounts;
  private readonly addMinuteSymbols;
  private readonly addHourSymbols;
  private readonly selectOlderThan;
  private readonly selectUpToId;
  private readonly deleteRecord;
  private readonly deleteSymbol;
  private readonly deleteRecipient;
  private readonly deleteClient;
  private readonly deleteSender;
  private readonly deleteBatch;

  constructor(private readonly db: Db) {
    this.insertRecord = db.prepare(
      `INSERT INTO history (time, node, protocol, stage, client_address, client_name, helo, sender, recipients, queue_id,
         message_id, instance, action, decided_by, reason, reply, score, symbols, detail, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Each search table from the records with ids in (?, ?], in the table's key order.
    this.indexRange = [
      'INSERT OR IGNORE INTO history_clients (client, history_id) SELECT client_address, id FROM history WHERE id > ? AND id <= ? ORDER BY client_address COLLATE NOCASE, id',
      'INSERT OR IGNORE INTO history_senders (sender, history_id) SELECT sender, id FROM history WHERE id > ? AND id <= ? ORDER BY sender COLLATE NOCASE, id',
      `INSERT OR IGNORE INTO history_recipients (recipient, history_id)
         SELECT r.value, h.id FROM history h, json_each(h.recipients) r WHERE h.id > ? AND h.id <= ? AND r.type = 'text' ORDER BY r.value COLLATE NOCASE, h.id`,
      `INSERT OR IGNORE INTO history_symbols (name, history_id)
         SELECT s.value ->> '$.name', h.id FROM history h, json_each(h.symbols) s WHERE h.id > ? AND h.id <= ? AND s.value ->> '$.name' IS NOT NULL ORDER BY 1, 2`,
    ].map((sql) => db.prepare(sql));
    this.readIndexedUpTo = db.prepare("SELECT value FROM meta WHERE key = 'history_indexed_upto'").pluck();
    this.writeIndexedUpTo = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('history_indexed_upto', ?)");
    this.newestId = db.prepare('SELECT max(id) FROM history').pluck();
    const addCounts = (table: string, period: string) =>
      db.prepare(
        `INSERT INTO ${table} (${period}, action, protocol, count, first_id, last_id) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(${period}, action, protocol) DO UPDATE SET count = count + excluded.count,
           first_id = min(first_id, excluded.first_id), last_id = max(last_id, excluded.last_id)`,
      );
    this.addMinuteCounts = addCounts('stats_minutes', 'minute');
    this.addHourCounts = addCounts('stats_hours', 'hour');
    const addSymbols = (table: string, period: string) =>
      db.prepare(
        `INSERT INTO ${table} (${period}, name, count) VALUES (?, ?, ?)
         ON CONFLICT(${period}, name) DO UPDATE SET count = count + excluded.count`,
      );
    this.addMinuteSymbols = addSymbols('stats_symbol_minutes', 'minute');
    this.addHourSymbols = addSymbols('stats_symbol_hours', 'hour');
    this.selectOlderThan = db.prepare('SELECT id, symbols, recipients, client_address, sender FROM history WHERE id >= ? AND id <= ? AND time < ? ORDER BY id LIMIT ?');
    this.selectUpToId = db.prepare('SELECT id, symbols, recipients, client_address, sender FROM history WHERE id <= ? ORDER BY id LIMIT ?');
    this.deleteRecord = db.prepare('DELETE FROM history WHERE id = ?');
    this.deleteSymbol = db.prepare('DELETE FROM history_symbols WHERE name = ? AND history_id = ?');
    this.deleteRecipient = db.prepare('DELETE FROM history_recipients WHERE recipient = ? AND history_id = ?');
    this.deleteClient = db.prepare('DELETE FROM history_clients WHERE client = ? AND history_id = ?');
    this.deleteSender = db.prepare('DELETE FROM history_senders WHERE sender = ? AND history_id = ?');
    this.deleteBatch = db.transaction((select: Statement, bounds: number[]): number => {
      const rows = select.all(...bounds, DELETE_BATCH) as DeletedRow[];
      for (const row of rows) {
        for (const name of symbolNames(row.symbols)) this.deleteSymbol.run(name, row.id);
        for (const recipient of recipientList(row.recipients)) this.deleteRecipient.run(recipient, row.id);
        this.deleteClient.run(row.client_address, row.id);
        this.deleteSender.run(row.sender, row.id);
        this.deleteRecord.run(row.id);
      }
      return rows.length;
    });
  }

  /**
   * Adds the records written since the last call to the search tables, INDEX_BATCH records per
   * transaction; returns how many were indexed. Called about once a second and before every read.
   */
  indexPending(): number {
    const newest = Number(this.newestId.get() ?? 0);
    let upTo = Number(this.readIndexedUpTo.get() ?? 0);
    const start = upTo;
    while (upTo < newest) {
      const to = Math.min(newest, upTo + INDEX_BATCH);
      const from = upTo;
      this.db.transaction(() => {
        for (const statement of this.indexRange) statement.run(from, to);
        this.writeIndexedUpTo.run(String(to));
      })();
      upTo = to;
    }
    return upTo - start;
  }

  /** Inserts a batch of records and adds up their rollups; call inside a transaction. */
  insert(records: HistoryTuple[]): void {
    if (records.length === 0) return;
    const minutes = new PeriodCounts();
    const hours = new PeriodCounts();
    for (const t of records) {
      const [time, node, protocol, stage, clientAddress, clientName, helo, sender, recipients, queueId, messageId, instance,
        action, decidedBy, reason, reply, score, symbols, headers, facts, errors, durationMs] = t;
      const id = Number(
        this.insertRecord.run(time, node, protocol, stage, clientAddress, clientName, helo, sender, JSON.stringify(recipients),
          queueId, messageId, instance, action, decidedBy, reason, reply, score, JSON.stringify(symbols),
          JSON.stringify({ headers, facts, errors }), durationMs).lastInsertRowid,
      );
      const minute = minuteOf(time);
      const hour = hourOf(time);
      minutes.addDecision(minute, action, protocol, id);
      hours.addDecision(hour, action, protocol, id);
      for (const name of new Set(symbols.map((s) => s.name))) {
        minutes.addSymbol(minute, name);
        hours.addSymbol(hour, name);
      }
    }
    for (const c of minutes.actions.values()) this.addMinuteCounts.run(c.period, c.action, c.protocol, c.count, c.firstId, c.lastId);
    for (const c of hours.actions.values()) this.addHourCounts.run(c.period, c.action, c.protocol, c.count, c.firstId, c.lastId);
    for (const c of minutes.symbols.values()) this.addMinuteSymbols.run(c.period, c.name, c.count);
    for (const c of hours.symbols.values()) this.addHourSymbols.run(c.period, c.name, c.count);
  }

  /**
   * Deletes the records older than `maxAgeSeconds` before `nowSeconds`, then the oldest beyond the
   * newest `maxRecords`, each with its symbol and recipient rows; then the rollups of the minutes
   * and hours wholly older than the age limit (rollups are not cut by the record count: statistics
   * cover the whole age). Returns how many records went.
   */
  maintain(nowSeconds: number, maxAgeSeconds: number, maxRecords: number): number {
    const cutoffMs = (nowSeconds - maxAgeSeconds) * 1000;
    // The records of a minute are within the ids its rollups bound (history has no index on time,
    // to keep every decision's write cheap): the old ones are found through the old minutes.
    const oldRanges = this.db
      .prepare('SELECT min(first_id) AS low, max(last_id) AS high FROM stats_minutes WHERE minute <= ? GROUP BY minute')
      .all(Math.floor(cutoffMs / MINUTE_MS)) as { low: number; high: number }[];
    let removed = 0;
    for (const { low, high } of mergeRanges(oldRanges)) removed += this.deleteSelected(this.selectOlderThan, [low, high, cutoffMs]);
    const newestId = (this.db.prepare('SELECT max(id) AS id FROM history').get() as { id: number | null }).id ?? 0;
    removed += this.deleteSelected(this.selectUpToId, [newestId - maxRecords]);
    // After the records: a reader never finds a record whose minute has no rollup (history.ts turns
    // time filters into id ranges with them).
    const minute = Math.floor(cutoffMs / MINUTE_MS);
    const hour = Math.floor(cutoffMs / HOUR_MS);
    this.deleteRollups('stats_minutes', 'minute, action, protocol', 'minute', minute);
    this.deleteRollups('stats_symbol_minutes', 'minute, name', 'minute', minute);
    this.deleteRollups('stats_hours', 'hour, action, protocol', 'hour', hour);
    this.deleteRollups('stats_symbol_hours', 'hour, name', 'hour', hour);
    return removed;
  }

  /** Deletes the records the statement selects (given the bound and the batch size), one batch per transaction. */
  private deleteSelected(select: Statement, bounds: number[]): number {
    let total = 0;
    for (;;) {
      const deleted = this.deleteBatch(select, bounds);
      total += deleted;
      if (deleted < DELETE_BATCH) return total;
    }
  }

  /** Deletes the rollup rows of the periods before `before`, DELETE_BATCH rows per statement. */
  private deleteRollups(table: string, key: string, period: string, before: number): void {
    const statement = this.db.prepare(`DELETE FROM ${table} WHERE (${key}) IN (SELECT ${key} FROM ${table} WHERE ${period} < ? LIMIT ?)`);
    for (;;) {
      if (statement.run(before, DELETE_BATCH).changes < DELETE_BATCH) return;
    }
  }
}
