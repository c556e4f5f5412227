// The daemon's HTTP server (fastify): the JSON API of docs/api.md under /api/, Prometheus text on
// /metrics, GET /health, and the built dashboard (dist/dashboard) at /. Authentication is checked
// in one hook; errors become JSON with a 4xx status, and an unexpected failure a logged 500.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import { parseListen, formatListen, removeStaleSocket } from '../core/listen.js';
import { Authenticator, SESSION_COOKIE, type Credential } from './auth.js';
import { RAW_MESSAGE_TYPES, type ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { registerSessionRoutes } from './routes/session.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerHistoryRoutes } from './routes/history.js';
import { registerListRoutes } from './routes/lists.js';
import { registerGreylistRoutes } from './routes/greylist.js';
import { registerBanRoutes } from './routes/bans.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerConfigRoutes } from './routes/config.js';

/** Where the dashboard build lands: dist/dashboard, beside dist/src (this file is dist/src/http/server.js). */
const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));
/** Deadline of one HTTP request, in ms (an upload of a large mbox included). */
const REQUEST_TIMEOUT_MS = 120_000;
/** Paths that need no credential. */
const OPEN_API_PATHS = new Set(['/api/login', '/api/logout']);
/** POST routes that change nothing, open to the read-only role. */
const READ_ONLY_POSTS = new Set(['/api/check', '/api/bayes/check', '/api/logout']);

const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  try {
    return ipaddr.process(host).range() === 'loopback';
  } catch {
    return false;
  }
}

function isLoopbackClient(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'loopback';
  } catch {
    return false;
  }
}

function credentialOf(request: FastifyRequest): Credential {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return match ? { kind: 'bearer', password: match[1]!.trim() } : { kind: 'bearer', password: '' };
  }
  const token = request.cookies[SESSION_COOKIE];
  return token ? { kind: 'cookie', token } : { kind: 'none' };
}

export class HttpServer {
  private readonly app: FastifyInstance;
  readonly auth: Authenticator;
  private address = '';

  constructor(private readonly context: ApiContext) {
    const settings = context.config().http;
    this.auth = new Authenticator(settings);
    const address = parseListen(settings.listen);
    if (address.kind === 'tcp' && !isLoopbackHost(address.host) && !this.auth.passwordRequired) {
      throw new Error(`http.listen ${settings.listen} is not a loopback address: set http.password (see rempart passwd) or listen on 127.0.0.1`);
    }
    this.app = Fastify({ logger: false, bodyLimit: settings.max_upload_size, requestTimeout: REQUEST_TIMEOUT_MS, trustProxy: false, return503OnClosing: true });
    this.setUp();
  }

  /** Takes new settings after a reload (passwords, limits); `listen` changes only at restart. */
  update(): void {
    this.auth.update(this.context.config().http);
  }

  listening(): string {
    return this.address;
  }

  private setUp(): void {
    const app = this.app;
    const context = this.context;
    void app.register(fastifyCookie);
    // Raw messages (check, learn) arrive as bytes; forms of the login page as text.
    app.addContentTypeParser(RAW_MESSAGE_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.addHook('onSend', async (request, reply) => {
      void reply.header('X-Content-Type-Options', 'nosniff');
      void reply.header('Referrer-Policy', 'no-referrer');
      if (!request.url.startsWith('/api/') && request.url !== '/metrics' && request.url !== '/health') {
        void reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      }
      if (request.url.startsWith('/api/')) void reply.header('Cache-Control', 'no-store');
    });

    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?', 1)[0]!;
      if (path === '/metrics') return this.authorizeMetrics(request, reply);
      if (!path.startsWith('/api/') || OPEN_API_PATHS.has(path)) return;
      const now = Date.now();
      if (this.auth.isLockedOut(request.ip, now)) return this.tooManyAttempts(request, reply, now);
      const role = await this.auth.roleOf(credentialOf(request), request.ip, now);
      if (!role) throw new ApiError(401, this.auth.isLockedOut(request.ip, now) ? 'too many failed attempts' : 'authentication required: send Authorization: Bearer <password> or log in');
      request.role = role;
      if (role === 'readonly' && request.method !== 'GET' && request.method !== 'HEAD' && !READ_ONLY_POSTS.has(path)) {
        throw new ApiError(403, 'the read-only password cannot change anything');
      }
    });

