// `rempart recipients add|remove|list|import`: manage the valid recipients kept in the store, which
// the recipients check uses beside the files of `recipients.files` (safe while the daemon runs:
// SQLite WAL; the daemon picks changes up within a second).
import { readFileSync } from 'node:fs';
import { parseRecipientEntry } from '../lists/entry.js';
import { openCommandStore } from '../store/open.js';
import type { RecipientEntry, RecipientInput } from '../store/types.js';
import { configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { currentUser } from './lists.js';

export const recipientsUsage = `rempart recipients add ADDRESS|@DOMAIN... [--comment TEXT] [--by NAME]
                                         valid recipients: user@example.org, or @example.org for
                                         every address of the domain (a catch-all)
rempart recipients remove ADDRESS|@DOMAIN...
rempart recipients list [--search TEXT] [--json]
rempart recipients import FILE|- [--comment TEXT] [--by NAME]
                                         one per line, # comments; the first word counts, so a
                                         Postfix map source (relay_recipients) works as is`;

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const quote = (text: string): string => (/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text));
const entries = (n: number): string => `${n} recipient entr${n === 1 ? 'y' : 'ies'}`;

/** One entry as `list` prints it. */
export function recipientLine(entry: RecipientEntry): string {
  const parts = [`#${entry.id}`, entry.address];
  if (entry.address.startsWith('@')) parts.push('catch-all');
  parts.push(`by=${quote(entry.addedBy)}`, `added=${iso(entry.createdAt)}`);
  if (entry.comment) parts.push(`comment=${quote(entry.comment)}`);
  return parts.join(' ');
}

/** The normalised address of a command-line argument; a usage error when it is not one. */
function addressArgument(text: string): string {
  const parsed = parseRecipientEntry(text);
  if (typeof parsed === 'string') throw new UsageError(`${text}: ${parsed}`);
  return parsed.address;
}

export async function recipients(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!['add', 'remove', 'list', 'import'].includes(sub ?? '')) throw new UsageError(`unknown recipients command ${JSON.stringify(sub ?? '')}\n${recipientsUsage}`);
  const { values, positionals } = parseCommandArgs(
    rest,
    { ...configOption, comment: { type: 'string' }, by: { type: 'string' }, search: { type: 'string' }, json: { type: 'boolean' } },
    true,
  );
  const now = Math.floor(Date.now() / 1000);
  if ((sub === 'remove' || sub === 'list') && (values.comment !== undefined || values.by !== undefined)) {
    throw new UsageError(`recipients ${sub} takes no --comment or --by`);
  }
  if (sub !== 'list' && (values.search !== undefined || values.json)) throw new UsageError(`--search and --json are for recipients list`);
  const template = (address: string): RecipientInput => ({ address, comment: values.comment ?? '', addedBy: values.by ?? currentUser(), createdAt: now });

  // Check the command line completely before opening the store.
  const inputs: RecipientInput[] = [];
  const addresses: string[] = [];
  let badLines = 0;
  switch (sub) {
    case 'add':
    case 'remove':
      if (positionals.length === 0) throw new UsageError(`recipients ${sub} needs at least one address or @domain\n${recipientsUsage}`);
      for (const text of positionals) addresses.push(addressArgument(text));
      if (sub === 'add') inputs.push(...addresses.map(template));
      break;
    case 'list':
      if (positionals.length > 0) throw new UsageError('recipients list takes no addresses (use --search TEXT)');
      break;
    case 'import': {
      if (positionals.length !== 1) throw new UsageError(`recipients import takes one file (or - for standard input)\n${recipientsUsage}`);
      const file = positionals[0]!;
      let text: string;
      try {
        text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
      } catch (error) {
        process.stderr.write(`rempart: cannot read ${file}: ${(error as Error).message}\n`);
        return 1;
      }
      const lines = text.split(/\r?\n/);
      for (let i = 0; i < lines.length; i++) {
        // The first word counts: `bob@example.org OK` (a Postfix map source) is bob@example.org.
        const word = lines[i]!.replace(/#.*$/, '').trim().split(/\s+/)[0] ?? '';
        if (word === '') continue;
        const parsed = parseRecipientEntry(word);
        if (typeof parsed === 'string') {
          badLines++;
          process.stderr.write(`${file}:${i + 1}: ${parsed}: ${lines[i]!.trim()}\n`);
          continue;
        }
        inputs.push(template(parsed.address));
      }
      break;
    }
  }

  const { config } = loadConfigOrExit(values.config);
  const store = openCommandStore(config.store);
  try {
    switch (sub) {
      case 'add':
      case 'import': {
        const stored = await store.recipients.add(inputs);
        if (sub === 'add') {
          for (const { entry, created } of stored) process.stdout.write(`${created ? 'added' : 'updated'} ${recipientLine(entry)}\n`);
          return 0;
        }
        const added = stored.filter((s) => s.created).length;
        process.stdout.write(
          `imported ${entries(stored.length)} (${added} added, ${stored.length - added} updated)` + (badLines > 0 ? `; ${badLines} bad line(s) skipped\n` : '\n'),
        );
        return badLines > 0 ? 1 : 0;
      }
      case 'remove': {
        let missing = 0;
        for (const address of addresses) {
          if ((await store.recipients.remove(address)) > 0) {
            process.stdout.write(`removed ${address}\n`);
            continue;
          }
          missing++;
          process.stderr.write(`rempart: no recipient entry ${address}\n`);
        }
        return missing > 0 ? 1 : 0;
      }
      case 'list': {
        const rows = await store.recipients.list({ search: values.search });
        for (const row of rows) process.stdout.write((values.json ? JSON.stringify(row) : recipientLine(row)) + '\n');
        if (!values.json) process.stdout.write(`${entries(rows.length)}\n`);
        return 0;
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
