// Decision history in SQLite. Records are queued with the greylist updates and written by the
// writer thread in the same batches (every 2 ms), so history costs the mail path almost nothing;
// queries run on the main thread's read connection.
import type { Db } from './database.js';
import type { CommitQueue } from './commit-queue.js';
import type { HistoryFilter, HistoryStore } from '../types.js';
import type { ResultRecord } from '../../core/result.js';

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
  constructor(
    private readonly db: Db,
    private readonly queue: CommitQueue,
  ) {}

  add(record: ResultRecord): void {
    this.queue.addHistory(record);
  }

  async flush(): Promise<void> {
    await this.queue.sync();
  }

  async query(filter: HistoryFilter): Promise<ResultRecord[]> {
    await this.queue.sync();
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
    await this.queue.sync();
    return (this.db.prepare('SELECT count(*) AS n FROM history').get() as { n: number }).n;
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
