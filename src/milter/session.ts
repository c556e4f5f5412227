// One milter connection's state machine, without the socket: option negotiation, macros kept per
// stage, the connect/HELO/MAIL/RCPT events, headers and body collected into a bounded buffer, the
// end-of-message scan, aborts between messages and quit. It asks the MilterHandler what to answer,
// each call under a deadline (late or failing handlers get "continue": mail is never lost), and
// turns answers and edits into reply packets. A packet that is malformed or out of place throws a
// MilterProtocolError; the server then closes the connection.
import type { HeaderField, SmtpReply } from '../core/check.js';
import type { Logger } from '../core/log.js';
import {
  Action,
  Command,
  decodeConnect,
  decodeEnvelopeArguments,
  decodeHeader,
  decodeHelo,
  decodeMacros,
  decodeOptionNegotiation,
  encodeAddHeader,
  encodeChangeHeader,
  encodeInsertHeader,
  encodeOptionNegotiation,
  encodePacket,
  encodeQuarantine,
  encodeReplyCode,
  MilterProtocolError,
  Protocol,
  Reply,
  type MilterPacket,
  type OptionNegotiation,
} from './codec.js';
import type { MilterAction, MilterEdits, MilterHandler, MilterSessionState } from './handler.js';

export interface MilterSessionOptions {
  /** Bytes of headers and body kept for the scan; body bytes beyond are counted, not kept. */
  max_scan_size: number;
  /** Seconds the handler may take to answer connect, HELO, MAIL or RCPT; past it: continue. */
  command_timeout: number;
  /** Seconds the end-of-message scan may take; past it: continue without edits. */
  content_timeout: number;
  /** Ask the handler at connect/HELO/MAIL/RCPT; when false those events are only recorded. */
  envelope_checks: boolean;
}

/** Counters shared by every session of a server. */
export interface MilterCounters {
  messages: number;
  handlerTimeouts: number;
  handlerErrors: number;
}

/** What the connection does after a packet: write `reply` (when there is one), close when `quit`. */
export interface PacketOutcome {
  reply?: Buffer;
  quit?: boolean;
}

/** Protocol versions we speak: 2 (Postfix 2.3-2.5) to 6 (Postfix 2.6 and later). */
const LOWEST_VERSION = 2;
const HIGHEST_VERSION = 6;
/** The only edits we make: add/insert headers, change headers, quarantine. */
const ACTIONS_WANTED = Action.addHeaders | Action.changeHeaders | Action.quarantine;
/**
 * The macros asked for when the MTA lets us choose (protocol 6, Action.setMacroLists): Postfix's
 * defaults plus the client's addresses and names, {client_ptr} included (whether it has a PTR
 * record at all, for the reverse-DNS rules), with no milter_*_macros setting on the Postfix side.
 */
export const MACRO_LISTS: ReadonlyArray<[stage: number, names: string]> = [
  [0, 'j {daemon_name} {daemon_addr} v _ {client_addr} {client_name} {client_ptr}'],
  [1, '{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}'],
  [2, 'i {auth_type} {auth_authen} {auth_author} {mail_addr}'],
  [3, 'i {rcpt_addr}'],
  [4, 'i'],
  [5, 'i'],
  [6, 'i'],
];
/** No DATA or unknown-command events; no replies to headers, end of headers and body chunks. */
const PROTOCOL_ALWAYS_WANTED = Protocol.noData | Protocol.noUnknown | Protocol.noReplyHeader | Protocol.noReplyEndOfHeaders | Protocol.noReplyBody;
/** Without envelope checks there is nothing to say at connect/HELO/MAIL/RCPT either. */
const PROTOCOL_NO_ENVELOPE_REPLIES = Protocol.noReplyConnect | Protocol.noReplyHelo | Protocol.noReplyMail | Protocol.noReplyRcpt;
/** Macro stages that belong to the session; every other stage's macros end with the message. */
const SESSION_MACRO_STAGES = new Set<string>([Command.connect, Command.helo]);

const CONTINUE = encodePacket(Reply.continue);
const NOTHING: PacketOutcome = {};
const ANSWER_CONTINUE: PacketOutcome = { reply: CONTINUE };
/** What a handler call gives when it was late or failed. */
const NO_ANSWER = Symbol('no answer');

