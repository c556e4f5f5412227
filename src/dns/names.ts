// DNS names built from IP addresses: the reversed forms used by DNSBL/DNSWL lookups
// (`1.2.0.192.zen.example`, IPv6 as 32 reversed nibbles, RFC 5782) and by PTR lookups
// (`in-addr.arpa`, `ip6.arpa`). Addresses are parsed with ipaddr.js, strictly.
import ipaddr from 'ipaddr.js';
import { parseAddress } from '../core/networks.js';

/** Zone of IPv4 PTR records. */
export const IPV4_REVERSE_ZONE = 'in-addr.arpa';
/** Zone of IPv6 PTR records. */
export const IPV6_REVERSE_ZONE = 'ip6.arpa';

/** `zone` without leading or trailing dots, lower-cased; '' stays ''. */
function cleanZone(zone: string): string {
  return zone.trim().replace(/^\.+|\.+$/g, '').toLowerCase();
}

function join(reversed: string, zone: string): string {
  const clean = cleanZone(zone);
  return clean === '' ? reversed : `${reversed}.${clean}`;
}

function ipv4Reversed(address: ipaddr.IPv4): string {
  return [...address.octets].reverse().join('.');
}

function ipv6Reversed(address: ipaddr.IPv6): string {
  const nibbles: string[] = [];
  for (const byte of address.toByteArray()) nibbles.push((byte >> 4).toString(16), (byte & 0x0f).toString(16));
  return nibbles.reverse().join('.');
}

/**
 * `reverseIpv4Name('192.0.2.1', 'bl.example')` → `1.2.0.192.bl.example`. Only dotted-quad decimal
 * is accepted (no `127.1`, hex or octal forms). Throws a RangeError on anything else.
 */
export function reverseIpv4Name(ip: string, zone: string): string {
  const text = ip.trim();
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  return join(ipv4Reversed(ipaddr.IPv4.parse(text)), zone);
}

/**
 * `reverseIpv6Name('2001:db8::1', 'bl.example')` → `1.0.0.0. … .8.b.d.0.1.0.0.2.bl.example`
 * (32 nibbles, least significant first). A zone id (`%eth0`) is ignored. Throws a RangeError when
 * `ip` is not an IPv6 address (an IPv4-mapped address is accepted and kept in IPv6 form).
 */
export function reverseIpv6Name(ip: string, zone: string): string {
  const text = ip.trim();
  if (!ipaddr.IPv6.isValid(text)) throw new RangeError(`not an IPv6 address: ${JSON.stringify(ip)}`);
  return join(ipv6Reversed(ipaddr.IPv6.parse(text)), zone);
}

/**
 * The reversed name of any client address under `zone`: IPv4 reversed by octets, IPv6 by nibbles;
 * an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is looked up as the IPv4 address it carries,
 * as DNSBLs list it. Undefined when `ip` is not an address.
 */
export function reverseIpName(ip: string, zone: string): string | undefined {
  const address = parseAddress(ip);
  if (!address) return undefined;
  return join(address.kind() === 'ipv4' ? ipv4Reversed(address as ipaddr.IPv4) : ipv6Reversed(address as ipaddr.IPv6), zone);
}

/** The PTR query name of an address (`…in-addr.arpa` or `…ip6.arpa`); undefined when not an address. */
export function ptrName(ip: string): string | undefined {
  const address = parseAddress(ip);
  if (!address) return undefined;
  return address.kind() === 'ipv4'
    ? join(ipv4Reversed(address as ipaddr.IPv4), IPV4_REVERSE_ZONE)
    : join(ipv6Reversed(address as ipaddr.IPv6), IPV6_REVERSE_ZONE);
}
