// The contract between the milter protocol side (codec, session, server) and the scan side
// (adapter.ts): the session collects what Postfix sends and asks the handler at each event what to
// answer; the handler runs the pipeline and never sees a packet.
import type { HeaderField, SmtpReply } from '../core/check.js';

/** The client as the CONNECT event describes it. */
export interface MilterClient {
  /** Host name Postfix gives ("[192.0.2.1]" when it has none). */
  hostname: string;
  /** '4' IPv4, '6' IPv6, 'L' unix socket, 'U' unknown. */
  family: '4' | '6' | 'L' | 'U';
  port: number;
  /** IP address text ('' for L and U). */
  address: string;
}

/** What the session knows so far; the handler reads it, never changes it. */
export interface MilterSessionState {
  /** An id of the connection, for logs. */
  id: string;
  client: MilterClient | undefined;
  /** HELO/EHLO argument ('' before it). */
  helo: string;
  /**
   * Macros received, by name as Postfix sends them (`j`, `{client_addr}`...); connection and HELO
   * macros stay for the session, message macros are dropped at the end of each message.
   */
  macros: ReadonlyMap<string, string>;
  /** Envelope sender without angle brackets ('' for the null sender or before MAIL). */
  sender: string;
  /** ESMTP parameters of MAIL FROM (e.g. "SIZE=2048"). */
  senderParameters: string[];
  /** Recipients accepted so far in this message (without angle brackets). */
  recipients: string[];
  /** Messages finished on this connection before this one. */
  messageCount: number;
}

/** The answer to one event. */
export type MilterAction =
  | { kind: 'continue' }
  /** No more events for this message (or, at connect and HELO, for the session). */
  | { kind: 'accept' }
  /** `r`, or with a reply `y` with that code and text. */
  | { kind: 'reject'; reply?: SmtpReply }
  /** `t`, or with a reply `y`. */
  | { kind: 'tempfail'; reply?: SmtpReply }
  /** Accept and throw the message away (end of message only). */
  | { kind: 'discard' };

/** Changes to the message, sent before the final answer of the end-of-message event. */
export interface MilterEdits {
  /** Appended at the end of the header (`h`). */
  addHeaders: HeaderField[];
  /** Inserted at a position, 0 = the very top (`i`). */
  insertHeaders: Array<HeaderField & { index: number }>;
  /** The index-th (1-based) header of that name changed; an empty value deletes it (`m`). */
  changeHeaders: Array<HeaderField & { index: number }>;
  /** Put the message on hold in Postfix's queue with this reason (`q`). */
  quarantine?: string;
}

/** The message at its end: headers as Postfix sent them, and the body bytes kept for the scan. */
export interface MilterMessage {
  headers: HeaderField[];
  /** Body with CRLF line ends as Postfix sent it, cut at milter.max_scan_size. */
  body: Buffer;
  /** Bytes of header and body received in all (the body beyond the cut included). */
  size: number;
  /** Part of the body was not kept. */
  truncated: boolean;
}

export interface MilterHandler {
  connect(session: MilterSessionState): Promise<MilterAction>;
  helo(session: MilterSessionState): Promise<MilterAction>;
  mail(session: MilterSessionState): Promise<MilterAction>;
  /** `recipient` is not yet in session.recipients; it is added when the answer is continue or accept. */
  rcpt(session: MilterSessionState, recipient: string): Promise<MilterAction>;
  endOfMessage(session: MilterSessionState, message: MilterMessage): Promise<{ action: MilterAction; edits: MilterEdits }>;
  /** The message was abandoned (or finished: Postfix resets after every message). */
  abort?(session: MilterSessionState): void;
  /** The connection closed. */
  close?(session: MilterSessionState): void;
}
