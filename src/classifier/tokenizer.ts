// The Bayesian classifier's tokenizer: turns a parsed message (src/core/message.ts) into the list of
// its distinct tokens, deterministically and without I/O. It reads what the MIME analysis already
// decoded (every charset is a JavaScript string by then) and the HTML and URL analyses that other
// checks share (src/content/, computed once per message), so HTML is parsed only once.
//
// What becomes a token (bench/bayes measured each family on the SpamAssassin corpus):
// - words of the text parts and of the visible text of HTML parts: runs of letters and digits,
//   joined by single inner ' . , - _ (so "don't", "3.5", "$1,000", "e-mail" stay whole), with $ and
//   ! kept ("$100", "free!!!"), folded to lower case; a word written in capitals also gives itself
//   as written ("FREE": shouting is telling). 3 to 40 characters; a longer word becomes one `skip:`
//   token (first character and length in tens, as SpamBayes does), and a whitespace-separated chunk
//   of 40 characters or more in the base64 alphabet (encoded blobs, PGP armour, digests) one `blob:`
//   token instead of dozens of meaningless pieces. Scripts written without spaces (Chinese, Japanese,
//   Korean, Thai...) give overlapping character pairs (bigrams); other scripts give words. Words
//   with digits also give their shape (`N:` + the word with each digit as N: prices, phone numbers
//   and dates that differ only in their digits);
// - a few telling headers, each word prefixed with the header's name: the subject
//   (`subject:word`), the sender's and recipients' names, addresses and domains
//   (`from:@example.com` and each parent domain), the Reply-To domains, the mailer, the Message-ID's
//   host and shape, the top-level Content-Type, priority headers, and the names of the headers
//   present (`header:x-mailer`). Received headers give the host names (and parent domains) and
//   public /24 networks of their `from` clauses: the relays that handed the message on (the `by`
//   hosts are the receiving site's own, the same for every message). Headers that delivery and
//   filters add (Return-Path, Delivered-To, X-Spam-*...) are left out: learning from mailboxes
//   would see them, the milter never does;
// - the structure: each text part's kind and charset, attachment types, extensions and name words,
//   the extensions inside archives, MIME problems; the HTML's active content, hidden text, images
//   and links (counted in powers of two), and a few telling tags (`tag:font`) with their attribute
//   names (`attr:font:color`);
// - every URL (src/content/urls.ts): its host and each parent domain down to the registrable one
//   (`url:www.example.com`, `url:example.com`), IP hosts, credentials, heavy encoding, and the
//   words of its path (`urlpath:unsubscribe`).
// Limits bound the work: characters read per message, header length, tokens per URL and per message.
// What recurs from message to message (header names, host names, Received relays) is read once and
// kept, in bounded caches; the tokens are the same either way. Text is read from a typed copy of its
// code units (code-units.ts), and a token already given is recognised by its 64-bit hash
// (token-hash-set.ts) before any string is made for it (a Set of the strings took a fifth of the
// tokenizing).
import type { MessageHeader, ParsedMessage } from '../core/message.js';
import { htmlOf } from '../content/html.js';
import { BoundedCache } from '../core/bounded-cache.js';
import { registrableDomain, urlsOf } from '../content/urls.js';
import { CodeUnitBuffer } from './code-units.js';
import { hashToken, hashTokenOfUnits, tokenHash } from '../core/token-hash.js';
import { TokenHashSet } from './token-hash-set.js';

/** Token families that can be switched off, to measure what each brings (bench/bayes); all on in `tokenize`. */
export interface TokenizerOptions {
  /** Host names and /24 networks of Received headers' `from` clauses. */
  received: boolean;
  /** One token per header name present. */
  headerNames: boolean;
  /** Words in capitals also as written. */
  capitals: boolean;
  /** The digit shape of words with digits (`N:$NNN`). */
  numberShapes: boolean;
  /** A few telling HTML tags and their attribute names. */
  htmlTags: boolean;
}

export const ALL_TOKEN_FAMILIES: Readonly<TokenizerOptions> = Object.freeze({ received: true, headerNames: true, capitals: true, numberShapes: true, htmlTags: true });

