// Ban routes: GET /api/bans, POST /api/bans (a manual ban, enforced by the running daemon at
// once), DELETE /api/bans/:network (lift it; the address's strikes are forgotten too).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { canonicalNetwork } from '../../lists/entry.js';
import { parseExpiry } from '../../lists/expiry.js';
import type { ApiContext } from '../context.js';
import { storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

const banQuery = z.object({
  search: z.string().max(512).optional(),
  expired: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
const banBody = z.object({
  network: z.string().min(1, 'expected an address or CIDR network').max(64),
  reason: z
    .string()
    .max(200)
    .regex(/^[^\r\n]*$/, 'expected one line')
    .default('banned by hand'),
  duration: z.string().max(64).optional(),
});
const networkParams = z.object({ network: z.string().min(1).max(64) });

function networkOf(text: string): string {
  const parsed = canonicalNetwork(text);
  if (!parsed) throw new ApiError(400, `invalid network: ${JSON.stringify(text)} is not an IP address or CIDR network`);
  return parsed.network;
}

export function registerBanRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/api/bans', async (request) => {
    const query = validate(banQuery, request.query, 'query');
    const now = Math.floor(Date.now() / 1000);
    const bans = await withDeadline(
      context.store.bans.list({ now, includeExpired: query.expired === 'true', ...(query.search ? { search: query.search } : {}), limit: query.limit, offset: query.offset }),
      storeTimeoutMs(context),
    );
    return { bans };
  });

  app.post('/api/bans', async (request, reply) => {
    const body = validate(banBody, request.body, 'ban');
    const network = networkOf(body.network);
    const now = Math.floor(Date.now() / 1000);
    const expiry = parseExpiry(body.duration, now);
    if ('problem' in expiry) throw new ApiError(400, `invalid duration: ${expiry.problem}`);
    const ban = await withDeadline(context.store.bans.ban({ network, reason: body.reason, source: 'manual', createdAt: now, expiresAt: expiry.expiresAt }), storeTimeoutMs(context));
    context.log.info({ network, reason: body.reason, expires_at: expiry.expiresAt, client: request.ip }, 'client banned through the API');
    return reply.status(201).send({ ban });
  });

  app.delete('/api/bans/:network', async (request) => {
    const { network: text } = validate(networkParams, request.params, 'network');
    const network = networkOf(text);
    const removed = await withDeadline(context.store.bans.lift(network), storeTimeoutMs(context));
    if (removed === 0) throw new ApiError(404, `${network} is not banned`);
    context.log.info({ network, client: request.ip }, 'ban lifted through the API');
    return { removed };
  });
}
