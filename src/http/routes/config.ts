// Configuration routes: GET /api/config (the effective configuration, secrets redacted) and
// POST /api/reload (re-read the file like SIGHUP; 422 with the problems when it is invalid).
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/schema.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';

const REDACTED = '(redacted)';

/** The configuration with every password and token replaced, and credentials in URLs hidden. */
export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config) as Config & { store: { url?: string } };
  for (const key of ['password', 'readonly_password', 'metrics_token'] as const) {
    if (copy.http[key] !== '') copy.http[key] = REDACTED;
  }
  if (typeof copy.store.url === 'string') copy.store.url = copy.store.url.replace(/\/\/([^@/]*)@/, `//${REDACTED}@`);
  return copy;
}

export function registerConfigRoutes(app: FastifyInstance, context: ApiContext): void {
  app.get('/api/config', async () => redactConfig(context.config()));

  app.post('/api/reload', async (request) => {
    const problem = context.reload();
    if (problem !== undefined) throw new ApiError(422, problem);
    context.log.info({ client: request.ip }, 'reload asked through the API');
    return { reloaded: true };
  });
}
