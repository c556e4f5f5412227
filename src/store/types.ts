// The storage interfaces every backend implements (SQLite, the embedded default; Redis for clusters).
// conformance.test.ts runs one suite of their contract against both.
// Semantics are kept Redis-friendly: each update is an atomic read-modify-write of one key with a
// pure update function, and every entry carries an expiry time (a TTL in Redis).
import type { ResultRecord } from '../core/result.js';

/** A greylist triplet's timing, in whole seconds since the epoch. */
export interface TripletState {
  firstSeen: number;
  /** Refreshed at most once an hour once the triplet has passed (KNOWN_REFRESH_INTERVAL). */
  lastSeen: number;
  /** Requests until the triplet passed, the passing one included; for statistics and `greylist list`. */
  attempts: number;
  /** When the triplet first passed (0 while still waiting). */
  passedAt: number;
}

/** The clear-text parts of a triplet, stored beside it for listing and searching (absent in privacy mode). */
export interface TripletLabels {
  clientNet: string;
  sender: string;
  recipient: string;
}

export interface TripletRow extends TripletState {
  key: string;
  labels?: TripletLabels;
  /** When the entry expires, seconds since the epoch (for `rempart store copy`). */
  expiresAt: number;
}

/** An auto-allow candidate: how many triplets of this client passed, counted at most once an hour. */
export interface ClientState {
  passes: number;
  /** Last time the count changed or the allowed client was seen, seconds since the epoch. */
  lastSeen: number;
}

export interface ClientRow extends ClientState {
  key: string;
  /** When the entry expires, seconds since the epoch. */
  expiresAt: number;
}

/** The result of an update function: the value to store (undefined: delete; the very object it was given: no write) and what to return. */
export interface Update<S, R> {
  next: S | undefined;
  result: R;
}

export interface TripletFilter {
  /** Case-insensitive substring of client network, sender or recipient. */
  search?: string;
  /** Only triplets still waiting (true) or already passed (false). */
  waiting?: boolean;
  limit?: number;
  offset?: number;
}

export interface GreylistStats {
  triplets: number;
  waiting: number;
  passed: number;
  clients: number;
  /** Clients whose pass count reached the auto-allow threshold given to stats(). */
  autoAllowed: number;
}

/** The arguments of GreylistStore.updateTriplet, as one value. */
export interface TripletUpdate<R> {
  key: string;
  labels: TripletLabels | undefined;
  update: (current: TripletState | undefined) => Update<TripletState, R>;
  expiresAt: (next: TripletState) => number;
}

/** The arguments of GreylistStore.updateClient, as one value. */
export interface ClientUpdate<R> {
  key: string;
  update: (current: ClientState | undefined) => Update<ClientState, R>;
  expiresAt: (next: ClientState) => number;
}

/** What GreylistStore.updateClientThenTriplet did: the client's result, and the triplet's when it went on. */
export interface ClientThenTriplet<C, T> {
  client: C;
  /** Absent when `proceed` stopped at the client. */
  triplet?: { result: T };
}

export interface GreylistStore {
  /**
   * Atomically reads the triplet `key`, calls `update` with its current state (undefined when
   * absent) and stores `next` with the given expiry (seconds since the epoch).
   */
  updateTriplet<R>(
    key: string,
    labels: TripletLabels | undefined,
    update: (current: TripletState | undefined) => Update<TripletState, R>,
    expiresAt: (next: TripletState) => number,
  ): Promise<R>;
  /** The same atomic update for an auto-allow client entry. */
  updateClient<R>(
    key: string,
    update: (current: ClientState | undefined) => Update<ClientState, R>,
    expiresAt: (next: ClientState) => number,
  ): Promise<R>;
  /**
   * One greylist decision: `client` is updated first; then, when `proceed` says its result does not
   * settle the matter, `triplet`. The outcome is that of updateClient followed by updateTriplet, with
   * one more guarantee when the client's update writes nothing (greylisting's check of an auto-allow
   * tally): the triplet is written only while the client's entry still holds what that update saw.
   * (A networked store needs that to do both in one round trip: see its notes.)
   */
  updateClientThenTriplet<C, T>(client: ClientUpdate<C>, proceed: (clientResult: C) => boolean, triplet: TripletUpdate<T>): Promise<ClientThenTriplet<C, T>>;
  listTriplets(filter: TripletFilter): Promise<TripletRow[]>;
  listClients(limit: number, offset: number): Promise<ClientRow[]>;
  /** Deletes matching triplets (all when filter.search is absent); returns how many went. */
  flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number>;
  /** Deletes the triplet with exactly this key (from the dashboard); returns how many went (0 or 1). */
  deleteTriplet(key: string): Promise<number>;
  flushClients(): Promise<number>;
  stats(autoAllowThreshold: number): Promise<GreylistStats>;
}

