// The end-of-message pipeline outside the SMTP session, for `rempart check`, `rempart filter` and
// the HTTP API (POST /api/check, with the daemon's store and resolver): a raw message in, the same decision the milter would make at the end of
// DATA out (content checks; the envelope checks need the SMTP session and do not run). Logs go to
// stderr (stdout carries the filtered message or the report), and no history record is written.
// Time-dependent rules (a Date far in the past) judge a message at the time its topmost Received
// header says it arrived, so an archive scanned years later is judged as it was then.
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { createLogger, type Logger } from '../core/log.js';
import { headerValue, headerValues, type ParsedMessage } from '../core/message.js';
import { Pipeline, type Decision } from '../core/pipeline.js';
import { CHECKS } from '../core/registry.js';
import { emptyEnvelope, type Envelope } from '../core/task.js';
import { resolverFromConfig } from '../dns/from-config.js';
import type { DnsResolver } from '../dns/resolver.js';
import { parseMessage } from '../mime/parse.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

export interface OfflineResult {
  decision: Decision;
  message: ParsedMessage;
}

/** The first address in angle brackets of a header value, or the trimmed value. */
function addressOf(value: string | undefined): string {
  if (value === undefined) return '';
  const bracketed = /<([^<>]*)>/.exec(value);
  return (bracketed ? bracketed[1]! : value).trim();
}

/** What the message's own headers say of its envelope (Return-Path, X-Original-To, Delivered-To). */
export function envelopeFromHeaders(message: ParsedMessage): Envelope {
  const envelope = emptyEnvelope('cli', 'eom');
  envelope.sender = addressOf(headerValue(message, 'return-path'));
  const recipient = addressOf(headerValue(message, 'x-original-to') ?? headerValue(message, 'delivered-to'));
  envelope.recipients = recipient ? [recipient] : [];
  envelope.size = message.size;
  return envelope;
}

/** When the message arrived, from the date after the last ";" of its topmost Received header. */
export function arrivalTimeMs(message: ParsedMessage): number | undefined {
  const received = headerValues(message, 'received')[0];
  if (received === undefined) return undefined;
  const date = Date.parse(received.slice(received.lastIndexOf(';') + 1).replace(/\([^)]*\)/g, '').trim());
  return Number.isFinite(date) ? date : undefined;
}

export class OfflineScanner {
  private readonly store: Store;
  /** The time of the message being scanned (its arrival), or undefined: now. */
  private referenceMs: number | undefined;
  private readonly clock: Clock = { nowMs: () => this.referenceMs ?? Date.now() };
  private readonly dns: DnsResolver;
  private readonly pipeline: Pipeline;
  /** Whether the store and resolver are this scanner's own (closed by close()) or lent by the daemon. */
  private readonly ownsResources: boolean;

  /**
   * `autoLearn`: let bayes.auto_learn learn from these scans (rempart filter, which sees delivered
   * mail); off for inspections such as rempart check. `shared`: the daemon's store, resolver and
   * logger, used as they are and left open by close().
   */
  constructor(
    private readonly config: Config,
    options: { autoLearn?: boolean; shared?: { store: Store; dns: DnsResolver; log: Logger } } = {},
  ) {
    // Offline scans are not decisions about mail flow: no history, and the log on stderr.
    const offline: Config = {
      ...config,
      history: { ...config.history, enabled: false },
      bayes: { ...config.bayes, auto_learn: { ...config.bayes.auto_learn, enabled: options.autoLearn === true && config.bayes.auto_learn.enabled } },
    };
    const shared = options.shared;
    this.ownsResources = shared === undefined;
    const log = shared?.log ?? createLogger(config.log.level === 'debug' ? 'debug' : 'warn', config.log.format, { write: (line: string) => process.stderr.write(line) }).log;
    this.store = shared?.store ?? openStore(offline.store, { onBackgroundError: (error) => log.error({ err: error }, 'store background work failed'), waitForConnection: true });
    this.dns = shared?.dns ?? resolverFromConfig(offline.dns);
    this.pipeline = new Pipeline(CHECKS, { config: offline, store: this.store, dns: this.dns, clock: this.clock, log });
    for (const problem of this.pipeline.problems) log.warn({ check: problem.check, problem: problem.message }, 'configuration problem (check keeps running)');
  }

  /** Scans of this scanner, one after the other (the clock is set per message). */
  private queue: Promise<unknown> = Promise.resolve();

  /** Scans one raw message. Never throws for a bad message (the MIME analysis turns problems into symbols). */
  scan(raw: Uint8Array): Promise<OfflineResult> {
    const result = this.queue.then(() => this.scanNow(raw));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async scanNow(raw: Uint8Array): Promise<OfflineResult> {
    const settings = this.config.attachments;
    const message = await parseMessage(raw, {
      size: raw.length,
      scanArchives: settings.enabled && settings.scan_archives,
      archiveMaxDepth: settings.archive_max_depth,
      archiveMaxEntries: settings.archive_max_entries,
    });
    this.referenceMs = arrivalTimeMs(message);
    try {
      const { decision } = await this.pipeline.decide(envelopeFromHeaders(message), () => '', { message, raw });
      return { decision, message };
    } finally {
      this.referenceMs = undefined;
    }
  }

  async close(): Promise<void> {
    if (!this.ownsResources) return;
    this.dns.cancel();
    await this.store.close();
  }
}