/**
 * Where the session stands: before negotiation, between messages, in the envelope (after MAIL),
 * in the headers, in the body, or after the end of a message (until Postfix's abort).
 */
type Phase = 'negotiation' | 'session' | 'envelope' | 'headers' | 'body' | 'ended';

type EnvelopeEvent = 'connect' | 'helo' | 'mail' | 'rcpt';

interface SessionState extends MilterSessionState {
  macros: Map<string, string>;
}

export class MilterSession {
  private phase: Phase = 'negotiation';
  private negotiated: OptionNegotiation = { version: 0, actions: 0, protocol: 0 };
  private readonly state: SessionState;
  /** Macros by stage letter, in order of arrival; `state.macros` is their union, later stages winning. */
  private readonly macrosByStage = new Map<string, Map<string, string>>();
  private headers: HeaderField[] = [];
  private bodyChunks: Buffer[] = [];
  /** Bytes of headers and body kept for the scan. */
  private keptBytes = 0;
  /** Bytes of headers and body received, kept or not. */
  private receivedBytes = 0;
  private truncated = false;
  private closed = false;

  constructor(
    id: string,
    private readonly options: MilterSessionOptions,
    private readonly handler: MilterHandler,
    private readonly log: Logger,
    private readonly counters: MilterCounters,
  ) {
    this.state = { id, client: undefined, helo: '', macros: new Map(), sender: '', senderParameters: [], recipients: [], messageCount: 0 };
  }

  /** Handles one packet; a promise only when the handler is asked. Throws MilterProtocolError. */
  handle(packet: MilterPacket): PacketOutcome | Promise<PacketOutcome> {
    const { code, payload } = packet;
    if (code === Command.quit) return { quit: true };
    if (this.phase === 'negotiation') {
      if (code !== Command.optionNegotiation) throw this.misplaced(code);
      return this.negotiate(payload);
    }
    switch (code) {
      case Command.optionNegotiation:
        throw this.misplaced(code);
      case Command.macro:
        this.defineMacros(payload);
        return NOTHING;
      case Command.connect:
        this.expect(code, 'session');
        return this.connect(payload);
      case Command.helo:
        this.expect(code, 'session', 'envelope', 'ended');
        this.endMessage(); // a repeated HELO ends the message in progress
        this.state.helo = decodeHelo(payload);
        return this.envelopeEvent('helo', Protocol.noReplyHelo, () => this.handler.helo(this.state));
      case Command.mail:
        this.expect(code, 'session', 'envelope', 'ended');
        return this.mail(payload);
      case Command.rcpt:
        this.expect(code, 'envelope');
        return this.rcpt(payload);
      case Command.data:
        this.expect(code, 'envelope');
        this.phase = 'headers';
        return this.replyUnless(Protocol.noReplyData);
      case Command.unknown:
        this.expect(code, 'session', 'envelope');
        return this.replyUnless(Protocol.noReplyUnknown);
      case Command.header:
        this.expect(code, 'envelope', 'headers');
        this.phase = 'headers';
        this.addHeader(decodeHeader(payload), payload.length);
        return this.replyUnless(Protocol.noReplyHeader);
      case Command.endOfHeaders:
        this.expect(code, 'envelope', 'headers');
        this.phase = 'body';
        return this.replyUnless(Protocol.noReplyEndOfHeaders);
      case Command.body:
        this.expect(code, 'envelope', 'headers', 'body');
        this.phase = 'body';
        this.addBody(payload);
        return this.replyUnless(Protocol.noReplyBody);
      case Command.endOfBody:
        this.expect(code, 'envelope', 'headers', 'body');
        return this.endOfMessage();
      case Command.abort:
        this.endMessage();
        return NOTHING;
      default:
        throw new MilterProtocolError(`unknown command ${describeCode(code)}`);
    }
  }