export interface HistoryFilter {
  /** ms since the epoch, inclusive. */
  since?: number;
  /** ms since the epoch, exclusive. */
  until?: number;
  /** Exact client address. */
  client?: string;
  /** Exact envelope sender (lower case as recorded). */
  sender?: string;
  /** One of the recipients, exactly. */
  recipient?: string;
  action?: string;
  /** Records where this symbol fired. */
  symbol?: string;
  /** Records made by this node (hostname). */
  node?: string;
  limit?: number;
  /** Records with an id below this one (paging backwards from the newest). */
  beforeId?: number;
  /** Records with an id above this one (what is new since a page was read). */
  afterId?: number;
}

/** A window of the decision statistics (`HistoryStore.stats`). */
export interface StatsQuery {
  /** ms since the epoch, inclusive. */
  since: number;
  /** ms since the epoch, exclusive. */
  until: number;
  /** Width of one series bucket, in seconds (60 for per-minute, 3600 for per-hour). */
  bucketSeconds: number;
  /** How many entries the top lists hold (default 10). */
  top?: number;
}

export interface CountedValue {
  value: string;
  count: number;
}

/** Decision counts over a window; kept as rollups written with the history, so reading them is cheap. */
export interface StatsReport {
  since: number;
  until: number;
  bucketSeconds: number;
  /** Decisions per action in the window (every action present, 0 when none). */
  actions: Record<string, number>;
  /** Decisions per protocol in the window. */
  protocols: Record<string, number>;
  /** One entry per bucket from `since` to `until`, empty buckets included; `time` is the bucket start in ms. */
  series: { time: number; counts: Record<string, number> }[];
  /** The symbols that fired most often, most first. */
  symbols: CountedValue[];
  /** Client addresses and senders with the most rejected decisions, most first. */
  topRejectedClients: CountedValue[];
  topRejectedSenders: CountedValue[];
}

export interface HistoryStore {
  /** Queues a record; records are written in batches shortly after. */
  add(record: ResultRecord): void;
  /** Writes every queued record now. */
  flush(): Promise<void>;
  /** Records matching the filter, newest first. */
  query(filter: HistoryFilter): Promise<ResultRecord[]>;
  /** One record by its id. */
  get(id: number): Promise<ResultRecord | undefined>;
  count(): Promise<number>;
  stats(query: StatsQuery): Promise<StatsReport>;
}

/**
 * Change detection for in-memory copies (the list and ban matchers): `version()` is a counter in
 * the store bumped with every change by any process (one cheap read: a SELECT, a Redis GET);
 * `localChanges` moves at once when this process changes something, so its own changes need no wait.
 */
export interface Versioned {
  version(): Promise<number>;
  readonly localChanges: number;
}

export type ListKind = 'allow' | 'block';
/** sender `user@example.org`, domain `@example.org` (and subdomains), ip (address or CIDR), helo `helo:name`. */
export type ListEntryType = 'sender' | 'domain' | 'ip' | 'helo';

/** An allow or block list entry as it is added (src/lists/entry.ts normalises the value). */
export interface ListEntryInput {
  kind: ListKind;
  /** `user@example.org`, `@example.org`, `192.0.2.0/24`, `2001:db8::1`, `helo:mx.example.net`. */
  value: string;
  /** '' for a global entry, else the recipient whose own list it belongs to (lower case). */
  scope: string;
  /** Block entries: a category (spam, abusive-domain, compromised) or free text; '' for none. */
  reason: string;
  comment: string;
  /** Who added it (--by, default the Unix user). */
  addedBy: string;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Seconds since the epoch; 0 = never. */
  expiresAt: number;
}

export interface ListEntry extends ListEntryInput {
  id: number;
  type: ListEntryType;
}

export interface ListFilter {
  kind?: ListKind;
  /** Only this scope ('' = global entries only); absent = every scope. */
  scope?: string;
  /** Case-insensitive substring of the value, scope, reason, comment or adder. */
  search?: string;
  limit?: number;
  offset?: number;
}

/** Which entries to remove: one by id (of the given kind), or the one with this kind, value and scope. */
export type ListSelector = { kind: ListKind; id: number } | { kind: ListKind; value: string; scope: string };

