// Allow/block list routes: GET /api/lists (search), POST /api/lists (add or update an entry,
// applied by the running daemon at once), DELETE /api/lists/:kind/:id.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseListValue } from '../../lists/entry.js';
import { parseExpiry } from '../../lists/expiry.js';
import type { ApiContext } from '../context.js';
import { actorOf, scopeOf, storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

const kind = z.enum(['allow', 'block']);
const oneLine = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\r\n]*$/, 'expected one line');

const listQuery = z.object({
  kind: kind.optional(),
  scope: z.string().max(320).optional(),
  search: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

const entryBody = z.object({
  kind,
  value: z.string().min(1, 'expected an entry: user@example.org, @example.org, an address or CIDR, helo:name').max(512),
  scope: z.string().max(320).default(''),
  reason: oneLine(200).default(''),
  comment: oneLine(500).default(''),
  expires: z.string().max(64).optional(),
  by: oneLine(100).optional(),
});

const removeParams = z.object({ kind, id: z.coerce.number().int().positive('expected an entry number') });

export function registerListRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/api/lists', async (request) => {
    const query = validate(listQuery, request.query, 'query');
    const entries = await withDeadline(
      context.store.lists.list({
        ...(query.kind ? { kind: query.kind } : {}),
        ...(query.scope !== undefined ? { scope: scopeOf(query.scope) } : {}),
        ...(query.search ? { search: query.search } : {}),
        limit: query.limit,
        offset: query.offset,
      }),
      storeTimeoutMs(context),
    );
    return { entries };
  });

  app.post('/api/lists', async (request, reply) => {
    const body = validate(entryBody, request.body, 'entry');
    const parsed = parseListValue(body.value);
    if (typeof parsed === 'string') throw new ApiError(400, `invalid value: ${parsed}`);
    if (body.kind === 'allow' && body.reason !== '') throw new ApiError(400, 'invalid entry: reason is for block entries; give an allow entry a comment');
    const now = Math.floor(Date.now() / 1000);
    const expiry = parseExpiry(body.expires, now);
    if ('problem' in expiry) throw new ApiError(400, `invalid expires: ${expiry.problem}`);
    const [stored] = await withDeadline(
      context.store.lists.put([
        { kind: body.kind, value: parsed.value, scope: scopeOf(body.scope), reason: body.reason, comment: body.comment, addedBy: actorOf(request, body.by), createdAt: now, expiresAt: expiry.expiresAt },
      ]),
      storeTimeoutMs(context),
    );
    const { entry, created } = stored!;
    context.log.info({ kind: entry.kind, value: entry.value, scope: entry.scope || 'global', reason: entry.reason, by: entry.addedBy, created }, 'list entry saved through the API');
    return reply.status(created ? 201 : 200).send({ entry, created });
  });

  app.delete('/api/lists/:kind/:id', async (request) => {
    const { kind: listKind, id } = validate(removeParams, request.params, 'entry');
    const removed = await withDeadline(context.store.lists.remove({ kind: listKind, id }), storeTimeoutMs(context));
    if (removed === 0) throw new ApiError(404, `no ${listKind} entry #${id}`);
    context.log.info({ kind: listKind, id, client: request.ip }, 'list entry removed through the API');
    return { removed };
  });
}
