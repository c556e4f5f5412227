// The connection to Redis (ioredis): a single server, a Sentinel-watched master or a Cluster, as
// configured. Commands never wait for a lost connection: the offline queue is off in the daemon,
// so while Redis is away every store call fails at once, the checks that need it count as "no
// finding" (or the request is deferred, per store.unavailable_action) and mail flows; each command
// also has the store's deadline. ioredis reconnects with a backoff (100 ms doubling up to
// store.redis.max_reconnect_delay). The state (up or down since when, last error) is kept here for
// /health, /metrics and the dashboard; a change of state is logged once, not on every attempt.
import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';
import type { Config } from '../../config/schema.js';
import type { StoreStatus } from '../types.js';

export type RedisClient = Redis | Cluster;
export type RedisSettings = Config['store']['redis'];


export interface ConnectionOptions {
  settings: RedisSettings;
  /** Deadline of one command, ms. */
  commandTimeoutMs: number;
  /**
   * Queue commands while (re)connecting instead of failing them: for CLI commands, which want to
   * wait for the first connection (each command still has its deadline). The daemon never does.
   */
  waitForConnection?: boolean;
  /** Told of each change of state (the daemon logs and counts it). */
  onStateChange?: (status: StoreStatus) => void;
}

/** Host and port of "host:port" or "[v6]:port". */
function parseNode(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

/** Options from the URL: credentials, database, TLS (ioredis reads the rest itself for a plain server). */
function urlOptions(url: string): Pick<RedisOptions, 'username' | 'password' | 'db' | 'tls'> {
  const parsed = new URL(url);
  const options: Pick<RedisOptions, 'username' | 'password' | 'db' | 'tls'> = {};
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  const db = Number(parsed.pathname.replace(/^\//, '') || '0');
  if (Number.isInteger(db) && db > 0) options.db = db;
  if (parsed.protocol === 'rediss:') options.tls = {};
  return options;
}

/** A URL with its password replaced, for logs and `describe()`. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid url)';
  }
}

/** One line naming a Redis store: server (password hidden), Sentinel or Cluster, and the key prefix. */
export function describeRedis(settings: RedisSettings): string {
  if (settings.cluster.length > 0) return `redis cluster ${settings.cluster.join(',')} prefix ${settings.prefix}`;
  if (settings.sentinels.length > 0) return `redis sentinel ${settings.sentinel_name}@${settings.sentinels.join(',')} prefix ${settings.prefix}`;
  return `redis ${redactedUrl(settings.url)} prefix ${settings.prefix}`;
}

/** The reconnection delay after `attempt` failed attempts, ms: 100, 200, 400... up to `maxMs`. */
export function reconnectDelayMs(attempt: number, maxMs: number): number {
  return Math.min(100 * 2 ** Math.min(Math.max(attempt - 1, 0), 20), maxMs);
}

export class RedisConnection {
  readonly client: RedisClient;
  private state: StoreStatus = { available: false, since: Date.now() };
  /** Whether a state was ever reported: the first failure to connect at start is reported too. */
  private reported = false;
  private closing = false;

  constructor(private readonly options: ConnectionOptions) {
    const { settings } = options;
    const maxDelayMs = settings.max_reconnect_delay * 1000;
    const common: RedisOptions = {
      ...urlOptions(settings.url),
      connectTimeout: settings.connect_timeout * 1000,
      commandTimeout: options.commandTimeoutMs,
      enableOfflineQueue: options.waitForConnection === true,
      // A command sent when the connection drops fails (the caller fails open) instead of being replayed later.
      maxRetriesPerRequest: options.waitForConnection ? 1 : 0,
      autoResubscribe: false,
      // Each command is written at once. Auto-pipelining held a turn's commands back until its end,
      // so Redis waited while the daemon read the rest of the requests that came together: written
      // at once, Redis works on the first ones meanwhile (bench:policy, one node on Redis, 'new':
      // 10-13 % more requests/s at the same CPU per request).
      enableAutoPipelining: false,
      retryStrategy: (attempt: number) => (this.closing ? null : reconnectDelayMs(attempt, maxDelayMs)),
      lazyConnect: false,
      // A failed connection is given up at once (the default waits 2 s more).
      disconnectTimeout: 100,
    };
    if (settings.cluster.length > 0) {
      const clusterOptions: ClusterOptions = {
        redisOptions: common,
        enableOfflineQueue: common.enableOfflineQueue,
        enableAutoPipelining: false, // as above
        clusterRetryStrategy: (attempt: number) => (this.closing ? null : reconnectDelayMs(attempt, maxDelayMs)),
      };
      this.client = new Cluster(settings.cluster.map(parseNode), clusterOptions);
    } else if (settings.sentinels.length > 0) {
      this.client = new Redis({ ...common, sentinels: settings.sentinels.map(parseNode), name: settings.sentinel_name });
    } else {
      const parsed = new URL(settings.url);
      this.client = new Redis({ ...common, host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(parsed.port || 6379) });
    }
    this.client.on('ready', () => this.setState({ available: true, since: Date.now() }));
    this.client.on('error', (error: Error) => {
      // Errors also come while up (a failed command); only connection-level ones change the state.
      if (this.client.status !== 'ready') this.setState({ available: false, since: this.state.available ? Date.now() : this.state.since, error: error.message });
    });
    this.client.on('end', () => this.setState({ available: false, since: Date.now(), error: 'connection closed' }));
    this.client.on('close', () => {
      if (this.state.available) this.setState({ available: false, since: Date.now(), error: 'connection lost' });
    });
  }

  status(): StoreStatus {
    return { ...this.state };
  }

  private setState(next: StoreStatus): void {
    const changed = next.available !== this.state.available || !this.reported;
    this.state = next;
    if (changed && !this.closing) {
      this.reported = true;
      this.options.onStateChange?.(this.status());
    }
  }

  /** Resolves when the connection is ready, or rejects after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.client.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Redis not reachable within ${timeoutMs} ms${this.state.error ? ': ' + this.state.error : ''}`));
      }, timeoutMs);
      const onReady = () => {
        cleanup();
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
      };
      this.client.on('ready', onReady);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    // QUIT lets the replies of commands sent before it arrive; without a connection it would only
    // wait in the offline queue (CLI commands), so the client is then dropped at once.
    if (this.client.status !== 'ready') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