  /** The connection closed (after quit, an error, or the MTA hanging up): tells the handler once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endMessage();
    this.guard('close', () => this.handler.close?.(this.state));
  }

  private negotiate(payload: Buffer): PacketOutcome {
    const offered = decodeOptionNegotiation(payload);
    if (offered.version < LOWEST_VERSION) throw new MilterProtocolError(`protocol version ${offered.version} not supported (${LOWEST_VERSION} to ${HIGHEST_VERSION})`);
    const wanted = PROTOCOL_ALWAYS_WANTED | (this.options.envelope_checks ? 0 : PROTOCOL_NO_ENVELOPE_REPLIES);
    const version = Math.min(offered.version, HIGHEST_VERSION);
    const chooseMacros = version >= 6 && (offered.actions & Action.setMacroLists) !== 0;
    this.negotiated = {
      version,
      actions: offered.actions & ACTIONS_WANTED,
      protocol: offered.protocol & wanted,
    };
    if (chooseMacros) {
      this.negotiated.actions |= Action.setMacroLists;
      this.negotiated.macroLists = MACRO_LISTS;
    }
    this.phase = 'session';
    this.log.debug({ version: this.negotiated.version, actions: hex(this.negotiated.actions), protocol: hex(this.negotiated.protocol) }, 'milter negotiated');
    return { reply: encodeOptionNegotiation(this.negotiated) };
  }

  private defineMacros(payload: Buffer): void {
    const { stage, macros } = decodeMacros(payload);
    this.macrosByStage.set(stage, new Map(macros));
    this.rebuildMacros();
  }

  private rebuildMacros(): void {
    this.state.macros.clear();
    for (const stageMacros of this.macrosByStage.values()) for (const [name, value] of stageMacros) this.state.macros.set(name, value);
  }

  private connect(payload: Buffer): PacketOutcome | Promise<PacketOutcome> {
    const info = decodeConnect(payload);
    // The contract gives an address for IP clients only.
    this.state.client = { ...info, address: info.family === '4' || info.family === '6' ? info.address : '' };
    return this.envelopeEvent('connect', Protocol.noReplyConnect, () => this.handler.connect(this.state));
  }

  private mail(payload: Buffer): PacketOutcome | Promise<PacketOutcome> {
    // A MAIL without the abort of the previous message ends it, keeping the macros just sent for this MAIL.
    this.endMessage(Command.mail);
    const { address, parameters } = decodeEnvelopeArguments(payload);
    this.state.sender = withoutBrackets(address);
    this.state.senderParameters = parameters;
    this.phase = 'envelope';
    return this.envelopeEvent('mail', Protocol.noReplyMail, () => this.handler.mail(this.state));
  }

  private rcpt(payload: Buffer): PacketOutcome | Promise<PacketOutcome> {
    const recipient = withoutBrackets(decodeEnvelopeArguments(payload).address);
    if (!this.options.envelope_checks) {
      this.state.recipients.push(recipient);
      return this.replyUnless(Protocol.noReplyRcpt);
    }
    return this.failOpen('rcpt', async () => {
      const action = await this.ask('rcpt', () => this.handler.rcpt(this.state, recipient));
      const reply = this.encodeAction(action, 'rcpt');
      if (action.kind === 'continue' || action.kind === 'accept') this.state.recipients.push(recipient);
      this.log.debug({ recipient, action: action.kind }, 'milter rcpt');
      return { reply };
    });
  }

  /** Connect, HELO or MAIL: the state is recorded already; asks the handler when envelope checks are on. */
  private envelopeEvent(event: EnvelopeEvent, noReplyFlag: number, call: () => Promise<MilterAction>): PacketOutcome | Promise<PacketOutcome> {
    if (!this.options.envelope_checks) return this.replyUnless(noReplyFlag);
    return this.failOpen(event, async () => {
      const action = await this.ask(event, call);
      const reply = this.encodeAction(action, event);
      this.log.debug({ ...this.describe(event), action: action.kind }, `milter ${event}`);
      return { reply };
    });
  }

  /** What an envelope event brought, for its debug line. */
  private describe(event: EnvelopeEvent): Record<string, string | undefined> {
    if (event === 'connect') return { client_name: this.state.client?.hostname, client_address: this.state.client?.address };
    if (event === 'helo') return { helo: this.state.helo };
    return { sender: this.state.sender };
  }

  /**
   * Turns a failure in reading the handler's answer (an answer that is not a MilterAction, edits
   * missing...) into a logged, counted "continue", so that only protocol errors close a connection.
   */
  private async failOpen(event: string, answer: () => Promise<PacketOutcome>): Promise<PacketOutcome> {
    try {
      return await answer();
    } catch (error) {
      this.counters.handlerErrors += 1;
      this.log.error({ event, err: error }, 'milter handler answer unusable; answering continue');
      return ANSWER_CONTINUE;
    }
  }

