// The check contract (DESIGN.md §2): a check reports findings (scored symbols), or, for the few
// verdict checks, a final action with its own SMTP reply. Checks never write protocol replies;
// the adapters translate the pipeline's decision into each protocol.
import type { Config } from '../config/schema.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import type { Stage, Task } from './task.js';
import type { Store } from '../store/types.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { Decision } from './pipeline.js';

/** A named finding with its score and a short explanation, e.g. HELO_NOT_FQDN 2.5. */
export interface SymbolHit {
  name: string;
  score: number;
  description: string;
  /** The fault this finding counts as for the client's strikes (IP reputation), if any. */
  fault?: Fault;
}

/** Faults counted against a client address; enough of one within its window bans the client. */
export type Fault = 'no_ptr' | 'dnsbl' | 'unknown_recipient';

export interface SmtpReply {
  /** 4xx or 5xx. */
  code: number;
  /** RFC 3463 enhanced status, e.g. "4.2.0". */
  enhanced: string;
  text: string;
}

/** What happens to the mail. 'defer' is a temporary reject that is not greylisting. */
export type Action = 'accept' | 'add_header' | 'greylist' | 'defer' | 'reject';

/** A final decision made by one check: it stops the pipeline. */
export interface Verdict {
  action: Exclude<Action, 'accept' | 'add_header'>;
  reply: SmtpReply;
  /** Why, for the log line: "new", "early-retry (120s missing)", "spamtrap trap@example.org". */
  reason: string;
}

export interface HeaderField {
  name: string;
  value: string;
}

export interface CheckOutcome {
  symbols?: SymbolHit[];
  verdict?: Verdict;
  /** Headers to add to the message when it is accepted (e.g. X-Greylist). */
  headers?: HeaderField[];
  /** Why the check let the mail pass, when that is worth a word in the log ("client auto-allowed"). */
  note?: string;
  /** Extra key=value facts for the decision line, e.g. { delay: 300 }. */
  facts?: Record<string, string | number>;
  /**
   * The request is allow-listed: the pipeline stops here and accepts (action `accept`), so no later
   * check can reject or greylist it. `reason` goes to the log ("allow list #3 @partner.example").
   */
  allow?: { reason: string };
}

/** What a check may use: the effective configuration, the store, the DNS resolver, the clock and a logger. */
export interface CheckEnvironment {
  config: Config;
  store: Store;
  dns: DnsResolver;
  clock: Clock;
  log: Logger;
}

/** A problem found while preparing a check (an unreadable list file, a bad line): logged, never fatal. */
export interface CheckProblem {
  check: string;
  message: string;
}

export interface CheckInstance {
  evaluate(task: Task): Promise<CheckOutcome | undefined> | CheckOutcome | undefined;
  /** Problems found while preparing, reported by `rempart config check` and at (re)load. */
  problems?: CheckProblem[];
  /** A deadline in ms that depends on the configuration; overrides the descriptor's. */
  timeoutMs?: number;
  /**
   * Called with every decision once its reply is known (even when another check's verdict stopped
   * the pipeline): for checks that learn from decisions, such as strikes. Errors are logged.
   */
  observe?(task: Task, decision: Decision): Promise<void> | void;
}

export interface CheckDescriptor {
  name: string;
  /** The stages at which the check runs. */
  stages: readonly Stage[];
  /** Deadline for one evaluation, in ms; past it the check counts as "no finding". */
  timeoutMs: number;
  /**
   * Runs after every scoring check of the stage and only when their total is below the reject
   * threshold (greylisting: no point deferring what the score already rejects).
   */
  afterScoring?: boolean;
  /** Prepares the check for a configuration (loads its files), or returns undefined when it is disabled. */
  create(env: CheckEnvironment): CheckInstance | undefined;
}