/** Characters of text (parts, HTML text, headers) read per message: 512 Ki characters; the rest is ignored. */
const MAX_TEXT_CHARS = 512 * 1024;
/** HTML characters scanned for tags per message: 256 Ki characters. */
const MAX_HTML_TAG_SCAN_CHARS = 256 * 1024;
/** Distinct tokens per message: 5,000 tokens (at most a few hundred are significant anyway). */
const MAX_TOKENS = 5000;
/** Words shorter than this (3 characters, in UTF-16 units) are left out. */
const MIN_WORD_CHARS = 3;
/** Words longer than this (40 characters) become one `skip:` token. */
const MAX_WORD_CHARS = 40;
/** A whitespace-separated chunk of at least this many characters (40) in the base64 alphabet is an encoded blob. */
const MIN_BLOB_CHARS = 40;
/** A blob of at least this many characters (200, all its lines together) is a long one. */
const LONG_BLOB_CHARS = 200;
/** Names given per host name, itself included: 4 names (a.b.c.d.example.co.uk: down to d.example.co.uk). */
const MAX_DOMAIN_LEVELS = 4;
/** Path words per URL: 8 words. */
const MAX_PATH_WORDS_PER_URL = 8;
/** Header values are read up to 2,000 characters. */
const MAX_HEADER_CHARS = 2000;
/** Addresses tokenized per address header: 20 (the rest are only counted). */
const MAX_ADDRESSES_PER_HEADER = 20;
/** Received headers read: the first 10 (the newest hops; older ones are often forged). */
const MAX_RECEIVED_HEADERS = 10;
/** Header names longer than 40 characters give no token. */
const MAX_HEADER_NAME_CHARS = 40;
/** File extensions longer than 10 characters (dot excluded) give no token. */
const MAX_EXTENSION_CHARS = 10;

// Character classes of UTF-16 code units, computed once (0, the default: separates words).
const SPACE = 1; // separates chunks and words
const JOINER = 2; // ' . , - _ inside a word only
const BIGRAM = 3; // scripts written without spaces
// Word characters: the classes from DIGIT up (one test), letters split by case (one table to read).
const DIGIT = 4; // 0-9
const WORD = 5; // of word-separated scripts: letters without case, marks, other digits; $ and !
const UPPER = 6; // upper- (or title-) case letters of word-separated scripts
const LOWER = 7; // lower-case letters of word-separated scripts
const CHAR_CLASS = new Uint8Array(0x10000);
{
  // Every code unit above ASCII in one string, classified by the regular expression engine a run of
  // characters at a time (testing each character alone takes tens of milliseconds at start).
  let above = '';
  for (let first = 0x80; first < 0x10000; first += 4096) {
    const codes: number[] = [];
    for (let code = first; code < Math.min(first + 4096, 0x10000); code++) codes.push(code);
    above += String.fromCharCode(...codes);
  }
  /** Marks the code units `pattern` matches as `value`; only those of class `only` when given. */
  const mark = (pattern: RegExp, value: number, only?: number) => {
    for (const match of above.matchAll(pattern)) {
      for (let code = match.index + 0x80; code < match.index + 0x80 + match[0].length; code++) {
        if (only === undefined || CHAR_CLASS[code] === only) CHAR_CLASS[code] = value;
      }
    }
  };
  mark(/[\p{L}\p{M}\p{Nd}]+/gu, WORD);
  mark(/\s+/gu, SPACE);
  // Script extensions: the marks these scripts share (the Japanese prolonged sound mark ー) belong to them too.
  mark(/[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}\p{scx=Tibetan}\p{scx=Yi}]+/gu, BIGRAM);
  mark(/[\p{Lu}\p{Lt}]+/gu, UPPER, WORD);
  mark(/\p{Ll}+/gu, LOWER, WORD);
  for (let code = 0x41; code <= 0x5a; code++) CHAR_CLASS[code] = UPPER;
  for (let code = 0x61; code <= 0x7a; code++) CHAR_CLASS[code] = LOWER;
  for (let code = 0x30; code <= 0x39; code++) CHAR_CLASS[code] = DIGIT;
  for (const character of '$!') CHAR_CLASS[character.charCodeAt(0)] = WORD;
  for (const character of "'.,-_") CHAR_CLASS[character.charCodeAt(0)] = JOINER;
  for (const character of ' \t\n\r\f\v') CHAR_CLASS[character.charCodeAt(0)] = SPACE;
}
/** The base64 alphabet with its padding (hex digits included). */
const BASE64 = new Uint8Array(128);
for (const character of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=') BASE64[character.charCodeAt(0)] = 1;

/**
 * The end of an encoded chunk starting at `start`, or 0: a whole chunk (up to white space) of at
 * least MIN_BLOB_CHARS base64 characters; right after such a chunk (`continuing`), a shorter one with
 * a digit, + / or = in it is the blob's last line.
 */
function blobEndAt(units: Uint16Array, length: number, start: number, continuing: boolean): number {
  let end = start;
  let encodedLooking = false;
  while (end < length) {
    const code = units[end]!;
    if (code >= 128 || BASE64[code] === 0) break;
    if (code < 0x3e) encodedLooking = true; // + / 0-9 =
    end++;
  }
  if (end < length && CHAR_CLASS[units[end]!] !== SPACE) return 0;
  if (end - start >= MIN_BLOB_CHARS || (continuing && encodedLooking)) return end;
  return 0;
}

/** `word` with each digit (0-9) as N: its digit shape. */
export function digitShape(word: string): string {
  let shape = '';
  let from = 0;
  for (let i = 0; i < word.length; i++) {
    const code = word.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) {
      if (i > from) shape += word.slice(from, i);
      shape += 'N';
      from = i + 1;
    }
  }
  return from === 0 ? word : from < word.length ? shape + word.slice(from) : shape;
}

