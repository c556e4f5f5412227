// URI block lists (end of message): the registrable domains (tldts) of the message's URL hosts,
// distinct, in order of appearance, at most uribl.max_domains, are looked up as <domain>.<zone> in
// every uribl.zones zone at once (SURBL / URIBL / Spamhaus DBL style). An A answer inside the zone's
// answer filter is a listing: the zone's symbol (its `name`, else URIBL_<ZONE>) adds its score, once
// per zone whatever the number of listed domains, or, for a zone with action: reject, the message
// is rejected (554 5.7.1). Answers in 127.255.255.0/24 are the list refusing the query: logged,
// never a listing. DNS failures are no finding.
//
// Hosts that are IP addresses are not looked up: domain lists such as Spamhaus DBL refuse IP
// queries with an answer inside 127.0.0.0/8 (127.0.1.255), which a zone without an answer filter
// would take for a listing; URI_IP_LITERAL scores such links already. Domains of local_domains are
// not looked up either (our own links).
//
// Local bad domains (uribl.bad_domains and the files of uribl.bad_domains_files: one domain per
// line, # comments, a leading "*." or "." allowed) match the domain itself and its subdomains, on
// every URL host (no limit, no DNS): URIBL_LOCAL with uribl.bad_domain_score.
import { getDomain } from 'tldts';
import { readListFiles } from '../../core/list-files.js';
import type { CheckDescriptor, CheckOutcome, CheckProblem, SymbolHit, Verdict } from '../../core/check.js';
import type { Logger } from '../../core/log.js';
import type { Config } from '../../config/schema.js';
import type { DnsResolver } from '../../dns/resolver.js';
import { urlsOf } from '../../content/urls.js';
import { answerMatcher, isRefusalAnswer } from '../envelope/dnsbl.js';

type ZoneConfig = Config['uribl']['zones'][number];

/** Symbol of a link to a local bad domain (score: uribl.bad_domain_score). */
export const LOCAL_BAD_DOMAIN_SYMBOL = 'URIBL_LOCAL';
/** Longest DNS name, in characters (RFC 1035). */
const MAX_DNS_NAME_LENGTH = 253;
const DOMAIN_LINE = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

const symbolForUriblZone = (zone: ZoneConfig): string => zone.name ?? `URIBL_${zone.zone.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;

interface PreparedZone {
  config: ZoneConfig;
  zone: string;
  symbol: string;
  isListing: (answer: string) => boolean;
}

interface Listing {
  domain: string;
  answers: string[];
}

const normaliseDomain = (domain: string): string => domain.trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');

/** Reads the bad-domain files; unreadable files and lines that are not domain names become problems. */
export function loadBadDomains(inline: readonly string[], files: readonly string[]): { domains: Set<string>; problems: CheckProblem[] } {
  const domains = new Set(inline.map(normaliseDomain));
  const problems = readListFiles('uribl', files, (line) => {
    const domain = normaliseDomain(line);
    if (!DOMAIN_LINE.test(domain) || !domain.includes('.')) return 'not a domain name';
    domains.add(domain);
    return undefined;
  });
  return { domains, problems };
}

/** The entry of `badDomains` that `host` is or is under, if any. */
function badDomainOf(host: string, badDomains: ReadonlySet<string>): string | undefined {
  let name = host;
  while (!badDomains.has(name)) {
    const dot = name.indexOf('.');
    if (dot < 0) return undefined;
    name = name.slice(dot + 1);
  }
  return name;
}

async function lookUp(zone: PreparedZone, domain: string, dns: DnsResolver, log: Logger): Promise<Listing | undefined> {
  const name = `${domain}.${zone.zone}`;
  if (name.length > MAX_DNS_NAME_LENGTH) return undefined;
  const answer = await dns.a(name);
  if (answer.status !== 'ok') return undefined; // not listed, or a DNS failure (counted by the resolver): no finding
  const refusals = answer.records.filter(isRefusalAnswer);
  if (refusals.length > 0) log.warn({ zone: zone.zone, answer: refusals.join(','), domain }, 'URI list refused the query (quota or public resolver?); not counted as a listing');
  const listed = answer.records.filter((r) => !isRefusalAnswer(r) && zone.isListing(r));
  return listed.length > 0 ? { domain, answers: listed } : undefined;
}

function verdictFor(zone: PreparedZone, listing: Listing): Verdict {
  return {
    action: 'reject',
    reason: `links to ${listing.domain}, listed in ${zone.zone} (${listing.answers.join(',')})`,
    reply: { code: 554, enhanced: '5.7.1', text: `Message rejected: it links to ${listing.domain}, listed in ${zone.zone}` },
  };
}

export const uriblCheck: CheckDescriptor = {
  name: 'uribl',
  stages: ['eom'],
  timeoutMs: 10_000,
  create: ({ config, dns, log }) => {
    const settings = config.uribl;
    if (settings.zones.length === 0 && settings.bad_domains.length === 0 && settings.bad_domains_files.length === 0) return undefined;
    const zones: PreparedZone[] = settings.zones.map((zone) => ({ config: zone, zone: normaliseDomain(zone.zone), symbol: symbolForUriblZone(zone), isListing: answerMatcher(zone.answers) }));
    const { domains: badDomains, problems } = loadBadDomains(settings.bad_domains, settings.bad_domains_files);
    const ownDomains = new Set(config.local_domains.map((d) => getDomain(normaliseDomain(d)) ?? normaliseDomain(d)));
    return {
      problems,
      timeoutMs: config.dns.timeout * 1000 + 500,
      evaluate: async (task): Promise<CheckOutcome | undefined> => {
        const message = task.message;
        if (!message) return undefined;
        const urls = urlsOf(message);
        const symbols: SymbolHit[] = [];

        if (badDomains.size > 0) {
          const found = new Set<string>();
          for (const url of urls) {
            const bad = badDomainOf(url.host, badDomains);
            if (bad !== undefined) found.add(bad);
          }
          if (found.size > 0) symbols.push({ name: LOCAL_BAD_DOMAIN_SYMBOL, score: settings.bad_domain_score, description: `links to local bad domain ${[...found].join(', ')}` });
        }

        const domains = [...new Set(urls.map((u) => u.domain).filter((d): d is string => d !== undefined && !ownDomains.has(d)))].slice(0, settings.max_domains);
        if (zones.length === 0 || domains.length === 0) return symbols.length > 0 ? { symbols } : undefined;
        const results = await Promise.all(zones.map(async (zone) => ({ zone, listings: (await Promise.all(domains.map((d) => lookUp(zone, d, dns, log)))).filter((l): l is Listing => l !== undefined) })));
        let verdict: Verdict | undefined;
        for (const { zone, listings } of results) {
          if (listings.length === 0) continue;
          const rejects = zone.config.action === 'reject';
          const listed = listings.map((l) => `${l.domain} (${l.answers.join(',')})`).join(', ');
          symbols.push({ name: zone.symbol, score: rejects ? Math.max(zone.config.score, 0) : zone.config.score, description: `links to ${listed}, listed in ${zone.zone}` });
          if (rejects && !verdict) verdict = verdictFor(zone, listings[0]!);
        }
        if (symbols.length === 0) return undefined;
        return verdict ? { symbols, verdict } : { symbols };
      },
    };
  },
};
