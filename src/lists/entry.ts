// Allow/block list entries as users write them, normalised to the one form the store keeps and the
// matcher indexes: `user@example.org` (a sender), `@example.org` (a sender domain and its
// subdomains), an IPv4/IPv6 address or CIDR network (canonical text, host bits cleared, IPv4-mapped
// IPv6 as IPv4) and `helo:mx.example.net` (a HELO name); plus the block reasons' categories and
// the valid-recipient entries of `rempart recipients` (`user@example.org`, `@example.org`).
import ipaddr from 'ipaddr.js';
import type { ListEntryType } from '../store/types.js';

export interface ParsedValue {
  type: ListEntryType;
  /** The canonical text stored and shown. */
  value: string;
}

/** A host or domain name: labels of letters, digits, hyphens and underscores (lenient, as mail needs). */
const NAME = /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
/** A local part without white space, angle brackets or a second `@`. */
const LOCAL_PART = /^[^\s<>@]{1,64}$/;

/** Lower case, without one trailing dot (`Example.ORG.` → `example.org`). */
const cleanName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** Clears every bit of `bytes` past `prefix`. */
export function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((byte, i) => {
    const bitsHere = prefix - i * 8;
    if (bitsHere >= 8) return byte;
    if (bitsHere <= 0) return 0;
    return byte & (0xff << (8 - bitsHere)) & 0xff;
  });
}

/**
 * Parses an IP address or CIDR network into its canonical text: `192.0.2.7`, `192.0.2.0/24`,
 * `2001:db8::/32`; host bits are cleared, a full-length prefix is dropped, IPv4-mapped IPv6 becomes
 * IPv4. Undefined when the text is neither.
 */
export function canonicalNetwork(text: string): { network: string; bytes: number[]; prefix: number } | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash >= 0 ? trimmed.slice(0, slash) : trimmed;
  const prefixText = slash >= 0 ? trimmed.slice(slash + 1) : undefined;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addressText)) address = ipaddr.IPv4.parse(addressText);
  else if (ipaddr.IPv6.isValid(addressText) && !addressText.includes('%')) address = new ipaddr.IPv6(ipaddr.IPv6.parse(addressText).parts);
  else return undefined;
  let max = address.kind() === 'ipv4' ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
    prefix = Number(prefixText);
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
    max = 32;
  }
  const bytes = maskBytes(address.toByteArray(), prefix);
  const base = ipaddr.fromByteArray(bytes).toString();
  return { network: prefix === max ? base : `${base}/${prefix}`, bytes, prefix };
}

/** The bytes of a client address (IPv4-mapped IPv6 as IPv4), or undefined when it is not one. */
export function addressBytes(text: string): number[] | undefined {
  if (text === '' || text.includes('/')) return undefined;
  const parsed = canonicalNetwork(text);
  return parsed && parsed.prefix === parsed.bytes.length * 8 ? parsed.bytes : undefined;
}

/**
 * Parses one entry as a user writes it; a message saying what is wrong when it is not one.
 * A bare name (`example.org`) is refused: it could mean a domain or a HELO name.
 */
export function parseListValue(text: string): ParsedValue | string {
  const raw = text.trim();
  if (raw === '') return 'empty entry';
  if (/\s/.test(raw)) return 'an entry has no spaces';
  const lower = raw.toLowerCase();
  if (lower.startsWith('helo:')) {
    const name = cleanName(raw.slice(5));
    if (name === '') return 'helo: needs a name, e.g. helo:mx.example.net';
    // HELO names are often broken (that is why they get listed): any printable text without spaces.
    if (!/^[\x21-\x7e]{1,255}$/.test(name)) return 'not a usable HELO name';
    return { type: 'helo', value: `helo:${name}` };
  }
  if (raw.startsWith('@')) {
    const domain = cleanName(raw.slice(1));
    if (!NAME.test(domain)) return `not a valid domain name: ${raw.slice(1)}`;
    return { type: 'domain', value: `@${domain}` };
  }
  const at = raw.lastIndexOf('@');
  if (at > 0) {
    const local = raw.slice(0, at);
    const domain = cleanName(raw.slice(at + 1));
    if (!LOCAL_PART.test(local)) return `not a valid address: ${raw}`;
    if (!NAME.test(domain)) return `not a valid domain name in ${raw}`;
    return { type: 'sender', value: `${local.toLowerCase()}@${domain}` };
  }
  const network = canonicalNetwork(raw);
  if (network) return { type: 'ip', value: network.network };
  if (/^[\d./:]+$/.test(raw) || raw.includes(':')) return `not a valid IP address or CIDR network: ${raw}`;
  return `"${raw}" is not an entry: write @${cleanName(raw)} for a sender domain, helo:${cleanName(raw)} for a HELO name`;
}

/** Normalises a recipient used as a scope (`--for`): lower case; undefined when it is not an address. */
export function parseRecipient(text: string): string | undefined {
  const parsed = parseListValue(text);
  return typeof parsed !== 'string' && parsed.type === 'sender' ? parsed.value : undefined;
}

/**
 * Parses a valid-recipient entry (`rempart recipients ...`): `user@example.org`, or `@example.org`
 * for every address of the domain; lower case, no trailing dot. The domain must be fully qualified,
 * as in the files of `recipients.files`. A message saying what is wrong when it is not one.
 */
export function parseRecipientEntry(text: string): { address: string; domain: string } | string {
  const raw = text.trim();
  if (raw === '') return 'empty entry';
  if (/\s/.test(raw)) return 'an entry has no spaces';
  const at = raw.lastIndexOf('@');
  if (at < 0) {
    const name = cleanName(raw);
    return NAME.test(name) && name.includes('.')
      ? `"${raw}" is not an address: write @${name} for every address of the domain`
      : `not an address or @domain: ${raw}`;
  }
  const local = raw.slice(0, at);
  const domain = cleanName(raw.slice(at + 1));
  if (!NAME.test(domain) || !domain.includes('.')) return `not a fully-qualified domain name in ${raw}`;
  if (local !== '' && !LOCAL_PART.test(local)) return `not a valid address: ${raw}`;
  return { address: `${local.toLowerCase()}@${domain}`, domain };
}

/** The block reasons' categories and the text each puts in the reply. */
export const REASON_CATEGORIES: Readonly<Record<string, string>> = {
  spam: 'spam',
  'abusive-domain': 'abusive domain',
  compromised: 'compromised account',
};

/** The reply text of a block reason: a category's text, else the free text; "Access denied" when empty (as Postfix says). */
export function reasonText(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed === '') return 'Access denied';
  return REASON_CATEGORIES[trimmed.toLowerCase()] ?? trimmed.replace(/[\r\n\0]+/g, ' ');
}
