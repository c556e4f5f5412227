// Recipient validation: files of valid recipients (one address or @domain per line, `#` comments;
// a Postfix map source such as relay_recipients works, its first word counts). A recipient in a
// domain the files cover must be listed, by address or by @domain, else 550 5.1.1 User unknown;
// recipients of other domains are not judged here. Address extensions (user+tag) are stripped.
import { readFileSync } from 'node:fs';
import type { CheckDescriptor, CheckProblem } from '../../core/check.js';

export interface RecipientTable {
  addresses: Set<string>;
  /** Domains with a catch-all (@domain) entry. */
  catchAll: Set<string>;
  /** Every domain some entry names: only these are judged. */
  domains: Set<string>;
}

/** Reads recipient files; unreadable files and bad lines become problems, never failures. */
export function loadRecipientTable(paths: readonly string[]): { table: RecipientTable; problems: CheckProblem[] } {
  const table: RecipientTable = { addresses: new Set(), catchAll: new Set(), domains: new Set() };
  const problems: CheckProblem[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      problems.push({ check: 'recipients', message: `${path}: cannot read: ${(error as Error).message}` });
      continue;
    }
    text.split(/\r?\n/).forEach((raw, index) => {
      const entry = raw.replace(/#.*$/, '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
      if (entry === '') return;
      const at = entry.lastIndexOf('@');
      const domain = at >= 0 ? entry.slice(at + 1) : '';
      if (at < 0 || domain === '' || domain.includes('@') || !domain.includes('.')) {
        problems.push({ check: 'recipients', message: `${path}:${index + 1}: not an address or @domain: ${raw.trim()}` });
        return;
      }
      table.domains.add(domain);
      if (at === 0) table.catchAll.add(domain);
      else table.addresses.add(entry);
    });
  }
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

export const recipientsCheck: CheckDescriptor = {
  name: 'recipients',
  stages: ['rcpt'],
  timeoutMs: 1000,
  create: ({ config }) => {
    const settings = config.recipients;
    if (settings.files.length === 0 || settings.unknown === 'off') return undefined;
    const { table, problems } = loadRecipientTable(settings.files);
    return {
      problems,
      evaluate: (task) => {
        const recipient = task.envelope.recipients[0] ?? '';
        if (isKnownRecipient(table, recipient, settings.delimiter) !== false) return undefined;
        return {
          symbols: [{ name: 'RCPT_UNKNOWN', score: 0, description: `recipient ${recipient} does not exist`, fault: 'unknown_recipient' }],
          verdict: { action: 'reject', reason: `unknown recipient ${recipient}`, reply: { code: 550, enhanced: '5.1.1', text: `<${recipient}>: Recipient address rejected: User unknown` } },
        };
      },
    };
  },
};
