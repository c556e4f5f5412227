// `rempart store copy --from STORE --to STORE`: copies a whole store into another (src/store/copy.ts),
// so a single host's SQLite store moves to the Redis a cluster shares (or back, or between two of a
// kind) without losing its greylist, lists, bans, strikes, valid recipients, Bayes training or
// history. A STORE is `sqlite:DIR` (the directory holding rempart.db, like store.path), a
// redis:// or rediss:// URL (with --from-prefix/--to-prefix for the key prefix, default
// `rempart:`), or `config`: the store the configuration names (for a Sentinel or Cluster Redis).
// The destination must be empty unless --force; --dry-run only counts. Best run with the daemons
// stopped: entries changed during the copy may be missed. Exit codes: 0 copied, 1 a store failed
// (unreachable, an error part-way), 2 the command line was wrong or the destination is not empty.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadConfigOrExit, CommandFailure, parseCommandArgs, UsageError } from './common.js';
import { parseConfigText } from '../config/loader.js';
import type { Config } from '../config/schema.js';
import { COPY_PARTS, CopyError, copyStore, nonEmptyParts, type CopyPart, type CopyReport } from '../store/copy.js';
import { redactedUrl, type RedisSettings } from '../store/redis/connection.js';
import { RedisStore } from '../store/redis/store.js';
import { DATABASE_FILE } from '../store/sqlite/database.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { Store } from '../store/types.js';

export const storeCopyUsage = `rempart store copy --from STORE --to STORE [--from-prefix PREFIX] [--to-prefix PREFIX]
                  [--config FILE] [--no-history] [--dry-run] [--force]
                                         copy a whole store into another (STORE: sqlite:DIR, a redis://
                                         or rediss:// URL, or config: the configured store); the
                                         destination must be empty unless --force; --dry-run only counts`;

/** Deadline of one store operation during a copy, ms: generous, nothing waits for a copy's answer. */
const COPY_OPERATION_TIMEOUT_MS = 30_000;
/** The longest a closing store may take before its connection is cut, ms. */
const CLOSE_TIMEOUT_MS = 5000;
/** Progress redraws on a terminal at most this often, ms; elsewhere a line at most every PROGRESS_LINE_MS. */
const PROGRESS_REDRAW_MS = 100;
const PROGRESS_LINE_MS = 10_000;
const DEFAULT_PREFIX = 'rempart:';

type Endpoint =
  | { kind: 'sqlite'; directory: string }
  | { kind: 'redis'; settings: RedisSettings; timeoutMs: number };

type Role = 'source' | 'destination';

/** The store an endpoint names, described for messages (the password of a URL hidden). */
function describeEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'sqlite') return `sqlite ${join(endpoint.directory, DATABASE_FILE)}`;
  const { settings } = endpoint;
  const where =
    settings.cluster.length > 0
      ? `redis cluster ${settings.cluster.join(',')}`
      : settings.sentinels.length > 0
        ? `redis sentinel ${settings.sentinel_name}@${settings.sentinels.join(',')}`
        : `redis ${redactedUrl(settings.url)}`;
  return `${where} prefix ${settings.prefix}`;
}

