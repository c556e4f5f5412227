// `rempart allow|block add|remove|list|import`: manage the allow and block lists in the store
// (safe while the daemon runs: SQLite WAL; the daemon picks changes up within a second), or with
// --url through a running daemon's HTTP API (remote.ts).
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseListValue, parseRecipient, reasonText } from '../lists/entry.js';
import { parseExpiry as parseExpiryText } from '../lists/expiry.js';
import { openCommandStore } from '../store/open.js';
import type { ListEntry, ListEntryInput, ListKind } from '../store/types.js';
import { configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { remoteFrom, remoteOptions } from './remote.js';
import { remoteStore, type CommandStore } from './remote-store.js';

export const listsUsage = `rempart allow|block add ENTRY... [--for RECIPIENT] [--reason R] [--expires DURATION|DATE] [--comment TEXT] [--by NAME]
                                         ENTRY: user@example.org, @example.org (and subdomains), 192.0.2.7,
                                         2001:db8::/32, helo:mx.example.net; --reason (block only): spam,
                                         abusive-domain, compromised or free text
rempart allow|block remove ENTRY... [--for RECIPIENT] | --id N
rempart allow|block list [--for RECIPIENT|--global] [--search TEXT] [--json]
rempart allow|block import FILE|- [--for RECIPIENT] [--reason R] [--expires ...] [--comment TEXT] [--by NAME]
                                         one entry per line (rest of the line: a comment), # comments`;

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const quote = (text: string): string => (/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text));

/** One entry as `list` prints it. */
export function entryLine(entry: ListEntry, now: number): string {
  const parts = [`#${entry.id}`, entry.kind, entry.value, entry.scope ? `for=${entry.scope}` : 'global'];
  if (entry.kind === 'block') parts.push(`reason=${quote(reasonText(entry.reason))}`);
  else if (entry.reason) parts.push(`reason=${quote(entry.reason)}`);
  parts.push(`expires=${entry.expiresAt === 0 ? 'never' : iso(entry.expiresAt) + (entry.expiresAt <= now ? '(expired)' : '')}`);
  parts.push(`by=${quote(entry.addedBy)}`, `added=${iso(entry.createdAt)}`);
  if (entry.comment) parts.push(`comment=${quote(entry.comment)}`);
  return parts.join(' ');
}

/** The Unix user running the command, for --by's default. */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** `--expires`: a duration from now (`30d`, `12h`), a date (`2026-12-31`, ISO 8601), or `never`; seconds since the epoch, 0 = never. */
export function parseExpiry(text: string | undefined, now: number): number {
  const parsed = parseExpiryText(text, now);
  if ('problem' in parsed) throw new UsageError(`--expires: ${parsed.problem}`);
  return parsed.expiresAt;
}

function scopeOption(value: string | undefined): string {
  if (value === undefined) return '';
  const recipient = parseRecipient(value);
  if (!recipient) throw new UsageError(`--for takes a recipient address (user@example.org), not ${JSON.stringify(value)}`);
  return recipient;
}

function readImport(file: string): string {
  return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
}

