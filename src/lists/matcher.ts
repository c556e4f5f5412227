// The allow/block list matcher: pure and in memory, built from every unexpired entry, answering
// which entry decides a request. Precedence (docs/lists.md):
//   1. entries scoped to the recipient (its exact address, then without its +extension) before
//      global ones;
//   2. within one scope, allow before block (allow entries exist to fix false positives);
//   3. within one scope and kind: sender, then domain (longest first), then ip (longest prefix
//      first), then helo — the most specific entry is the one reported.
// When the recipient is not known yet (CONNECT, HELO, MAIL), only global entries decide, and a
// global block is held back (no decision) when some recipient's own allow entry matches the
// request, so that user's mail can still pass at RCPT.
import { addressBytes } from './entry.js';
import { NetworkMap } from './network-map.js';
import type { Ban, ListEntry } from '../store/types.js';

export interface ListQuery {
  /** Envelope sender; '' is the null sender (matches no sender or domain entry). */
  sender: string;
  /** Client IP address as Postfix sends it; '' when unknown. */
  clientAddress: string;
  helo: string;
  /** The recipient; undefined when not known yet (before RCPT). */
  recipient?: string;
  /** Seconds since the epoch: entries expired by then are skipped. Absent: expiry is not looked at. */
  now?: number;
}

/** The entries of one kind in one scope, indexed by type. */
class TypeIndex {
  readonly senders = new Map<string, ListEntry>();
  readonly domains = new Map<string, ListEntry>();
  readonly helos = new Map<string, ListEntry>();
  readonly networks = new NetworkMap<ListEntry>();
  private count = 0;

  add(entry: ListEntry): void {
    this.count++;
    switch (entry.type) {
      case 'sender':
        this.senders.set(entry.value, entry);
        break;
      case 'domain':
        this.domains.set(entry.value.slice(1), entry);
        break;
      case 'helo':
        this.helos.set(entry.value.slice(5), entry);
        break;
      case 'ip':
        this.networks.add(entry.value, entry);
        break;
    }
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  find(q: PreparedQuery): ListEntry | undefined {
    const live = (e: ListEntry | undefined): e is ListEntry => e !== undefined && (q.now === undefined || e.expiresAt === 0 || e.expiresAt > q.now);
    for (const sender of q.senders) {
      const e = this.senders.get(sender);
      if (live(e)) return e;
    }
    for (const domain of q.domains) {
      const e = this.domains.get(domain);
      if (live(e)) return e;
    }
    if (q.address) for (const e of this.networks.lookup(q.address)) if (live(e)) return e;
    if (q.helo) {
      const e = this.helos.get(q.helo);
      if (live(e)) return e;
    }
    return undefined;
  }
}

interface Scope {
  allow: TypeIndex;
  block: TypeIndex;
}

interface PreparedQuery {
  /** The sender, then the sender without its +extension. */
  senders: string[];
  /** The sender's domain, then each parent domain. */
  domains: string[];
  address: number[] | undefined;
  helo: string;
  now: number | undefined;
}

/** Lower case, without +extension variants; [] for the null sender. */
function senderForms(sender: string): { senders: string[]; domains: string[] } {
  const lower = sender.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  if (at <= 0) return { senders: [], domains: [] };
  const local = lower.slice(0, at);
  const domain = lower.slice(at + 1).replace(/\.$/, '');
  const senders = [`${local}@${domain}`];
  const plus = local.indexOf('+');
  if (plus > 0) senders.push(`${local.slice(0, plus)}@${domain}`);
  const domains: string[] = [];
  for (let rest = domain; rest !== ''; ) {
    domains.push(rest);
    const dot = rest.indexOf('.');
    rest = dot < 0 ? '' : rest.slice(dot + 1);
  }
  return { senders, domains };
}

/** The scopes a recipient's entries may be filed under: the address, then without its +extension. */
function recipientScopes(recipient: string): string[] {
  const lower = recipient.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  const plus = lower.indexOf('+');
  if (at > 0 && plus > 0 && plus < at) return [lower, `${lower.slice(0, plus)}${lower.slice(at)}`];
  return lower === '' ? [] : [lower];
}

export class ListMatcher {
  private readonly scopes = new Map<string, Scope>();
  /** Every recipient-scoped allow entry together: is there one that could let this request pass at RCPT? */
  private readonly anyRecipientAllow = new TypeIndex();
  readonly size: number;

  constructor(entries: readonly ListEntry[]) {
    for (const entry of entries) {
      let scope = this.scopes.get(entry.scope);
      if (!scope) {
        scope = { allow: new TypeIndex(), block: new TypeIndex() };
        this.scopes.set(entry.scope, scope);
      }
      scope[entry.kind].add(entry);
      if (entry.scope !== '' && entry.kind === 'allow') this.anyRecipientAllow.add(entry);
    }
    this.size = entries.length;
  }

  /** The entry deciding this request, or undefined when no entry does. */
  match(query: ListQuery): ListEntry | undefined {
    if (this.size === 0) return undefined;
    const q: PreparedQuery = {
      ...senderForms(query.sender),
      address: query.clientAddress ? addressBytes(query.clientAddress) : undefined,
      helo: query.helo.trim().toLowerCase().replace(/\.$/, ''),
      now: query.now,
    };
    if (query.recipient !== undefined) {
      for (const name of recipientScopes(query.recipient)) {
        const found = this.decide(this.scopes.get(name), q);
        if (found) return found;
      }
      return this.decide(this.scopes.get(''), q);
    }
    const found = this.decide(this.scopes.get(''), q);
    if (found?.kind === 'block' && !this.anyRecipientAllow.isEmpty && this.anyRecipientAllow.find(q)) return undefined;
    return found;
  }

  private decide(scope: Scope | undefined, q: PreparedQuery): ListEntry | undefined {
    if (!scope) return undefined;
    return scope.allow.find(q) ?? scope.block.find(q);
  }
}

/** Bans indexed by network: the most specific unexpired ban holding a client address. */
export class BanMatcher {
  private readonly networks = new NetworkMap<Ban>();
  private readonly known = new Map<string, Ban>();

  constructor(bans: readonly Ban[]) {
    for (const ban of bans) this.add(ban);
  }

  get size(): number {
    return this.known.size;
  }

  /** Adds (or extends) a ban: how this process's own new bans apply before the next reload. */
  add(ban: Ban): void {
    const existing = this.known.get(ban.network);
    if (existing && (existing.expiresAt === 0 || (ban.expiresAt !== 0 && existing.expiresAt >= ban.expiresAt))) return;
    this.known.set(ban.network, ban);
    this.networks.add(ban.network, ban);
  }

  /** The ban of this client address at `now` (seconds), or undefined. */
  match(clientAddress: string, now: number): Ban | undefined {
    if (this.size === 0) return undefined;
    for (const ban of this.networks.lookup(clientAddress)) if (ban.expiresAt === 0 || ban.expiresAt > now) return ban;
    return undefined;
  }
}
