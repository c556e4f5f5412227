// The one DNS resolver every check uses: queries over UDP (udp-transport.ts; Node's c-ares
// resolver only when an answer is truncated, since it retries over TCP) with configurable servers,
// a hard deadline per query, an LRU cache that honours TTLs up to a bound (negative answers for
// their own, shorter time), de-duplication of identical in-flight queries, and counters. Answers
// tell NXDOMAIN and NODATA apart from temporary failures, so that a DNS problem can never turn
// into a permanent rejection. Query methods never throw.
import { Resolver } from 'node:dns/promises';
import { getServers, type MxRecord, type RecordWithTtl } from 'node:dns';
import { ptrName } from './names.js';
import { LruCache } from '../core/lru.js';
import { parseServerAddress, UdpDnsTransport, type UdpOutcome } from './udp-transport.js';

export interface DnsResolverOptions {
  /**
   * Servers as `host`, `host:port`, `[v6]` or `[v6]:port` (port 53 when absent), tried in order;
   * empty: the system's resolvers (/etc/resolv.conf).
   */
  servers: string[];
  /** Hard deadline of one query, in milliseconds, retries included. */
  timeoutMs: number;
  /** Upper bound on how long a positive answer is cached, in seconds (0: no positive caching). */
  maxTtlSeconds: number;
  /**
   * How long NXDOMAIN and NODATA answers are cached at most, in seconds (0: not cached); shorter
   * when the zone's SOA says so (RFC 2308).
   */
  negativeTtlSeconds: number;
  /** Cache time, in seconds, of answers whose TTL is not known (MX, PTR and TXT answers fetched over TCP). */
  defaultTtlSeconds: number;
  /**
   * Answers kept in the cache: at least the `cacheSize` most recently used, at most twice as many
   * (two generations, see core/lru.ts); 0: no cache.
   */
  cacheSize: number;
}

/** Recommended defaults; the units are in the option names. */
export const DNS_RESOLVER_DEFAULTS: Readonly<DnsResolverOptions> = Object.freeze({
  servers: [],
  timeoutMs: 2_000, // 2 s: Postfix's policy client waits 100 s, but a check has its own deadline
  maxTtlSeconds: 3_600, // 1 h
  negativeTtlSeconds: 60, // 1 min: a newly listed address or a new domain is seen soon
  defaultTtlSeconds: 300, // 5 min
  cacheSize: 10_000, // entries (a few MB at most)
});

/**
 * The outcome of one query. `nxdomain`: the name does not exist; `nodata`: it exists but has no
 * record of this type; `error`: a temporary failure (timeout, SERVFAIL, REFUSED, network error…)
 * with c-ares's code (`ETIMEOUT`, `ESERVFAIL`, `EREFUSED`, `ECONNREFUSED`, …) — never a reason for a
 * permanent rejection. `ttl`: seconds the answer may be reused: the record TTL (A, AAAA) or
 * defaultTtlSeconds (MX, PTR, TXT), bounded by maxTtlSeconds; for an answer from the cache, the
 * seconds it has left there. `cached`: the answer came from the cache.
 */
export type DnsAnswer<T> =
  | { status: 'ok'; records: T[]; ttl: number; cached: boolean }
  | { status: 'nxdomain'; cached: boolean }
  | { status: 'nodata'; cached: boolean }
  | { status: 'error'; code: string };

export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'PTR' | 'TXT';

/** Counters since the resolver was created (for logs and metrics). */
export interface DnsStats {
  /** Queries sent (each may be retried on the network). */
  queries: number;
  /** Truncated UDP answers asked again over TCP. */
  tcpRetries: number;
  /** Answers served from the cache. */
  cacheHits: number;
  /** Callers that waited for an identical query already in flight instead of sending their own. */
  dedupedWaits: number;
  /** Temporary failures by code (`ETIMEOUT`, `ESERVFAIL`, `EREFUSED`, `ECONNREFUSED`, …). */
  failures: Record<string, number>;
  /** Answers in the cache now (expired ones included until they are next looked at). */
  cacheEntries: number;
}