/** Where a Redis endpoint's keys live: its servers, database number and prefix (no credentials). */
function redisTarget(settings: RedisSettings): string {
  const url = new URL(settings.url);
  const db = Number(url.pathname.replace(/^\//, '') || '0');
  const servers =
    settings.cluster.length > 0 ? `cluster ${settings.cluster.join(',')}` : settings.sentinels.length > 0 ? `sentinel ${settings.sentinel_name}@${settings.sentinels.join(',')}` : `${url.hostname}:${url.port || 6379}`;
  return `${servers} db ${settings.cluster.length > 0 ? 0 : db} prefix ${settings.prefix}`;
}

/** Two endpoints naming the same data. */
function sameStore(a: Endpoint, b: Endpoint): boolean {
  if (a.kind === 'sqlite' && b.kind === 'sqlite') return a.directory === b.directory;
  if (a.kind === 'redis' && b.kind === 'redis') return redisTarget(a.settings) === redisTarget(b.settings);
  return false;
}

interface EndpointContext {
  /** The configuration, loaded on first use (--config, else $REMPART_CONFIG or the default file). */
  config: () => Config;
  /** Whether --config was given (its Redis timeouts then apply to URL endpoints too). */
  configGiven: boolean;
}

function parseEndpoint(text: string, prefix: string | undefined, option: string, context: EndpointContext): Endpoint {
  if (prefix !== undefined && prefix.length > 64) throw new UsageError(`--${option}-prefix: at most 64 characters`);
  if (text === 'config') {
    const { store } = context.config();
    if (store.backend === 'sqlite') {
      if (prefix !== undefined) throw new UsageError(`--${option}-prefix: the configured store is SQLite, which has no key prefix`);
      return { kind: 'sqlite', directory: resolve(store.path) };
    }
    return { kind: 'redis', settings: { ...store.redis, prefix: prefix ?? store.redis.prefix }, timeoutMs: Math.max(store.timeout * 1000, COPY_OPERATION_TIMEOUT_MS) };
  }
  if (text.startsWith('sqlite:')) {
    if (prefix !== undefined) throw new UsageError(`--${option}-prefix applies to a Redis store only`);
    let path = text.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new UsageError(`--${option} sqlite: needs the directory of the store, e.g. sqlite:/var/lib/rempart`);
    let directory = resolve(path);
    // The database file itself names its directory.
    if (basename(directory) === DATABASE_FILE && existsSync(directory) && statSync(directory).isFile()) directory = dirname(directory);
    return { kind: 'sqlite', directory };
  }
  if (/^rediss?:\/\//.test(text)) {
    try {
      new URL(text);
    } catch {
      throw new UsageError(`--${option} ${redactedUrl(text)}: not a valid URL`);
    }
    if (/\s/.test(text)) throw new UsageError(`--${option}: a URL has no spaces`);
    // A URL names one server: the defaults (or --config's timeouts) without sentinels or cluster.
    const base = context.configGiven ? context.config().store : parseConfigText('', 'store copy').store;
    return {
      kind: 'redis',
      settings: { ...base.redis, url: text, prefix: prefix ?? DEFAULT_PREFIX, sentinels: [], cluster: [] },
      timeoutMs: Math.max(base.timeout * 1000, COPY_OPERATION_TIMEOUT_MS),
    };
  }
  throw new UsageError(`--${option} ${JSON.stringify(text)}: expected sqlite:DIR, a redis:// or rediss:// URL, or config`);
}

/** A Redis store waited for until connected, or a CommandFailure saying it cannot be reached. */
async function openRedis(endpoint: Extract<Endpoint, { kind: 'redis' }>, role: Role, onBackgroundError: (error: unknown) => void): Promise<Store> {
  const store = new RedisStore({ settings: endpoint.settings, commandTimeoutMs: endpoint.timeoutMs, waitForConnection: true, onBackgroundError });
  try {
    await store.ready(endpoint.settings.connect_timeout * 1000);
  } catch (error) {
    // Nothing to flush: cut the connection attempts at once.
    store.connection.client.disconnect();
    await closeStore(store);
    throw new CommandFailure(`cannot reach the ${role} (${describeEndpoint(endpoint)}): ${(error as Error).message}`);
  }
  return store;
}

/**
 * Opens an endpoint's store. A SQLite source must exist; a SQLite destination is created, except
 * in a dry run, where a missing one is left missing (undefined: nothing there yet). Writes that
 * fail in the background (batched SQLite commits, history batches) go to `onBackgroundError`.
 */
async function openEndpoint(endpoint: Endpoint, role: Role, dryRun: boolean, onBackgroundError: (error: unknown) => void): Promise<Store | undefined> {
  if (endpoint.kind === 'redis') return openRedis(endpoint, role, onBackgroundError);
  const exists = existsSync(join(endpoint.directory, DATABASE_FILE));
  if (!exists && role === 'source') throw new CommandFailure(`no SQLite store at ${endpoint.directory} (no ${DATABASE_FILE} there)`);
  if (!exists && dryRun) return undefined;
  try {
    return new SqliteStore(endpoint.directory, COPY_OPERATION_TIMEOUT_MS, onBackgroundError);
  } catch (error) {
    throw new CommandFailure(`cannot open the ${role} (${describeEndpoint(endpoint)}): ${(error as Error).message}`);
  }
}

/** Closes a store, cutting a Redis connection that does not close in time (an unreachable server). */
async function closeStore(store: Store): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS)));
  try {
    await Promise.race([store.close(), timedOut]);
  } finally {
    clearTimeout(timer);
    if (store instanceof RedisStore) store.connection.client.disconnect();
  }
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The summary line of one part. */
export function partLine(part: CopyPart, report: Partial<CopyReport>): string {
  const expired = (n: number): string => (n > 0 ? `; ${n} expired left behind` : '');
  switch (part) {
    case 'greylist': {
      const r = report.greylist!;
      return `greylist: ${plural(r.triplets, 'triplet')}, ${plural(r.clients, 'client')}${expired(r.expired)}`;
    }
    case 'lists': {
      const r = report.lists!;
      return `lists: ${plural(r.entries, 'entry', 'entries')}${expired(r.expired)}`;
    }
    case 'recipients':
      return `recipients: ${plural(report.recipients!.entries, 'entry', 'entries')}`;
    case 'bans':
      return `bans: ${plural(report.bans!.bans, 'ban')}`;
    case 'strikes': {
      const r = report.strikes!;
      return `strikes: ${plural(r.strikes, 'strike')} in ${plural(r.tallies, 'tally', 'tallies')}${expired(r.expired)}`;
    }
    case 'bayes': {
      const r = report.bayes!;
      return `bayes: ${plural(r.scopes, 'database')}, ${plural(r.tokens, 'token')}, ${r.spamMessages} spam and ${r.hamMessages} ham ${r.spamMessages + r.hamMessages === 1 ? 'message' : 'messages'}, ${plural(r.digests, 'digest')}`;
    }
    case 'history':
      return report.history ? `history: ${plural(report.history.records, 'record')}` : 'history: not copied (--no-history)';
  }
}