export async function lists(kind: ListKind, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!['add', 'remove', 'list', 'import'].includes(sub ?? '')) throw new UsageError(`unknown ${kind} command ${JSON.stringify(sub ?? '')}\n${listsUsage}`);
  const { values, positionals } = parseCommandArgs(
    rest,
    {
      ...configOption,
      ...remoteOptions,
      for: { type: 'string' },
      global: { type: 'boolean' },
      reason: { type: 'string' },
      expires: { type: 'string' },
      comment: { type: 'string' },
      by: { type: 'string' },
      id: { type: 'string', multiple: true },
      search: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  const now = Math.floor(Date.now() / 1000);
  const scope = scopeOption(values.for);
  if (values.reason !== undefined && kind === 'allow') throw new UsageError('--reason is for block entries; give an allow entry a --comment');
  if (values.global && values.for !== undefined) throw new UsageError('--global and --for exclude each other');
  const ids = (values.id ?? []).map((text) => {
    if (!/^\d+$/.test(text)) throw new UsageError(`--id takes an entry number, not ${JSON.stringify(text)}`);
    return Number(text);
  });
  const template = (value: string, comment?: string): ListEntryInput => ({
    kind,
    value,
    scope,
    reason: values.reason ?? '',
    comment: comment ?? values.comment ?? '',
    addedBy: values.by ?? currentUser(),
    createdAt: now,
    expiresAt: parseExpiry(values.expires, now),
  });

  // Check the command line completely before opening the store.
  let inputs: ListEntryInput[] = [];
  let badLines = 0;
  switch (sub) {
    case 'add':
      if (positionals.length === 0) throw new UsageError(`${kind} add needs at least one entry\n${listsUsage}`);
      for (const text of positionals) {
        const parsed = parseListValue(text);
        if (typeof parsed === 'string') throw new UsageError(`${text}: ${parsed}`);
        inputs.push(template(parsed.value));
      }
      break;
    case 'remove':
      if ((positionals.length === 0) === (ids.length === 0)) throw new UsageError(`${kind} remove takes entries or --id N (not both)\n${listsUsage}`);
      for (const text of positionals) if (typeof parseListValue(text) === 'string') throw new UsageError(`${text}: ${parseListValue(text) as string}`);
      break;
    case 'list':
      if (positionals.length > 0) throw new UsageError(`${kind} list takes no entries (use --search TEXT)`);
      break;
    case 'import': {
      if (positionals.length !== 1) throw new UsageError(`${kind} import takes one file (or - for standard input)\n${listsUsage}`);
      const file = positionals[0]!;
      let text: string;
      try {
        text = readImport(file);
      } catch (error) {
        process.stderr.write(`rempart: cannot read ${file}: ${(error as Error).message}\n`);
        return 1;
      }
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const raw = lines[i]!;
        const hash = raw.indexOf('#');
        const line = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
        if (line === '') continue;
        const [value, ...comment] = line.split(/\s+/);
        const parsed = parseListValue(value!);
        if (typeof parsed === 'string') {
          badLines++;
          process.stderr.write(`${file}:${i + 1}: ${parsed}: ${line}\n`);
          continue;
        }
        inputs.push(template(parsed.value, comment.length > 0 ? comment.join(' ') : undefined));
      }
      break;
    }
  }

  const remote = remoteFrom(values);
  const store: CommandStore = remote ? remoteStore(remote) : openCommandStore(loadConfigOrExit(values.config).config.store);
  try {
    switch (sub) {
      case 'add':
      case 'import': {
        const stored = await store.lists.put(inputs);
        if (sub === 'add') {
          for (const { entry, created } of stored) process.stdout.write(`${created ? 'added' : 'updated'} ${entryLine(entry, now)}\n`);
          return 0;
        }
        const added = stored.filter((s) => s.created).length;
        process.stdout.write(
          `imported ${stored.length} ${kind} entr${stored.length === 1 ? 'y' : 'ies'} (${added} added, ${stored.length - added} updated)` +
            (badLines > 0 ? `; ${badLines} bad line(s) skipped\n` : '\n'),
        );
        return badLines > 0 ? 1 : 0;
      }
      case 'remove': {
        let missing = 0;
        const selectors = [...ids.map((id) => ({ kind, id })), ...positionals.map((value) => ({ kind, value, scope }))];
        for (const selector of selectors) {
          const removed = await store.lists.remove(selector);
          const what = 'id' in selector ? `#${selector.id}` : `${(parseListValue(selector.value) as { value: string }).value}${scope ? ` for ${scope}` : ''}`;
          if (removed > 0) process.stdout.write(`removed ${kind} ${what}\n`);
          else {
            missing++;
            process.stderr.write(`rempart: no ${kind} entry ${what}\n`);
          }
        }
        return missing > 0 ? 1 : 0;
      }
      case 'list': {
        inputs = [];
        const rows = await store.lists.list({ kind, scope: values.global ? '' : values.for !== undefined ? scope : undefined, search: values.search });
        for (const row of rows) process.stdout.write((values.json ? JSON.stringify(row) : entryLine(row, now)) + '\n');
        if (!values.json) process.stdout.write(`${rows.length} ${kind} entr${rows.length === 1 ? 'y' : 'ies'}\n`);
        return 0;
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
