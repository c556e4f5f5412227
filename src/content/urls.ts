// Every web URL of a message, found once per message (memo): the hrefs of HTML links, form
// targets and image sources, and the bare URLs (http://, https://, www.) written in text parts and
// in the visible text of HTML parts. Each is parsed with WHATWG URL (as a browser would read it)
// and described: host, registrable domain (tldts), IP-literal host (dotted, integer, hex or octal
// forms: a host the parser turned into an IPv4 address), credentials before the host
// (http://paypal.com@evil.example/), and needless percent-encoding.
//
// Needless escapes are %XX sequences standing for characters that never need one (letters, digits,
// - . _ ~): browsers decode them, so they only serve to hide a name from filters. Escapes a URL
// needs (UTF-8 of non-ASCII paths, reserved characters) do not count: a Russian Wikipedia link is
// all %XX and is fine. A URL is heavily encoded when its host holds any escape, or when its path
// holds at least 3 needless escapes making 20% or more of the host and path characters.
import ipaddr from 'ipaddr.js';
import { getDomain } from 'tldts';
import { BoundedCache } from '../core/bounded-cache.js';
import { memo, type ParsedMessage } from '../core/message.js';
import { htmlOf } from './html.js';

/** Most distinct URLs considered per message; the rest are ignored. */
export const MAX_URLS = 500;
/** Heavy encoding: at least this many needless escapes in the path... */
const MIN_NEEDLESS_ESCAPES = 3;
/** ...making at least this share of the host and path characters (an escape counts its 3 characters). */
const MIN_NEEDLESS_ESCAPE_SHARE = 0.2;

export type UrlSource = 'link' | 'form' | 'image' | 'text';

export interface IpLiteral {
  version: 4 | 6;
  /** A globally routed address (not private, loopback, link-local, reserved...). */
  public: boolean;
  /** Written in another form than the dotted decimal it stands for (3232235777, 0xc0.0xa8.1.1, 0300.0250.1.1). */
  obfuscated: boolean;
}

export interface MessageUrl {
  /** As found in the message. */
  raw: string;
  /** As a browser reads it (WHATWG serialisation). */
  href: string;
  source: UrlSource;
  /** Lower case, without a final dot; an IPv6 host without its brackets. */
  host: string;
  /** Registrable domain of the host (tldts); undefined for IP literals and names without one (localhost). */
  domain: string | undefined;
  ip: IpLiteral | undefined;
  /** The user name before the host, percent-decoded ('' when none; a password alone shows as ':'). */
  userinfo: string;
  /** %XX escapes of characters that need none, in the host and path. */
  needlessEscapes: number;
  heavilyEncoded: boolean;
}

