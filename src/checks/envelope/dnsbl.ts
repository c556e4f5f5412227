// DNS block lists (and allow lists, with negative scores): the client address is looked up in each
// configured zone (IPv4 reversed, IPv6 as nibbles), all zones at once. An answer inside the zone's
// answer filter is a listing: a reject zone rejects as Postfix's reject_rbl_client does, a score
// zone adds its score. Answers in 127.255.255.0/24 are the list refusing the query (quota, public
// resolver), never a listing: they are logged as a warning. DNS failures are no finding.
import ipaddr from 'ipaddr.js';
import type { CheckDescriptor, CheckOutcome, SymbolHit, Verdict } from '../../core/check.js';
import type { Logger } from '../../core/log.js';
import { NetworkList, parseAddress, type IpAddress } from '../../core/networks.js';
import type { Config } from '../../config/schema.js';
import type { DnsResolver } from '../../dns/resolver.js';
import { reverseIpName } from '../../dns/names.js';
import { isTrustedClient } from './rule.js';

type ZoneConfig = Config['dnsbl']['zones'][number];

/** Address ranges never sent to a public list: they say nothing about a sender and leak our traffic. */
const NOT_LOOKED_UP = new Set(['private', 'loopback', 'linkLocal', 'unspecified', 'uniqueLocal', 'carrierGradeNat']);

const REFUSAL = ipaddr.parseCIDR('127.255.255.0/24');
const ANY_LISTING = ipaddr.parseCIDR('127.0.0.0/8');

/** An answer in 127.255.255.0/24: the list refusing the query (quota, public resolver), never a listing. */
export const isRefusalAnswer = (answer: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(answer) && ipaddr.IPv4.parse(answer).match(REFUSAL as [ipaddr.IPv4, number]);

/** A compiled answer filter: does this IPv4 answer count as a listing? */
export function answerMatcher(filters: readonly string[]): (answer: string) => boolean {
  if (filters.length === 0) return (answer) => ipaddr.IPv4.isValidFourPartDecimal(answer) && ipaddr.IPv4.parse(answer).match(ANY_LISTING as [ipaddr.IPv4, number]);
  const toNumber = (text: string): number => ipaddr.IPv4.parse(text).toByteArray().reduce((n, byte) => n * 256 + byte, 0);
  const ranges: [number, number][] = filters.map((filter) => {
    if (filter.includes('-')) {
      const [from, to] = filter.split('-') as [string, string];
      return [toNumber(from), toNumber(to)];
    }
    if (filter.includes('/')) {
      const [network, bits] = ipaddr.parseCIDR(filter);
      const start = toNumber(network.toString()) & (bits === 0 ? 0 : ~0 << (32 - bits));
      return [start >>> 0, (start >>> 0) + 2 ** (32 - bits) - 1];
    }
    return [toNumber(filter), toNumber(filter)];
  });
  return (answer) => {
    if (!ipaddr.IPv4.isValidFourPartDecimal(answer)) return false;
    const value = toNumber(answer);
    return ranges.some(([from, to]) => value >= from && value <= to);
  };
}

export const symbolForZone = (zone: ZoneConfig): string => zone.name ?? `DNSBL_${zone.zone.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;

interface PreparedZone {
  config: ZoneConfig;
  symbol: string;
  isListing: (answer: string) => boolean;
}

interface Listing {
  zone: PreparedZone;
  answers: string[];
}

async function lookUp(zone: PreparedZone, address: IpAddress, text: string, dns: DnsResolver, log: Logger): Promise<Listing | undefined> {
  if (address.kind() === 'ipv6' && !zone.config.ipv6) return undefined;
  const name = reverseIpName(text, zone.config.zone);
  if (!name) return undefined;
  const answer = await dns.a(name);
  if (answer.status !== 'ok') return undefined; // not listed, or a DNS failure (counted by the resolver): no finding
  const refusals = answer.records.filter(isRefusalAnswer);
  if (refusals.length > 0) {
    log.warn({ zone: zone.config.zone, answer: refusals.join(','), client_address: text }, 'DNS list refused the query (quota or public resolver?); not counted as a listing');
  }
  const listed = answer.records.filter((r) => !refusals.includes(r) && zone.isListing(r));
  return listed.length > 0 ? { zone, answers: listed } : undefined;
}

function verdictFor(listing: Listing, clientAddress: string): Verdict {
  const zone = listing.zone.config;
  const template = zone.reply ?? 'Service unavailable; Client host [%a] blocked using %z';
  const text = template.replaceAll('%a', clientAddress).replaceAll('%z', zone.zone).replaceAll('%t', listing.answers.join(','));
  return { action: 'reject', reason: `client listed in ${zone.zone} (${listing.answers.join(',')})`, reply: { code: 554, enhanced: '5.7.1', text } };
}

export const dnsblCheck: CheckDescriptor = {
  name: 'dnsbl',
  stages: ['connect', 'helo', 'mail', 'rcpt'],
  timeoutMs: 10_000,
  create: ({ config, dns, log }) => {
    if (config.dnsbl.zones.length === 0) return undefined;
    const zones: PreparedZone[] = config.dnsbl.zones.map((zone) => ({ config: zone, symbol: symbolForZone(zone), isListing: answerMatcher(zone.answers) }));
    const myNetworks = new NetworkList(config.my_networks);
    return {
      timeoutMs: config.dns.timeout * 1000 + 500,
      evaluate: async (task): Promise<CheckOutcome | undefined> => {
        const envelope = task.envelope;
        const address = parseAddress(envelope.clientAddress);
        if (!address || NOT_LOOKED_UP.has(address.range()) || isTrustedClient(envelope, address, myNetworks)) return undefined;
        const listings = (await Promise.all(zones.map((zone) => lookUp(zone, address, envelope.clientAddress, dns, log)))).filter((l): l is Listing => l !== undefined);
        if (listings.length === 0) return undefined;
        const symbols: SymbolHit[] = listings.map((l) => {
          const blocking = l.zone.config.action === 'reject' || l.zone.config.score > 0;
          return {
            name: l.zone.symbol,
            score: l.zone.config.action === 'reject' ? Math.max(l.zone.config.score, 0) : l.zone.config.score,
            description: `client ${envelope.clientAddress} listed in ${l.zone.config.zone} (${l.answers.join(',')})`,
            ...(blocking ? { fault: 'dnsbl' as const } : {}),
          };
        });
        const rejecting = listings.find((l) => l.zone.config.action === 'reject');
        return rejecting ? { symbols, verdict: verdictFor(rejecting, envelope.clientAddress) } : { symbols };
      },
    };
  },
};
