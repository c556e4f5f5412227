// Translates between the policy protocol and the scan core: request attributes → envelope, and the
// pipeline's decision → one `action=` value. It never answers OK (which would end Postfix's
// restriction list and could open a relay): "no objection" is always DUNNO.
import type { Decision } from '../core/pipeline.js';
import { emptyEnvelope, type Envelope, type Stage } from '../core/task.js';
import type { PolicyAttributes } from './codec.js';

const STAGES: Record<string, Stage> = {
  CONNECT: 'connect',
  EHLO: 'helo',
  HELO: 'helo',
  MAIL: 'mail',
  RCPT: 'rcpt',
  DATA: 'data',
  'END-OF-MESSAGE': 'eom',
};

export function stageOf(protocolState: string | undefined): Stage {
  return STAGES[(protocolState ?? '').toUpperCase()] ?? 'other';
}

export function envelopeFromAttributes(attrs: PolicyAttributes): Envelope {
  const envelope = emptyEnvelope('policy', stageOf(attrs.get('protocol_state')));
  envelope.clientAddress = attrs.get('client_address') ?? '';
  // Absent attributes stay empty ("not known"); Postfix itself sends "unknown" for "no name".
  envelope.clientName = attrs.get('client_name') ?? '';
  envelope.reverseClientName = attrs.get('reverse_client_name') ?? '';
  envelope.serverAddress = attrs.get('server_address') ?? '';
  envelope.helo = attrs.get('helo_name') ?? '';
  envelope.sender = attrs.get('sender') ?? '';
  const recipient = attrs.get('recipient');
  envelope.recipients = recipient ? [recipient] : [];
  envelope.saslUsername = attrs.get('sasl_username') ?? '';
  envelope.instance = attrs.get('instance') ?? '';
  envelope.queueId = attrs.get('queue_id') ?? '';
  envelope.size = Number(attrs.get('size')) || 0;
  return envelope;
}

/** Replaces characters a one-line reply cannot carry. */
const oneLine = (text: string): string => text.replace(/[\r\n\0]+/g, ' ');

/**
 * Postfix puts "<rcpt>: Recipient address rejected: " before a policy reply's text at RCPT; our own
 * identical prefix is dropped so the client reads it once, e.g. "550 5.1.1 <bob@example.org>:
 * Recipient address rejected: User unknown".
 */
function withoutPostfixPrefix(text: string, recipient: string | undefined): string {
  if (!recipient) return text;
  const prefix = `<${recipient}>: Recipient address rejected: `;
  return text.toLowerCase().startsWith(prefix.toLowerCase()) ? text.slice(prefix.length) : text;
}

/** The policy `action=` value for a decision; `greylistAction` is DEFER_IF_PERMIT or DEFER; `recipient` at RCPT. */
export function policyAction(decision: Decision, greylistAction: string, recipient?: string): string {
  const verdict = decision.verdict;
  if (verdict) {
    const { code, enhanced } = verdict.reply;
    const text = withoutPostfixPrefix(verdict.reply.text, recipient);
    if (verdict.action === 'greylist') return oneLine(`${greylistAction} ${enhanced} ${text}`);
    return oneLine(`${code} ${enhanced} ${text}`);
  }
  // One policy reply carries one action: the spam mark wins over other headers.
  if (decision.action === 'add_header') return 'PREPEND X-Spam-Flag: YES';
  const header = decision.headers[0];
  if (header) return oneLine(`PREPEND ${header.name}: ${header.value}`);
  return 'DUNNO';
}
