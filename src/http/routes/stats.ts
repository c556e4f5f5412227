// GET /api/stats: decision counts over a window (per action, protocol, symbol, a series per
// bucket, top rejected clients and senders) from the history rollups, with the greylist pass
// rate, current bans and check failures, for the dashboard's overview.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

/** The windows the dashboard offers: length and bucket width, in seconds. */
const WINDOWS: Record<string, { seconds: number; bucket: number }> = {
  '1h': { seconds: 3600, bucket: 60 },
  '24h': { seconds: 86_400, bucket: 600 },
  '7d': { seconds: 7 * 86_400, bucket: 3600 },
  '30d': { seconds: 30 * 86_400, bucket: 6 * 3600 },
};
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
  app.get('/api/stats', async (request) => {
    const query = validate(statsQuery, request.query, 'query');
    const window = WINDOWS[query.window ?? '24h']!;
    const until = query.until ?? Date.now();
    const since = query.since ?? until - window.seconds * 1000;
    const bucketSeconds = query.bucket ?? (query.since !== undefined ? Math.max(60, Math.ceil((until - since) / 1000 / 144 / 60) * 60) : window.bucket);
    if ((until - since) / 1000 / bucketSeconds > 2000) throw new ApiError(400, 'the window holds more than 2000 buckets: choose a larger bucket');
    const store = context.store;
    const timeout = storeTimeoutMs(context);
    const now = Math.floor(Date.now() / 1000);
    const [report, greylist, bans] = await Promise.all([
      withDeadline(store.history.stats({ since, until, bucketSeconds, ...(query.top ? { top: query.top } : {}) }), timeout),
      withDeadline(store.greylist.stats(context.config().greylist.auto_allow_clients), timeout),
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
  });
}
