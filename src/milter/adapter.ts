// Translates between the milter session and the scan core. At RCPT the envelope checks run (when
// milter.envelope_checks is on), as they do for the policy server; at the end of the message the
// MIME analysis and the content checks run, with the RCPT stage's findings counted in the total.
// The decision becomes a milter answer: a reply code for a verdict, and for accepted mail the
// headers (X-Greylist from RCPT, X-Spam-* from the scorer) and the subject tag. Any failure here
// answers "continue": mail is never lost because of the scan.
import type { Config } from '../config/schema.js';
import type { HeaderField, SmtpReply, SymbolHit } from '../core/check.js';
import type { Logger } from '../core/log.js';
import type { ParsedMessage } from '../core/message.js';
import type { Decision, Pipeline } from '../core/pipeline.js';
import { isSpamHeader, spamMarking } from '../core/spam-headers.js';
import { emptyEnvelope, type Envelope, type Stage } from '../core/task.js';
import { parseMessage } from '../mime/parse.js';
import type { MilterAction, MilterEdits, MilterHandler, MilterMessage, MilterSessionState } from './handler.js';

export interface MilterAdapterDependencies {
  /** The pipeline in force (it changes on reload). */
  pipeline(): Pipeline;
  config(): Config;
  log: Logger;
}

/** What RCPT-stage decisions of the current message left for its end. */
interface Transaction {
  symbols: SymbolHit[];
  headers: HeaderField[];
}

const CONTINUE: MilterAction = { kind: 'continue' };
const NO_EDITS = (): MilterEdits => ({ addHeaders: [], insertHeaders: [], changeHeaders: [] });

/** The text a history record keeps as "reply" for a milter answer. */
function replyText(decision: Decision): string {
  const verdict = decision.verdict;
  if (verdict) return `${verdict.reply.code} ${verdict.reply.enhanced} ${verdict.reply.text}`;
  return decision.action;
}

/** A verdict as a milter answer: rejects stay rejects, deferrals (greylisting included) are tempfails. */
function actionForVerdict(decision: Decision): MilterAction | undefined {
  const verdict = decision.verdict;
  if (!verdict) return undefined;
  const reply: SmtpReply = verdict.reply;
  return verdict.action === 'reject' ? { kind: 'reject', reply } : { kind: 'tempfail', reply };
}

/** The message as bytes again: Postfix sends header fields one by one (folds as bare LF) and the body. */
export function rawMessage(message: MilterMessage): Buffer {
  const head = message.headers.map((h) => `${h.name}: ${h.value.replace(/\r?\n/g, '\r\n')}\r\n`).join('');
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'utf8'), message.body]);
}

export class MilterAdapter implements MilterHandler {
  private readonly transactions = new Map<string, Transaction>();

  constructor(private readonly deps: MilterAdapterDependencies) {}

  /** The envelope of the session at a stage, from the CONNECT event and the macros Postfix sent. */
  envelope(session: MilterSessionState, stage: Stage): Envelope {
    const envelope = emptyEnvelope('milter', stage);
    const macro = (name: string): string => session.macros.get(name) ?? '';
    const client = session.client;
    envelope.clientAddress = macro('{client_addr}') || (client && (client.family === '4' || client.family === '6') ? client.address : '');
    // Postfix's CONNECT host name is the verified name, or "[address]" when there is none.
    const hostname = macro('{client_name}') || client?.hostname || '';
    envelope.clientName = hostname.startsWith('[') ? 'unknown' : hostname;
    envelope.reverseClientName = macro('{client_ptr}');
    envelope.serverAddress = macro('{daemon_addr}');
    envelope.helo = session.helo;
    envelope.sender = session.sender;
    envelope.recipients = [...session.recipients];
    envelope.saslUsername = macro('{auth_authen}');
    // One instance per message of the connection (X-Greylist once per message, as with the policy server).
    envelope.instance = `${session.id}.${session.messageCount}`;
    envelope.queueId = macro('i');
    const size = session.senderParameters.find((p) => p.toUpperCase().startsWith('SIZE='));
    envelope.size = size ? Number(size.slice(5)) || 0 : 0;
    return envelope;
  }

  connect(): Promise<MilterAction> {
    return Promise.resolve(CONTINUE);
  }

