// The daemon's HTTP server (fastify): the JSON API of docs/api.md under /api/, Prometheus text on
// /metrics, GET /health, and the built dashboard (dist/dashboard) at /. Authentication is checked
// in one hook, by the route the router matched (never by the raw URL, which may be encoded);
// changes from another web origin are refused (CSRF), and without a password only a loopback Host
// is served (DNS rebinding). Errors become JSON with a 4xx status, an unexpected failure a logged 500.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/schema.js';
import { parseListen, formatListen, removeStaleSocket } from '../core/listen.js';
import { Authenticator, SESSION_COOKIE, TooManyAttempts, type Credential } from './auth.js';
import { RAW_MESSAGE_TYPES, type ApiContext } from './context.js';
import { ApiError, withDeadline } from './errors.js';
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
/** Largest body of a request that is not a message upload (JSON, the login form), in bytes. */
const SMALL_BODY_LIMIT = 64 * 1024;
/** Longest path parameter (a greylist key holds a sender and a recipient), in characters. */
const MAX_PARAM_LENGTH = 2048;
/** Paths that need no credential. */
const OPEN_API_PATHS = new Set(['/api/login', '/api/logout']);
/** POST routes that change nothing, open to the read-only role. */
const READ_ONLY_POSTS = new Set(['/api/check', '/api/bayes/check', '/api/logout']);

const CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Whether a host name or address (of a listen address, a client, a Host header) is loopback. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  try {
    return ipaddr.process(host.replace(/^\[(.*)\]$/, '$1')).range() === 'loopback';
  } catch {
    return false;
  }
}

/** Why these HTTP settings must not run (a non-loopback address without a password), or undefined. */
export function httpSettingsProblem(settings: Config['http']): string | undefined {
  const address = parseListen(settings.listen);
  if (settings.enabled && address.kind === 'tcp' && !isLoopback(address.host) && settings.password === '') {
    return `http.listen ${settings.listen} is not a loopback address: set http.password (see rempart passwd) or listen on 127.0.0.1`;
  }
  if (settings.readonly_password !== '' && settings.password === '') return 'http.readonly_password needs http.password (without it every caller is the administrator)';
  return undefined;
}

/** The host of a Host header ("127.0.0.1:11334", "[::1]:11334", "localhost"), without the port. */
function hostOfHeader(header: string | undefined): string {
  if (!header) return '';
  const bracketed = /^\[([^\]]+)\]/.exec(header);
  return bracketed ? bracketed[1]! : header.replace(/:\d+$/, '');
}

/** A browser request sent by a page of another origin (Origin or Sec-Fetch-Site say so); scripts and the CLI send neither. */
function isCrossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
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
    const problem = httpSettingsProblem(settings);
    if (problem) throw new Error(problem);
    this.app = Fastify({ logger: false, bodyLimit: SMALL_BODY_LIMIT, maxParamLength: MAX_PARAM_LENGTH, requestTimeout: REQUEST_TIMEOUT_MS, trustProxy: false, return503OnClosing: true });
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

    app.addHook('onRequest', async (request) => {
      // The route the router matched (a pattern such as /api/lists/:kind/:id), whatever the URL's encoding.
      const route = request.routeOptions.url ?? '';
      const changes = request.method !== 'GET' && request.method !== 'HEAD';
      if (!this.auth.passwordRequired && !isLoopback(hostOfHeader(request.headers.host))) {
        throw new ApiError(403, 'without http.password only a loopback Host (127.0.0.1, [::1], localhost) is served');
      }
      if (changes && isCrossSite(request)) throw new ApiError(403, 'changes from another web site are refused');
      if (changes && route !== '/api/login' && /^application\/x-www-form-urlencoded/i.test(request.headers['content-type'] ?? '')) {
        throw new ApiError(415, 'forms are accepted by /api/login only: send JSON');
      }
      if (route === '/metrics') return this.authorizeMetrics(request);
      if (!route.startsWith('/api/') || OPEN_API_PATHS.has(route)) return;
      const now = Date.now();
      if (this.auth.isLockedOut(request.ip, now)) throw this.tooManyAttempts(request, now);
      const role = await this.auth.roleOf(credentialOf(request), request.ip, now);
      if (!role) throw new ApiError(401, this.auth.isLockedOut(request.ip, now) ? 'too many failed attempts' : 'authentication required: send Authorization: Bearer <password> or log in');
      request.role = role;
      if (role === 'readonly' && changes && !READ_ONLY_POSTS.has(route)) {
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
      const store = context.store.status();
      if (status >= 500 && !store.available) {
        // Not a bug of ours: the store (Redis) cannot be reached; the daemon reconnects by itself.
        status = 503;
        message = `the store is unavailable (${store.error ?? 'not connected'}); the daemon reconnects by itself`;
        void reply.header('Retry-After', '5');
      }
      if (error instanceof TooManyAttempts) void reply.header('Retry-After', String(error.retryAfterSeconds));
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
      const healthy = await withDeadline(context.store.lists.version(), context.config().store.timeout * 1000).then(
        () => true,
        () => false,
      );
      const store = context.store.status();
      return {
        status: healthy && store.available ? 'ok' : 'degraded',
        version: context.version,
        node: context.config().hostname,
        uptimeSeconds: Math.floor((Date.now() - context.startedMs) / 1000),
        store: {
          backend: context.config().store.backend,
          available: store.available,
          since: new Date(store.since).toISOString(),
          ...(store.error && !store.available ? { error: store.error } : {}),
          unavailableAction: context.config().store.unavailable_action,
        },
      };
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
  private async authorizeMetrics(request: FastifyRequest): Promise<void> {
    const settings = this.context.config().http;
    if (settings.metrics_open && isLoopback(request.ip)) return;
    if (!this.auth.passwordRequired && !settings.metrics_token) return;
    const credential = credentialOf(request);
    if (credential.kind === 'bearer' && settings.metrics_token && (await this.auth.isMetricsToken(credential.password))) return;
    const now = Date.now();
    if (this.auth.isLockedOut(request.ip, now)) throw this.tooManyAttempts(request, now);
    if (await this.auth.roleOf(credential, request.ip, now)) return;
    throw new ApiError(401, 'authentication required: send Authorization: Bearer <metrics_token or password>');
  }

  private tooManyAttempts(request: FastifyRequest, now: number): TooManyAttempts {
    const refusal = new TooManyAttempts(this.auth.retryAfterSeconds(request.ip, now));
    this.context.log.warn({ client: request.ip, retry_after_s: refusal.retryAfterSeconds }, 'HTTP client refused: too many failed logins');
    return refusal;
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