/** A count as a token-friendly bucket: 0, 1, 2, then the next power of two (4, 8, 16...). */
function bucket(count: number): string {
  return count <= 2 ? String(count) : String(2 ** Math.ceil(Math.log2(count)));
}

/** Which tokens the message being tokenized has given (one message at a time: tokenizing is synchronous). */
const seenTokens = new TokenHashSet();
/** The code units of the text words() reads, as written and folded. */
const sourceUnits = new CodeUnitBuffer();
const foldedUnitBuffer = new CodeUnitBuffer();

/** The distinct tokens of a message, in the order they first come, collected under the limits above. */
class TokenSet {
  readonly tokens: string[] = [];
  /** The tokens' hashes, two values each (see HashedTokens). */
  readonly hashes: number[] = [];
  /** Text characters still to read. */
  private textBudget = MAX_TEXT_CHARS;

  constructor(readonly options: Readonly<TokenizerOptions>) {
    seenTokens.clear();
  }

  add(token: string): void {
    if (this.tokens.length >= MAX_TOKENS) return;
    hashToken(token);
    if (this.isNew()) this.tokens.push(token);
  }

  /** Adds the token `prefix` + text.slice(from, to) (`units`: the code units of `text`), making its string only when it is new. */
  private addSlice(prefix: string, text: string, units: Uint16Array, from: number, to: number): void {
    if (this.tokens.length >= MAX_TOKENS) return;
    hashTokenOfUnits(prefix, units, from, to);
    if (this.isNew()) this.tokens.push(prefix + text.slice(from, to));
  }

  /** Whether the message had not given the token whose hash is in tokenHash; a new one's hash is kept (its string comes next). */
  private isNew(): boolean {
    const { high, low } = tokenHash;
    if (!seenTokens.add(high, low)) return false;
    this.hashes.push(high, low);
    return true;
  }

