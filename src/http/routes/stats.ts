// GET /api/stats: decision counts over a window (per action, protocol, symbol, a series per
// bucket, top rejected clients and senders) from the history rollups, with the greylist pass
// rate, current bans and check failures, for the dashboard's overview.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { GreylistStats, StatsQuery } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import { storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

/** The windows the dashboard offers: length and bucket width, in seconds. */
const WINDOWS: Record<string, { seconds: number; bucket: number; cacheMs: number }> = {
  '1h': { seconds: 3600, bucket: 60, cacheMs: 0 },
  '24h': { seconds: 86_400, bucket: 600, cacheMs: 0 },
  // Long windows read many rollups and rejects: their answer is reused for a minute, so a
  // dashboard polling every second costs the mail path nothing.
  '7d': { seconds: 7 * 86_400, bucket: 3600, cacheMs: 60_000 },
  '30d': { seconds: 30 * 86_400, bucket: 6 * 3600, cacheMs: 60_000 },
};
/** Most buckets of one answer. */
const MAX_BUCKETS = 2000;
/** How long the greylist counts are reused, in ms: they count the whole greylist table. */
const GREYLIST_COUNTS_MS = 10_000;

/** `compute`'s last answer, reused for `lifetimeMs` (a failed answer is not kept). */
function reusedFor<T>(lifetimeMs: number, compute: () => Promise<T>): () => Promise<T> {
  let last: { expiresMs: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (last && last.expiresMs > now) return last.value;
    const value = compute();
    const entry = { expiresMs: now + lifetimeMs, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}
/** Bans shown on the overview. */
const NEWEST_BANS = 10;

const statsQuery = z
  .object({
    window: z.enum(Object.keys(WINDOWS) as [string, ...string[]]).optional(),
    since: z.coerce.number().int().nonnegative().optional(),
    until: z.coerce.number().int().nonnegative().optional(),
    bucket: z.coerce.number().int().min(60).max(30 * 86_400).multipleOf(60, 'expected a multiple of 60 seconds').optional(),
    top: z.coerce.number().int().min(1).max(100).optional(),
  })
  .refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, { message: 'since must be before until' });

export function registerStatsRoutes(app: FastifyInstance, context: ApiContext): void {
  const cache = new Map<string, { expiresMs: number; answer: Promise<StatsAnswer> }>();
  const greylistCounts = reusedFor(GREYLIST_COUNTS_MS, () => withDeadline(context.store.greylist.stats(context.config().greylist.auto_allow_clients), storeTimeoutMs(context)));
  app.get('/api/stats', async (request) => {
    const query = validate(statsQuery, request.query, 'query');
    const window = WINDOWS[query.window ?? '24h']!;
    const explicit = query.since !== undefined || query.until !== undefined || query.bucket !== undefined;
    const key = `${query.window ?? '24h'}/${query.top ?? ''}`;
    const now = Date.now();
    const cached = explicit ? undefined : cache.get(key);
    if (cached && cached.expiresMs > now) return cached.answer;
    const until = query.until ?? now;
    const since = query.since ?? until - window.seconds * 1000;
    const bucketSeconds = query.bucket ?? (query.since !== undefined ? Math.max(60, Math.ceil((until - since) / 1000 / 144 / 60) * 60) : window.bucket);
    // Buckets are aligned to the epoch: count them as the store does.
    const bucketMs = bucketSeconds * 1000;
    if (Math.ceil(until / bucketMs) - Math.floor(since / bucketMs) > MAX_BUCKETS) throw new ApiError(400, `the window holds more than ${MAX_BUCKETS} buckets: choose a larger bucket`);
    const answer = statsAnswer(context, greylistCounts, { since, until, bucketSeconds, ...(query.top ? { top: query.top } : {}) });
    if (!explicit && window.cacheMs > 0) {
      cache.set(key, { expiresMs: now + window.cacheMs, answer });
      answer.catch(() => cache.delete(key));
    }
    return answer;
  });
}

type StatsAnswer = Awaited<ReturnType<typeof statsAnswer>>;

/** The overview's numbers for one window: the history's statistics with the greylist, bans and check failures. */
async function statsAnswer(context: ApiContext, greylistCounts: () => Promise<GreylistStats>, window: StatsQuery) {
  const store = context.store;
  const timeout = storeTimeoutMs(context);
  const now = Math.floor(Date.now() / 1000);
  const [report, greylist, bans] = await Promise.all([
    withDeadline(store.history.stats(window), timeout),
    greylistCounts(),
    withDeadline(store.bans.list({ now, limit: NEWEST_BANS }), timeout),
  ]);
  // active() is what the ban matcher holds: its length is the count of current bans.
  const activeBans = await withDeadline(store.bans.active(now), timeout);
  const counters = context.pipelineCounters();
  return {
    ...report,
    greylist: { ...greylist, passRate: greylist.triplets > 0 ? Math.round((greylist.passed / greylist.triplets) * 1000) / 1000 : 0 },
    bans: { active: activeBans.length, newest: bans },
    checks: { errors: Object.fromEntries(counters.checkErrors), timeouts: Object.fromEntries(counters.checkTimeouts) },
  };
}
