// Messages and tasks for content-check tests, built directly (no MIME parsing): `messageWith`
// turns headers, text, HTML and attachments into a ParsedMessage; `contentEnvironment` gives the
// CheckEnvironment of a YAML configuration; `taskWith` the end-of-message task that carries a message.
//   const message = messageWith({ headers: { Subject: 'Hi' }, html: '<p>Hello</p>' });
//   const outcome = await htmlCheck.create(contentEnvironment())!.evaluate(taskWith(message));
import type { CheckEnvironment } from '../../src/core/check.js';
import { ManualClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/log.js';
import type { Attachment, ParsedMessage, TextPart } from '../../src/core/message.js';
import { emptyEnvelope, type Task } from '../../src/core/task.js';
import { parseConfigText, resolveComputedDefaults } from '../../src/config/loader.js';
import { DnsResolver } from '../../src/dns/resolver.js';
import type { Store } from '../../src/store/types.js';

/** Reception time of test messages: 2026-01-01T00:00:00Z, the ManualClock's default. */
export const TEST_NOW_MS = Date.UTC(2026, 0, 1);

export interface MessageSpec {
  /** Header fields in order; a list gives a header several times. Default: a Date, a Message-ID, From, To, Subject. */
  headers?: Record<string, string | string[]>;
  /** A text/plain part (or several). */
  text?: string | string[];
  /** A text/html part (or several). */
  html?: string | string[];
  /** Parts of an attached message (message/rfc822). */
  nested?: { text?: string; html?: string };
  attachments?: Array<Partial<Attachment> & { filename: string }>;
}

/** Headers of an ordinary message received at TEST_NOW_MS. */
export const ORDINARY_HEADERS: Record<string, string> = {
  Date: 'Wed, 31 Dec 2025 23:58:00 +0100',
  'Message-ID': '<20251231225800.4F2A1C0D3@mail.example.net>',
  From: 'Alice <alice@example.net>',
  To: 'bob@example.org',
  Subject: 'Lunch on Friday?',
};

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export function messageWith(spec: MessageSpec = {}): ParsedMessage {
  const headers = Object.entries(spec.headers ?? ORDINARY_HEADERS).flatMap(([name, value]) => asList(value).map((v) => ({ name, value: v })));
  const part = (kind: TextPart['kind'], content: string, nested: boolean): TextPart => ({ kind, content, charset: 'utf-8', nested });
  const textParts: TextPart[] = [
    ...asList(spec.text).map((t) => part('text', t, false)),
    ...asList(spec.html).map((h) => part('html', h, false)),
    ...asList(spec.nested?.text).map((t) => part('text', t, true)),
    ...asList(spec.nested?.html).map((h) => part('html', h, true)),
  ];
  const attachments: Attachment[] = (spec.attachments ?? []).map((a) => ({
    contentType: 'application/octet-stream',
    disposition: 'attachment',
    content: new Uint8Array(0),
    nested: false,
    ...a,
  }));
  const size = headers.reduce((n, h) => n + h.name.length + h.value.length + 4, 0) + textParts.reduce((n, p) => n + p.content.length, 0);
  return { size, truncated: false, headers, textParts, attachments, problems: [], derived: new Map() };
}

/** The end-of-message task of a message, scanned at `startedMs`. */
export function taskWith(message: ParsedMessage, startedMs = TEST_NOW_MS): Task {
  return { envelope: { ...emptyEnvelope('milter', 'eom'), clientAddress: '192.0.2.25', sender: 'alice@example.net', recipients: ['bob@example.org'] }, startedMs, symbols: [], score: 0, message };
}

/** A CheckEnvironment for `yaml` (defaults filled in), logging into `lines`; no store (content checks use none). */
export function contentEnvironment(yaml = '', options: { dns?: DnsResolver; lines?: string[] } = {}): CheckEnvironment {
  const config = resolveComputedDefaults(parseConfigText(`hostname: mx.example.org\nstore: { path: /nonexistent }\n${yaml}`, 'test.yaml'));
  const lines = options.lines ?? [];
  return {
    config,
    store: {} as Store,
    dns: options.dns ?? new DnsResolver(),
    clock: new ManualClock(TEST_NOW_MS),
    log: createLogger('info', 'text', { write: (line: string) => lines.push(line) }).log,
  };
}

/** The n-th of a series of short spam messages for learning tests (raw text). */
export const learnableSpam = (n: number): string =>
  [
    'From: "Best Deals" <deals@spam.example>',
    'To: bob@example.org',
    `Subject: Cheap viagra offer ${n}`,
    'Date: Mon, 30 Nov 2026 06:00:00 +0000',
    `Message-ID: <offer-${n}@spam.example>`,
    '',
    `Buy cheap viagra now, the best offer of the year, only $${n}9.99 today.`,
    '',
  ].join('\n');

/** The n-th of a series of short ham messages for learning tests (raw text). */
export const learnableHam = (n: number): string =>
  [
    'From: Alice <alice@example.net>',
    'To: bob@example.org',
    `Subject: Meeting minutes ${n}`,
    'Date: Mon, 30 Nov 2026 07:00:00 +0000',
    `Message-ID: <minutes-${n}@example.net>`,
    '',
    `Here are the minutes of meeting number ${n}; the budget review moves to Thursday.`,
    '',
  ].join('\n');
