// The result record: one per decision, the answer to "why was this mail treated so?". It is
// logged as one key=value line, kept in the history store, and (later) counted in metrics.
import type { Action, HeaderField, SymbolHit } from './check.js';
import type { Protocol, Stage } from './task.js';

export interface ResultRecord {
  /** Assigned by the history store. */
  id?: number;
  /** When the decision was made, ms since the epoch. */
  time: number;
  /** The host that decided (our hostname), for clusters. */
  node: string;
  protocol: Protocol;
  stage: Stage;
  clientAddress: string;
  clientName: string;
  helo: string;
  sender: string;
  recipients: string[];
  queueId: string;
  messageId: string;
  instance: string;
  action: Action;
  /** The check that gave a verdict, or empty when the scorer decided. */
  decidedBy: string;
  reason: string;
  /** The reply sent to the client, as the protocol carried it (e.g. "DEFER_IF_PERMIT 4.2.0 ..."). */
  reply: string;
  headers: HeaderField[];
  score: number;
  symbols: SymbolHit[];
  /** Extra facts from checks, e.g. { delay: 300 }. */
  facts: Record<string, string | number>;
  /** Checks that failed or ran out of time (they counted as no finding). */
  errors: string[];
  durationMs: number;
}

/** The fields of the decision log line, in the order an admin reads them. */
export function decisionLogFields(record: ResultRecord): Record<string, string | number> {
  const fields: Record<string, string | number> = {
    action: record.action,
    reason: record.reason,
    protocol: record.protocol,
    stage: record.stage,
    client_address: record.clientAddress,
    client_name: record.clientName,
    helo: record.helo,
    sender: record.sender,
    recipient: record.recipients.join(','),
  };
  for (const [key, value] of Object.entries(record.facts)) fields[key] = value;
  if (record.queueId) fields.queue_id = record.queueId;
  if (record.messageId) fields.message_id = record.messageId;
  if (record.instance) fields.instance = record.instance;
  if (record.decidedBy) fields.check = record.decidedBy;
  if (record.symbols.length > 0) {
    fields.score = Math.round(record.score * 100) / 100;
    fields.symbols = record.symbols.map((s) => `${s.name}(${s.score})`).join(',');
  }
  if (record.errors.length > 0) fields.errors = record.errors.join(',');
  if (record.reply) fields.reply = record.reply;
  fields.duration_ms = Math.round(record.durationMs * 1000) / 1000;
  return fields;
}