  helo(): Promise<MilterAction> {
    return Promise.resolve(CONTINUE);
  }

  mail(): Promise<MilterAction> {
    return Promise.resolve(CONTINUE);
  }

  /** The envelope checks, once per recipient, as Postfix's policy service runs them at RCPT. */
  async rcpt(session: MilterSessionState, recipient: string): Promise<MilterAction> {
    if (!this.deps.config().milter.envelope_checks) return CONTINUE;
    const envelope = this.envelope(session, 'rcpt');
    envelope.recipients = [recipient];
    const { decision } = await this.deps.pipeline().decide(envelope, replyText);
    const refusal = actionForVerdict(decision);
    if (refusal) return refusal;
    const transaction = this.transaction(session);
    for (const symbol of decision.symbols) if (!transaction.symbols.some((s) => s.name === symbol.name)) transaction.symbols.push(symbol);
    for (const header of decision.headers) if (!transaction.headers.some((h) => h.name === header.name)) transaction.headers.push(header);
    return CONTINUE;
  }

  async endOfMessage(session: MilterSessionState, received: MilterMessage): Promise<{ action: MilterAction; edits: MilterEdits }> {
    const config = this.deps.config();
    const raw = rawMessage(received);
    const message: ParsedMessage = await parseMessage(raw, {
      truncated: received.truncated,
      size: received.size,
      scanArchives: config.attachments.enabled && config.attachments.scan_archives,
      archiveMaxDepth: config.attachments.archive_max_depth,
      archiveMaxEntries: config.attachments.archive_max_entries,
    });
    const transaction = this.transaction(session);
    const subjectHeader = received.headers.find((h) => h.name.toLowerCase() === 'subject');
    let taggedSubject: string | undefined;
    // The X-Spam-* headers join the decision's headers before its record is made, so the history
    // shows every header the message got.
    const render = (decision: Decision): string => {
      if (!decision.verdict) {
        const marking = spamMarking(decision, config, subjectHeader?.value ?? '');
        decision.headers.push(...marking.headers);
        taggedSubject = marking.subject;
      }
      return replyText(decision);
    };
    const { decision } = await this.deps.pipeline().decide(this.envelope(session, 'eom'), render, { message, raw, priorSymbols: transaction.symbols });
    const refusal = actionForVerdict(decision);
    if (refusal) return { action: refusal, edits: NO_EDITS() };
    return { action: CONTINUE, edits: this.edits(received, decision, transaction, subjectHeader !== undefined, taggedSubject) };
  }

  abort(session: MilterSessionState): void {
    this.transactions.delete(session.id);
  }

  close(session: MilterSessionState): void {
    this.transactions.delete(session.id);
  }

  private transaction(session: MilterSessionState): Transaction {
    let transaction = this.transactions.get(session.id);
    if (!transaction) {
      transaction = { symbols: [], headers: [] };
      this.transactions.set(session.id, transaction);
    }
    return transaction;
  }

  /** Header changes for an accepted message. */
  private edits(received: MilterMessage, decision: Decision, transaction: Transaction, hasSubject: boolean, taggedSubject: string | undefined): MilterEdits {
    const edits = NO_EDITS();
    // X-Spam-* headers that came with the message go (the last occurrence first, so indexes hold).
    const occurrences = new Map<string, number>();
    for (const header of received.headers) {
      if (!isSpamHeader(header.name)) continue;
      const key = header.name.toLowerCase();
      occurrences.set(key, (occurrences.get(key) ?? 0) + 1);
    }
    for (const [name, count] of occurrences) {
      for (let index = count; index >= 1; index--) edits.changeHeaders.push({ name, value: '', index });
    }
    // Headers of the RCPT stage (X-Greylist) go on top, as the policy server's PREPEND puts them.
    transaction.headers.forEach((header, i) => edits.insertHeaders.push({ ...header, index: i }));
    edits.addHeaders.push(...decision.headers.filter((h) => !transaction.headers.some((t) => t.name === h.name)));
    if (taggedSubject !== undefined) {
      if (hasSubject) edits.changeHeaders.push({ name: 'Subject', value: taggedSubject, index: 1 });
      else edits.addHeaders.push({ name: 'Subject', value: taggedSubject });
    }
    return edits;
  }
}
