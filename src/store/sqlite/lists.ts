// Allow/block list entries in SQLite. Changes go to the writer thread (one transaction each, which
// also bumps meta.lists_version); reads run on the main thread's connection. The daemon keeps its
// matcher in memory and rebuilds it when the version moves (src/lists/snapshot.ts), so a CLI
// change reaches it within a second and the mail path does no SELECT but that counter's.
import { parseListValue } from '../../lists/entry.js';
import type { Db } from './database.js';
import { LISTS_VERSION, listEntryFromRow, type ListEntryDbRow } from './rows.js';
import { likeContains } from './sql.js';
import type { SqliteWriter } from './writer.js';
import type { ListEntryWrite } from './writer-protocol.js';
import type { ListEntry, ListEntryInput, ListFilter, ListSelector, ListStore } from '../types.js';

/** A value the store accepts, normalised; throws with the parser's message otherwise. */
function normalised(value: string): Pick<ListEntry, 'type' | 'value'> {
  const parsed = parseListValue(value);
  if (typeof parsed === 'string') throw new Error(`${value}: ${parsed}`);
  return parsed;
}

const normalisedScope = (scope: string): string => scope.trim().toLowerCase();

export class SqliteListStore implements ListStore {
  private changes = 0;
  private readonly getVersion;

  constructor(
    private readonly db: Db,
    private readonly writer: SqliteWriter,
  ) {
    this.getVersion = db.prepare(`SELECT value FROM meta WHERE key = '${LISTS_VERSION}'`);
  }

  get localChanges(): number {
    return this.changes;
  }

  async version(): Promise<number> {
    return Number((this.getVersion.get() as { value: string } | undefined)?.value ?? 0);
  }

  async put(entries: ListEntryInput[]): Promise<{ entry: ListEntry; created: boolean }[]> {
    const writes: ListEntryWrite[] = entries.map((e) => ({ ...e, ...normalised(e.value), scope: normalisedScope(e.scope) }));
    if (writes.length === 0) return [];
    try {
      return (await this.writer.send({ kind: 'listsPut', entries: writes })).entries ?? [];
    } finally {
      this.changes++;
    }
  }

  async remove(selector: ListSelector): Promise<number> {
    const normalisedSelector: ListSelector =
      'id' in selector ? selector : { kind: selector.kind, value: normalised(selector.value).value, scope: normalisedScope(selector.scope) };
    try {
      return (await this.writer.send({ kind: 'listsRemove', selector: normalisedSelector })).changes ?? 0;
    } finally {
      this.changes++;
    }
  }

  async list(filter: ListFilter): Promise<ListEntry[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.kind) (where.push('kind = ?'), params.push(filter.kind));
    if (filter.scope !== undefined) (where.push('scope = ?'), params.push(normalisedScope(filter.scope)));
    if (filter.search) {
      const like = likeContains(filter.search);
      where.push("(value LIKE ? ESCAPE '\\' OR scope LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' OR comment LIKE ? ESCAPE '\\' OR added_by LIKE ? ESCAPE '\\')");
      params.push(like, like, like, like, like);
    }
    params.push(filter.limit ?? -1, filter.offset ?? 0);
    const rows = this.db
      .prepare(`SELECT * FROM list_entries ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY scope, kind, type, value LIMIT ? OFFSET ?`)
      .all(...params) as ListEntryDbRow[];
    return rows.map(listEntryFromRow);
  }

  async active(now: number): Promise<ListEntry[]> {
    const rows = this.db.prepare('SELECT * FROM list_entries WHERE expires_at = 0 OR expires_at > ?').all(now) as ListEntryDbRow[];
    return rows.map(listEntryFromRow);
  }
}
