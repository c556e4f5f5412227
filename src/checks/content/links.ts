// Deceptive links (end of message): an HTML link whose text shows one domain while it leads to
// another, and URLs that hide where they go: a numeric host, credentials posing as the host,
// needless percent-encoding. Reads the URL list of src/content/urls.ts (once per message); scores only.
//
// Link text counts as showing a domain only when the whole text (trimmed, final punctuation left
// out) is one URL: http(s)://…, www.…, or a bare name with an ICANN suffix that is not also a
// common file extension (README.md, setup.py and archive.zip are file names). The shown and real
// domains (registrable domains, tldts) are not a mismatch when:
// - they are equal, or the same name under another suffix (example.com and example.de);
// - the real URL names the shown domain after its host: link protectors and redirectors
//   (safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com, urldefense.com) do.
// Mail-provider click tracking (the text shows www.shop.example, the link goes through
// click.esp.example) still matches: this is why the score stays moderate.
import { parse } from 'tldts';
import type { SymbolHit } from '../../core/check.js';
import { contentRuleCheck } from './rule-check.js';
import { htmlOf } from '../../content/html.js';
import { decodeSafely, parseWebUrl, urlsOf, type MessageUrl } from '../../content/urls.js';

/** Default scores (SpamAssassin-like weights; override with `scores:`). */
export const LINK_SCORES = {
  /** The link text shows a URL or domain name whose registrable domain is not the link's. */
  LINK_TEXT_DOMAIN_MISMATCH: 1.5,
  /** A URL whose host is a public IP address. */
  URI_IP_LITERAL: 1.2,
  /** A URL whose host is an IP address written as an integer, in hex or octal (any address). */
  URI_IP_OBFUSCATED: 2.5,
  /** Credentials before the host that look like a domain name (http://paypal.com@evil.example/), or any in an HTML link. */
  URI_USERINFO: 2.0,
  /** Needless percent-encoding in the host or path (see src/content/urls.ts). */
  URI_PERCENT_ENCODED: 1.0,
} as const;

/**
 * ICANN top-level domains that are also common file extensions (archives, video, Markdown, scripts,
 * sources, Illustrator, PostScript): a bare "name.ext" link text ending so is read as a file name.
 */
const FILE_EXTENSION_SUFFIXES = new Set(['zip', 'mov', 'md', 'sh', 'py', 'pl', 'rs', 'cc', 'pm', 'so', 'ai', 'ps', 'ml']);
const BARE_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+(?:\/\S*)?$/i;
/** Most examples named in one description. */
const EXAMPLES_SHOWN = 3;

const hit = (name: keyof typeof LINK_SCORES, description: string): SymbolHit => ({ name, score: LINK_SCORES[name], description });

/** The domain a link text shows, or undefined when the text is not a URL or domain name. */
export function shownDomain(linkText: string): string | undefined {
  const text = linkText.trim().replace(/[.,;:!?]+$/, '');
  if (text === '' || /\s/.test(text)) return undefined;
  if (/^(?:https?:\/\/|www\.)/i.test(text)) {
    const url = parseWebUrl(text, 'link');
    return url ? (url.domain ?? url.host) : undefined;
  }
  if (!BARE_NAME.test(text)) return undefined;
  const name = parse(text.split('/')[0]!);
  if (!name.isIcann || !name.domain || FILE_EXTENSION_SUFFIXES.has(name.publicSuffix ?? '')) return undefined;
  return name.domain;
}

const withoutSuffix = (domain: string): string => parse(domain).domainWithoutSuffix ?? domain;

/** Whether the URL names `domain` after its own host (a redirector's or link protector's target). */
function namesAfterHost(url: MessageUrl, domain: string): boolean {
  const decoded = decodeSafely(url.href).toLowerCase();
  const afterHost = decoded.slice(decoded.indexOf(url.host) + url.host.length);
  const escaped = domain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|[^a-z0-9-])${escaped}(?:$|[^a-z0-9-])`).test(afterHost);
}

/** "paypal.com → evil.example" for each link whose text shows another domain than its target's. */
function mismatchedLinks(links: readonly { href: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const link of links) {
    const shown = shownDomain(link.text);
    if (shown === undefined) continue;
    const target = parseWebUrl(link.href, 'link');
    if (!target) continue;
    const real = target.domain ?? target.host;
    if (shown === real || withoutSuffix(shown) === withoutSuffix(real) || namesAfterHost(target, shown)) continue;
    const pair = `${shown} → ${real}`;
    if (!found.includes(pair)) found.push(pair);
  }
  return found;
}

function summary(items: readonly string[]): string {
  const shown = items.slice(0, EXAMPLES_SHOWN).join(', ');
  return items.length > EXAMPLES_SHOWN ? `${shown} (+${items.length - EXAMPLES_SHOWN} more)` : shown;
}

const distinct = (urls: readonly MessageUrl[], show: (url: MessageUrl) => string): string[] => [...new Set(urls.map(show))];

function urlFindings(urls: readonly MessageUrl[]): SymbolHit[] {
  const found: SymbolHit[] = [];
  const publicIps = urls.filter((u) => u.ip?.public);
  if (publicIps.length > 0) found.push(hit('URI_IP_LITERAL', `link to an IP address: ${summary(distinct(publicIps, (u) => u.host))}`));
  const obfuscated = urls.filter((u) => u.ip?.obfuscated);
  if (obfuscated.length > 0) found.push(hit('URI_IP_OBFUSCATED', `IP address written in disguise: ${summary(distinct(obfuscated, (u) => `${u.raw.slice(0, 40)} = ${u.host}`))}`));
  const deceiving = urls.filter((u) => u.userinfo !== '' && (u.source !== 'text' || looksLikeDomain(u.userinfo)));
  if (deceiving.length > 0) found.push(hit('URI_USERINFO', `credentials before the host: ${summary(distinct(deceiving, (u) => `${u.userinfo}@${u.host}`))}`));
  const encoded = urls.filter((u) => u.heavilyEncoded);
  if (encoded.length > 0) found.push(hit('URI_PERCENT_ENCODED', `needlessly percent-encoded URL: ${summary(distinct(encoded, (u) => u.raw.slice(0, 60)))}`));
  return found;
}

/** A user name that is itself a domain name (paypal.com in http://paypal.com@evil.example/). */
function looksLikeDomain(userinfo: string): boolean {
  const name = parse(userinfo);
  return name.isIcann === true && name.domain !== null;
}

export const linksCheck = contentRuleCheck('content-links', () => undefined, (message) => {
  const symbols = urlFindings(urlsOf(message));
  const mismatches = mismatchedLinks(htmlOf(message).links);
  if (mismatches.length > 0) symbols.unshift(hit('LINK_TEXT_DOMAIN_MISMATCH', `link text shows another domain than its target: ${summary(mismatches)}`));
  return symbols;
});
