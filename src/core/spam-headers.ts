// The headers a scanned message leaves with, in SpamAssassin's names so that existing Sieve and
// procmail rules keep working: X-Spam-Flag: YES on spam, X-Spam-Score, X-Spam-Status
// ("Yes, score=7.3 required=6.0 tests=A,B"), optionally on every message, and an optional tag put
// before the Subject of spam. Headers of these names already in the message (set by the sender,
// or by an earlier filter) are removed first, so a sender cannot pre-mark its own mail as clean.
import type { Config } from '../config/schema.js';
import type { HeaderField } from './check.js';
import type { Decision } from './pipeline.js';

/** Header names this module owns: removed from incoming messages before ours are added. */
export const SPAM_HEADER_NAMES = ['X-Spam-Flag', 'X-Spam-Score', 'X-Spam-Status', 'X-Spam-Bayes'] as const;

export interface SpamMarking {
  /** Headers to add, in order. */
  headers: HeaderField[];
  /** The new Subject when a tag is to be put before it; undefined: leave the Subject alone. */
  subject?: string;
}

/** One decimal, as SpamAssassin prints scores. */
const oneDecimal = (n: number): string => (Math.round(n * 10) / 10).toFixed(1);

/** Whether a decision marks the message as spam (the add_header action). */
export const isSpam = (decision: Decision): boolean => decision.action === 'add_header';

/**
 * The marking of an accepted message. `subject`: the message's current Subject ('' when none),
 * used only for the subject tag.
 */
export function spamMarking(decision: Decision, config: Config, subject: string): SpamMarking {
  const spam = isSpam(decision);
  const settings = config.spam_headers;
  if (!spam && !settings.all_messages) return { headers: [] };
  const tests = decision.symbols.map((s) => s.name).join(',') || 'none';
  const status = `${spam ? 'Yes' : 'No'}, score=${oneDecimal(decision.score)} required=${oneDecimal(config.actions.add_header)} tests=${tests}`;
  const headers: HeaderField[] = [];
  if (spam) headers.push({ name: 'X-Spam-Flag', value: 'YES' });
  headers.push({ name: 'X-Spam-Score', value: oneDecimal(decision.score) }, { name: 'X-Spam-Status', value: status });
  const tag = settings.subject_tag;
  if (spam && tag !== '' && !subject.startsWith(tag)) return { headers, subject: tag + subject };
  return { headers };
}

/** Whether a header is one of ours (any case), to be removed from incoming messages. */
export function isSpamHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return SPAM_HEADER_NAMES.some((own) => own.toLowerCase() === lower);
}
