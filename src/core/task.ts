// What a scan works on: the SMTP envelope as seen at one stage, whichever protocol brought it.
// Checks read the task; they add their findings through their outcome, never by mutating it.
import type { SymbolHit } from './check.js';
import type { ParsedMessage } from './message.js';

/** SMTP stages, in the order a session goes through them; 'other' covers VRFY, ETRN and unknown states. */
export type Stage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'eom' | 'other';

/** Which adapter brought the request. */
export type Protocol = 'policy' | 'milter' | 'http' | 'cli';

export interface Envelope {
  protocol: Protocol;
  stage: Stage;
  /** Client IP address as text; empty when unknown. */
  clientAddress: string;
  /** Forward-confirmed client host name; "unknown" when there is none; empty when not known. */
  clientName: string;
  /** Host name from the PTR record alone; "unknown" when there is none; empty when not known. */
  reverseClientName: string;
  /** Our own address the client connected to; empty when not known. */
  serverAddress: string;
  helo: string;
  /** Envelope sender without angle brackets; empty for the null sender. */
  sender: string;
  /** At RCPT: the recipient being checked. Later: every accepted recipient known. */
  recipients: string[];
  saslUsername: string;
  /** Postfix's token shared by all requests of one message on a connection. */
  instance: string;
  queueId: string;
  /** Declared or actual message size in bytes; 0 when unknown. */
  size: number;
}

export interface Task {
  envelope: Envelope;
  /** When the scan started, ms since the epoch (from the pipeline's clock). */
  startedMs: number;
  /** The findings of the checks that ran before this one, and their total score (overrides applied). */
  symbols: readonly SymbolHit[];
  score: number;
  /** At the end of the message ('eom'): the message itself, as the MIME analysis left it. */
  message?: ParsedMessage;
  /** ... and its raw bytes (as far as the scan kept them), for checks that learn from it. */
  raw?: Uint8Array;
}

export function emptyEnvelope(protocol: Protocol, stage: Stage): Envelope {
  return {
    protocol,
    stage,
    clientAddress: '',
    clientName: '',
    reverseClientName: '',
    serverAddress: '',
    helo: '',
    sender: '',
    recipients: [],
    saslUsername: '',
    instance: '',
    queueId: '',
    size: 0,
  };
}
