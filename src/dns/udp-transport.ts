// DNS queries over UDP, for the resolver: one connected socket per server shared by every query
// (replaced after a number of queries, so the source port keeps changing), random query ids,
// answers accepted only from a configured server with the id and question asked, retries that
// move through the servers, and a hard deadline. Packets are encoded and decoded by dns-packet.
// Costs less CPU than a c-ares query (no exception per NXDOMAIN) and reports the TTL of every record type and the
// negative TTL of the zone's SOA (RFC 2308). A truncated answer is reported as such: the resolver
// asks again over TCP. Never throws, never rejects.
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { randomFillSync } from 'node:crypto';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';

export type QueryType = 'A' | 'AAAA' | 'MX' | 'PTR' | 'TXT';

/** One server, parsed. */
export interface DnsServerAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

/**
 * The outcome of one UDP query. `ok`: the records of the type asked (possibly none: NODATA) with
 * the smallest record TTL; `nxdomain`; `negativeTtl`: the SOA's negative-caching time when the
 * server sent one; `truncated`: the answer did not fit in UDP; `error`: a temporary failure code.
 */
export type UdpOutcome =
  | { kind: 'ok'; records: unknown[]; ttl: number | undefined; negativeTtl: number | undefined }
  | { kind: 'nxdomain'; negativeTtl: number | undefined }
  | { kind: 'truncated' }
  | { kind: 'error'; code: string };

/** Answers whose rcode maps to a temporary error code (names as c-ares uses them). */
const RCODE_ERRORS: Record<string, string> = {
  SERVFAIL: 'ESERVFAIL',
  REFUSED: 'EREFUSED',
  NOTIMP: 'ENOTIMP',
  FORMERR: 'EFORMERR',
};

