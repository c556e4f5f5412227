// Row shapes of the list, ban, strike and recipient tables and their conversions, shared by the main thread's
// reads and the writer thread; the meta keys of the version counters; the rule for re-banning; the
// periods of the history rollups.
import type { Ban, BanSource, ListEntry, ListEntryType, ListKind, RecipientEntry, StrikeRow } from '../types.js';

/** meta keys of the change counters, bumped in the transaction of every change. */
export const LISTS_VERSION = 'lists_version';
export const BANS_VERSION = 'bans_version';
export const RECIPIENTS_VERSION = 'recipients_version';
/** Bumped by every Bayes write (learn, import, expiry): readers drop their token caches when it moves. */
export const BAYES_VERSION = 'bayes_version';

export interface ListEntryDbRow {
  id: number;
  kind: string;
  type: string;
  value: string;
  scope: string;
  reason: string;
  comment: string;
  added_by: string;
  created_at: number;
  expires_at: number;
}

export function listEntryFromRow(row: ListEntryDbRow): ListEntry {
  return {
    id: row.id,
    kind: row.kind as ListKind,
    type: row.type as ListEntryType,
    value: row.value,
    scope: row.scope,
    reason: row.reason,
    comment: row.comment,
    addedBy: row.added_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export interface RecipientDbRow {
  id: number;
  address: string;
  domain: string;
  comment: string;
  added_by: string;
  created_at: number;
}

export function recipientFromRow(row: RecipientDbRow): RecipientEntry {
  return { id: row.id, address: row.address, domain: row.domain, comment: row.comment, addedBy: row.added_by, createdAt: row.created_at };
}

export interface BanDbRow {
  network: string;
  reason: string;
  source: string;
  created_at: number;
  expires_at: number;
}

export function banFromRow(row: BanDbRow): Ban {
  return { network: row.network, reason: row.reason, source: row.source as BanSource, createdAt: row.created_at, expiresAt: row.expires_at };
}

export interface StrikeDbRow {
  address: string;
  reason: string;
  times: string;
  expires_at: number;
}

export function strikeFromRow(row: StrikeDbRow): StrikeRow {
  return { address: row.address, reason: row.reason, times: JSON.parse(row.times) as number[], expiresAt: row.expires_at };
}

/**
 * Banning what is already banned: the later expiry wins (0, never, is the latest), the first
 * creation time stays, the new reason and source replace the old ones. A ban already expired at
 * the new one's creation (not yet removed by maintenance) counts for nothing.
 */
export function mergeBan(existing: Ban | undefined, next: Ban): Ban {
  if (!existing || (existing.expiresAt !== 0 && existing.expiresAt <= next.createdAt)) return next;
  const expiresAt = existing.expiresAt === 0 || next.expiresAt === 0 ? 0 : Math.max(existing.expiresAt, next.expiresAt);
  return { ...next, createdAt: Math.min(existing.createdAt, next.createdAt), expiresAt };
}

/** The rollup periods of the decision statistics (stats_minutes, stats_hours ...), in ms. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** The minute (since the epoch) a time in ms falls in: the key of the per-minute rollups. */
export const minuteOf = (timeMs: number): number => Math.floor(timeMs / MINUTE_MS);
/** The hour (since the epoch) a time in ms falls in: the key of the per-hour rollups. */
export const hourOf = (timeMs: number): number => Math.floor(timeMs / HOUR_MS);
