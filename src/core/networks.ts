// A list of IP networks (IPv4 and IPv6 CIDR or single addresses) with a membership test, for
// configuration lists such as my_networks. IPv4-mapped IPv6 clients are matched as IPv4.
import ipaddr from 'ipaddr.js';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** Parses an IP address, turning IPv4-mapped IPv6 (::ffff:192.0.2.1) into IPv4; undefined if invalid. */
export function parseAddress(text: string): Parsed | undefined {
  const trimmed = text.trim().replace(/^\[|\]$/g, '').replace(/^ipv6:/i, '');
  if (!ipaddr.isValid(trimmed)) return undefined;
  const parsed = ipaddr.parse(trimmed);
  return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress() ? (parsed as ipaddr.IPv6).toIPv4Address() : parsed;
}

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

  contains(address: string): boolean {
    const parsed = parseAddress(address);
    if (!parsed) return false;
    return this.networks.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
  }
}
