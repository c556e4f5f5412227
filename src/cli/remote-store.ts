// The parts of the store (src/store/types.ts) that the allow, block, bans, greylist, learn and bayes
// commands use, over a running daemon's HTTP API (docs/api.md), so that each command only chooses
// where its store comes from: `remote ? remoteStore(remote) : openStore(config.store)`. What the
// API cannot do (learning pre-tokenized messages, importing counts, the daemon's own bookkeeping)
// throws an Error saying it is not available through --url.
import { parseListValue } from '../lists/entry.js';
import type {
  Ban,
  BanStore,
  BayesClass,
  BayesCounts,
  BayesStore,
  BayesWarmOutcome,
  ClientRow,
  GreylistStats,
  GreylistStore,
  LearnOutcome,
  ListEntry,
  ListEntryInput,
  ListFilter,
  ListSelector,
  ListStore,
  Store,
  TripletFilter,
  TripletRow,
} from '../store/types.js';
import { CommandFailure } from './common.js';
import { isNotFound, type RemoteApi } from './remote.js';

/** What the commands need of a store: the local SQLite store and the remote one both are one. */
export type CommandStore = Pick<Store, 'lists' | 'bans' | 'greylist' | 'bayes' | 'close'>;

/** Rows asked for per request when a command wants more (the API's largest page is 1000, its default 100). */
const PAGE = 500;

const unavailable = (what: string): Promise<never> =>
  Promise.reject(new CommandFailure(`${what} is not available through --url: run the command on the daemon's host, without --url`));