  /** Adds the words of `text`, each prefixed with `prefix` ('' for body text). */
  words(text: string, prefix: string): void {
    if (this.textBudget <= 0 || text.length === 0) return;
    const source = text.length > this.textBudget ? text.slice(0, this.textBudget) : text;
    this.textBudget -= source.length;
    // Words are cut from the text folded as a whole. Folding changes the length of a few characters
    // (İ): such a text is folded word by word instead (`folded` undefined). Deciding this before the
    // loop also pins the folding there: the optimizing compiler takes it for a cheap pure operation
    // and may otherwise move it into the loop, where it runs again and again (seconds for a long text).
    let folded: string | undefined = source.toLowerCase();
    if (folded.length !== source.length) folded = undefined;
    // The characters are read from typed arrays (code-units.ts), the strings only sliced.
    const units = sourceUnits.fill(source);
    const foldedUnits = folded !== undefined ? foldedUnitBuffer.fill(folded) : units;
    const { capitals, numberShapes } = this.options;
    const length = source.length;
    let chunkStart = true;
    /** Characters of the encoded blob being read (0: none). */
    let blob = 0;
    let i = 0;
    while (i < length) {
      const code = units[i]!;
      const cls = CHAR_CLASS[code]!;
      if (cls === SPACE) {
        chunkStart = true;
        i++;
        continue;
      }
      if (cls >= DIGIT) {
        // A word: word characters and digits, and single joiners between two of them. `at` and
        // `here` are the code and class of the character at `end`.
        let end = i;
        let at = code;
        let here = cls;
        let digits = 0;
        let uppers = 0;
        let lowers = 0;
        for (;;) {
          if (here === LOWER) lowers++;
          else if (here === UPPER) uppers++;
          else if (here === DIGIT) digits++;
          end++;
          if (end >= length) break;
          at = units[end]!;
          here = CHAR_CLASS[at]!;
          if (here >= DIGIT) continue;
          if (here === JOINER && end + 1 < length) {
            const afterCode = units[end + 1]!;
            const after = CHAR_CLASS[afterCode]!;
            if (after >= DIGIT) {
              end++;
              at = afterCode;
              here = after;
              continue;
            }
          }
          break;
        }
        if (chunkStart) {
          chunkStart = false;
          // The word starts a chunk, which may be an encoded blob instead. Without a blob just before,
          // that is only possible (see blobEndAt) when the word is long enough and ends the chunk,
          // or is followed by a character of the base64 alphabet (+ / =): other chunks are not read twice.
          const endsChunk = end === length || here === SPACE;
          if (blob > 0 || (endsChunk ? end - i >= MIN_BLOB_CHARS : at < 128 && BASE64[at] === 1)) {
            const blobEnd = blobEndAt(units, length, i, blob > 0);
            if (blobEnd > 0) {
              blob += blobEnd - i;
              i = blobEnd;
              continue;
            }
          }
          if (blob > 0) this.blob(prefix, blob);
          blob = 0;
        }
        const size = end - i;
        if (size > MAX_WORD_CHARS) {
          this.add(`${prefix}skip:${source[i]!.toLowerCase()}${Math.floor(size / 10) * 10}`);
        } else if (size >= MIN_WORD_CHARS) {
          // From the text folded as a whole, no string is made for a repeated word (addSlice).
          if (folded !== undefined) this.addSlice(prefix, folded, foldedUnits, i, end);
          else this.add(prefix + source.slice(i, end).toLowerCase());
          if (capitals && uppers >= 2 && lowers === 0) this.addSlice(prefix, source, units, i, end);
          if (numberShapes && digits > 0) this.add(`${prefix}N:${digitShape(folded !== undefined ? folded.slice(i, end) : source.slice(i, end).toLowerCase())}`);
        }
        i = end;
        continue;
      }
      if (chunkStart) {
        chunkStart = false;
        const blobEnd = blobEndAt(units, length, i, blob > 0);
        if (blobEnd > 0) {
          blob += blobEnd - i;
          i = blobEnd;
          continue;
        }
        if (blob > 0) this.blob(prefix, blob);
        blob = 0;
      }
      if (cls === BIGRAM) {
        let end = i + 1;
        while (end < length && CHAR_CLASS[units[end]!] === BIGRAM) end++;
        if (end - i === 1) this.addSlice(prefix, source, units, i, i + 1);
        else for (let k = i; k + 1 < end; k++) this.addSlice(prefix, source, units, k, k + 2);
        i = end;
        continue;
      }
      i++;
    }
    if (blob > 0) this.blob(prefix, blob);
  }

