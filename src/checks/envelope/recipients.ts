// Recipient validation: valid recipients come from files (one address or @domain per line, `#`
// comments; a Postfix map source such as relay_recipients works, its first word counts) and from the
// store's table (`rempart recipients add|remove|import`), merged into one in-memory table. A recipient
// in a domain some entry names must be listed, by address or by @domain, else 550 5.1.1 User unknown;
// recipients of other domains are not judged here. Address extensions (user+tag) are stripped.
// The table's part is refreshed when the store's recipient version moves (read at most once a
// second), so a CLI change applies within a second; with no file and an empty table, a request
// costs one empty-set test.
import { readListFiles } from '../../core/list-files.js';
import type { CheckDescriptor, CheckEnvironment, CheckInstance, CheckOutcome, CheckProblem } from '../../core/check.js';
import type { Task } from '../../core/task.js';
import { sharedSnapshot, Snapshot } from '../../lists/snapshot.js';
import type { RecipientStore } from '../../store/types.js';

export interface RecipientTable {
  addresses: Set<string>;
  /** Domains with a catch-all (@domain) entry. */
  catchAll: Set<string>;
  /** Every domain some entry names: only these are judged. */
  domains: Set<string>;
}

const emptyTable = (): RecipientTable => ({ addresses: new Set(), catchAll: new Set(), domains: new Set() });

/** Adds a normalised `user@domain` or `@domain` (as the store keeps them) to `table`. */
function addEntry(table: RecipientTable, entry: string): void {
  const at = entry.lastIndexOf('@');
  const domain = entry.slice(at + 1);
  table.domains.add(domain);
  if (at === 0) table.catchAll.add(domain);
  else table.addresses.add(entry);
}

/** The table of the store's entries (already normalised by the store). */
export function recipientTableOf(entries: readonly string[]): RecipientTable {
  const table = emptyTable();
  for (const entry of entries) addEntry(table, entry);
  return table;
}

/** One table holding the entries of both: a domain either names is judged, an address either lists is known. */
export function mergeRecipientTables(a: RecipientTable, b: RecipientTable): RecipientTable {
  if (b.domains.size === 0) return a;
  if (a.domains.size === 0) return b;
  return {
    addresses: new Set([...a.addresses, ...b.addresses]),
    catchAll: new Set([...a.catchAll, ...b.catchAll]),
    domains: new Set([...a.domains, ...b.domains]),
  };
}

/** Reads recipient files; unreadable files and bad lines become problems, never failures. */
export function loadRecipientTable(paths: readonly string[]): { table: RecipientTable; problems: CheckProblem[] } {
  const table = emptyTable();
  const problems = readListFiles('recipients', paths, (line) => {
    // The first word counts, so a Postfix map source (address, then a value) works as it is.
    const entry = line.split(/\s+/)[0]!.toLowerCase();
    const at = entry.lastIndexOf('@');
    const domain = at >= 0 ? entry.slice(at + 1) : '';
    if (at < 0 || domain === '' || domain.includes('@') || !domain.includes('.')) return 'not an address or @domain';
    addEntry(table, entry);
    return undefined;
  });
  return { table, problems };
}

/** Whether the table knows `recipient`: true, false, or undefined when its domain is not covered. */
export function isKnownRecipient(table: RecipientTable, recipient: string, delimiter: string): boolean | undefined {
  const address = recipient.toLowerCase();
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = address.slice(at + 1).replace(/\.$/, '');
  if (!table.domains.has(domain)) return undefined;
  if (table.catchAll.has(domain) || table.addresses.has(`${address.slice(0, at)}@${domain}`)) return true;
  const local = address.slice(0, at);
  const cut = delimiter ? local.indexOf(delimiter) : -1;
  return cut > 0 && table.addresses.has(`${local.slice(0, cut)}@${domain}`);
}

/** The process-wide table of a recipient store's entries, refreshed on version change. */
export function storedRecipientSnapshot(recipients: RecipientStore): Snapshot<RecipientTable> {
  return sharedSnapshot(recipients, 'recipient-table', () => new Snapshot(recipients, async () => recipientTableOf(await recipients.all())));
}

function createRecipients(env: CheckEnvironment): CheckInstance | undefined {
  const settings = env.config.recipients;
  if (settings.unknown === 'off') return undefined;
  // Files are read now (their problems go to `config check`); the store's table only when a request
  // comes: preparing the check must not open the store. So the check stays enabled without files.
  const { table: fromFiles, problems } = loadRecipientTable(settings.files);
  let stored: RecipientTable | undefined;
  let merged = fromFiles;

  function judge(task: Task, fromStore: RecipientTable): CheckOutcome | undefined {
    if (fromStore !== stored) {
      stored = fromStore;
      merged = mergeRecipientTables(fromFiles, fromStore);
    }
    if (merged.domains.size === 0) return undefined;
    const recipient = task.envelope.recipients[0] ?? '';
    if (isKnownRecipient(merged, recipient, settings.delimiter) !== false) return undefined;
    return {
      symbols: [{ name: 'RCPT_UNKNOWN', score: 0, description: `recipient ${recipient} does not exist`, fault: 'unknown_recipient' }],
      verdict: { action: 'reject', reason: `unknown recipient ${recipient}`, reply: { code: 550, enhanced: '5.1.1', text: `<${recipient}>: Recipient address rejected: User unknown` } },
    };
  }

  return {
    problems,
    timeoutMs: env.config.store.timeout * 1000 + 500,
    evaluate: (task) => {
      // The table is a copy kept in memory: a version read at most once a second, no SELECT per request.
      const current = storedRecipientSnapshot(env.store.recipients).get(env.clock.nowMs());
      return current instanceof Promise ? current.then((table) => judge(task, table)) : judge(task, current);
    },
  };
}

export const recipientsCheck: CheckDescriptor = {
  name: 'recipients',
  stages: ['rcpt'],
  timeoutMs: 2500,
  create: (env) => createRecipients(env),
};