export interface ListStore extends Versioned {
  /**
   * Adds entries, or updates (reason, comment, adder, expiry) the entry with the same kind, value
   * and scope, all in one transaction that bumps the version. Throws on a value that is not an entry.
   */
  put(entries: ListEntryInput[]): Promise<{ entry: ListEntry; created: boolean }[]>;
  /** Removes the selected entry; returns how many went (0 or 1). */
  remove(selector: ListSelector): Promise<number>;
  list(filter: ListFilter): Promise<ListEntry[]>;
  /** Every entry not expired at `now` (seconds), to build a matcher from. */
  active(now: number): Promise<ListEntry[]>;
}

/** A valid recipient as it is added (src/lists/entry.ts parseRecipientEntry normalises the address). */
export interface RecipientInput {
  /** `user@example.org`, or `@example.org` for every address of the domain (a catch-all); lower case. */
  address: string;
  comment: string;
  /** Who added it (--by, default the Unix user). */
  addedBy: string;
  /** Seconds since the epoch. */
  createdAt: number;
}

export interface RecipientEntry extends RecipientInput {
  id: number;
  /** The domain part of the address, `example.org`. */
  domain: string;
}

export interface RecipientFilter {
  /** Case-insensitive substring of the address, comment or adder. */
  search?: string;
  limit?: number;
  offset?: number;
}

/** The valid recipients kept in the store (`rempart recipients ...`), beside the files of `recipients.files`. */
export interface RecipientStore extends Versioned {
  /**
   * Adds entries, or updates (comment, adder, time) the entry with the same address, all in one
   * transaction that bumps the version. Throws on an address that is not `user@domain` or `@domain`.
   */
  add(entries: RecipientInput[]): Promise<{ entry: RecipientEntry; created: boolean }[]>;
  /** Removes the entry of exactly this address or `@domain` (normalised); returns how many went (0 or 1). */
  remove(address: string): Promise<number>;
  /** Entries ordered by domain, catch-all first, then address. */
  list(filter: RecipientFilter): Promise<RecipientEntry[]>;
  /** Every stored address and `@domain`, to build the recipient table from. */
  all(): Promise<string[]>;
}

export type BanSource = 'spamtrap' | 'strikes' | 'manual';

export interface Ban {
  /** The banned address or CIDR network, canonical (`192.0.2.7`, `2001:db8::/48`). */
  network: string;
  reason: string;
  source: BanSource;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Seconds since the epoch; 0 = never. */
  expiresAt: number;
}

export interface BanStore extends Versioned {
  /**
   * Bans an address or network. Banning what is already banned keeps the later expiry (never being
   * the latest) and the first creation time, and takes the new reason and source. Visible to
   * `active()` of this process at once; returns the ban as stored.
   */
  ban(ban: Ban): Promise<Ban>;
  /** Lifts the ban of exactly this address or network (and forgets the address's strikes); returns how many bans went. */
  lift(network: string): Promise<number>;
  /** Bans this process made since the last call, confirmed or not: for the in-memory matcher to add at once. */
  takeLocalBans(): Ban[];
  /** Networks whose bans this process lifted since the last call: the in-memory matcher then reloads at once. */
  takeLocalLifts(): string[];
  /** Bans not expired at `now` (seconds), newest first; with `includeExpired`, all that are stored. */
  list(filter: { now: number; includeExpired?: boolean; search?: string; limit?: number; offset?: number }): Promise<Ban[]>;
  /** Every ban not expired at `now`, to build a matcher from. */
  active(now: number): Promise<Ban[]>;
}

export interface StrikeRow {
  address: string;
  reason: string;
  /** Times of the strikes still within their window, seconds since the epoch, oldest first. */
  times: number[];
  /** When the newest strike leaves its window. */
  expiresAt: number;
}

export interface StrikeStore {
  /**
   * Records one strike of `reason` against `address` at `now` and returns how many strikes of that
   * reason the address has within the last `windowSeconds` (this one included). Atomic per
   * (address, reason): a Redis sorted set with ZADD/ZREMRANGEBYSCORE/ZCARD in MULTI does the same.
   */
  addStrike(address: string, reason: string, now: number, windowSeconds: number): Promise<number>;
  /** Forgets every strike of an address (after a ban, or when a ban is lifted); returns how many reasons went. */
  clear(address: string): Promise<number>;
  list(filter: { address?: string; limit?: number }): Promise<StrikeRow[]>;
}

/** The two classes of the Bayesian filter. */
export type BayesClass = 'spam' | 'ham';

/** How many learned spam and ham messages held a token. */
export interface TokenCounts {
  spam: number;
  ham: number;
}

/**
 * What a Bayes lookup found: get(token) gives the counts of each token asked, undefined for one
 * never seen. Only the tokens asked may be read from it (it can be a view of a larger table, as
 * SQLite's in-memory copy of the global database is), and only at once: it may change with the
 * next learn.
 */