/** Extra knobs for tests. */
export interface DnsResolverInternals {
  /** Milliseconds clock for cache expiry (default: performance.now). */
  now?: () => number;
}

/** An MX answer with exactly one record of exchange "." (c-ares reports it as ''): RFC 7505, "no mail". */
export function isNullMx(records: readonly MxRecord[]): boolean {
  return records.length === 1 && (records[0]!.exchange === '' || records[0]!.exchange === '.');
}

/** Node's c-ares query of a type, for the TCP retry of a truncated answer. */
type CaresQuery = (name: string) => Promise<{ records: unknown[]; ttlSeconds: number | undefined }>;

type Stored =
  | { status: 'ok'; records: unknown[] }
  | { status: 'nxdomain' }
  | { status: 'nodata' };

interface CacheEntry {
  expiresAt: number;
  stored: Stored;
}

/**
 * Query outcome before caching: a Stored plus the TTL the server gave (seconds), if it gave one:
 * the smallest record TTL, or for NXDOMAIN and NODATA the SOA's negative-caching time.
 */
type Fetched = { stored: Stored; ttlSeconds: number | undefined } | { error: string };

const NXDOMAIN_CODES = new Set(['ENOTFOUND']);
const NODATA_CODES = new Set(['ENODATA']);

/** c-ares tries per query (one retry), for TCP retries; the hard deadline bounds them all together. */
const CARES_TRIES = 2;

/** Lower-cased, without the final dot. */
function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? code : 'EUNKNOWN';
}

export class DnsResolver {
  private readonly options: DnsResolverOptions;
  private readonly transport: UdpDnsTransport;
  /** c-ares, for answers too large for UDP (it asks again over TCP). */
  private readonly resolver: Resolver;
  private readonly now: () => number;
  private readonly cache: LruCache<string, CacheEntry> | undefined;
  private readonly inFlight = new Map<string, Promise<DnsAnswer<unknown>>>();
  private readonly counters = { queries: 0, tcpRetries: 0, cacheHits: 0, dedupedWaits: 0 };
  private readonly caresQueries: Record<DnsRecordType, CaresQuery>;
  private readonly failures = new Map<string, number>();