  /** One token for an encoded blob of `size` characters, short or long. */
  private blob(prefix: string, size: number): void {
    this.add(`${prefix}blob:${size >= LONG_BLOB_CHARS ? 'long' : 'short'}`);
  }

  /** `prefix` + the host name and its parent domains, down to the registrable domain (or the last two labels). */
  domain(prefix: string, host: string): void {
    for (const token of domainTokens(prefix, host)) this.add(token);
  }
}

/** Host names whose domain tokens are kept, per prefix: 5,000, of up to 100 characters. */
const MAX_CACHED_HOSTS = 5000;
const MAX_CACHED_HOST_CHARS = 100;
/** The tokens of domainTokens(), by prefix then host name as given. */
const domainTokenCaches = new Map<string, BoundedCache<readonly string[]>>();

/**
 * `prefix` + the host name (lower case, without a final dot) and its parent domains down to the
 * registrable domain or the last two labels, MAX_DOMAIN_LEVELS names at most; none for an empty name.
 * Cached: senders, relays and link hosts recur from message to message.
 */
export function domainTokens(prefix: string, host: string): readonly string[] {
  let byHost = domainTokenCaches.get(prefix);
  if (byHost === undefined) {
    byHost = new BoundedCache(MAX_CACHED_HOSTS, MAX_CACHED_HOST_CHARS);
    domainTokenCaches.set(prefix, byHost);
  }
  return byHost.get(host, (name) => hostNames(name).map((hostName) => prefix + hostName));
}

/** The names domainTokens() gives for `host`, without their prefix. */
function hostNames(host: string): string[] {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === '') return [];
  const names = [name];
  const registrable = registrableDomain(name) ?? name.split('.').slice(-2).join('.');
  let at = 0;
  for (let level = 1; level < MAX_DOMAIN_LEVELS && name.length - at > registrable.length; level++) {
    const dot = name.indexOf('.', at);
    if (dot < 0) break;
    at = dot + 1;
    names.push(name.slice(at));
  }
  return names;
}

