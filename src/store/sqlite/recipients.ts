// Valid recipients in SQLite (`rempart recipients ...`). Changes go to the writer thread (one
// transaction each, which also bumps meta.recipients_version); reads run on the main thread's
// connection. The recipients check keeps its table in memory and rebuilds it when the version moves
// (src/lists/snapshot.ts), so a CLI change reaches it within a second and the mail path does no
// SELECT but that counter's, at most once a second.
import { parseRecipientEntry } from '../../lists/entry.js';
import type { Db } from './database.js';
import { RECIPIENTS_VERSION, recipientFromRow, type RecipientDbRow } from './rows.js';
import { likeContains } from './sql.js';
import type { SqliteWriter } from './writer.js';
import type { RecipientWrite } from './writer-protocol.js';
import type { RecipientEntry, RecipientFilter, RecipientInput, RecipientStore } from '../types.js';

/** An address the store accepts, normalised with its domain; throws with the parser's message otherwise. */
function normalised(address: string): { address: string; domain: string } {
  const parsed = parseRecipientEntry(address);
  if (typeof parsed === 'string') throw new Error(`${address}: ${parsed}`);
  return parsed;
}

export class SqliteRecipientStore implements RecipientStore {
  private changes = 0;
  private readonly getVersion;

  constructor(
    private readonly db: Db,
    private readonly writer: SqliteWriter,
  ) {
    this.getVersion = db.prepare(`SELECT value FROM meta WHERE key = '${RECIPIENTS_VERSION}'`);
  }

  get localChanges(): number {
    return this.changes;
  }

  async version(): Promise<number> {
    return Number((this.getVersion.get() as { value: string } | undefined)?.value ?? 0);
  }

  async add(entries: RecipientInput[]): Promise<{ entry: RecipientEntry; created: boolean }[]> {
    const writes: RecipientWrite[] = entries.map((e) => ({ ...e, ...normalised(e.address) }));
    if (writes.length === 0) return [];
    try {
      return (await this.writer.send({ kind: 'recipientsAdd', entries: writes })).recipients ?? [];
    } finally {
      this.changes++;
    }
  }

  async remove(address: string): Promise<number> {
    const { address: normalisedAddress } = normalised(address);
    try {
      return (await this.writer.send({ kind: 'recipientsRemove', address: normalisedAddress })).changes ?? 0;
    } finally {
      this.changes++;
    }
  }

  async list(filter: RecipientFilter): Promise<RecipientEntry[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.search) {
      const like = likeContains(filter.search);
      where.push("(address LIKE ? ESCAPE '\\' OR comment LIKE ? ESCAPE '\\' OR added_by LIKE ? ESCAPE '\\')");
      params.push(like, like, like);
    }
    params.push(filter.limit ?? -1, filter.offset ?? 0);
    const rows = this.db
      .prepare(
        `SELECT * FROM recipients ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
         ORDER BY domain, substr(address, 1, 1) <> '@', address LIMIT ? OFFSET ?`,
      )
      .all(...params) as RecipientDbRow[];
    return rows.map(recipientFromRow);
  }

  async all(): Promise<string[]> {
    return this.db.prepare('SELECT address FROM recipients').pluck().all() as string[];
  }
}
