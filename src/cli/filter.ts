// `rempart filter [--config FILE]`: a pipe filter in bogofilter's manner, for Postfix's pipe or
// content_filter, procmail, or Dovecot's sieve extprograms: reads one message on stdin, writes it
// to stdout with X-Spam-* headers (and the subject tag, if configured), and exits 0 for ham, 1 for
// spam, 2 for unsure (a score at or above actions.greylist but below actions.add_header), 3 on
// error. The body is passed through byte for byte. On any error the message is written back
// unchanged: a filter must never lose mail.
import type { Config } from '../config/schema.js';
import type { HeaderField } from '../core/check.js';
import type { Decision } from '../core/pipeline.js';
import { isSpamHeader, spamMarking } from '../core/spam-headers.js';
import { OfflineScanner } from '../scan/offline.js';
import { loadConfig, resolveConfigPath } from '../config/loader.js';
import { configOption, parseCommandArgs } from './common.js';

export const filterUsage = 'rempart filter                           pipe filter: message on stdin, marked message on stdout; exit 0 ham, 1 spam, 2 unsure, 3 error';

export const FILTER_EXIT = { ham: 0, spam: 1, unsure: 2, error: 3 } as const;

/** Where the header ends: the offset of the empty line's first byte, and the line ending in use. */
function headerEnd(raw: Buffer): { end: number; newline: string } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf + 2, newline: '\r\n' };
  if (lf >= 0) return { end: lf + 1, newline: '\n' };
  return { end: raw.length, newline: raw.includes('\r\n') ? '\r\n' : '\n' };
}

/** Header fields with their continuation lines, as written. */
function headerFields(head: string): string[] {
  const fields: string[] = [];
  for (const line of head.split(/(?<=\n)/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += line;
    else if (line !== '') fields.push(line);
  }
  return fields;
}

/**
 * The message with our headers: X-Spam-* fields it came with are dropped, ours are added at the end
 * of the header, and the Subject is replaced when tagged. Header bytes are kept as latin1 so that
 * 8-bit headers pass unchanged.
 */
export function markMessage(raw: Buffer, headers: HeaderField[], subject: string | undefined): Buffer {
  const { end, newline } = headerEnd(raw);
  const head = raw.subarray(0, end).toString('latin1');
  const kept: string[] = [];
  let subjectDone = subject === undefined;
  for (const field of headerFields(head)) {
    const name = field.slice(0, Math.max(0, field.indexOf(':'))).trim();
    if (isSpamHeader(name)) continue;
    if (!subjectDone && name.toLowerCase() === 'subject') {
      kept.push(`Subject: ${Buffer.from(subject!, 'utf8').toString('latin1')}${newline}`);
      subjectDone = true;
      continue;
    }
    kept.push(field.endsWith('\n') ? field : field + newline);
  }
  const added = headers.map((h) => `${h.name}: ${h.value}${newline}`);
  if (!subjectDone) added.push(`Subject: ${Buffer.from(subject!, 'utf8').toString('latin1')}${newline}`);
  return Buffer.concat([Buffer.from(kept.join('') + added.join(''), 'latin1'), raw.subarray(end)]);
}

/** ham / spam / unsure for a decision: spam at add_header or reject; unsure from the greylist threshold. */
export function classify(decision: Decision, config: Config): keyof typeof FILTER_EXIT {
  if (decision.action === 'add_header' || decision.action === 'reject' || decision.verdict?.action === 'reject') return 'spam';
  return decision.score >= config.actions.greylist ? 'unsure' : 'ham';
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function filter(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, configOption);
  const raw = await readStdin();
  let output = raw;
  let exit: number = FILTER_EXIT.error;
  try {
    // An invalid configuration is an error like any other here: the message still goes through.
    const config = loadConfig(resolveConfigPath(values.config));
    const scanner = new OfflineScanner(config, { autoLearn: true });
    try {
      const { decision, message } = await scanner.scan(raw);
      const verdict = classify(decision, config);
      // After queueing nothing can be refused: what the daemon would reject is marked as spam.
      const marking = spamMarking(verdict === 'spam' ? { ...decision, action: 'add_header' } : decision, config, subjectOf(message.headers));
      // Headers of the checks (X-Spam-Bayes) come after the marking.
      const checkHeaders = decision.headers.filter((h) => !marking.headers.some((m) => m.name.toLowerCase() === h.name.toLowerCase()));
      output = markMessage(raw, [...marking.headers, ...checkHeaders], marking.subject);
      exit = FILTER_EXIT[verdict];
    } finally {
      await scanner.close();
    }
  } catch (error) {
    process.stderr.write(`rempart filter: ${(error as Error).message}; message passed through unchanged\n`);
  }
  await new Promise<void>((resolve) => process.stdout.write(output, () => resolve()));
  return exit;
}

function subjectOf(headers: readonly HeaderField[]): string {
  return headers.find((h) => h.name.toLowerCase() === 'subject')?.value ?? '';
}