const ADDRESS = /([^\s<>()"',;:@]+)@([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)/gi;
const IPV4 = /\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b/g;
const HOST_NAME = /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b/gi;
/** A Received header's `from` clause runs from after "from " to the first "by" word or ";" (or the end): found in two searches, not by a lazy match trying both at every character. */
const RECEIVED_FROM_START = /^\s*from\s+/i;
const RECEIVED_FROM_END = /\bby\b|;/gi;

/** Loopback, private, link-local, shared (CGNAT), multicast and reserved IPv4 networks: not telling. */
function isPrivateIpv4(a: number, b: number): boolean {
  return a === 0 || a === 10 || a === 127 || a >= 224 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

const capped = (value: string): string => (value.length > MAX_HEADER_CHARS ? value.slice(0, MAX_HEADER_CHARS) : value);

/** From, To, Cc: display-name words, each address whole and its domains; returns how many addresses. */
function addressHeader(set: TokenSet, prefix: string, value: string): number {
  const text = capped(value);
  let addresses = 0;
  ADDRESS.lastIndex = 0;
  for (let match = ADDRESS.exec(text); match !== null; match = ADDRESS.exec(text)) {
    addresses++;
    if (addresses > MAX_ADDRESSES_PER_HEADER) continue;
    const domain = match[2]!.toLowerCase();
    set.add(`${prefix}${match[1]!.toLowerCase()}@${domain}`);
    set.domain(`${prefix}@`, domain);
  }
  set.words(text.replace(ADDRESS, ' '), prefix);
  return addresses;
}

/** A Message-ID: the host after @, and the shape of the part before it (letter runs as a, digit runs as N). */
function messageId(set: TokenSet, value: string): void {
  const match = /<?([^<>@\s]*)@([^<>@\s]+?)>?\s*$/.exec(capped(value).trim());
  if (!match) {
    set.add('message-id:malformed');
    return;
  }
  set.add(`message-id:@${match[2]!.toLowerCase()}`);
  set.add(`message-id:${match[1]!.replace(/[a-zA-Z]+/g, 'a').replace(/[0-9]+/g, 'N').slice(0, 30)}`);
}

/** `from` clauses of Received headers whose tokens are kept: 10,000 of up to 200 characters (the same relays hand on message after message). */
const relayTokenCache = new BoundedCache<readonly string[]>(10_000, 200);

/** The relay named in a Received header's `from` clause: host names with parent domains, public /24 network. */
function receivedFrom(set: TokenSet, value: string): void {
  const text = capped(value);
  const start = RECEIVED_FROM_START.exec(text);
  if (start === null) return;
  RECEIVED_FROM_END.lastIndex = start[0].length;
  const end = RECEIVED_FROM_END.exec(text);
  const clause = text.slice(start[0].length, end === null ? text.length : end.index);
  for (const token of relayTokenCache.get(clause, relayTokens)) set.add(token);
}

/** The tokens of a `from` clause, in order: public /24 networks, then host names with their parent domains. */
function relayTokens(clause: string): string[] {
  const tokens: string[] = [];
  IPV4.lastIndex = 0;
  for (let match = IPV4.exec(clause); match !== null; match = IPV4.exec(clause)) {
    const [a, b, c, d] = [Number(match[1]), Number(match[2]), Number(match[3]), Number(match[4])];
    if (a > 255 || b > 255 || c > 255 || d > 255 || isPrivateIpv4(a, b)) continue;
    tokens.push(`received:${a}.${b}.${c}`);
  }
  HOST_NAME.lastIndex = 0;
  for (let match = HOST_NAME.exec(clause); match !== null; match = HOST_NAME.exec(clause)) tokens.push(...domainTokens('received:', match[0]));
  return tokens;
}

/** Headers read word by word, by lower-case name, with their token prefix. */
const WORD_HEADERS: ReadonlyMap<string, string> = new Map([
  ['subject', 'subject:'],
  ['x-mailer', 'x-mailer:'],
  ['user-agent', 'user-agent:'],
  ['content-type', 'content-type:'],
  ['content-transfer-encoding', 'content-transfer-encoding:'],
  ['x-priority', 'x-priority:'],
  ['x-msmail-priority', 'x-msmail-priority:'],
  ['importance', 'importance:'],
  ['precedence', 'precedence:'],
  ['organization', 'organization:'],
]);

/** Headers added at delivery or by filters (never seen by the milter): no token, not even their name. */
const DELIVERY_HEADER = /^(?:return-path|delivered-to|x-original-to|envelope-to|x-envelope-to|delivery-date|x-keywords|x-uidl?|status|x-status|lines|content-length|x-spam(?:-.*)?|x-bogosity|x-virus-.*|x-greylist|x-imap(?:base)?|x-flags)$/;

/** What the tokenizer makes of a header name. */
interface HeaderName {
  /** Lower case. */
  name: string;
  /** Added at delivery or by filters: no token at all. */
  delivery: boolean;
  /** The prefix of a header read word by word (WORD_HEADERS). */
  wordPrefix: string | undefined;
  /** `header:name`, undefined when the name is too long to give one. */
  token: string | undefined;
}

/** Header names (as written) whose reading is kept: 1,000 (the same few dozen recur in every message). */
const headerNames = new BoundedCache<HeaderName>(1000, MAX_HEADER_NAME_CHARS);

/** How a header name, as written, is read. */
function headerName(written: string): HeaderName {
  const name = written.toLowerCase();
  return { name, delivery: DELIVERY_HEADER.test(name), wordPrefix: WORD_HEADERS.get(name), token: name.length <= MAX_HEADER_NAME_CHARS ? `header:${name}` : undefined };
}

function headers(set: TokenSet, list: readonly MessageHeader[]): void {
  let recipients = 0;
  let receivedRead = 0;
  for (const header of list) {
    const { name, delivery, wordPrefix, token } = headerNames.get(header.name, headerName);
    if (delivery) continue;
    if (wordPrefix !== undefined) {
      set.words(capped(header.value), wordPrefix);
      if (name === 'subject' && header.value.trim() === '') set.add('subject:empty');
    } else if (name === 'from') {
      addressHeader(set, 'from:', header.value);
    } else if (name === 'to' || name === 'cc') {
      recipients += addressHeader(set, 'to:', header.value);
    } else if (name === 'reply-to') {
      const value = capped(header.value);
      ADDRESS.lastIndex = 0;
      for (let match = ADDRESS.exec(value); match !== null; match = ADDRESS.exec(value)) set.domain('reply-to:@', match[2]!);
    } else if (name === 'message-id') {
      messageId(set, header.value);
    } else if (name === 'received' && set.options.received && receivedRead < MAX_RECEIVED_HEADERS) {
      receivedRead++;
      receivedFrom(set, header.value);
    }
    if (set.options.headerNames && token !== undefined) set.add(token);
  }
  set.add(`to:count:${bucket(recipients)}`);
}

/** `prefix.ext` for a file name with a short extension. */
function addExtension(set: TokenSet, prefix: string, fileName: string): void {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0 || fileName.length - dot - 1 > MAX_EXTENSION_CHARS || fileName.includes('/', dot)) return;
  set.add(`${prefix}.${fileName.slice(dot + 1).toLowerCase()}`);
}

/** The structure: text parts, attachments, archive contents, MIME problems. */
function structure(set: TokenSet, message: ParsedMessage): void {
  let htmlParts = 0;
  for (const part of message.textParts) {
    if (part.kind === 'html') htmlParts++;
    set.add(`part:${part.kind}${part.nested ? ':nested' : ''}`);
    set.add(`charset:${part.charset === '' ? 'none' : part.charset}`);
  }
  if (message.textParts.length === 0) set.add('part:none');
  else if (htmlParts === message.textParts.length) set.add('part:html-only');
  for (const attachment of message.attachments) {
    set.add(`attachment:${attachment.contentType}`);
    addExtension(set, 'attachment:', attachment.filename);
    set.words(attachment.filename, 'attachment:');
    for (const entry of attachment.archive?.entries ?? []) addExtension(set, 'archive:', entry.name);
  }
  for (const problem of message.problems) set.add(`mime:${problem}`);
}

/** Telling HTML tags: presentational ones spam favours, and ones of hand-written or quoted mail. */
const TELLING_TAGS = ['font', 'basefont', 'center', 'big', 'blink', 'marquee', 'map', 'area', 'base', 'blockquote', 'pre', 'tt', 'code'];
/** A telling tag with its attributes (the regular expression skips the other tags quickly). */
const TELLING_TAG = new RegExp(`<(${TELLING_TAGS.join('|')})(?=[\\s/>])([^>]{0,500})>`, 'gi');
const HTML_ATTRIBUTE = /\s([a-zA-Z][a-zA-Z-]{0,20})\s*=/g;

/** HTML: visible text, active content, hidden text, images and links, telling tags. */
function html(set: TokenSet, message: ParsedMessage): void {
  const analysis = htmlOf(message);
  if (analysis.parts === 0) return;
  set.words(analysis.text, '');
  if (analysis.scripts > 0) set.add('html:script');
  if (analysis.frames > 0) set.add('html:frame');
  if (analysis.plugins > 0) set.add('html:plugin');
  if (analysis.forms > 0) set.add('html:form');
  if (analysis.invisible.letters > 0) set.add('html:invisible-text');
  if (analysis.tiny.letters > 0) set.add('html:tiny-text');
  if (analysis.likeBackground.letters > 0) set.add('html:text-like-background');
  if (analysis.images.some((image) => image.remote)) set.add('html:remote-image');
  set.add(`html:images:${bucket(analysis.images.length)}`);
  set.add(`html:links:${bucket(analysis.links.length)}`);
  if (!set.options.htmlTags) return;
  let budget = MAX_HTML_TAG_SCAN_CHARS;
  for (const part of message.textParts) {
    if (part.kind !== 'html' || budget <= 0) continue;
    const source = part.content.length > budget ? part.content.slice(0, budget) : part.content;
    budget -= source.length;
    TELLING_TAG.lastIndex = 0;
    for (let match = TELLING_TAG.exec(source); match !== null; match = TELLING_TAG.exec(source)) {
      const tag = match[1]!.toLowerCase();
      set.add(`tag:${tag}`);
      const attributes = match[2]!;
      HTML_ATTRIBUTE.lastIndex = 0;
      for (let attribute = HTML_ATTRIBUTE.exec(attributes); attribute !== null; attribute = HTML_ATTRIBUTE.exec(attributes)) set.add(`attr:${tag}:${attribute[1]!.toLowerCase()}`);
    }
  }
}

/** The characters of URL path words: a-z 0-9 $ -. */
const PATH_WORD_CODE = new Uint8Array(128);
for (const character of 'abcdefghijklmnopqrstuvwxyz0123456789$-') PATH_WORD_CODE[character.charCodeAt(0)] = 1;
const isPathWordCode = (code: number): boolean => code < 128 && PATH_WORD_CODE[code] === 1;

/** URLs: hosts with parent domains, IP hosts, credentials, encoding, path words (digits as N). */
function urls(set: TokenSet, message: ParsedMessage): void {
  for (const url of urlsOf(message)) {
    if (url.ip) {
      set.add(`url:ip${url.ip.public ? '' : ':private'}${url.ip.obfuscated ? ':obfuscated' : ''}`);
      set.add(`url:${url.host}`);
    } else {
      set.domain('url:', url.host);
    }
    if (url.userinfo !== '') set.add('url:userinfo');
    if (url.heavilyEncoded) set.add('url:encoded');
    const href = url.href;
    const pathStart = href.indexOf('/', href.indexOf('//') + 2);
    if (pathStart < 0) continue;
    // The path ends at the query or the fragment; its words are the runs of a-z 0-9 $ - once lower-cased.
    const query = href.indexOf('?', pathStart);
    const fragment = href.indexOf('#', pathStart);
    const pathEnd = query >= 0 && (fragment < 0 || query < fragment) ? query : fragment >= 0 ? fragment : href.length;
    const path = href.slice(pathStart, pathEnd).toLowerCase();
    if (path.length < MIN_WORD_CHARS) continue; // no word in "/" (deciding this here also keeps the folding out of the loop)
    let words = 0;
    let i = 0;
    while (i < path.length && words < MAX_PATH_WORDS_PER_URL) {
      if (!isPathWordCode(path.charCodeAt(i))) {
        i++;
        continue;
      }
      let end = i + 1;
      while (end < path.length && isPathWordCode(path.charCodeAt(end))) end++;
      if (end - i >= MIN_WORD_CHARS && end - i <= MAX_WORD_CHARS) {
        set.add(`urlpath:${digitShape(path.slice(i, end))}`);
        words++;
      }
      i = end;
    }
  }
}

/**
 * A message's distinct tokens with their 64-bit hashes (src/core/token-hash.ts), computed anyway to tell
 * them apart: token i's halves are hashes[2i] (high) and hashes[2i + 1] (low). The classifier looks
 * counts up by them (classify()), without hashing every token a second time.
 */
export interface HashedTokens {
  tokens: string[];
  hashes: number[];
}

/** The distinct tokens of `message` and their hashes, with only the given token families of those that can be switched off. */
export function tokenizeWith(message: ParsedMessage, options: Readonly<TokenizerOptions>): HashedTokens {
  const set = new TokenSet(options);
  headers(set, message.headers);
  structure(set, message);
  urls(set, message);
  for (const part of message.textParts) if (part.kind === 'text') set.words(part.content, '');
  html(set, message);
  return { tokens: set.tokens, hashes: set.hashes };
}

/** The distinct tokens of `message` (see the top of the file) and their hashes: deterministic (same message, same tokens in the same order), no I/O. */
export function tokenizeHashed(message: ParsedMessage): HashedTokens {
  return tokenizeWith(message, ALL_TOKEN_FAMILIES);
}

/** The distinct tokens of `message` (see the top of the file): deterministic (same message, same tokens in the same order), no I/O. */
export function tokenize(message: ParsedMessage): string[] {
  return tokenizeHashed(message).tokens;
}
