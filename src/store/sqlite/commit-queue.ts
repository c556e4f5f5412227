// Group commit for the SQLite store: greylist updates, strikes and history records are queued on the main
// thread and sent to the writer thread together every 2 ms (or at once past 1,000 queued items).
// Until the writer confirms a batch, reads find its entries here ("read your writes").
import type { ResultRecord } from '../../core/result.js';
import type { ClientState, TripletLabels, TripletState } from '../types.js';
import type { SqliteWriter } from './writer.js';
import { historyTuple, type HistoryTuple } from './writer-protocol.js';

/** Queued writes are sent after this long, in ms. */
const COMMIT_WINDOW_MS = 2;
/** ... or at once when this many are queued. */
const COMMIT_AT_ITEMS = 1000;
/** After a failed commit, the next try waits this long, in ms. */
const RETRY_AFTER_FAILURE_MS = 500;
/** After this many failed commits in a row, the failed updates are dropped (a write that can never succeed must not block the rest). */
const MAX_FAILED_COMMITS = 3;

export type QueuedTriplet = { labels: TripletLabels | undefined; state: TripletState; expiresAt: number } | null;
export type QueuedClient = { state: ClientState; expiresAt: number } | null;
export type QueuedStrike = { times: number[]; expiresAt: number } | null;

interface Batch {
  triplets: Map<string, QueuedTriplet>;
  clients: Map<string, QueuedClient>;
  /** Keyed by strikeKey(address, reason). */
  strikes: Map<string, QueuedStrike>;
}

/** The queue's key of a strike tally: an address holds no space, so the first space separates. */
export const strikeKey = (address: string, reason: string): string => `${address} ${reason}`;

const newBatch = (): Batch => ({ triplets: new Map(), clients: new Map(), strikes: new Map() });
const batchSize = (b: Batch): number => b.triplets.size + b.clients.size + b.strikes.size;

export class CommitQueue {
  private current: Batch = newBatch();
  private history: HistoryTuple[] = [];
  /** Batches sent to the writer and not yet confirmed, oldest first. */
  private readonly inFlight: Batch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly sending = new Set<Promise<void>>();
  private failuresInARow = 0;

  constructor(
    private readonly writer: SqliteWriter,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The queued state of a triplet: undefined when nothing is queued, null when a delete is. */
  triplet(key: string): QueuedTriplet | undefined {
    const queued = this.current.triplets.get(key);
    if (queued !== undefined) return queued;
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      const found = this.inFlight[i]!.triplets.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  client(key: string): QueuedClient | undefined {
    const queued = this.current.clients.get(key);
    if (queued !== undefined) return queued;
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      const found = this.inFlight[i]!.clients.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  strike(key: string): QueuedStrike | undefined {
    const queued = this.current.strikes.get(key);
    if (queued !== undefined) return queued;
    for (let i = this.inFlight.length - 1; i >= 0; i--) {
      const found = this.inFlight[i]!.strikes.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  putStrike(key: string, value: QueuedStrike): void {
    this.current.strikes.set(key, value);
    this.schedule();
  }

  putTriplet(key: string, value: QueuedTriplet): void {
    this.current.triplets.set(key, value);
    this.schedule();
  }

  putClient(key: string, value: QueuedClient): void {
    this.current.clients.set(key, value);
    this.schedule();
  }

  addHistory(record: ResultRecord): void {
    this.history.push(historyTuple(record));
    this.schedule();
  }

  private schedule(delayMs = COMMIT_WINDOW_MS): void {
    if (delayMs === COMMIT_WINDOW_MS && batchSize(this.current) + this.history.length >= COMMIT_AT_ITEMS) {
      void this.commit();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => void this.commit(), delayMs);
    this.timer.unref();
  }

  /** Sends what is queued; resolves when the writer has committed it (errors are reported, not thrown). */
  commit(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.current;
    const history = this.history;
    if (batchSize(batch) === 0 && history.length === 0) return Promise.resolve();
    this.current = newBatch();
    this.history = [];
    this.inFlight.push(batch);
    const sent = this.writer
      .send({
        kind: 'commit',
        triplets: [...batch.triplets].map(([key, value]) => ({ key, value })),
        clients: [...batch.clients].map(([key, value]) => ({ key, value })),
        strikes: [...batch.strikes].map(([key, value]) => {
          const space = key.indexOf(' ');
          return { address: key.slice(0, space), reason: key.slice(space + 1), value };
        }),
        history,
      })
      .then(
        () => {
          this.failuresInARow = 0;
        },
        (error: unknown) => {
          // Greylist entries are queued again (newer writes win), a few times; history is for people: dropped.
          this.failuresInARow++;
          const updates = batchSize(batch);
          if (this.failuresInARow >= MAX_FAILED_COMMITS) {
            this.onError(new Error(`${(error as Error).message}; dropped ${updates} greylist update(s) and ${history.length} history record(s) after ${this.failuresInARow} failed commits`));
            this.failuresInARow = 0;
            return;
          }
          this.onError(new Error(`${(error as Error).message}; ${updates} greylist update(s) queued again, ${history.length} history record(s) dropped`));
          for (const [key, value] of batch.triplets) if (!this.current.triplets.has(key)) this.current.triplets.set(key, value);
          for (const [key, value] of batch.clients) if (!this.current.clients.has(key)) this.current.clients.set(key, value);
          for (const [key, value] of batch.strikes) if (!this.current.strikes.has(key)) this.current.strikes.set(key, value);
          if (updates > 0) this.schedule(RETRY_AFTER_FAILURE_MS);
        },
      )
      .finally(() => {
        this.inFlight.splice(this.inFlight.indexOf(batch), 1);
        this.sending.delete(sent);
      });
    this.sending.add(sent);
    return sent;
  }

  /** Commits what is queued and waits until every batch sent so far is confirmed. */
  async sync(): Promise<void> {
    await this.commit();
    await Promise.all([...this.sending]);
  }
}
