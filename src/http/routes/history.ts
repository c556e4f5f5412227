// History routes: GET /api/history (filters on time, client, sender, recipient, action, symbol,
// node; paged backwards with `before`, new records since a page with `after`) and GET /api/history/:id (one decision with its symbols).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

/** Records per page: default and most. */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

const text = z.string().trim().min(1).max(512);

const historyQuery = z.object({
  since: z.coerce.number().int().nonnegative().optional(),
  until: z.coerce.number().int().nonnegative().optional(),
  client: text.optional(),
  sender: text.toLowerCase().optional(),
  recipient: text.toLowerCase().optional(),
  action: z.enum(['accept', 'add_header', 'greylist', 'defer', 'reject']).optional(),
  symbol: z
    .string()
    .regex(/^[A-Z0-9_]+$/, 'expected a symbol name in capitals')
    .optional(),
  node: text.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
  before: z.coerce.number().int().positive().optional(),
  after: z.coerce.number().int().nonnegative().optional(),
});

const idParams = z.object({ id: z.coerce.number().int().positive('expected a record number') });

export function registerHistoryRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/api/history', async (request) => {
    const query = validate(historyQuery, request.query, 'query');
    const { before, after, limit, ...filters } = query;
    // One more than asked tells whether an older page exists.
    const records = await withDeadline(
      context.store.history.query({ ...filters, limit: limit + 1, ...(before !== undefined ? { beforeId: before } : {}), ...(after !== undefined ? { afterId: after } : {}) }),
      storeTimeoutMs(context),
    );
    const page = records.slice(0, limit);
    return { records: page, nextBefore: records.length > limit ? (page[page.length - 1]?.id ?? null) : null };
  });

  app.get('/api/history/:id', async (request) => {
    const { id } = validate(idParams, request.params, 'record number');
    const record = await withDeadline(context.store.history.get(id), storeTimeoutMs(context));
    if (!record) throw new ApiError(404, `no history record ${id} (removed by retention, or never made)`);
    const explanation = [...record.symbols].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).map(({ name, score, description }) => ({ name, score, description }));
    return { record, explanation };
  });
}