/** Shows how far a part got on stderr: a redrawn line on a terminal, an occasional line elsewhere. */
class Progress {
  private last = 0;
  private drawn = false;
  private readonly tty = process.stderr.isTTY === true;

  update(part: CopyPart, done: number): void {
    const now = performance.now();
    if (now - this.last < (this.tty ? PROGRESS_REDRAW_MS : PROGRESS_LINE_MS)) return;
    if (!this.tty && this.last === 0) {
      // The first line elsewhere only after PROGRESS_LINE_MS: small copies print none.
      this.last = now;
      return;
    }
    this.last = now;
    if (this.tty) {
      process.stderr.write(`\r${part}: ${done} so far...   `);
      this.drawn = true;
    } else {
      process.stderr.write(`${part}: ${done} so far...\n`);
    }
  }

  /** Clears the redrawn line (a part is done). */
  clear(): void {
    if (this.drawn) process.stderr.write(`\r${' '.repeat(60)}\r`);
    this.drawn = false;
  }
}

export async function storeCopy(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      config: { type: 'string', short: 'c' },
      from: { type: 'string' },
      to: { type: 'string' },
      'from-prefix': { type: 'string' },
      'to-prefix': { type: 'string' },
      'no-history': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      force: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length > 0) throw new UsageError(`store copy takes no arguments but options\n${storeCopyUsage}`);
  if (values.from === undefined || values.to === undefined) throw new UsageError(`store copy needs --from and --to\n${storeCopyUsage}`);
  let config: Config | undefined;
  const context: EndpointContext = { config: () => (config ??= loadConfigOrExit(values.config).config), configGiven: values.config !== undefined };
  const from = parseEndpoint(values.from, values['from-prefix'], 'from', context);
  const to = parseEndpoint(values.to, values['to-prefix'], 'to', context);
  if (sameStore(from, to)) throw new UsageError(`--from and --to name the same store (${describeEndpoint(from)})`);
  const dryRun = values['dry-run'] === true;
  const now = Math.floor(Date.now() / 1000);

  const opened: Store[] = [];
  // Writes the destination reports failed after the call that queued them returned.
  const failedWrites: string[] = [];
  const ignore = (): void => {};
  try {
    const source = (await openEndpoint(from, 'source', dryRun, ignore))!;
    opened.push(source);
    const destination = await openEndpoint(to, 'destination', dryRun, (error) => failedWrites.push((error as Error)?.message ?? String(error)));
    if (destination) opened.push(destination);

    if (destination) {
      const filled = await nonEmptyParts(destination, now).catch((error: unknown) => {
        throw new CommandFailure(`cannot read the destination (${describeEndpoint(to)}): ${(error as Error).message}`);
      });
      if (filled.length > 0 && !values.force) {
        process.stderr.write(
          `rempart: the destination (${describeEndpoint(to)}) is not empty: it holds ${filled.join(', ')}; ` +
            `a copy would mix its entries with the source's. Copy into an empty store, or add --force to copy into it anyway\n`,
        );
        return 2;
      }
      if (filled.length > 0) process.stderr.write(`rempart: the destination is not empty (${filled.join(', ')}); copying into it (--force)\n`);
    }

    process.stdout.write(
      dryRun
        ? `dry run: counting what a copy from ${describeEndpoint(from)} to ${describeEndpoint(to)} would copy; nothing is written\n`
        : `copying ${describeEndpoint(from)} to ${describeEndpoint(to)}\n`,
    );
    const started = performance.now();
    const progress = new Progress();
    try {
      await copyStore(source, dryRun ? undefined : destination, {
        now,
        history: values['no-history'] !== true,
        onProgress: (part, done) => progress.update(part, done),
        onPartDone: (part, report) => {
          progress.clear();
          process.stdout.write(`${partLine(part, report)}\n`);
        },
      });
    } catch (error) {
      progress.clear();
      if (!(error instanceof CopyError)) throw error;
      const done = COPY_PARTS.slice(0, COPY_PARTS.indexOf(error.part));
      throw new CommandFailure(
        `copying failed at ${error.message}` +
          (dryRun ? '' : `\nthe destination holds a partial copy${done.length > 0 ? ` (${done.join(', ')} done)` : ''}`),
      );
    }
    if (values['no-history']) process.stdout.write(`${partLine('history', {})}\n`);
    if (destination && !dryRun) {
      // Closing commits what the destination still queues (history batches, SQLite writes).
      opened.splice(opened.indexOf(destination), 1);
      await destination.close().catch((error: unknown) => {
        throw new CommandFailure(`finishing the copy into the destination (${describeEndpoint(to)}) failed: ${(error as Error).message}`);
      });
    }
    if (failedWrites.length > 0) {
      throw new CommandFailure(
        `${plural(failedWrites.length, 'write')} into the destination failed, so it misses entries: ${failedWrites[0]}` +
          (failedWrites.length > 1 ? ` (and ${failedWrites.length - 1} more)` : ''),
      );
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(dryRun ? `dry run done in ${seconds} s: nothing written\n` : `copied in ${seconds} s\n`);
    return 0;
  } finally {
    for (const store of opened.reverse()) await closeStore(store).catch(() => {});
  }
}