/** An expiry time (seconds, 0 = never) as the API's `expires` and `duration` take it: `never` or an ISO 8601 time. */
export function expiryText(expiresAt: number): string {
  return expiresAt === 0 ? 'never' : new Date(expiresAt * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The rows `limit` and `offset` select (every row from `offset` on when `limit` is absent, as the
 * local store gives them), read in pages of at most PAGE rows.
 */
async function paged<T>(limit: number | undefined, offset: number | undefined, page: (limit: number, offset: number) => Promise<T[]>): Promise<T[]> {
  const rows: T[] = [];
  let at = offset ?? 0;
  for (;;) {
    const wanted = limit === undefined ? PAGE : Math.min(PAGE, limit - rows.length);
    if (wanted <= 0) return rows;
    const batch = await page(wanted, at);
    rows.push(...batch);
    at += batch.length;
    if (batch.length < wanted) return rows;
  }
}

class RemoteLists implements ListStore {
  readonly localChanges = 0;

  constructor(private readonly api: RemoteApi) {}

  version(): Promise<number> {
    return unavailable('the list version');
  }

  /** One POST per entry, in order (so new entries are numbered as locally). */
  async put(entries: ListEntryInput[]): Promise<{ entry: ListEntry; created: boolean }[]> {
    const stored: { entry: ListEntry; created: boolean }[] = [];
    for (const input of entries) {
      const answer = await this.api.request<{ entry: ListEntry; created: boolean }>('POST', '/api/lists', {
        json: {
          kind: input.kind,
          value: input.value,
          scope: input.scope,
          reason: input.reason,
          comment: input.comment,
          expires: expiryText(input.expiresAt),
          by: input.addedBy,
        },
      });
      stored.push({ entry: answer.entry, created: answer.created });
    }
    return stored;
  }

  async remove(selector: ListSelector): Promise<number> {
    let id: number;
    if ('id' in selector) id = selector.id;
    else {
      const parsed = parseListValue(selector.value);
      if (typeof parsed === 'string') throw new CommandFailure(`${selector.value}: ${parsed}`);
      const candidates = await this.list({ kind: selector.kind, scope: selector.scope, search: parsed.value });
      const found = candidates.find((entry) => entry.value === parsed.value && entry.scope === selector.scope);
      if (!found) return 0;
      id = found.id;
    }
    try {
      const answer = await this.api.request<{ removed: number }>('DELETE', `/api/lists/${encodeURIComponent(selector.kind)}/${id}`);
      return answer.removed;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  list(filter: ListFilter): Promise<ListEntry[]> {
    return paged(filter.limit, filter.offset, async (limit, offset) => {
      const query = { kind: filter.kind, scope: filter.scope, search: filter.search, limit, offset };
      return (await this.api.request<{ entries: ListEntry[] }>('GET', '/api/lists', { query })).entries;
    });
  }

  active(): Promise<ListEntry[]> {
    return unavailable('the active entries');
  }
}

class RemoteBans implements BanStore {
  readonly localChanges = 0;

  constructor(private readonly api: RemoteApi) {}

  version(): Promise<number> {
    return unavailable('the ban version');
  }

  /** The daemon records every ban made through the API as a manual one. */
  async ban(ban: Ban): Promise<Ban> {
    const answer = await this.api.request<{ ban: Ban }>('POST', '/api/bans', { json: { network: ban.network, reason: ban.reason, duration: expiryText(ban.expiresAt) } });
    return answer.ban;
  }

  async lift(network: string): Promise<number> {
    try {
      const answer = await this.api.request<{ removed: number }>('DELETE', `/api/bans/${encodeURIComponent(network)}`);
      return answer.removed;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  takeLocalLifts(): string[] {
    return [];
  }

  takeLocalBans(): Ban[] {
    return [];
  }

  /** The daemon's clock decides what has expired; `now` is not sent. */
  list(filter: { now: number; includeExpired?: boolean; search?: string; limit?: number; offset?: number }): Promise<Ban[]> {
    return paged(filter.limit, filter.offset, async (limit, offset) => {
      const query = { search: filter.search, expired: filter.includeExpired ? true : undefined, limit, offset };
      return (await this.api.request<{ bans: Ban[] }>('GET', '/api/bans', { query })).bans;
    });
  }

  active(now: number): Promise<Ban[]> {
    return this.list({ now });
  }
}

/** What POST /api/greylist/flush removed. */
export interface FlushResult {
  removed: number;
  removedClients: number;
}

export class RemoteGreylist implements GreylistStore {
  constructor(private readonly api: RemoteApi) {}

  updateTriplet(): Promise<never> {
    return unavailable('updating a triplet');
  }

  updateClient(): Promise<never> {
    return unavailable('updating a client');
  }

  updateClientThenTriplet(): Promise<never> {
    return unavailable('updating a client and a triplet');
  }

  listTriplets(filter: TripletFilter): Promise<TripletRow[]> {
    return paged(filter.limit, filter.offset, async (limit, offset) => {
      const query = { search: filter.search, waiting: filter.waiting, limit, offset };
      return (await this.api.request<{ triplets: TripletRow[] }>('GET', '/api/greylist', { query })).triplets;
    });
  }

  listClients(limit: number, offset: number): Promise<ClientRow[]> {
    return paged(limit, offset, async (limit, offset) => (await this.api.request<{ clients: ClientRow[] }>('GET', '/api/greylist/clients', { query: { limit, offset } })).clients);
  }

  /** Triplets matching `search` (all when absent) and, with `clients`, the auto-allow tallies too: one request. */
  flush(search: string | undefined, clients: boolean): Promise<FlushResult> {
    return this.api.request<FlushResult>('POST', '/api/greylist/flush', { json: { ...(search !== undefined ? { search } : {}), ...(clients ? { clients: true } : {}) } });
  }

  async flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number> {
    return (await this.flush(filter.search, false)).removed;
  }

  async deleteTriplet(key: string): Promise<number> {
    try {
      return (await this.api.request<{ removed: number }>('DELETE', `/api/greylist/${encodeURIComponent(key)}`)).removed;
    } catch (error) {
      if (isNotFound(error)) return 0;
      throw error;
    }
  }

  /** The API forgets the tallies only together with triplets: use flush(search, true). */
  flushClients(): Promise<number> {
    return unavailable('forgetting the auto-allow clients alone');
  }

  /** The daemon's own threshold (greylist.auto_allow_clients) counts, not the one given. */
  async stats(): Promise<GreylistStats> {
    const { triplets, waiting, passed, clients, autoAllowed } = await this.api.request<GreylistStats>('GET', '/api/greylist/stats');
    return { triplets, waiting, passed, clients, autoAllowed };
  }
}

/** GET /api/bayes. */
interface BayesAnswer {
  minMessages: number;
  ready: boolean;
  scopes: ({ scope: string } & BayesCounts)[];
}

/** What POST /api/bayes/learn did with the messages of one upload. */
export interface RemoteLearnResult {
  messages: number;
  outcomes: Partial<Record<LearnOutcome, number>>;
}

export class RemoteBayes implements BayesStore {
  /** The last GET /api/bayes, until something is learned. */
  private databases: Promise<BayesAnswer> | undefined;

  constructor(private readonly api: RemoteApi) {}

  private overview(): Promise<BayesAnswer> {
    this.databases ??= this.api.request<BayesAnswer>('GET', '/api/bayes').catch((error: unknown) => {
      this.databases = undefined;
      throw error;
    });
    return this.databases;
  }

  async counts(scope: string): Promise<BayesCounts> {
    const found = (await this.overview()).scopes.find((row) => row.scope === scope);
    return { spamMessages: found?.spamMessages ?? 0, hamMessages: found?.hamMessages ?? 0, tokens: found?.tokens ?? 0 };
  }

  /** As the store says it: the global database only when it holds anything. */
  async scopes(): Promise<string[]> {
    return (await this.overview()).scopes.filter((row) => row.scope !== '' || row.spamMessages + row.hamMessages + row.tokens > 0).map((row) => row.scope);
  }

  lookup(): Promise<never> {
    return unavailable('looking tokens up');
  }

  /** The daemon readies its own store; nothing to do through its API. */
  async warm(): Promise<BayesWarmOutcome> {
    return { heldTokens: 0, reason: 'the daemon holds its own' };
  }

  /** The API learns raw messages, not tokens: see learnRaw. */
  learn(): Promise<never> {
    return unavailable('learning tokens');
  }

  /** Learns (or forgets) one raw message, parsed and tokenized by the daemon. */
  learnRaw(scope: string, kind: BayesClass, unlearn: boolean, raw: Uint8Array): Promise<RemoteLearnResult> {
    this.databases = undefined;
    return this.api.request<RemoteLearnResult>('POST', '/api/bayes/learn', {
      query: { class: kind, unlearn: unlearn ? true : undefined, scope: scope === '' ? undefined : scope },
      body: raw,
      contentType: 'message/rfc822',
    });
  }

  importCounts(): Promise<never> {
    return unavailable('importing counts (learn --import-bogofilter)');
  }

  dump(): Promise<never> {
    return unavailable('reading a whole token database (store copy)');
  }

  importDigests(): Promise<never> {
    return unavailable('importing learned digests (store copy)');
  }
}

export interface RemoteStore extends CommandStore {
  readonly lists: ListStore;
  readonly bans: BanStore;
  readonly greylist: RemoteGreylist;
  readonly bayes: RemoteBayes;
  readonly api: RemoteApi;
}

/** The store of the daemon behind `api`. */
export function remoteStore(api: RemoteApi): RemoteStore {
  return {
    api,
    lists: new RemoteLists(api),
    bans: new RemoteBans(api),
    greylist: new RemoteGreylist(api),
    bayes: new RemoteBayes(api),
    close: async () => {},
  };
}