export interface TokenCountsLookup {
  get(token: string): Readonly<TokenCounts> | undefined;
  /** The same, by the token's 64-bit hash (src/core/token-hash.ts), where the lookup keeps its counts by hash (the SQLite in-memory copy). */
  getByHash?(high: number, low: number): Readonly<TokenCounts> | undefined;
}

export interface BayesCounts {
  spamMessages: number;
  hamMessages: number;
  /** Distinct tokens in the database. */
  tokens: number;
}

/**
 * What learning a message did: `learned` (new), `relearned` (it had been learned as the other
 * class: moved), `already` (learned as this class before: nothing done), `unlearned` (forgotten),
 * `not-learned` (asked to forget a message never learned).
 */
export type LearnOutcome = 'learned' | 'relearned' | 'already' | 'unlearned' | 'not-learned';

export interface LearnInput {
  /** Identifies the message (a hash of its content), so learning it twice counts once. */
  digest: string;
  kind: BayesClass;
  /** The message's distinct tokens. */
  tokens: readonly string[];
  /** Seconds since the epoch. */
  now: number;
  /** Forget the message instead (the class it was learned as is known from its digest). */
  unlearn?: boolean;
}

/**
 * The Bayesian filter's token databases: one global ('' scope) and optional per-recipient ones
 * (scope = the address, lower case). Counts are per message (a token counts once per message).
 */
export interface BayesStore {
  counts(scope: string): Promise<BayesCounts>;
  /** The counts of the given tokens (see TokenCountsLookup); none for a token never seen. */
  lookup(scope: string, tokens: readonly string[]): Promise<TokenCountsLookup>;
  /**
   * Readies the global database for fast lookups ahead of the first message (SQLite: loads its
   * in-memory copy, step by step between other work); resolves when that is done or cannot be done
   * now, telling which. Lookups are correct without it.
   */
  warm(): Promise<BayesWarmOutcome>;
  learn(scope: string, input: LearnInput): Promise<LearnOutcome>;
  /**
   * Adds counts as they are (a bogofilter wordlist import): tokens with their spam and ham counts,
   * and message counts; no digests.
   */
  importCounts(scope: string, rows: ReadonlyArray<{ token: string; spam: number; ham: number; lastSeen: number }>, messages: { spam: number; ham: number }): Promise<void>;
  /** Scopes that have a database, '' (global) included when it has anything. */
  scopes(): Promise<string[]>;
  /** Everything of one scope, for `rempart store copy`: counts, tokens and the learned messages' digests. */
  dump(scope: string): Promise<BayesDump>;
  /** Stores the digests of learned messages as they are (after importCounts, by `rempart store copy`). */
  importDigests(scope: string, digests: BayesDump['digests']): Promise<void>;
}

/** What BayesStore.warm did: the global tokens now held in memory, or why none are. */
export type BayesWarmOutcome = { heldTokens: number } | { heldTokens: 0; reason: string };

export interface BayesDump {
  messages: { spam: number; ham: number };
  tokens: { token: string; spam: number; ham: number; lastSeen: number }[];
  /** The learned messages, so that a copy still counts a message learned twice once. */
  digests: { digest: string; kind: BayesClass }[];
}

export interface MaintenanceLimits {
  /** Seconds since the epoch. */
  now: number;
  historyMaxAge: number;
  historyMaxRecords: number;
  /** Bayes tokens not learned for this many seconds are removed (0: never). */
  bayesTokenMaxAge?: number;
}

export interface MaintenanceReport {
  expiredTriplets: number;
  expiredClients: number;
  removedHistory: number;
  expiredListEntries: number;
  expiredBans: number;
  expiredStrikes: number;
  expiredBayesTokens?: number;
  durationMs: number;
}

/** Whether the store can be reached (SQLite: always), for /health, /metrics and the dashboard. */
export interface StoreStatus {
  available: boolean;
  /** When the state last changed, ms since the epoch. */
  since: number;
  /** The last connection error while unavailable. */
  error?: string;
}

export interface Store {
  readonly greylist: GreylistStore;
  readonly history: HistoryStore;
  readonly lists: ListStore;
  readonly bans: BanStore;
  readonly strikes: StrikeStore;
  readonly recipients: RecipientStore;
  readonly bayes: BayesStore;
  /** Removes expired entries in small batches, yielding between them so requests are not stalled. */
  maintenance(limits: MaintenanceLimits): Promise<MaintenanceReport>;
  /** One line for the start-up log, e.g. "sqlite /var/lib/rempart/rempart.db". */
  describe(): string;
  status(): StoreStatus;
  close(): Promise<void>;
}
