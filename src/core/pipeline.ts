// The scan core shared by every adapter: runs the checks registered for a stage in order, each
// under its deadline, stops at the first verdict or allow, and turns the outcome into one decision with
// one log line and one history record. A failing or late check counts as "no finding": mail
// flows, and the failure is logged and counted.
import type { Action, CheckDescriptor, CheckEnvironment, CheckInstance, CheckOutcome, CheckProblem, HeaderField, SymbolHit, Verdict } from './check.js';
import { decisionLogFields, type ResultRecord } from './result.js';
import type { Envelope, Task } from './task.js';
import type { ParsedMessage } from './message.js';
import { headerValue } from './message.js';

/** What a scan of the end of a message brings besides the envelope. */
export interface ScanExtras {
  /** The message (stage 'eom'). */
  message?: ParsedMessage;
  /** Its raw bytes. */
  raw?: Uint8Array;
  /**
   * Findings made earlier in the same SMTP transaction (the milter's RCPT stage): counted in the
   * total as if the checks had found them again.
   */
  priorSymbols?: readonly SymbolHit[];
}

export interface Decision {
  action: Action;
  verdict?: Verdict;
  /** The check that gave the verdict, or empty. */
  decidedBy: string;
  reason: string;
  headers: HeaderField[];
  symbols: SymbolHit[];
  score: number;
  facts: Record<string, string | number>;
  errors: string[];
}

interface PreparedCheck {
  descriptor: CheckDescriptor;
  instance: CheckInstance;
}

/** Failure counters, read by /metrics and /api/stats; kept across reloads. */
export interface PipelineCounters {
  checkErrors: Map<string, number>;
  checkTimeouts: Map<string, number>;
  /** Called with every decision's record (the daemon's metrics); must not throw and must be cheap. */
  onDecision?: (record: ResultRecord) => void;
}

class CheckTimeout extends Error {}

const round = (n: number): number => Math.round(n * 100) / 100;
/** The text of the 451 4.3.0 reply while the store cannot be reached and store.unavailable_action is defer. */
export const STORE_UNAVAILABLE_TEXT = 'Temporary failure, please try again later';

export class Pipeline {
  private readonly checks: PreparedCheck[] = [];
  readonly problems: CheckProblem[] = [];

  constructor(
    descriptors: readonly CheckDescriptor[],
    private readonly env: CheckEnvironment,
    readonly counters: PipelineCounters = { checkErrors: new Map(), checkTimeouts: new Map() },
  ) {
    // Checks that need the score run after all the others, whatever the registry's order.
    const ordered = [...descriptors.filter((d) => !d.afterScoring), ...descriptors.filter((d) => d.afterScoring)];
    for (const descriptor of ordered) {
      const instance = descriptor.create(env);
      if (!instance) continue;
      this.checks.push({ descriptor, instance });
      this.problems.push(...(instance.problems ?? []));
    }
  }

  /** Names of the checks that are enabled, in the order they run. */
  enabledChecks(): string[] {
    return this.checks.map((c) => c.descriptor.name);
  }

  /**
   * Scans the envelope, lets the adapter render its protocol reply, then logs the decision and
   * queues its result record. Never throws: an unexpected failure becomes an accept with an error.
   */
  async decide(
    envelope: Envelope,
    renderReply: (decision: Decision) => string,
    extras: ScanExtras = {},
  ): Promise<{ decision: Decision; reply: string; record: ResultRecord }> {
    const started = performance.now();
    const task: Task = { envelope, startedMs: this.env.clock.nowMs(), symbols: [], score: 0, ...(extras.message ? { message: extras.message } : {}), ...(extras.raw ? { raw: extras.raw } : {}) };
    const decision = await this.scan(task, extras.priorSymbols ?? []);
    let reply: string;
    try {
      reply = renderReply(decision);
    } catch (error) {
      this.env.log.error({ err: error }, 'reply rendering failed; answering with no opinion');
      reply = '';
    }
    const record = this.record(task, decision, reply, performance.now() - started);
    if (this.env.log.isLevelEnabled('info')) this.env.log.info(decisionLogFields(record), 'decision');
    if (this.env.config.history.enabled) this.env.store.history.add(record);
    try {
      this.counters.onDecision?.(record);
    } catch (error) {
      this.env.log.error({ err: error }, 'counting a decision failed');
    }
    for (const { descriptor, instance } of this.checks) {
      if (!instance.observe) continue;
      Promise.resolve()
        .then(() => instance.observe!(task, decision))
        .catch((error: unknown) => this.env.log.error({ check: descriptor.name, err: error }, 'check failed to learn from a decision'));
    }
    return { decision, reply, record };
  }