/** decodeURIComponent, or the text as it is when it holds a stray % that is no escape. */
export function decodeSafely(text: string): string {
  if (!text.includes('%')) return text; // nothing to decode
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const ESCAPE = /%([0-9a-fA-F]{2})/g;

/** Needless %XX escapes in `text` (see the top of the file). */
function needlessEscapesIn(text: string): number {
  let count = 0;
  ESCAPE.lastIndex = 0;
  for (let match = ESCAPE.exec(text); match !== null; match = ESCAPE.exec(text)) {
    if (UNRESERVED.test(String.fromCharCode(parseInt(match[1]!, 16)))) count++;
  }
  return count;
}

/** The host and path of an absolute URL as written (userinfo and port left out). */
function rawHostAndPath(raw: string): { host: string; path: string } {
  const afterScheme = raw.replace(/^[a-z][a-z0-9+.-]*:/i, '').replace(/^[/\\]*/, '');
  const authorityEnd = afterScheme.search(/[/?#\\]/);
  const authority = authorityEnd < 0 ? afterScheme : afterScheme.slice(0, authorityEnd);
  const rest = authorityEnd < 0 ? '' : afterScheme.slice(authorityEnd);
  const hostAndPort = authority.slice(authority.lastIndexOf('@') + 1);
  const host = hostAndPort.startsWith('[') ? hostAndPort.slice(0, hostAndPort.indexOf(']') + 1) : hostAndPort.replace(/:[^:]*$/, '');
  const queryStart = rest.search(/[?#]/);
  return { host, path: queryStart < 0 ? rest : rest.slice(0, queryStart) };
}

const DOTTED_QUAD = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** The IP literal `host` (as WHATWG URL serialises it) stands for, if any; `absolute` is the URL as written. */
function ipLiteralOf(host: string, absolute: string): IpLiteral | undefined {
  if (host.includes(':')) {
    const parsed = ipaddr.IPv6.isValid(host) ? ipaddr.IPv6.parse(host) : undefined;
    return parsed ? { version: 6, public: parsed.range() === 'unicast', obfuscated: false } : undefined;
  }
  // WHATWG URL writes every IPv4 host in dotted decimal; the pattern spares ipaddr.js's slow validation of names.
  if (!DOTTED_QUAD.test(host) || !ipaddr.IPv4.isValidFourPartDecimal(host)) return undefined;
  const written = rawHostAndPath(absolute).host.toLowerCase().replace(/\.$/, '');
  return { version: 4, public: ipaddr.IPv4.parse(host).range() === 'unicast', obfuscated: written !== host };
}

/** Registrable domains (null for none) of host names, kept across messages: 10,000 hosts (then it starts again, empty), of up to 100 characters. */
const registrableDomains = new BoundedCache<string | null>(10_000, 100);

/** The registrable domain of a host name (tldts), undefined when it has none; kept, as the same hosts recur from message to message. */
export function registrableDomain(host: string): string | undefined {
  return registrableDomains.get(host, getDomain) ?? undefined;
}

/**
 * Parses a web URL as found in a message: http(s)://…, protocol-relative //…, or www.… (read as
 * http://www.…). Undefined for other schemes, relative references and what WHATWG URL rejects.
 */
export function parseWebUrl(raw: string, source: UrlSource): MessageUrl | undefined {
  const text = raw.trim();
  let absolute: string;
  if (/^https?:/i.test(text)) absolute = text;
  else if (text.startsWith('//')) absolute = `http:${text}`;
  else if (/^www\./i.test(text)) absolute = `http://${text}`;
  else return undefined;
  let url: URL;
  try {
    url = new URL(absolute);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === '') return undefined;
  // Escapes are counted as written; most URLs have none (no % at all) and are not read again.
  let hostEscapes = 0;
  let needlessEscapes = 0;
  let length = 0;
  if (absolute.includes('%')) {
    const written = rawHostAndPath(absolute);
    hostEscapes = (written.host.match(/%[0-9a-fA-F]{2}/g) ?? []).length;
    needlessEscapes = needlessEscapesIn(written.host) + needlessEscapesIn(written.path);
    length = written.host.length + written.path.length;
  }
  const ip = ipLiteralOf(host, absolute);
  return {
    raw: text,
    href: url.href,
    source,
    host,
    domain: ip ? undefined : registrableDomain(host),
    ip,
    userinfo: url.password !== '' && url.username === '' ? ':' : decodeSafely(url.username),
    needlessEscapes,
    heavilyEncoded: hostEscapes > 0 || (needlessEscapes >= MIN_NEEDLESS_ESCAPES && (needlessEscapes * 3) / length >= MIN_NEEDLESS_ESCAPE_SHARE),
  };
}

/** Bare URLs in text: a scheme or www., up to a space or a character URLs never hold unescaped. */
const BARE_URL = /\b(?:https?:\/\/|www\.)[^\s<>"'`{}|\\^]+/gi;

const count = (text: string, character: string): number => text.split(character).length - 1;

/**
 * A bare URL without the punctuation that ends the sentence around it ("see https://x.example/).");
 * a closing bracket stays when the URL opened it (https://en.wikipedia.org/wiki/Mail_(disambiguation)).
 */
function trimTrailingPunctuation(candidate: string): string {
  let url = candidate;
  for (;;) {
    const last = url.at(-1);
    if (last === undefined) return url;
    const unbalanced = (last === ')' && count(url, '(') < count(url, ')')) || (last === ']' && count(url, '[') < count(url, ']'));
    if (!unbalanced && !'.,;:!?*\u00bb'.includes(last)) return url;
    url = url.slice(0, -1);
  }
}

/** The bare URLs written in `text`, in order. */
export function bareUrls(text: string): string[] {
  const found: string[] = [];
  BARE_URL.lastIndex = 0;
  for (let match = BARE_URL.exec(text); match !== null; match = BARE_URL.exec(text)) found.push(trimTrailingPunctuation(match[0]));
  return found;
}

/** Every distinct web URL of the message (at most MAX_URLS), in the order above, computed once per message. */
export function urlsOf(message: ParsedMessage): MessageUrl[] {
  return memo(message, 'content.urls', () => {
    const urls: MessageUrl[] = [];
    const seen = new Set<string>();
    const add = (raw: string, source: UrlSource): boolean => {
      if (urls.length >= MAX_URLS) return false;
      const trimmed = raw.trim();
      if (seen.has(trimmed)) return true;
      seen.add(trimmed);
      const url = parseWebUrl(trimmed, source);
      if (url) urls.push(url);
      return true;
    };
    const html = htmlOf(message);
    for (const link of html.links) if (!add(link.href, 'link')) return urls;
    for (const action of html.formActions) if (!add(action, 'form')) return urls;
    for (const image of html.images) if (!add(image.src, 'image')) return urls;
    for (const raw of bareUrls(html.text)) if (!add(raw, 'text')) return urls;
    for (const part of message.textParts) {
      if (part.kind !== 'text') continue;
      for (const raw of bareUrls(part.content)) if (!add(raw, 'text')) return urls;
    }
    return urls;
  });
}
