// The rules every history store applies to its callers' arguments, in one place: the actions a
// report lists, the default page and top-list sizes, the checks of a limit or top count, and of a
// statistics window (its buckets counted as the stores count them), and how the null sender is shown.
import type { Action } from '../core/check.js';
import type { CountedValue, StatsQuery } from './types.js';

/** Every action, in the order reports list them (a Record over Action, so a new one cannot be left out). */
const ACTION_SET: Record<Action, true> = { accept: true, add_header: true, greylist: true, defer: true, reject: true };
export const ACTIONS = Object.keys(ACTION_SET) as Action[];

/** Records per query when the filter gives no limit. */
export const DEFAULT_LIMIT = 100;
/** Entries per top list when the stats query gives no `top`. */
export const DEFAULT_TOP = 10;
/** Most buckets a stats series may have (more is a RangeError). */
export const MAX_BUCKETS = 2000;

/** A top list of senders as reports show it: the null sender (an empty value) as `<>`. */
export function withNullSenderShown(senders: CountedValue[]): CountedValue[] {
  return senders.map((sender) => (sender.value === '' ? { ...sender, value: '<>' } : sender));
}

/** A count (limit, top) given by a caller: a whole number from 0. */
export function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number from 0, not ${value}`);
  return value;
}

/**
 * A statistics window checked: it runs forwards, its buckets are whole minutes and there are at
 * most MAX_BUCKETS of them (buckets start at multiples of the width since the epoch, from the one
 * holding `since` to the one holding `until - 1 ms`). Throws a RangeError otherwise.
 */
export function checkStatsQuery(query: StatsQuery): { top: number; bucketMs: number; firstBucket: number; endBucket: number } {
  const { since, until, bucketSeconds } = query;
  if (!Number.isFinite(since) || !Number.isFinite(until) || until < since) {
    throw new RangeError(`the stats window must run forwards, from ${since} to ${until}`);
  }
  if (!Number.isInteger(bucketSeconds) || bucketSeconds <= 0 || bucketSeconds % 60 !== 0) {
    throw new RangeError(`bucketSeconds must be a positive multiple of 60, not ${bucketSeconds}`);
  }
  const top = checkCount('top', query.top ?? DEFAULT_TOP);
  const bucketMs = bucketSeconds * 1000;
  const firstBucket = Math.floor(since / bucketMs);
  const endBucket = until > since ? Math.ceil(until / bucketMs) : firstBucket;
  if (endBucket - firstBucket > MAX_BUCKETS) {
    throw new RangeError(`the window holds ${endBucket - firstBucket} buckets of ${bucketSeconds} s, more than ${MAX_BUCKETS}`);
  }
  return { top, bucketMs, firstBucket, endBucket };
}