  /** Throws (at construction only) when a server address or an option is invalid. */
  constructor(options: Partial<DnsResolverOptions> = {}, internals: DnsResolverInternals = {}) {
    // Keys given as undefined keep their default.
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = { ...DNS_RESOLVER_DEFAULTS, ...given };
    this.options.servers = [...this.options.servers];
    const { timeoutMs, maxTtlSeconds, negativeTtlSeconds, defaultTtlSeconds, cacheSize } = this.options;
    for (const [key, value] of Object.entries({ timeoutMs, maxTtlSeconds, negativeTtlSeconds, defaultTtlSeconds, cacheSize })) {
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`DnsResolver: ${key} must be a number >= 0, got ${value}`);
    }
    if (timeoutMs < 1) throw new RangeError('DnsResolver: timeoutMs must be at least 1');
    this.now = internals.now ?? (() => performance.now());
    // c-ares's own timer per try, a quarter of the deadline: the retry (or the next server) starts
    // before half-way. c-ares 1.34 rounds short timers up (it waited 200-300 ms per try for 15 ms,
    // measured), so below ~600 ms only the first try happens; our own timer ends the query at the
    // deadline whatever c-ares does.
    this.resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 4)), tries: CARES_TRIES });
    if (this.options.servers.length > 0) this.resolver.setServers(this.options.servers);
    // The system's servers are those c-ares read from /etc/resolv.conf (127.0.0.1 when none).
    const servers = this.options.servers.length > 0 ? this.options.servers : getServers();
    this.transport = new UdpDnsTransport((servers.length > 0 ? servers : ['127.0.0.1']).map(parseServerAddress), timeoutMs);
    this.cache = cacheSize > 0 ? new LruCache(cacheSize) : undefined;
    const withTtl = (records: RecordWithTtl[]) => ({ records: records.map((r) => r.address), ttlSeconds: minTtl(records) });
    this.caresQueries = {
      A: async (n) => withTtl(await this.resolver.resolve4(n, { ttl: true })),
      AAAA: async (n) => withTtl(await this.resolver.resolve6(n, { ttl: true })),
      MX: async (n) => ({ records: await this.resolver.resolveMx(n), ttlSeconds: undefined }),
      TXT: async (n) => ({ records: await this.resolver.resolveTxt(n), ttlSeconds: undefined }),
      PTR: async (n) => ({ records: await this.resolver.resolvePtr(n), ttlSeconds: undefined }),
    };
  }

  /** The options in force (defaults filled in). */
  get settings(): Readonly<DnsResolverOptions> {
    return this.options;
  }

  /** IPv4 addresses of `name`. */
  a(name: string): Promise<DnsAnswer<string>> {
    return this.lookup('A', name);
  }

  /** IPv6 addresses of `name`. */
  aaaa(name: string): Promise<DnsAnswer<string>> {
    return this.lookup('AAAA', name);
  }

  /** MX records of `name`, as the server gave them (see isNullMx for RFC 7505). */
  mx(name: string): Promise<DnsAnswer<MxRecord>> {
    return this.lookup('MX', name);
  }

  /** TXT records of `name`, each as its character-strings (join them with '' for the text). */
  txt(name: string): Promise<DnsAnswer<string[]>> {
    return this.lookup('TXT', name);
  }

  /** PTR names of an IPv4 or IPv6 address (queried as in-addr.arpa / ip6.arpa; /etc/hosts is never read). */
  ptr(ip: string): Promise<DnsAnswer<string>> {
    const name = ptrName(ip);
    if (name === undefined) {
      this.countFailure('EBADIP');
      return Promise.resolve({ status: 'error', code: 'EBADIP' });
    }
    return this.lookup('PTR', name);
  }

  /** A copy of the counters. */
  stats(): DnsStats {
    return { ...this.counters, failures: Object.fromEntries(this.failures), cacheEntries: this.cache?.size ?? 0 };
  }

  /** Forgets every cached answer (queries in flight are not affected). */
  clearCache(): void {
    this.cache?.clear();
  }

  /** Cancels the queries in flight: their callers get status 'error', code 'ECANCELLED'. For shutdown. */
  cancel(): void {
    this.transport.cancel();
    this.resolver.cancel();
  }

  private countFailure(code: string): void {
    this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
  }

  private lookup<T>(type: DnsRecordType, rawName: string): Promise<DnsAnswer<T>> {
    const name = typeof rawName === 'string' ? normaliseName(rawName) : '';
    if (name === '' || name.length > 253) {
      this.countFailure('EBADNAME');
      return Promise.resolve({ status: 'error', code: 'EBADNAME' });
    }
    const key = `${type} ${name}`;

    const cached = this.fromCache<T>(key);
    if (cached) {
      this.counters.cacheHits++;
      return Promise.resolve(cached);
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.counters.dedupedWaits++;
      return pending.then(copyAnswer) as Promise<DnsAnswer<T>>;
    }
    this.counters.queries++;
    const promise = this.transport.query(name, type).then((outcome) => this.settle<T>(key, this.fetched(type, name, outcome)));
    this.inFlight.set(key, promise as Promise<DnsAnswer<unknown>>);
    // The entry goes once the query settled (the deadline included): later callers query again.
    void promise.then(() => this.inFlight.delete(key));
    return promise.then(copyAnswer);
  }

  /** A UDP outcome as a Fetched; a truncated answer is asked again over TCP. */
  private fetched(type: DnsRecordType, name: string, outcome: UdpOutcome): Fetched | Promise<Fetched> {
    switch (outcome.kind) {
      case 'ok':
        return outcome.records.length > 0
          ? { stored: { status: 'ok', records: outcome.records }, ttlSeconds: outcome.ttl }
          : { stored: { status: 'nodata' }, ttlSeconds: outcome.negativeTtl };
      case 'nxdomain':
        return { stored: { status: 'nxdomain' }, ttlSeconds: outcome.negativeTtl };
      case 'error':
        return { error: outcome.code };
      case 'truncated':
        this.counters.tcpRetries++;
        return this.overTcp(name, this.caresQueries[type]);
    }
  }

  /** One query through c-ares (which uses TCP after a truncated answer), under the hard deadline; never rejects. */
  private overTcp(name: string, query: CaresQuery): Promise<Fetched> {
    return new Promise<Fetched>((resolve) => {
      const timer = setTimeout(() => resolve({ error: 'ETIMEOUT' }), this.options.timeoutMs);
      const finish = (fetched: Fetched) => {
        clearTimeout(timer);
        resolve(fetched);
      };
      let started: ReturnType<CaresQuery>;
      try {
        started = query(name);
      } catch (error) {
        finish({ error: errorCode(error) });
        return;
      }
      started.then(
        ({ records, ttlSeconds }) =>
          finish(records.length > 0 ? { stored: { status: 'ok', records }, ttlSeconds } : { stored: { status: 'nodata' }, ttlSeconds: undefined }),
        (error: unknown) => {
          const code = errorCode(error);
          if (NXDOMAIN_CODES.has(code)) finish({ stored: { status: 'nxdomain' }, ttlSeconds: undefined });
          else if (NODATA_CODES.has(code)) finish({ stored: { status: 'nodata' }, ttlSeconds: undefined });
          else finish({ error: code });
        },
      );
    });
  }

  /** Counts, caches and shapes a fetched result. */
  private settle<T>(key: string, fetchedOrPending: Fetched | Promise<Fetched>): DnsAnswer<T> | Promise<DnsAnswer<T>> {
    if (fetchedOrPending instanceof Promise) return fetchedOrPending.then((fetched) => this.settle<T>(key, fetched));
    const fetched = fetchedOrPending;
    if ('error' in fetched) {
      this.countFailure(fetched.error);
      return { status: 'error', code: fetched.error };
    }
    const { stored } = fetched;
    const ttl =
      stored.status === 'ok'
        ? Math.min(fetched.ttlSeconds ?? this.options.defaultTtlSeconds, this.options.maxTtlSeconds)
        : Math.min(fetched.ttlSeconds ?? this.options.negativeTtlSeconds, this.options.negativeTtlSeconds);
    const seconds = Math.max(0, Math.floor(ttl));
    if (seconds > 0 && this.cache) this.cache.set(key, { expiresAt: this.now() + seconds * 1000, stored });
    return shape<T>(stored, seconds, false);
  }

  private fromCache<T>(key: string): DnsAnswer<T> | undefined {
    const entry = this.cache?.get(key);
    if (!entry) return undefined;
    const remainingMs = entry.expiresAt - this.now();
    if (remainingMs <= 0) {
      this.cache!.delete(key);
      return undefined;
    }
    return shape<T>(entry.stored, Math.ceil(remainingMs / 1000), true);
  }
}

function shape<T>(stored: Stored, ttl: number, cached: boolean): DnsAnswer<T> {
  if (stored.status === 'ok') return { status: 'ok', records: stored.records.slice() as T[], ttl, cached };
  return { status: stored.status, cached };
}

/** Each caller gets its own records array, so that one caller's changes cannot reach another. */
function copyAnswer<T>(answer: DnsAnswer<T>): DnsAnswer<T> {
  return answer.status === 'ok' ? { ...answer, records: answer.records.slice() } : { ...answer };
}

/** The smallest TTL of a record set, in seconds (undefined when none is reported). */
function minTtl(records: readonly RecordWithTtl[]): number | undefined {
  let min: number | undefined;
  for (const record of records) if (typeof record.ttl === 'number' && (min === undefined || record.ttl < min)) min = record.ttl;
  return min;
}