  private async scan(task: Task, priorSymbols: readonly SymbolHit[]): Promise<Decision> {
    const decision: Decision = { action: 'accept', decidedBy: '', reason: '', headers: [], symbols: [...priorSymbols], score: 0, facts: {}, errors: [] };
    for (const symbol of priorSymbols) decision.score += symbol.score;
    task.symbols = decision.symbols;
    task.score = decision.score;
    if (this.env.config.store.unavailable_action === 'defer' && !this.env.store.status().available) return this.deferForStore(decision);
    const notes: string[] = [];
    const { scores, actions } = this.env.config;
    let scoreGatePassed = false;
    for (const { descriptor, instance } of this.checks) {
      if (!descriptor.stages.includes(task.envelope.stage)) continue;
      if (descriptor.afterScoring && !scoreGatePassed) {
        if (decision.score >= actions.reject) return this.rejectForScore(decision);
        scoreGatePassed = true;
      }
      const outcome = await this.runCheck(descriptor, instance, task, decision);
      if (!outcome) continue;
      if (outcome.symbols) {
        for (const symbol of outcome.symbols) {
          const score = scores[symbol.name] ?? symbol.score;
          decision.symbols.push(score === symbol.score ? symbol : { ...symbol, score });
          decision.score += score;
        }
        task.score = decision.score;
      }
      if (outcome.facts) Object.assign(decision.facts, outcome.facts);
      if (outcome.verdict) {
        decision.verdict = outcome.verdict;
        decision.action = outcome.verdict.action;
        decision.decidedBy = descriptor.name;
        decision.reason = outcome.verdict.reason;
        return decision;
      }
      if (outcome.headers) decision.headers.push(...outcome.headers);
      if (outcome.allow) {
        decision.action = 'accept';
        decision.decidedBy = descriptor.name;
        decision.reason = outcome.allow.reason;
        return decision;
      }
      if (outcome.note) notes.push(`${descriptor.name}: ${outcome.note}`);
    }
    if (decision.score >= actions.reject) return this.rejectForScore(decision);
    if (decision.symbols.length > 0 && decision.score >= actions.add_header) {
      decision.action = 'add_header';
      notes.unshift(`score ${round(decision.score)} >= ${actions.add_header}`);
    }
    decision.reason = notes.length > 0 ? notes.join('; ') : decision.errors.length > 0 ? 'check failed, failing open' : 'no finding';
    return decision;
  }

  /** store.unavailable_action defer: the store cannot be reached, so the sender is asked to retry later. */
  private deferForStore(decision: Decision): Decision {
    const status = this.env.store.status();
    decision.action = 'defer';
    decision.decidedBy = 'store';
    decision.reason = `store unavailable since ${new Date(status.since).toISOString()}${status.error ? ` (${status.error})` : ''}; store.unavailable_action is defer`;
    decision.errors.push('store:unavailable');
    decision.verdict = { action: 'defer', reason: decision.reason, reply: { code: 451, enhanced: '4.3.0', text: STORE_UNAVAILABLE_TEXT } };
    return decision;
  }

  /** The scorer's reject: the total reached actions.reject. */
  private rejectForScore(decision: Decision): Decision {
    const { actions } = this.env.config;
    const score = round(decision.score);
    const symbols = decision.symbols.map((s) => s.name).join(', ');
    const text = actions.reject_text.replaceAll('%s', String(score)).replaceAll('%r', String(actions.reject)).replaceAll('%t', symbols);
    decision.action = 'reject';
    decision.reason = `score ${score} >= ${actions.reject}`;
    decision.verdict = { action: 'reject', reason: decision.reason, reply: { code: 554, enhanced: '5.7.1', text } };
    return decision;
  }

  private async runCheck(descriptor: CheckDescriptor, instance: CheckInstance, task: Task, decision: Decision): Promise<CheckOutcome | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = instance.evaluate(task);
      // A check that answered at once needs no deadline (most cheap checks do).
      if (!(result instanceof Promise)) return result;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout()), instance.timeoutMs ?? descriptor.timeoutMs);
      });
      return await Promise.race([result, deadline]);
    } catch (error) {
      const timedOut = error instanceof CheckTimeout;
      const counter = timedOut ? this.counters.checkTimeouts : this.counters.checkErrors;
      counter.set(descriptor.name, (counter.get(descriptor.name) ?? 0) + 1);
      decision.errors.push(`${descriptor.name}:${timedOut ? 'timeout' : 'error'}`);
      if (timedOut) this.env.log.warn({ check: descriptor.name, timeout_ms: instance.timeoutMs ?? descriptor.timeoutMs }, 'check timed out; counted as no finding');
      else this.env.log.error({ check: descriptor.name, err: error }, 'check failed; counted as no finding');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private record(task: Task, decision: Decision, reply: string, durationMs: number): ResultRecord {
    const e = task.envelope;
    return {
      time: task.startedMs,
      node: this.env.config.hostname,
      protocol: e.protocol,
      stage: e.stage,
      clientAddress: e.clientAddress,
      clientName: e.clientName,
      helo: e.helo,
      sender: e.sender,
      recipients: e.recipients,
      queueId: e.queueId,
      messageId: task.message ? (headerValue(task.message, 'message-id') ?? '').trim() : '',
      instance: e.instance,
      action: decision.action,
      decidedBy: decision.decidedBy,
      reason: decision.reason,
      reply,
      headers: decision.headers,
      score: decision.score,
      symbols: decision.symbols,
      facts: decision.facts,
      errors: decision.errors,
      durationMs,
    };
  }
}