  /** Asks the handler under command_timeout; continue when it is late or fails. */
  private async ask(event: EnvelopeEvent, call: () => Promise<MilterAction>): Promise<MilterAction> {
    const answer = await this.withDeadline(event, this.options.command_timeout, call);
    return answer === NO_ANSWER ? { kind: 'continue' } : answer;
  }

  private endOfMessage(): Promise<PacketOutcome> {
    const message = { headers: this.headers, body: Buffer.concat(this.bodyChunks), size: this.receivedBytes, truncated: this.truncated };
    this.phase = 'ended';
    this.counters.messages += 1;
    const started = Date.now();
    return this.failOpen('end of message', async () => {
      const answer = await this.withDeadline('end of message', this.options.content_timeout, () => this.handler.endOfMessage(this.state, message));
      this.state.messageCount += 1;
      const action: MilterAction = answer === NO_ANSWER ? { kind: 'continue' } : answer.action;
      const packets = answer === NO_ANSWER ? [] : this.encodeEdits(answer.edits);
      packets.push(this.encodeAction(action, 'end of message'));
      this.log.debug({ action: action.kind, edits: packets.length - 1, size: message.size, truncated: message.truncated, ms: Date.now() - started }, 'milter end of message');
      return { reply: Buffer.concat(packets) };
    });
  }

  /** Edits as packets, leaving out (with a warning) those the MTA did not allow us. */
  private encodeEdits(edits: MilterEdits): Buffer[] {
    const packets: Buffer[] = [];
    const refused: string[] = [];
    const allowed = (action: number) => (this.negotiated.actions & action) !== 0;
    for (const { name, value } of edits.addHeaders) {
      if (allowed(Action.addHeaders)) packets.push(encodeAddHeader(name, value));
      else refused.push(`add ${name}`);
    }
    for (const { index, name, value } of edits.insertHeaders) {
      if (allowed(Action.addHeaders)) packets.push(encodeInsertHeader(index, name, value));
      else refused.push(`insert ${name}`);
    }
    for (const { index, name, value } of edits.changeHeaders) {
      if (allowed(Action.changeHeaders)) packets.push(encodeChangeHeader(index, name, value));
      else refused.push(`change ${name}`);
    }
    if (edits.quarantine !== undefined) {
      if (allowed(Action.quarantine)) packets.push(encodeQuarantine(edits.quarantine));
      else refused.push('quarantine');
    }
    if (refused.length > 0) this.log.warn({ refused: refused.join(', '), actions: hex(this.negotiated.actions) }, 'milter edits not allowed by the MTA were left out');
    return packets;
  }

  private encodeAction(action: MilterAction, event: EnvelopeEvent | 'end of message'): Buffer {
    switch (action.kind) {
      case 'continue':
        return CONTINUE;
      case 'accept':
        return encodePacket(Reply.accept);
      case 'reject':
        return this.encodeRefusal(Reply.reject, action.reply);
      case 'tempfail':
        return this.encodeRefusal(Reply.tempfail, action.reply);
      case 'discard':
        if (event === 'connect' || event === 'helo') {
          this.log.warn({ event }, 'milter handler answered discard where Postfix does not allow it; answering continue');
          return CONTINUE;
        }
        return encodePacket(Reply.discard);
      default:
        throw new Error(`not a milter action: ${JSON.stringify(action)}`);
    }
  }

  /** 'r' or 't', or 'y' with the reply when it is a valid 4xx/5xx one (else the plain letter). */
  private encodeRefusal(letter: string, reply: SmtpReply | undefined): Buffer {
    if (!reply) return encodePacket(letter);
    if (!Number.isInteger(reply.code) || reply.code < 400 || reply.code > 599) {
      this.log.warn({ code: reply.code }, 'milter reply code is not 4xx/5xx; sending a plain reject/tempfail');
      return encodePacket(letter);
    }
    // Postfix refuses an enhanced status whose class differs from the reply code's.
    const enhancedValid = /^[45]\.\d{1,3}\.\d{1,3}$/.test(reply.enhanced) && reply.enhanced[0] === String(reply.code)[0];
    return encodeReplyCode(reply.code, enhancedValid ? reply.enhanced : '', reply.text);
  }

