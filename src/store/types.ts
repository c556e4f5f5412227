// The storage interfaces every backend implements (SQLite now, Redis for clusters later).
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
}

/** An auto-allow candidate: how many triplets of this client passed, counted at most once an hour. */
export interface ClientState {
  passes: number;
  /** Last time the count changed or the allowed client was seen, seconds since the epoch. */
  lastSeen: number;
}

export interface ClientRow extends ClientState {
  key: string;
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
  listTriplets(filter: TripletFilter): Promise<TripletRow[]>;
  listClients(limit: number, offset: number): Promise<ClientRow[]>;
  /** Deletes matching triplets (all when filter.search is absent); returns how many went. */
  flushTriplets(filter: Pick<TripletFilter, 'search'>): Promise<number>;
  flushClients(): Promise<number>;
  stats(autoAllowThreshold: number): Promise<GreylistStats>;
}

export interface HistoryFilter {
  since?: number;
  until?: number;
  client?: string;
  sender?: string;
  recipient?: string;
  action?: string;
  limit?: number;
  /** Records with an id below this one (paging backwards from the newest). */
  beforeId?: number;
}

export interface HistoryStore {
  /** Queues a record; records are written in batches shortly after. */
  add(record: ResultRecord): void;
  /** Writes every queued record now. */
  flush(): Promise<void>;
  query(filter: HistoryFilter): Promise<ResultRecord[]>;
  count(): Promise<number>;
}

export interface MaintenanceLimits {
  /** Seconds since the epoch. */
  now: number;
  historyMaxAge: number;
  historyMaxRecords: number;
}

export interface MaintenanceReport {
  expiredTriplets: number;
  expiredClients: number;
  removedHistory: number;
  durationMs: number;
}

export interface Store {
  readonly greylist: GreylistStore;
  readonly history: HistoryStore;
  /** Removes expired entries in small batches, yielding between them so requests are not stalled. */
  maintenance(limits: MaintenanceLimits): Promise<MaintenanceReport>;
  /** One line for the start-up log, e.g. "sqlite /var/lib/rempart/rempart.db". */
  describe(): string;
  close(): Promise<void>;
}