/** A socket is replaced after this many queries (source port randomisation, as resolvers do). */
const QUERIES_PER_SOCKET = 2_000; // queries
/** Bytes of randomness drawn at once for query ids. */
const RANDOM_POOL = 4_096; // bytes

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port` (port 53 by default); throws when invalid. */
export function parseServerAddress(text: string): DnsServerAddress {
  const trimmed = text.trim();
  let host = trimmed;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(trimmed) === 0) {
    const hostPort = /^([^:]+):(\d+)$/.exec(trimmed);
    if (!hostPort) throw new Error(`DNS server "${text}": expected an IP address, host:port, [v6] or [v6]:port`);
    host = hostPort[1]!;
    port = Number(hostPort[2]);
  }
  const family = isIP(host);
  if (family === 0) throw new Error(`DNS server "${text}": not an IP address`);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`DNS server "${text}": bad port`);
  return { host: family === 6 ? host.toLowerCase() : host, port, family: family as 4 | 6 };
}

interface Pending {
  id: number;
  name: string;
  type: QueryType;
  packet: Buffer;
  attempt: number;
  nextAttemptAt: number;
  deadline: number;
  resolve: (outcome: UdpOutcome) => void;
}

/** One UDP socket connected to one server, the number of queries it carried, and the packets waiting for its connection. */
interface Channel {
  socket: Socket;
  sent: number;
  /** Packets to send once connected; undefined when connected. */
  queued: Buffer[] | undefined;
}

export class UdpDnsTransport {
  /** The socket of each server (by index in `servers`; created on first use, replaced after a while). */
  private readonly channels: (Channel | undefined)[] = [];
  /** Queries in flight by id (ids are unique across sockets). */
  private readonly pending = new Map<number, Pending>();
  private readonly serverKeys: Set<string>;
  private readonly tryIntervalMs: number;
  private readonly tickMs: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly randomBytes = Buffer.alloc(RANDOM_POOL);
  private randomOffset = RANDOM_POOL;

  /**
   * `servers`: tried in order, the next one at each retry; `timeoutMs`: the hard deadline of a
   * query, retries included (a retry goes out every quarter of it).
   */
  constructor(
    private readonly servers: readonly DnsServerAddress[],
    private readonly timeoutMs: number,
  ) {
    this.serverKeys = new Set(servers.map((s) => `${s.host}|${s.port}`));
    this.tryIntervalMs = Math.max(1, timeoutMs / 4);
    // Deadlines and retries are checked by one timer for all queries, at a tenth of the retry interval.
    this.tickMs = Math.min(100, Math.max(2, Math.floor(this.tryIntervalMs / 10)));
  }

  /** Sends a query for `name` (lower case, no final dot) and type; resolves with its outcome. */
  query(name: string, type: QueryType): Promise<UdpOutcome> {
    if (this.servers.length === 0) return Promise.resolve({ kind: 'error', code: 'ENOSERVERS' });
    if (this.pending.size >= 65_536) return Promise.resolve({ kind: 'error', code: 'EBUSY' });
    return new Promise<UdpOutcome>((resolve) => {
      let id = this.randomId();
      while (this.pending.has(id)) id = this.randomId();
      let packet: Buffer;
      try {
        packet = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
      } catch {
        resolve({ kind: 'error', code: 'EBADNAME' });
        return;
      }
      const now = performance.now();
      const pending: Pending = { id, name, type, packet, attempt: 0, nextAttemptAt: now + this.tryIntervalMs, deadline: now + this.timeoutMs, resolve };
      this.pending.set(id, pending);
      this.send(pending);
      this.ensureSweep();
    });
  }

  /** Ends every query in flight with `ECANCELLED` and closes the sockets. */
  cancel(): void {
    for (const pending of [...this.pending.values()]) this.finish(pending, { kind: 'error', code: 'ECANCELLED' });
    for (const channel of this.channels) if (channel) closeQuietly(channel.socket);
    this.channels.length = 0;
  }

  /** Sends (again) to the server whose turn it is: the first, then the next at each retry. */
  private send(pending: Pending): void {
    const channel = this.channelFor(pending.attempt % this.servers.length);
    if (channel.queued) channel.queued.push(pending.packet);
    else channel.socket.send(pending.packet);
  }

  private channelFor(index: number): Channel {
    const current = this.channels[index];
    if (current && current.sent < QUERIES_PER_SOCKET) {
      current.sent++;
      return current;
    }
    // A replaced socket stays open until every query sent on it has reached its deadline.
    if (current) setTimeout(() => closeQuietly(current.socket), this.timeoutMs + 2 * this.tickMs).unref();
    const server = this.servers[index]!;
    const socket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
    const channel: Channel = { socket, sent: 1, queued: [] };
    socket.on('message', (message, remote) => this.onMessage(message, remote));
    // Errors (an ICMP "port unreachable" on the connected socket, a failed connect) are not
    // reported one by one: the next try goes to the next server, and the deadline ends the query.
    socket.on('error', () => undefined);
    // Connected: the kernel routes once, and sends skip Node's per-packet address handling.
    socket.connect(server.port, server.host, () => {
      const queued = channel.queued ?? [];
      channel.queued = undefined;
      for (const packet of queued) socket.send(packet);
    });
    socket.unref();
    this.channels[index] = channel;
    return channel;
  }

  private onMessage(message: Buffer, remote: RemoteInfo): void {
    if (message.length < 12) return;
    const pending = this.pending.get(message.readUInt16BE(0));
    if (!pending) return; // late, duplicated or forged
    // Only from a server we asked (IPv6 hosts compared in lower case).
    const host = remote.family === 'IPv6' ? remote.address.toLowerCase() : remote.address;
    if (!this.serverKeys.has(`${host}|${remote.port}`)) return;
    let decoded: dnsPacket.Packet;
    try {
      decoded = dnsPacket.decode(message);
    } catch {
      return; // malformed: the next try or the deadline will answer
    }
    const question = decoded.questions?.[0];
    if (decoded.type !== 'response' || !question || question.type !== pending.type || question.name.toLowerCase() !== pending.name) return;
    this.finish(pending, outcomeOf(decoded, pending.type));
  }

  private finish(pending: Pending, outcome: UdpOutcome): void {
    if (this.pending.get(pending.id) !== pending) return;
    this.pending.delete(pending.id);
    if (this.pending.size === 0) this.stopSweep();
    pending.resolve(outcome);
  }

  private ensureSweep(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), this.tickMs);
  }

  private stopSweep(): void {
    if (!this.sweepTimer) return;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Deadlines and retries of every query in flight. */
  private sweep(): void {
    const now = performance.now();
    for (const pending of [...this.pending.values()]) {
      if (now >= pending.deadline) this.finish(pending, { kind: 'error', code: 'ETIMEOUT' });
      else if (now >= pending.nextAttemptAt) {
        pending.attempt++;
        pending.nextAttemptAt = now + this.tryIntervalMs;
        this.send(pending);
      }
    }
  }

  private randomId(): number {
    if (this.randomOffset + 2 > RANDOM_POOL) {
      randomFillSync(this.randomBytes);
      this.randomOffset = 0;
    }
    const id = this.randomBytes.readUInt16BE(this.randomOffset);
    this.randomOffset += 2;
    return id;
  }
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

/** Classifies a decoded response to a query of `type`. */
function outcomeOf(response: dnsPacket.Packet, type: QueryType): UdpOutcome {
  // dns-packet decodes the header flags and rcode, which its type declarations leave out.
  const header = response as dnsPacket.Packet & { flag_tc?: boolean; rcode?: string };
  if (header.flag_tc) return { kind: 'truncated' };
  const rcode = header.rcode ?? 'NOERROR';
  if (rcode === 'NXDOMAIN') return { kind: 'nxdomain', negativeTtl: soaNegativeTtl(response) };
  if (rcode !== 'NOERROR') return { kind: 'error', code: RCODE_ERRORS[rcode] ?? 'EBADRESP' };
  const records: unknown[] = [];
  let ttl: number | undefined;
  for (const answer of response.answers ?? []) {
    if (answer.type !== type) continue; // CNAMEs on the way, signatures
    const record = recordOf(answer as dnsPacket.Answer);
    if (record === undefined) continue;
    records.push(record);
    const recordTtl = (answer as { ttl?: number }).ttl;
    if (typeof recordTtl === 'number' && (ttl === undefined || recordTtl < ttl)) ttl = recordTtl;
  }
  return { kind: 'ok', records, ttl, negativeTtl: records.length === 0 ? soaNegativeTtl(response) : undefined };
}

/** A record in the resolver's shape: an address, `{ priority, exchange }`, TXT strings, a PTR name. */
function recordOf(answer: dnsPacket.Answer): unknown {
  const data = (answer as { data?: unknown }).data;
  switch (answer.type) {
    case 'A':
    case 'AAAA':
    case 'PTR':
      return typeof data === 'string' ? data : undefined;
    case 'MX': {
      const mx = data as { preference?: number; exchange?: string } | undefined;
      if (!mx || typeof mx.exchange !== 'string') return undefined;
      return { priority: mx.preference ?? 0, exchange: mx.exchange === '.' ? '' : mx.exchange };
    }
    case 'TXT': {
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((part) => (Buffer.isBuffer(part) ? part.toString('utf8') : String(part)));
    }
    default:
      return undefined;
  }
}

/** The negative-caching TTL of RFC 2308: the smaller of the SOA record's TTL and its minimum field. */
function soaNegativeTtl(response: dnsPacket.Packet): number | undefined {
  for (const record of response.authorities ?? []) {
    if (record.type !== 'SOA') continue;
    const soa = record as { ttl?: number; data?: { minimum?: number } };
    const minimum = soa.data?.minimum;
    if (typeof soa.ttl === 'number' && typeof minimum === 'number') return Math.min(soa.ttl, minimum);
  }
  return undefined;
}
