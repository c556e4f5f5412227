// Decision history in SQLite. Records are queued and written in batches (one transaction every
// 250 ms or every 500 records), so history costs the mail path almost nothing.
import type { Db } from './database.js';
import type { HistoryFilter, HistoryStore } from '../types.js';
import type { ResultRecord } from '../../core/result.js';

const FLUSH_INTERVAL_MS = 250;
const FLUSH_BATCH = 500;

interface HistoryDbRow {
  id: number;
  time: number;
  node: string;
  protocol: string;
  stage: string;
  client_address: string;
  client_name: string;
  helo: string;
  sender: string;
  recipients: string;
  queue_id: string;
  message_id: string;
  instance: string;
  action: string;
  decided_by: string;
  reason: string;
  reply: string;
  score: number;
  symbols: string;
  detail: string;
  duration_ms: number;
}

export class SqliteHistoryStore implements HistoryStore {
  private queue: ResultRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly insert;
  private readonly insertAll;

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
  ) {
    this.insert = db.prepare(
      `INSERT INTO history (time, node, protocol, stage, client_address, client_name, helo, sender, recipients, queue_id,
         message_id, instance, action, decided_by, reason, reply, score, symbols, detail, duration_ms)
       VALUES (@time, @node, @protocol, @stage, @clientAddress, @clientName, @helo, @sender, @recipients, @queueId,
         @messageId, @instance, @action, @decidedBy, @reason, @reply, @score, @symbols, @detail, @durationMs)`,
    );
    this.insertAll = db.transaction((records: ResultRecord[]) => {
      for (const r of records) {
        this.insert.run({
          ...r,
          recipients: JSON.stringify(r.recipients),
          symbols: JSON.stringify(r.symbols),
          detail: JSON.stringify({ headers: r.headers, facts: r.facts, errors: r.errors }),
        });
      }
    });
  }

  add(record: ResultRecord): void {
    this.queue.push(record);
    if (this.queue.length >= FLUSH_BATCH) this.writeQueued();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.writeQueued(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async flush(): Promise<void> {
    this.writeQueued();
  }

  private writeQueued(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.insertAll(batch);
    } catch (error) {
      // History is for people, not for mail flow: losing a batch is logged, never fatal.
      this.onError(error);
    }
  }

  async query(filter: HistoryFilter): Promise<ResultRecord[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.since !== undefined) (where.push('time >= ?'), params.push(filter.since));
    if (filter.until !== undefined) (where.push('time < ?'), params.push(filter.until));
    if (filter.client) (where.push('client_address = ?'), params.push(filter.client));
    if (filter.sender) (where.push('sender = ?'), params.push(filter.sender));
    if (filter.recipient) (where.push("recipients LIKE ? ESCAPE '\\'"), params.push(`%${JSON.stringify(filter.recipient).replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    if (filter.action) (where.push('action = ?'), params.push(filter.action));
    if (filter.beforeId !== undefined) (where.push('id < ?'), params.push(filter.beforeId));
    params.push(filter.limit ?? 100);
    const rows = this.db
      .prepare(`SELECT * FROM history ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`)
      .all(...params) as HistoryDbRow[];
    return rows.map(fromRow);
  }

  async count(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM history').get() as { n: number }).n;
  }

  /** Stops the batch timer and writes what is queued. */
  close(): void {
    this.writeQueued();
  }
}

function fromRow(row: HistoryDbRow): ResultRecord {
  const detail = JSON.parse(row.detail) as Pick<ResultRecord, 'headers' | 'facts' | 'errors'>;
  return {
    id: row.id,
    time: row.time,
    node: row.node,
    protocol: row.protocol as ResultRecord['protocol'],
    stage: row.stage as ResultRecord['stage'],
    clientAddress: row.client_address,
    clientName: row.client_name,
    helo: row.helo,
    sender: row.sender,
    recipients: JSON.parse(row.recipients) as string[],
    queueId: row.queue_id,
    messageId: row.message_id,
    instance: row.instance,
    action: row.action as ResultRecord['action'],
    decidedBy: row.decided_by,
    reason: row.reason,
    reply: row.reply,
    score: row.score,
    symbols: JSON.parse(row.symbols) as ResultRecord['symbols'],
    headers: detail.headers ?? [],
    facts: detail.facts ?? {},
    errors: detail.errors ?? [],
    durationMs: row.duration_ms,
  };
}
