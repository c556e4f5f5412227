// Session routes: POST /api/login (password → role and an HttpOnly, SameSite=Strict cookie),
// POST /api/logout, GET /api/session (who am I, which node).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SESSION_COOKIE, TooManyAttempts, type Authenticator } from '../auth.js';
import type { ApiContext } from '../context.js';
import { ApiError, validate } from '../errors.js';

const loginBody = z.object({ password: z.string().min(1, 'expected the password').max(1024) });

export function registerSessionRoutes(app: FastifyInstance, context: ApiContext, auth: Authenticator): void {
  app.post('/api/login', async (request, reply) => {
    const now = Date.now();
    if (auth.isLockedOut(request.ip, now)) {
      context.log.warn({ client: request.ip }, 'dashboard login refused: too many failed attempts');
      throw new TooManyAttempts(auth.retryAfterSeconds(request.ip, now));
    }
    const { password } = validate(loginBody, request.body, 'login');
    const role = auth.passwordRequired ? await auth.roleOfPassword(password, request.ip, now) : 'admin';
    if (!role) {
      context.log.warn({ client: request.ip }, 'dashboard login failed: wrong password');
      throw new ApiError(401, 'wrong password');
    }
    const token = auth.openSession(role, now);
    void reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      maxAge: context.config().http.session_max_age,
    });
    context.log.info({ client: request.ip, role }, 'dashboard login');
    return { role };
  });

  app.post('/api/logout', async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) auth.closeSession(token);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/session', async (request) => ({ role: request.role, node: context.config().hostname, version: context.version, passwordRequired: auth.passwordRequired }));
}
