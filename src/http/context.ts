// What the HTTP routes need from the daemon: its current configuration, store, metrics and scan
// pipeline, and a reload. Functions, because a reload replaces the configuration and pipeline.
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/log.js';
import type { Decision, PipelineCounters } from '../core/pipeline.js';
import type { Metrics } from '../metrics/metrics.js';
import type { GreylistStats, Store } from '../store/types.js';
import type { Role } from './auth.js';
import { parseRecipient } from '../lists/entry.js';
import { ApiError } from './errors.js';

export interface ApiContext {
  config(): Config;
  store: Store;
  metrics: Metrics;
  log: Logger;
  version: string;
  /** When the daemon started, ms since the epoch. */
  startedMs: number;
  pipelineCounters(): PipelineCounters;
  /** Scans a raw message through the end-of-message pipeline (no history, no learning). */
  scan(raw: Uint8Array): Promise<Decision>;
  /** The greylist's counts, reused for a few seconds (they count the whole table); shared with /metrics. */
  greylistCounts(): Promise<GreylistStats>;
  /** Re-reads the configuration file: undefined when done, else what was wrong. */
  reload(): string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook for /api/ routes. */
    role?: Role;
  }
}

/** Content types of a raw message upload (POST /api/check, /api/bayes/learn). */
export const RAW_MESSAGE_TYPES = ['message/rfc822', 'application/mbox', 'application/octet-stream', 'text/plain'];

/** The store's deadline for one operation, in ms. */
export const storeTimeoutMs = (context: ApiContext): number => context.config().store.timeout * 1000;

/** A recipient scope as given ('' = global), or a 400. */
export function scopeOf(text: string): string {
  if (text.trim() === '') return '';
  const recipient = parseRecipient(text);
  if (!recipient) throw new ApiError(400, `invalid scope: expected a recipient address (user@example.org) or empty for global, not ${JSON.stringify(text)}`);
  return recipient;
}

/** Who made a change through the API, for the `addedBy` of list entries and the log. */
export function actorOf(request: FastifyRequest, given?: string): string {
  return given && given.trim() !== '' ? given.trim() : `api:${request.ip}`;
}