  /**
   * Runs a handler call with a deadline: NO_ANSWER when it is late (warning) or fails (error),
   * both counted. A late call is left to finish on its own; its result is ignored.
   */
  private withDeadline<T>(event: string, seconds: number, call: () => Promise<T>): Promise<T | typeof NO_ANSWER> {
    return new Promise((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.counters.handlerTimeouts += 1;
        this.log.warn({ event, timeout_s: seconds }, 'milter handler too slow; answering continue');
        resolve(NO_ANSWER);
      }, seconds * 1000);
      Promise.resolve()
        .then(call)
        .then(
          (value) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(value);
          },
          (error: unknown) => {
            if (settled) {
              this.log.debug({ event, err: error }, 'milter handler failed after its deadline');
              return;
            }
            settled = true;
            clearTimeout(timer);
            this.counters.handlerErrors += 1;
            this.log.error({ event, err: error }, 'milter handler failed; answering continue');
            resolve(NO_ANSWER);
          },
        );
    });
  }

  /** Runs a synchronous handler notification, logging and counting a failure. */
  private guard(event: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.counters.handlerErrors += 1;
      this.log.error({ event, err: error }, 'milter handler failed');
    }
  }

  /** `payloadBytes`: "name NUL value NUL", so the line "Name: value CRLF" has two bytes more. */
  private addHeader(header: HeaderField, payloadBytes: number): void {
    const bytes = payloadBytes + 2;
    this.receivedBytes += bytes;
    if (this.keptBytes + bytes > this.options.max_scan_size) {
      this.truncated = true;
      return;
    }
    this.keptBytes += bytes;
    this.headers.push(header);
  }

  private addBody(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    const room = this.options.max_scan_size - this.keptBytes;
    if (chunk.length > room) this.truncated = true;
    const kept = chunk.length > room ? chunk.subarray(0, Math.max(room, 0)) : chunk;
    if (kept.length === 0) return;
    this.bodyChunks.push(kept);
    this.keptBytes += kept.length;
  }

  /**
   * Ends the message in progress, if any (abort, a new MAIL or HELO, or the connection closing):
   * the handler is told, the envelope, content and message macros (but those of `keepStage`) dropped.
   */
  private endMessage(keepStage?: string): void {
    if (this.phase === 'envelope' || this.phase === 'headers' || this.phase === 'body' || this.phase === 'ended') {
      this.guard('abort', () => this.handler.abort?.(this.state));
    }
    if (this.phase !== 'negotiation') this.phase = 'session';
    this.state.sender = '';
    this.state.senderParameters = [];
    this.state.recipients = [];
    this.headers = [];
    this.bodyChunks = [];
    this.keptBytes = 0;
    this.receivedBytes = 0;
    this.truncated = false;
    let dropped = false;
    for (const stage of this.macrosByStage.keys()) {
      if (SESSION_MACRO_STAGES.has(stage) || stage === keepStage) continue;
      this.macrosByStage.delete(stage);
      dropped = true;
    }
    if (dropped) this.rebuildMacros();
  }

  private replyUnless(noReplyFlag: number): PacketOutcome {
    return (this.negotiated.protocol & noReplyFlag) === 0 ? ANSWER_CONTINUE : NOTHING;
  }

  private expect(code: string, ...phases: Phase[]): void {
    if (!phases.includes(this.phase)) throw this.misplaced(code);
  }

  private misplaced(code: string): MilterProtocolError {
    return new MilterProtocolError(`command ${describeCode(code)} not expected ${PHASE_DESCRIPTIONS[this.phase]}`);
  }
}

const PHASE_DESCRIPTIONS: Record<Phase, string> = {
  negotiation: 'before option negotiation',
  session: 'outside a message',
  envelope: 'in the envelope of a message',
  headers: 'in the headers of a message',
  body: 'in the body of a message',
  ended: 'after the end of a message',
};

/** "<a@b>" → "a@b"; "<>" → ""; anything else as it is. */
function withoutBrackets(address: string): string {
  return address.startsWith('<') && address.endsWith('>') ? address.slice(1, -1) : address;
}

function describeCode(code: string): string {
  const byte = code.charCodeAt(0);
  return byte > 0x20 && byte < 0x7f ? `'${code}'` : `0x${byte.toString(16).padStart(2, '0')}`;
}

function hex(flags: number): string {
  return `0x${flags.toString(16)}`;
}
