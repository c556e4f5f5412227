// A list of IP networks (IPv4 and IPv6 CIDR or single addresses) with a membership test, for
// configuration lists such as my_networks. IPv4-mapped IPv6 clients are matched as IPv4.
import ipaddr from 'ipaddr.js';

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

const IPV4_SHAPE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
type Parsed = IpAddress;

/**
 * Parses a client IP address as Postfix sends it: IPv4 in dotted-quad decimal only (no `127.1`,
 * hex or leading-zero forms), or IPv6; an IPv4-mapped IPv6 address becomes IPv4. Any IPv6 zone
 * id is dropped. Undefined when the text is not an address.
 */
export function parseAddress(text: string): IpAddress | undefined {
  // Every check of a request parses the same client address: the last answer is kept.
  if (text === lastText) return lastParsed;
  const parsed = parseUncached(text);
  lastText = text;
  lastParsed = parsed;
  return parsed;
}

let lastText: string | undefined;
let lastParsed: IpAddress | undefined;

function parseUncached(text: string): IpAddress | undefined {
  const trimmed = text.trim();
  // Host names are the common input (HELO, domains): tell them apart without ipaddr.js, whose
  // validity tests throw and catch an exception for every non-address.
  if (IPV4_SHAPE.test(trimmed)) {
    const parts = trimmed.split('.');
    const octets: number[] = [];
    for (const part of parts) {
      // Decimal only: no leading zeros (which other parsers read as octal), each part 0-255.
      if (part.length > 1 && part.charCodeAt(0) === 48) return undefined;
      const octet = Number(part);
      if (octet > 255) return undefined;
      octets.push(octet);
    }
    return new ipaddr.IPv4(octets);
  }
  if (!trimmed.includes(':') || !ipaddr.IPv6.isValid(trimmed)) return undefined;
  const v6 = ipaddr.IPv6.parse(trimmed);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  return new ipaddr.IPv6(v6.parts);
}

/** An address given as text or already parsed. */
export const asAddress = (address: string | IpAddress): IpAddress | undefined => (typeof address === 'string' ? parseAddress(address) : address);

export class NetworkList {
  private readonly networks: [Parsed, number][];

  /** Throws on an invalid entry: callers pass validated configuration. */
  constructor(readonly entries: readonly string[]) {
    this.networks = entries.map((entry) => {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry) as [Parsed, number];
      const address = ipaddr.parse(entry);
      return [address, address.kind() === 'ipv4' ? 32 : 128];
    });
  }

  contains(address: string | IpAddress): boolean {
    const parsed = asAddress(address);
    if (!parsed) return false;
    return this.networks.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
  }
}
