// The allow/block list check (entries in the store, managed with `rempart allow|block ...`). It
// runs at CONNECT (ip entries can match), HELO (ip, helo), MAIL (ip, helo, sender, domain) and RCPT
// (all, the recipient's own entries first); before RCPT only global entries decide, and a global
// block is held back when some recipient's own allow entry matches (see src/lists/matcher.ts).
// It runs again at the end of the message, before the content checks (after the attachment
// policy), so that an allowed sender's mail is never refused or marked for its content: the recipient's own entries count when the
// message has one recipient, only global entries when it has several.
// A block gives `554 5.7.1` with the entry's reason; an allow stops the pipeline with `accept`, so
// no later check rejects or greylists. The matcher lives in memory and is rebuilt when the store's
// list version moves (read at most once a second), so a CLI change applies within a second.
import type { CheckDescriptor, CheckEnvironment, CheckInstance, CheckOutcome, SmtpReply } from '../../core/check.js';
import type { Envelope } from '../../core/task.js';
import { reasonText } from '../../lists/entry.js';
import { ListMatcher } from '../../lists/matcher.js';
import { sharedSnapshot, Snapshot } from '../../lists/snapshot.js';
import type { ListEntry, ListStore } from '../../store/types.js';

/** The process-wide list matcher of a list store, refreshed on version change. */
export function listSnapshot(lists: ListStore): Snapshot<ListMatcher> {
  return sharedSnapshot(lists, 'list-matcher', () => new Snapshot(lists, async (nowMs) => new ListMatcher(await lists.active(Math.floor(nowMs / 1000)))));
}

/** The reply to a request a block entry matched: the sender's, the client's or the HELO name's rejection. */
export function blockReply(entry: ListEntry, envelope: Envelope): SmtpReply {
  const reason = reasonText(entry.reason);
  switch (entry.type) {
    case 'sender':
    case 'domain':
      return { code: 554, enhanced: '5.7.1', text: `<${envelope.sender}>: Sender address rejected: ${reason}` };
    case 'ip':
      return { code: 554, enhanced: '5.7.1', text: `Client host [${envelope.clientAddress}] blocked: ${reason}` };
    case 'helo':
      return { code: 554, enhanced: '5.7.1', text: `<${envelope.helo}>: Helo command rejected: ${reason}` };
  }
}

/** "block list #12 @spam.example for bob@example.org", for the log line. */
export function describeEntry(entry: ListEntry): string {
  return `${entry.kind} list #${entry.id} ${entry.value}${entry.scope ? ` for ${entry.scope}` : ''}`;
}

function createLists(env: CheckEnvironment): CheckInstance {
  const { clock } = env;

  async function evaluate(envelope: Envelope): Promise<CheckOutcome | undefined> {
    // The store is looked at only here: preparing the check (config check) must not open it.
    const matcher = await listSnapshot(env.store.lists).get(clock.nowMs());
    if (matcher.size === 0) return undefined;
    const stage = envelope.stage;
    const entry = matcher.match({
      clientAddress: envelope.clientAddress,
      helo: stage === 'connect' ? '' : envelope.helo,
      sender: stage === 'connect' || stage === 'helo' ? '' : envelope.sender,
      recipient: stage === 'rcpt' || (stage === 'eom' && envelope.recipients.length === 1) ? (envelope.recipients[0] ?? '') : undefined,
      now: Math.floor(clock.nowMs() / 1000),
    });
    if (!entry) return undefined;
    const facts = { list_entry: entry.id };
    if (entry.kind === 'allow') return { allow: { reason: describeEntry(entry) }, facts };
    return {
      verdict: { action: 'reject', reason: `${describeEntry(entry)}: ${reasonText(entry.reason)}`, reply: blockReply(entry, envelope) },
      facts,
    };
  }

  return { timeoutMs: env.config.store.timeout * 1000 + 500, evaluate: (task) => evaluate(task.envelope) };
}

export const listsCheck: CheckDescriptor = {
  name: 'lists',
  stages: ['connect', 'helo', 'mail', 'rcpt', 'eom'],
  timeoutMs: 2500,
  create: (env) => (env.config.lists.enabled ? createLists(env) : undefined),
};
