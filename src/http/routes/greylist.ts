// Greylist routes: GET /api/greylist (triplets, searchable), GET /api/greylist/stats (counts),
// GET /api/greylist/clients (the
// auto-allow counts), DELETE /api/greylist/:key (one triplet), POST /api/greylist/flush.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

const tripletQuery = z.object({
  search: z.string().max(512).optional(),
  waiting: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
const keyParams = z.object({ key: z.string().min(1).max(1024) });
const flushBody = z.object({ search: z.string().max(512).optional(), clients: z.boolean().default(false) });

export function registerGreylistRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/api/greylist', async (request) => {
    const query = validate(tripletQuery, request.query, 'query');
    const triplets = await withDeadline(
      context.store.greylist.listTriplets({
        ...(query.search ? { search: query.search } : {}),
        ...(query.waiting ? { waiting: query.waiting === 'true' } : {}),
        limit: query.limit,
        offset: query.offset,
      }),
      storeTimeoutMs(context),
    );
    return { triplets };
  });

  // Counted afresh (the overview's /api/stats reuses its counts for 10 s).
  app.get('/api/greylist/stats', async () => {
    const counts = await withDeadline(context.store.greylist.stats(context.config().greylist.auto_allow_clients), storeTimeoutMs(context));
    return { ...counts, autoAllowThreshold: context.config().greylist.auto_allow_clients };
  });

  app.get('/api/greylist/clients', async (request) => {
    const query = validate(pageQuery, request.query, 'query');
    return { clients: await withDeadline(context.store.greylist.listClients(query.limit, query.offset), storeTimeoutMs(context)) };
  });

  app.delete('/api/greylist/:key', async (request) => {
    const { key } = validate(keyParams, request.params, 'key');
    const removed = await withDeadline(context.store.greylist.deleteTriplet(key), storeTimeoutMs(context));
    if (removed === 0) throw new ApiError(404, 'no such greylist entry');
    context.log.info({ key, client: request.ip }, 'greylist entry deleted through the API');
    return { removed };
  });

  app.post('/api/greylist/flush', async (request) => {
    const body = validate(flushBody, request.body, 'flush request');
    const timeout = storeTimeoutMs(context);
    const removed = await withDeadline(context.store.greylist.flushTriplets(body.search ? { search: body.search } : {}), timeout);
    const removedClients = body.clients ? await withDeadline(context.store.greylist.flushClients(), timeout) : 0;
    context.log.info({ search: body.search ?? '(all)', removed, removed_clients: removedClients, client: request.ip }, 'greylist flushed through the API');
    return { removed, removedClients };
  });
}