    app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
      let status = error instanceof ApiError ? error.statusCode : (error.statusCode ?? 500);
      let message = error.message;
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        status = 413;
        message = `the upload is larger than http.max_upload_size (${context.config().http.max_upload_size} bytes)`;
      } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        message = `unsupported Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')}: send JSON, or a raw message as ${RAW_MESSAGE_TYPES.join(', ')}`;
      } else if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError) {
        status = 400;
        message = `the body is not valid JSON: ${error.message}`;
      }
      if (status >= 500 && status !== 503) {
        context.metrics.countError('http');
        context.log.error({ err: error, method: request.method, url: request.url }, 'HTTP request failed');
        message = 'internal error (logged by the daemon)';
      }
      void reply.status(status).send({ error: message, statusCode: status });
    });
    app.setNotFoundHandler((request, reply) => {
      void reply.status(404).send({ error: `no route ${request.method} ${request.url.split('?', 1)[0]}`, statusCode: 404 });
    });

    app.get('/health', async () => {
      const healthy = await Promise.race([
        context.store.lists.version().then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), context.config().store.timeout * 1000).unref()),
      ]);
      return { status: healthy ? 'ok' : 'degraded', version: context.version, node: context.config().hostname, uptimeSeconds: Math.floor((Date.now() - context.startedMs) / 1000) };
    });
    app.get('/metrics', async (_request, reply) => {
      const { contentType, body } = await context.metrics.text();
      return reply.type(contentType).send(body);
    });

    registerSessionRoutes(app, context, this.auth);
    registerStatsRoutes(app, context);
    registerHistoryRoutes(app, context);
    registerListRoutes(app, context);
    registerGreylistRoutes(app, context);
    registerBanRoutes(app, context);
    registerMessageRoutes(app, context);
    registerConfigRoutes(app, context);

    if (existsSync(DASHBOARD_DIR)) {
      void app.register(fastifyStatic, { root: DASHBOARD_DIR, index: 'index.html', wildcard: true, cacheControl: true, maxAge: 0 });
    } else {
      app.get('/', async (_request, reply) => reply.status(503).type('text/plain').send('The dashboard is not built: run "npm run build".\n'));
    }
  }

  /** /metrics: the metrics token, any API credential, or nothing at all from loopback when http.metrics_open. */
  private async authorizeMetrics(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const settings = this.context.config().http;
    if (settings.metrics_open && isLoopbackClient(request.ip)) return;
    if (!this.auth.passwordRequired && !settings.metrics_token) return;
    const credential = credentialOf(request);
    if (credential.kind === 'bearer' && settings.metrics_token && (await this.auth.isMetricsToken(credential.password))) return;
    const now = Date.now();
    if (this.auth.isLockedOut(request.ip, now)) return this.tooManyAttempts(request, reply, now);
    if (await this.auth.roleOf(credential, request.ip, now)) return;
    throw new ApiError(401, 'authentication required: send Authorization: Bearer <metrics_token or password>');
  }

  private tooManyAttempts(request: FastifyRequest, reply: FastifyReply, now: number): void {
    const retryAfter = this.auth.retryAfterSeconds(request.ip, now);
    this.context.log.warn({ client: request.ip, retry_after_s: retryAfter }, 'HTTP client refused: too many failed logins');
    void reply.header('Retry-After', String(retryAfter));
    throw new ApiError(429, `too many failed attempts; try again in ${retryAfter} s`);
  }

  /** Binds http.listen (the constructor refused a non-loopback address without a password). */
  async start(): Promise<void> {
    const address = parseListen(this.context.config().http.listen);
    if (address.kind === 'unix') {
      await removeStaleSocket(address.path);
      await this.app.listen({ path: address.path });
    } else {
      await this.app.listen({ host: address.host, port: address.port });
      const bound = this.app.server.address();
      if (bound && typeof bound === 'object') address.port = bound.port;
    }
    this.address = formatListen(address);
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}
