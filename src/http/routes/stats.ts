// GET /api/stats: decision counts over a window (per action, protocol, symbol, a series per
// bucket, top rejected clients and senders) from the history rollups, with the greylist pass
// rate, current bans and check failures, for the dashboard's overview. Answers of the named
// windows are shared by callers while computed and reused for a while, so dashboards polling
// every second cost the mail path little.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { StatsQuery } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import { storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';
import { reusedFor } from '../../core/reused.js';
import { MAX_BUCKETS } from '../../store/history-rules.js';

/** The windows the dashboard offers: length and bucket width in seconds, how long an answer is reused in ms. */
const WINDOWS: Record<string, { seconds: number; bucket: number; reuseMs: number }> = {
  '1h': { seconds: 3600, bucket: 60, reuseMs: 0 },
  '24h': { seconds: 86_400, bucket: 600, reuseMs: 5_000 },
  '7d': { seconds: 7 * 86_400, bucket: 3600, reuseMs: 60_000 },
  '30d': { seconds: 30 * 86_400, bucket: 6 * 3600, reuseMs: 60_000 },
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

type StatsAnswer = Awaited<ReturnType<typeof statsAnswer>>;

export function registerStatsRoutes(app: FastifyInstance, context: ApiContext): void {
  /** One reader per named window (and top): callers share its answer while computed and for reuseMs. */
  const readers = new Map<string, () => Promise<StatsAnswer>>();
  app.get('/api/stats', async (request) => {
    const query = validate(statsQuery, request.query, 'query');
    const top = query.top ? { top: query.top } : {};
    let answer: Promise<StatsAnswer>;
    if (query.since === undefined && query.until === undefined && query.bucket === undefined) {
      const name = query.window ?? '24h';
      const key = `${name}/${query.top ?? ''}`;
      let reader = readers.get(key);
      if (!reader) {
        const window = WINDOWS[name]!;
        reader = reusedFor(window.reuseMs, () => {
          const until = Date.now();
          return statsAnswer(context, { since: until - window.seconds * 1000, until, bucketSeconds: window.bucket, ...top });
        });
        readers.set(key, reader);
      }
      answer = reader();
    } else {
      const until = query.until ?? Date.now();
      const since = query.since ?? until - WINDOWS[query.window ?? '24h']!.seconds * 1000;
      if (since >= until) throw new ApiError(400, 'invalid query: since must be before until (now, when until is not given)');
      const bucketSeconds = query.bucket ?? Math.max(60, Math.ceil((until - since) / 1000 / 144 / 60) * 60);
      // Buckets are aligned to the epoch: count them as the store does.
      const bucketMs = bucketSeconds * 1000;
      if (Math.ceil(until / bucketMs) - Math.floor(since / bucketMs) > MAX_BUCKETS) throw new ApiError(400, `the window holds more than ${MAX_BUCKETS} buckets: choose a larger bucket`);
      answer = statsAnswer(context, { since, until, bucketSeconds, ...top });
    }
    // The computation goes on past the deadline (for the next caller); this request waits no longer.
    return withDeadline(answer, storeTimeoutMs(context));
  });
}

/** The overview's numbers for one window: the history's statistics with the greylist, bans and check failures. */
async function statsAnswer(context: ApiContext, window: StatsQuery) {
  const store = context.store;
  const now = Math.floor(Date.now() / 1000);
  const [report, greylist, bans, activeBans] = await Promise.all([
    store.history.stats(window),
    context.greylistCounts(),
    store.bans.list({ now, limit: NEWEST_BANS }),
    // active() is what the ban matcher holds: its length is the count of current bans.
    store.bans.active(now),
  ]);
  const counters = context.pipelineCounters();
  return {
    ...report,
    greylist: { ...greylist, passRate: greylist.triplets > 0 ? Math.round((greylist.passed / greylist.triplets) * 1000) / 1000 : 0 },
    bans: { active: activeBans.length, newest: bans },
    checks: { errors: Object.fromEntries(counters.checkErrors), timeouts: Object.fromEntries(counters.checkTimeouts) },
  };
}
