// The greylisting check, at postgrey parity: a (client network, sender, recipient) triplet seen for
// the first time is deferred with a 4xx; a retry after the delay passes and gets an X-Greylist
// header; clients whose retries keep passing are auto-allowed; postgrey's allow-list files apply.
// It answers only at the RCPT stage, after the scoring checks: in mode "suspicious" it greylists
// only clients whose score reached actions.greylist.
import { createHash } from 'node:crypto';
import type { CheckDescriptor, CheckInstance, CheckOutcome, CheckProblem, HeaderField } from '../../../core/check.js';
import { rfc5322Date } from '../../../core/dates.js';
import { NetworkList, parseAddress } from '../../../core/networks.js';
import type { Envelope } from '../../../core/task.js';
import type { Config } from '../../../config/schema.js';
import { loadClientAllowFiles, loadRecipientAllowFiles, type AllowMatch } from './allow-files.js';
import { canonicalAddress, clientNetwork, normalizeRecipient, normalizeSender } from './normalize.js';
import { checkClientAllowed, countClientPass, decideTriplet, type GreylistTiming, type TripletOutcome } from './timing.js';
import { VERSION } from '../../../version.js';
import type { TripletState } from '../../../store/types.js';

/** How many recent message instances are remembered, so a message gets one X-Greylist header. */
const RECENT_INSTANCES = 1024;

/** A bounded set of recently seen strings (oldest forgotten first). */
export class RecentSet {
  private readonly items = new Set<string>();
  constructor(private readonly capacity: number) {}
  /** Adds `item`; returns false when it was already there. */
  add(item: string): boolean {
    if (this.items.has(item)) return false;
    this.items.add(item);
    if (this.items.size > this.capacity) this.items.delete(this.items.values().next().value as string);
    return true;
  }
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Fills the reply text's placeholders: %s seconds left, %r recipient domain. */
export function greylistText(template: string, secondsLeft: number, recipient: string): string {
  const domain = recipient.includes('@') ? recipient.slice(recipient.lastIndexOf('@') + 1) : recipient;
  return template.replaceAll('%s', String(secondsLeft)).replaceAll('%r', domain);
}

/** Builds the X-Greylist header from its template: %t seconds delayed, %h host, %d date, %v version. */
export function greylistHeader(template: string, delayed: number, hostname: string, nowMs: number): HeaderField {
  const line = template
    .replaceAll('%t', String(delayed))
    .replaceAll('%h', hostname)
    .replaceAll('%v', VERSION)
    .replaceAll('%d', rfc5322Date(nowMs));
  const colon = line.indexOf(':');
  return { name: line.slice(0, colon), value: line.slice(colon + 1).trim() };
}

const describeMatch = (m: AllowMatch): string => `${m.file}:${m.line} ${m.entry}`;

function createGreylist(config: Config, env: Parameters<CheckDescriptor['create']>[0]): CheckInstance | undefined {
  const settings = config.greylist;
  if (!settings.enabled) return undefined;
  const problems: CheckProblem[] = [];
  const clients = loadClientAllowFiles(settings.allow_clients_files);
  const recipients = loadRecipientAllowFiles(settings.allow_recipients_files);
  for (const p of [...clients.problems, ...recipients.problems]) {
    problems.push({ check: 'greylist', message: p.line > 0 ? `${p.file}:${p.line}: ${p.message}: ${p.text}` : `${p.file}: ${p.message}` });
  }
  const myNetworks = new NetworkList(config.my_networks);
  const timing: GreylistTiming = { delay: settings.delay, retryWindow: settings.retry_window, maxAge: settings.max_age };
  const recentInstances = new RecentSet(RECENT_INSTANCES);
  const { store, clock } = env;
  const expiresTriplet = (s: { lastSeen: number }): number => s.lastSeen + timing.maxAge;

  async function evaluate(envelope: Envelope, score: number): Promise<CheckOutcome> {
    const recipient = envelope.recipients[0] ?? '';
    if (settings.mode === 'suspicious' && score < config.actions.greylist) {
      return { note: `score ${Math.round(score * 100) / 100} below ${config.actions.greylist}, not greylisted` };
    }
    if (settings.skip_authenticated && envelope.saslUsername) return { note: 'authenticated client' };
    const address = parseAddress(envelope.clientAddress);
    if (address === undefined) return { note: 'client address is not an IP address' };
    if (settings.skip_my_networks && myNetworks.contains(address)) return { note: 'client in my_networks' };
    const clientNet = clientNetwork(address, settings.ipv4_prefix, settings.ipv6_prefix)!;
    const clientIp = canonicalAddress(address)!;

    const clientMatch = clients.list.match(address, envelope.clientName);
    if (clientMatch) return { note: `client allow list ${describeMatch(clientMatch)}` };
    const recipientMatch = recipients.list.match(recipient);
    if (recipientMatch) return { note: `recipient allow list ${describeMatch(recipientMatch)}` };

    const now = Math.floor(clock.nowMs() / 1000);
    const clientKey = settings.privacy ? hash(clientIp) : clientIp;
    const sender = normalizeSender(envelope.sender);
    const normalizedRecipient = normalizeRecipient(recipient);
    const plainKey = `${clientNet}/${sender}/${normalizedRecipient}`;
    const key = settings.privacy ? hash(plainKey) : plainKey;
    const labels = settings.privacy ? undefined : { clientNet, sender, recipient: normalizedRecipient };
    const tripletUpdate = { key, labels, update: (current: TripletState | undefined) => decideTriplet(current, now, timing), expiresAt: expiresTriplet };
    let outcome: TripletOutcome;
    if (settings.auto_allow_clients > 0) {
      // Both in one store call: a networked store then needs one round trip for a new client's new triplet.
      const decided = await store.greylist.updateClientThenTriplet(
        { key: clientKey, update: (current) => checkClientAllowed(current, now, settings.auto_allow_clients, timing.maxAge), expiresAt: expiresTriplet },
        (allowed) => !allowed,
        tripletUpdate,
      );
      if (!decided.triplet) return { note: 'client auto-allowed' };
      outcome = decided.triplet.result;
    } else {
      outcome = await store.greylist.updateTriplet(key, labels, tripletUpdate.update, expiresTriplet);
    }

    switch (outcome.kind) {
      case 'new':
      case 'early-retry': {
        const reason = outcome.kind === 'new' ? 'new' : `early-retry (${outcome.secondsLeft}s missing)`;
        return {
          verdict: { action: 'greylist', reason, reply: { code: 450, enhanced: '4.2.0', text: greylistText(settings.text, outcome.secondsLeft, recipient) } },
          facts: { seconds_left: outcome.secondsLeft },
        };
      }
      case 'first-pass': {
        if (settings.auto_allow_clients > 0) {
          await store.greylist.updateClient(clientKey, (current) => countClientPass(current, now, timing.maxAge), expiresTriplet);
        }
        const firstForMessage = envelope.instance === '' || recentInstances.add(envelope.instance);
        return {
          note: `retry passed after ${outcome.delayed}s`,
          facts: { delay: outcome.delayed },
          headers: firstForMessage ? [greylistHeader(settings.header, outcome.delayed, config.hostname, clock.nowMs())] : [],
        };
      }
      case 'known':
        return { note: 'triplet known' };
    }
  }

  return { problems, timeoutMs: config.store.timeout * 1000 + 500, evaluate: (task) => evaluate(task.envelope, task.score) };
}

export const greylistCheck: CheckDescriptor = {
  name: 'greylist',
  stages: ['rcpt'],
  timeoutMs: 2500,
  afterScoring: true,
  create: (env) => createGreylist(env.config, env),
};
