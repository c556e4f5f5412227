// Message routes: POST /api/check (scan a raw message, the result of `rempart check --json`),
// GET /api/bayes (the classifier's databases), POST /api/bayes/learn (learn uploaded messages or
// an mbox as spam or ham) and POST /api/bayes/check (the same scan as /api/check).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { learnRawMessage } from '../../scan/learn-message.js';
import { scanReport } from '../../scan/report.js';
import { messagesInUpload } from '../../scan/sources.js';
import type { LearnOutcome } from '../../store/types.js';
import type { ApiContext } from '../context.js';
import { RAW_MESSAGE_TYPES, scopeOf, storeTimeoutMs } from '../context.js';
import { ApiError, validate, withDeadline } from '../errors.js';

const learnQuery = z.object({
  class: z.enum(['spam', 'ham'], { message: 'expected class=spam or class=ham' }),
  unlearn: z.enum(['true', 'false']).default('false'),
  scope: z.string().max(320).default(''),
});

/** The uploaded raw message, or a 400/415 saying how to send one. */
function rawBody(request: FastifyRequest): Buffer {
  const body = request.body;
  if (!Buffer.isBuffer(body)) throw new ApiError(415, `send the raw message as the body, with Content-Type ${RAW_MESSAGE_TYPES.join(', ')}`);
  if (body.length === 0) throw new ApiError(400, 'the body is empty: send a raw message');
  return body;
}

export function registerMessageRoutes(app: FastifyInstance, context: ApiContext): void {
  // Only the message uploads take large bodies (http.max_upload_size); every other route 64 KB.
  const upload = { bodyLimit: context.config().http.max_upload_size };
  const check = async (request: FastifyRequest) => scanReport(await context.scan(rawBody(request)));
  app.post('/api/check', upload, check);
  app.post('/api/bayes/check', upload, check);

  app.get('/api/bayes', async () => {
    const timeout = storeTimeoutMs(context);
    const bayes = context.store.bayes;
    const scopes = await withDeadline(bayes.scopes(), timeout);
    if (!scopes.includes('')) scopes.unshift('');
    const counts = await Promise.all(scopes.map(async (scope) => ({ scope, ...(await withDeadline(bayes.counts(scope), timeout)) })));
    const settings = context.config().bayes;
    const global = counts.find((c) => c.scope === '')!;
    return {
      enabled: settings.enabled,
      minMessages: settings.min_messages,
      ready: settings.enabled && global.spamMessages >= settings.min_messages && global.hamMessages >= settings.min_messages,
      scopes: counts,
    };
  });

  app.post('/api/bayes/learn', upload, async (request) => {
    const query = validate(learnQuery, request.query, 'query');
    const scope = scopeOf(query.scope);
    const raw = rawBody(request);
    const config = context.config();
    const outcomes: Partial<Record<LearnOutcome, number>> = {};
    let messages = 0;
    for await (const message of messagesInUpload('upload', raw)) {
      messages++;
      const outcome = await withDeadline(learnRawMessage(context.store, config, scope, query.class, message.raw, query.unlearn === 'true'), storeTimeoutMs(context));
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    context.log.info({ class: query.class, unlearn: query.unlearn === 'true', scope: scope || 'global', messages, outcomes: JSON.stringify(outcomes), client: request.ip }, 'messages learned through the API');
    return { messages, outcomes };
  });
}
