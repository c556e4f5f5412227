// The decision history's writes, run on the SQLite writer thread (writer-worker.ts): each record
// goes into `history` with its symbol names (history_symbols) and recipients (history_recipients),
// and the decision counts per minute and per hour (stats_minutes, stats_hours, and the symbol
// counterparts) are added up, all inside the commit transaction of the batch (the caller's), so the
// rollups always agree with the records. Counts are first summed per batch in memory, then written
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
}

export class HistoryWriter {
  private readonly insertRecord;
  private readonly insertSymbol;
  private readonly insertRecipient;
  private readonly addMinuteCounts;
  private readonly addHourCounts;
  private readonly addMinuteSymbols;
  private readonly addHourSymbols;
  private readonly selectOlderThan;
  private readonly selectUpToId;
  private readonly deleteRecord;
  private readonly deleteSymbol;
  private readonly deleteRecipient;
  private readonly deleteBatch;

  constructor(private readonly db: Db) {
    this.insertRecord = db.prepare(
      `INSERT INTO history (time, node, protocol, stage, client_address, client_name, helo, sender, recipients, queue_id,
         message_id, instance, action, decided_by, reason, reply, score, symbols, detail, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertSymbol = db.prepare('INSERT OR IGNORE INTO history_symbols (name, history_id) VALUES (?, ?)');
    this.insertRecipient = db.prepare('INSERT OR IGNORE INTO history_recipients (recipient, history_id) VALUES (?, ?)');
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
    this.selectOlderThan = db.prepare('SELECT id, symbols, recipients FROM history WHERE time < ? ORDER BY time LIMIT ?');
    this.selectUpToId = db.prepare('SELECT id, symbols, recipients FROM history WHERE id <= ? ORDER BY id LIMIT ?');
    this.deleteRecord = db.prepare('DELETE FROM history WHERE id = ?');
    this.deleteSymbol = db.prepare('DELETE FROM history_symbols WHERE name = ? AND history_id = ?');
    this.deleteRecipient = db.prepare('DELETE FROM history_recipients WHERE recipient = ? AND history_id = ?');
    this.deleteBatch = db.transaction((select: Statement, bound: number): number => {
      const rows = select.all(bound, DELETE_BATCH) as DeletedRow[];
      for (const row of rows) {
        for (const name of symbolNames(row.symbols)) this.deleteSymbol.run(name, row.id);
        for (const recipient of recipientList(row.recipients)) this.deleteRecipient.run(recipient, row.id);
        this.deleteRecord.run(row.id);
      }
      return rows.length;
    });
  }

  /** Inserts a batch of records with their symbol, recipient and rollup rows; call inside a transaction. */
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
      for (const recipient of recipients) this.insertRecipient.run(recipient, id);
      const minute = minuteOf(time);
      const hour = hourOf(time);
      minutes.addDecision(minute, action, protocol, id);
      hours.addDecision(hour, action, protocol, id);
      for (const name of new Set(symbols.map((s) => s.name))) {
        this.insertSymbol.run(name, id);
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
    let removed = this.deleteSelected(this.selectOlderThan, cutoffMs);
    const newest = (this.db.prepare('SELECT max(id) AS id FROM history').get() as { id: number | null }).id ?? 0;
    removed += this.deleteSelected(this.selectUpToId, newest - maxRecords);
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
  private deleteSelected(select: Statement, bound: number): number {
    let total = 0;
    for (;;) {
      const deleted = this.deleteBatch(select, bound);
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
