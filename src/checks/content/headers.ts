// Header oddities (end of message): a missing Date or Message-ID, a Date that is not a date or lies
// far from the time of receipt (content.date_max_past / date_max_future, against the scan's start
// time task.startedMs), a shouted subject, and a mailer that claims to be Microsoft Outlook
// without Outlook's traits. Scores only.
//
// FORGED_OUTLOOK: X-Mailer or User-Agent says Microsoft Outlook (Windows or Mac; Outlook Express,
// long dead, is not judged) and at least two of these traits of genuine Outlook mail are missing:
// - a Thread-Index header (Outlook adds one to every message, for its conversation view);
// - a Message-ID that Outlook or Exchange makes: Outlook's own <hex12$hex8$hex8$@host> (2007 and
//   later) or <hex8|12$hex8$hex8@host> (2000-2003), a UUID or long hexadecimal id (Outlook for Mac,
//   Exchange), or an id from outlook.com hosts (Microsoft 365);
// - in an HTML message, Word's markup (class=MsoNormal, the urn:schemas-microsoft-com:office
//   namespaces, a Microsoft Generator meta): Outlook writes HTML through Word.
// One trait missing is not enough: a relay may rewrite one thing, two is a forger's pattern.
//
// SUBJECT_ALL_CAPS: after reply/forward prefixes (Re:, Fwd:, AW:...), at least 12 cased letters in
// at least 3 words of 2 letters or more, none of them lower case. Scripts without case (CJK)
// never count.
import type { SymbolHit } from '../../core/check.js';
import { contentRuleCheck } from './rule-check.js';
import { headerValue, type ParsedMessage } from '../../core/message.js';
import { parseMailDate } from '../../content/mail-date.js';

/** Default scores (SpamAssassin-like weights; override with `scores:`). */
export const HEADER_SCORES = {
  MISSING_DATE: 1.4,
  MISSING_MESSAGE_ID: 0.5,
  /** A Date header that is not an RFC 5322 date. */
  INVALID_DATE: 1.0,
  /** Date earlier than receipt by more than content.date_max_past. */
  DATE_IN_PAST: 1.0,
  /** Date later than receipt by more than content.date_max_future. */
  DATE_IN_FUTURE: 1.5,
  SUBJECT_ALL_CAPS: 0.5,
  /** Claims Microsoft Outlook, lacks two of its traits. */
  FORGED_OUTLOOK: 2.0,
} as const;

const SUBJECT_MIN_CAPITALS = 12;
const SUBJECT_MIN_WORDS = 3;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Longest header excerpt quoted in a description, in characters. */
const EXCERPT_CHARS = 60;

const hit = (name: keyof typeof HEADER_SCORES, description: string): SymbolHit => ({ name, score: HEADER_SCORES[name], description });
const excerpt = (text: string): string => (text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text);
const span = (ms: number): string => (ms >= 2 * DAY_MS ? `${(ms / DAY_MS).toFixed(1)} days` : `${(ms / HOUR_MS).toFixed(1)} hours`);

function dateFindings(message: ParsedMessage, receivedMs: number, maxPastSeconds: number, maxFutureSeconds: number): SymbolHit[] {
  const value = headerValue(message, 'date')?.trim();
  if (!value) return [hit('MISSING_DATE', 'no Date header')];
  const dateMs = parseMailDate(value);
  if (dateMs === undefined) return [hit('INVALID_DATE', `Date header is not a date: ${excerpt(value)}`)];
  const ahead = dateMs - receivedMs;
  if (-ahead > maxPastSeconds * 1000) return [hit('DATE_IN_PAST', `Date header is ${span(-ahead)} before receipt: ${excerpt(value)}`)];
  if (ahead > maxFutureSeconds * 1000) return [hit('DATE_IN_FUTURE', `Date header is ${span(ahead)} after receipt: ${excerpt(value)}`)];
  return [];
}

