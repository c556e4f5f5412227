// Messages between the main thread and the SQLite writer thread. Every write to the database goes
// through the writer, so the event loop that answers Postfix never waits on a commit, a WAL
// checkpoint or a maintenance pass.
import type { ResultRecord } from '../../core/result.js';
import type {
  Ban, BayesClass, ClientState, GreylistStats, LearnInput, LearnOutcome, ListEntry, ListEntryInput, ListSelector, MaintenanceLimits, MaintenanceReport,
  RecipientEntry, RecipientInput, TripletLabels, TripletState,
} from '../types.js';

export interface TripletWrite {
  key: string;
  /** null deletes the entry. */
  value: { labels: TripletLabels | undefined; state: TripletState; expiresAt: number } | null;
}

export interface ClientWrite {
  key: string;
  value: { state: ClientState; expiresAt: number } | null;
}

/** A strike tally of one (address, reason): the times within the window; null deletes it. */
export interface StrikeWrite {
  address: string;
  reason: string;
  value: { times: number[]; expiresAt: number } | null;
}

/** A list entry ready to store: value normalised, type known. */
export type ListEntryWrite = ListEntryInput & Pick<ListEntry, 'type'>;

/** A valid recipient ready to store: address normalised, domain known. */
export type RecipientWrite = RecipientInput & Pick<RecipientEntry, 'domain'>;

/** A message to learn or unlearn in a Bayes scope (normalised: lower case, tokens distinct). */
export type BayesLearnWrite = LearnInput & { scope: string };

/** Imported token counts as positional values: token, spam count, ham count, last seen (seconds since the epoch). */
export type BayesImportRow = [token: string, spam: number, ham: number, lastSeen: number];

/** A learned message's digest as positional values: digest, the class it was learned as. */
export type BayesDigestRow = [digest: string, kind: BayesClass];

/** A history record as positional values (no repeated key names): cheaper to serialise by the thousand. */
export type HistoryTuple = [
  time: number, node: string, protocol: string, stage: string, clientAddress: string, clientName: string, helo: string,
  sender: string, recipients: string[], queueId: string, messageId: string, instance: string, action: string,
  decidedBy: string, reason: string, reply: string, score: number, symbols: ResultRecord['symbols'],
  headers: ResultRecord['headers'], facts: ResultRecord['facts'], errors: string[], durationMs: number,
];

export function historyTuple(r: ResultRecord): HistoryTuple {
  return [
    r.time, r.node, r.protocol, r.stage, r.clientAddress, r.clientName, r.helo, r.sender, r.recipients, r.queueId, r.messageId,
    r.instance, r.action, r.decidedBy, r.reason, r.reply, r.score, r.symbols, r.headers, r.facts, r.errors, r.durationMs,
  ];
}

export type WriterRequest =
  | { id: number; kind: 'commit'; triplets: TripletWrite[]; clients: ClientWrite[]; strikes: StrikeWrite[]; history: HistoryTuple[] }
  | { id: number; kind: 'listsPut'; entries: ListEntryWrite[] }
  | { id: number; kind: 'listsRemove'; selector: ListSelector }
  | { id: number; kind: 'recipientsAdd'; entries: RecipientWrite[] }
  | { id: number; kind: 'recipientsRemove'; address: string }
  | { id: number; kind: 'bansPut'; ban: Ban }
  | { id: number; kind: 'bansLift'; network: string }
  | { id: number; kind: 'strikesClear'; address: string }
  | { id: number; kind: 'flushTriplets'; search: string | undefined }
  | { id: number; kind: 'deleteTriplet'; key: string }
  | { id: number; kind: 'flushClients' }
  | { id: number; kind: 'bayesLearn'; items: BayesLearnWrite[] }
  | { id: number; kind: 'bayesImport'; scope: string; rows: BayesImportRow[]; messages: { spam: number; ham: number } }
  /** Learned messages' digests as they are (`store copy`), learned at `learnedAt` (seconds since the epoch). */
  | { id: number; kind: 'bayesImportDigests'; scope: string; digests: BayesDigestRow[]; learnedAt: number }
  | { id: number; kind: 'maintenance'; limits: MaintenanceLimits }
  /** Fill the history's search tables now (before a read). */
  | { id: number; kind: 'historyIndex' }
  /**
   * Counts that read a whole table, run here rather than on the main thread, which answers the mail
   * servers (the greylist's counts take some 100 ms for a million triplets; replies never wait for
   * this thread).
   */
  | { id: number; kind: 'greylistStats'; autoAllowThreshold: number }
  | { id: number; kind: 'historyCount' };

export type WriterReply =
  | {
      id: number;
      ok: true;
      changes?: number;
      report?: MaintenanceReport;
      /** listsPut: the stored entries, each with whether it was new. */
      entries?: { entry: ListEntry; created: boolean }[];
      /** recipientsAdd: the stored entries, each with whether it was new. */
      recipients?: { entry: RecipientEntry; created: boolean }[];
      /** bansPut: the ban as stored. */
      ban?: Ban;
      /** bayesLearn: what happened to each item, in order. */
      outcomes?: LearnOutcome[];
      /** bayesLearn, bayesImport: what the write bumped meta.bayes_version to (absent when a learn changed nothing). */
      bayesVersion?: number;
      /** greylistStats: the counts. */
      greylistStats?: GreylistStats;
      /** historyCount: the records kept. */
      count?: number;
    }
  | { id: number; ok: false; error: string };

/** What the main thread passes to the writer at start. */
export interface WriterInit {
  databasePath: string;
  busyTimeoutMs: number;
}