const REPLY_PREFIXES = /^\s*(?:(?:re|fwd?|aw|wg|tr|sv|vs|rv|antw|odp)\s*(?:\[\d+\])?\s*:\s*)+/i;

/** Whether a subject is shouted (see the top of the file). */
export function isAllCapsSubject(subject: string): boolean {
  const text = subject.replace(REPLY_PREFIXES, '');
  if (/\p{Ll}/u.test(text)) return false;
  const capitals = text.match(/\p{Lu}/gu)?.length ?? 0;
  const words = text.split(/[^\p{L}]+/u).filter((word) => word.length >= 2).length;
  return capitals >= SUBJECT_MIN_CAPITALS && words >= SUBJECT_MIN_WORDS;
}

const OUTLOOK_MAILER = /\bMicrosoft[- ](?:Office[- ])?(?:Mac)?Outlook\b(?! Express)/i;
const OUTLOOK_MESSAGE_IDS = [
  /^<[0-9a-f]{12}\$[0-9a-f]{8}\$[0-9a-f]{8}\$@[^>]+>$/i, // Outlook 2007 and later
  /^<(?:[0-9a-f]{8}|[0-9a-f]{12})\$[0-9a-f]{8}\$[0-9a-f]{8}@[^>]+>$/i, // Outlook 2000-2003
  /^<[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@[^>]+>$/i, // Outlook for Mac
  /^<[0-9A-F]{20,}@[^>]+>$/, // Exchange
  /^<[A-P]{28}\.[^@>]+@[^>]+>$/, // Outlook 2000 in Internet Mail Only mode: 28 letters A-P, ".", the sender's address
  /^<[^@>]+@[^>]*\boutlook\.com>$/i, // Microsoft 365, Outlook.com
];
const WORD_MARKUP = /class=["']?MsoNormal|urn:schemas-microsoft-com:office|<meta[^>]+content=["']?Microsoft (?:Word|Exchange)/i;

/** The traits of genuine Outlook mail that `message` lacks (see the top of the file). */
function missingOutlookTraits(message: ParsedMessage): string[] {
  const missing: string[] = [];
  if (headerValue(message, 'thread-index') === undefined) missing.push('no Thread-Index');
  const messageId = headerValue(message, 'message-id')?.trim() ?? '';
  if (!OUTLOOK_MESSAGE_IDS.some((shape) => shape.test(messageId))) missing.push(messageId === '' ? 'no Message-ID' : `Message-ID ${excerpt(messageId)} not made by Outlook`);
  const html = message.textParts.filter((p) => p.kind === 'html' && !p.nested);
  if (html.length > 0 && !html.some((p) => WORD_MARKUP.test(p.content))) missing.push("HTML without Word's markup");
  return missing;
}

function forgedOutlookFindings(message: ParsedMessage): SymbolHit[] {
  const mailer = headerValue(message, 'x-mailer') ?? headerValue(message, 'user-agent');
  if (mailer === undefined || !OUTLOOK_MAILER.test(mailer)) return [];
  const missing = missingOutlookTraits(message);
  return missing.length >= 2 ? [hit('FORGED_OUTLOOK', `claims ${excerpt(mailer.trim())} but: ${missing.join('; ')}`)] : [];
}

export const headersCheck = contentRuleCheck(
  'content-headers',
  (config) => config.content,
  (message, task, { date_max_past: maxPastSeconds, date_max_future: maxFutureSeconds }) => {
    const symbols = dateFindings(message, task.startedMs, maxPastSeconds, maxFutureSeconds);
    if (!headerValue(message, 'message-id')?.trim()) symbols.push(hit('MISSING_MESSAGE_ID', 'no Message-ID header'));
    const subject = headerValue(message, 'subject');
    if (subject !== undefined && isAllCapsSubject(subject)) symbols.push(hit('SUBJECT_ALL_CAPS', `subject in capitals: ${excerpt(subject.trim())}`));
    symbols.push(...forgedOutlookFindings(message));
    return symbols;
  },
);
