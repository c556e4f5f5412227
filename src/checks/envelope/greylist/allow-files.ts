// Postgrey's allow-list ("whitelist") files for clients and recipients: parsing them line by line
// (reporting, never failing on, lines that fit no entry kind) and matching a request against them
// quickly — names and IP networks by hash lookups, only regular expressions one by one.
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { maskBytes } from './normalize.js';
import { asAddress, type IpAddress } from '../../../core/networks.js';

/** A line that could not be used; line 0 for a problem with the whole file. */
export interface ListProblem {
  file: string;
  line: number;
  text: string;
  message: string;
}

/** The entry that allowed a request, for the decision log. */
export interface AllowMatch {
  file: string;
  line: number;
  entry: string;
}

export type ClientAllowEntry =
  /** Regular expression matched (case-insensitively) against the client's hostname. */
  | { kind: 'regex'; regex: RegExp; origin: AllowMatch }
  /** Host or domain name (lower case): that name and its subdomains. */
  | { kind: 'name'; name: string; origin: AllowMatch }
  /** IP network: `address` with bits past `prefix` cleared. */
  | { kind: 'network'; address: IpAddress; prefix: number; origin: AllowMatch };

export type RecipientAllowEntry =
  /** Regular expression matched (case-insensitively) against the recipient. */
  | { kind: 'regex'; regex: RegExp; origin: AllowMatch }
  /** `user@domain`, also matching `user+extension@domain` (both lower case). */
  | { kind: 'address'; user: string; domain: string; origin: AllowMatch }
  /** `user@`: that local part (or with an extension) in any domain. */
  | { kind: 'user'; user: string; origin: AllowMatch }
  /** A bare domain: recipients in it and in its subdomains. */
  | { kind: 'domain'; domain: string; origin: AllowMatch };

export interface Parsed<L> {
  list: L;
  problems: ListProblem[];
}

// ---------------------------------------------------------------------------------------------
// Shared line handling

/** Lines of a file, with postgrey's clean-up: everything from `#` on removed (even inside a
 * regular expression, as postgrey does), then surrounding white space; blank results skipped. */
function* entryLines(text: string): Generator<{ line: number; entry: string }> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const hash = raw.indexOf('#');
    const entry = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (entry !== '') yield { line: i + 1, entry };
  }
}

/** Letters JavaScript understands after a backslash in a (non-unicode) regular expression. Any other
 * letter is a Perl-only escape (\A, \z, \Z, \h, \Q, \p{..}, ...) that JavaScript would silently read
 * as the plain letter, so such an entry is refused rather than left to match something else. */
const JS_LETTER_ESCAPES = new Set('bBdDwWsSnrtfvcxuk');

/** Compiles the `/regex/` entry's body, case-insensitively; an error message when it cannot. */
function compileRegex(source: string): RegExp | string {
  for (let i = 0; i < source.length; i++) {
    if (source[i] !== '\\') continue;
    const next = source[i + 1] ?? '';
    if (/[A-Za-z]/.test(next) && !JS_LETTER_ESCAPES.has(next)) return `regular expression uses \\${next}, which is not supported`;
    i++;
  }
  try {
    return new RegExp(source, 'i');
  } catch (error) {
    return `invalid regular expression: ${(error as Error).message}`;
  }
}

/** `/body/` with a non-empty body free of white space, as postgrey recognises regular expressions. */
const REGEX_ENTRY = /^\/(\S+)\/$/;

function readListFile(path: string, problems: ListProblem[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Like postgrey, say nothing of a missing .local file: the administrator may just not have one.
    if (code === 'ENOENT' && path.endsWith('.local')) return undefined;
    problems.push({ file: path, line: 0, text: '', message: `cannot read the file: ${(error as Error).message}` });
    return undefined;
  }
}

/** A name entry must be usable as a host or domain name: no empty labels, no slash. */
function nameProblem(name: string): string | undefined {
  if (name.includes('/')) return 'a "/" may only appear around a regular expression (/.../, no spaces inside)';
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    return 'empty label in a name (write example.com: it already covers the subdomains)';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Clients

const IPV4_FULL = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?:\/\d{1,2})?$/;
const IPV4_PARTIAL_24 = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const IPV4_PARTIAL_16 = /^\d{1,3}\.\d{1,3}$/;
/** Postgrey takes any line with two colons for an IPv6 address or network. */
const IPV6_LIKE = /:.*:/;
/** Only digits, dots and slashes but no IPv4 form above: a mistyped address, not a name. */
const NUMERIC_LIKE = /^[\d./]+$/;

/** Parses `address[/prefix]` into a network; IPv4-mapped IPv6 becomes IPv4 (prefix less 96). */
function parseNetwork(text: string, v6: boolean): { address: IpAddress; prefix: number } | string {
  const slash = text.indexOf('/');
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  const prefixText = slash >= 0 ? text.slice(slash + 1) : undefined;
  const valid = v6 ? ipaddr.IPv6.isValid(addressText) : ipaddr.IPv4.isValidFourPartDecimal(addressText);
  if (!valid) return v6 ? 'not a valid IPv6 address' : 'not a valid IPv4 address (four numbers 0-255, no leading zeros)';
  let address: IpAddress = v6 ? new ipaddr.IPv6(ipaddr.IPv6.parse(addressText).parts) : ipaddr.IPv4.parse(addressText);
  const max = v6 ? 128 : 32;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `prefix length must be 0 to ${max}`;
    prefix = Number(prefixText);
  }
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
  }
  return { address: ipaddr.fromByteArray(maskBytes(address.toByteArray(), prefix)), prefix };
}

/** Parses one cleaned-up clients line into an entry, or says why it cannot. */
function parseClientEntry(entry: string, origin: AllowMatch): ClientAllowEntry | string {
  const regex = REGEX_ENTRY.exec(entry);
  if (regex) {
    const compiled = compileRegex(regex[1] as string);
    return typeof compiled === 'string' ? compiled : { kind: 'regex', regex: compiled, origin };
  }
  let network: ReturnType<typeof parseNetwork> | undefined;
  if (IPV4_FULL.test(entry)) network = parseNetwork(entry, false);
  else if (IPV4_PARTIAL_24.test(entry)) network = parseNetwork(`${entry}.0/24`, false);
  // Postgrey's code builds a /24 from a.b (a bug: its own comment says /16); we use /16.
  else if (IPV4_PARTIAL_16.test(entry)) network = parseNetwork(`${entry}.0.0/16`, false);
  else if (IPV6_LIKE.test(entry)) network = parseNetwork(entry, true);
  else if (NUMERIC_LIKE.test(entry)) return 'not a valid IPv4 address or network';
  if (network !== undefined) return typeof network === 'string' ? network : { kind: 'network', ...network, origin };
  if (/\s/.test(entry)) return "doesn't look like a hostname, an IP address or a /regex/";
  const problem = nameProblem(entry);
  return problem ?? { kind: 'name', name: entry.toLowerCase(), origin };
}

/** Distinct prefix lengths of one address family, each with its networks keyed by masked bytes. */
class NetworkIndex {
  private readonly byPrefix = new Map<number, Map<string, AllowMatch>>();
  private prefixes: number[] = [];

  add(address: IpAddress, prefix: number, origin: AllowMatch): void {
    let networks = this.byPrefix.get(prefix);
    if (!networks) {
      networks = new Map();
      this.byPrefix.set(prefix, networks);
      // Longest prefix first, so the most specific entry is reported.
      this.prefixes = [...this.byPrefix.keys()].sort((a, b) => b - a);
    }
    const key = address.toByteArray().join('.');
    if (!networks.has(key)) networks.set(key, origin);
  }

  /** One hash lookup per distinct prefix length (at most 33 or 129, a handful in practice). */
  match(bytes: readonly number[]): AllowMatch | undefined {
    for (const prefix of this.prefixes) {
      const found = this.byPrefix.get(prefix)?.get(maskBytes(bytes, prefix).join('.'));
      if (found) return found;
    }
    return undefined;
  }
}

/** Every suffix of a dotted name that starts at a label: a.b.c → a.b.c, b.c, c. */
function* nameSuffixes(name: string): Generator<string> {
  let start = 0;
  while (true) {
    yield name.slice(start);
    const dot = name.indexOf('.', start);
    if (dot < 0) return;
    start = dot + 1;
  }
}

/** The client allow list: hostnames, IPv4/IPv6 networks and regular expressions on the hostname. */
export class ClientAllowList {
  private readonly names = new Map<string, AllowMatch>();
  private readonly regexes: { regex: RegExp; origin: AllowMatch }[] = [];
  private readonly v4 = new NetworkIndex();
  private readonly v6 = new NetworkIndex();

  constructor(readonly entries: readonly ClientAllowEntry[] = []) {
    for (const e of entries) {
      if (e.kind === 'name') {
        if (!this.names.has(e.name)) this.names.set(e.name, e.origin);
      } else if (e.kind === 'regex') this.regexes.push(e);
      else (e.address.kind() === 'ipv4' ? this.v4 : this.v6).add(e.address, e.prefix, e.origin);
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * The entry allowing a client, by its address (IPv4-mapped IPv6 counted as IPv4; an unparsable
   * address matches no network) or by its hostname `client_name` — which, as in postgrey, is also
   * tried when it is `unknown` (it simply matches no real name). When several entries match, the
   * one reported is the first found: name entries, then networks (longest prefix), then regexes.
   */
  match(clientAddress: string | IpAddress, clientName: string): AllowMatch | undefined {
    if (this.names.size > 0 && clientName !== '') {
      for (const suffix of nameSuffixes(clientName.toLowerCase())) {
        const found = this.names.get(suffix);
        if (found) return found;
      }
    }
    const address = asAddress(clientAddress);
    if (address) {
      const found = (address.kind() === 'ipv4' ? this.v4 : this.v6).match(address.toByteArray());
      if (found) return found;
    }
    for (const { regex, origin } of this.regexes) {
      if (regex.test(clientName)) return origin;
    }
    return undefined;
  }
}

/** Parses the text of a clients file; `fileName` is used in matches and problems. */
export function parseClientAllowList(text: string, fileName: string): Parsed<ClientAllowList> {
  const { entries, problems } = parseEntries(text, fileName, parseClientEntry);
  return { list: new ClientAllowList(entries), problems };
}

/** Loads clients files into one list; a missing `*.local` file is skipped silently. */
export function loadClientAllowFiles(paths: readonly string[]): Parsed<ClientAllowList> {
  const { entries, problems } = loadEntries(paths, parseClientEntry);
  return { list: new ClientAllowList(entries), problems };
}

/** Turns one cleaned-up line into an entry, or says why it cannot. */
type EntryParser<E> = (entry: string, origin: AllowMatch) => E | string;

function parseEntries<E>(text: string, file: string, parseEntry: EntryParser<E>): { entries: E[]; problems: ListProblem[] } {
  const entries: E[] = [];
  const problems: ListProblem[] = [];
  for (const { line, entry } of entryLines(text)) {
    const parsed = parseEntry(entry, { file, line, entry });
    if (typeof parsed === 'string') problems.push({ file, line, text: entry, message: parsed });
    else entries.push(parsed);
  }
  return { entries, problems };
}

/** Reads and parses several list files in order; missing `*.local` files are skipped silently. */
function loadEntries<E>(paths: readonly string[], parseEntry: EntryParser<E>): { entries: E[]; problems: ListProblem[] } {
  const entries: E[] = [];
  const problems: ListProblem[] = [];
  for (const path of paths) {
    const text = readListFile(path, problems);
    if (text === undefined) continue;
    const parsed = parseEntries(text, path, parseEntry);
    entries.push(...parsed.entries);
    problems.push(...parsed.problems);
  }
  return { entries, problems };
}

// ---------------------------------------------------------------------------------------------
// Recipients

/** Parses one cleaned-up recipients line into an entry, or says why it cannot. */
function parseRecipientEntry(entry: string, origin: AllowMatch): RecipientAllowEntry | string {
  const regex = REGEX_ENTRY.exec(entry);
  if (regex) {
    const compiled = compileRegex(regex[1] as string);
    return typeof compiled === 'string' ? compiled : { kind: 'regex', regex: compiled, origin };
  }
  if (/\s/.test(entry)) return "doesn't look like an address, a domain or a /regex/";
  const lower = entry.toLowerCase();
  const at = lower.indexOf('@');
  if (at < 0) {
    const problem = nameProblem(lower);
    return problem ?? { kind: 'domain', domain: lower, origin };
  }
  const user = lower.slice(0, at);
  const domain = lower.slice(at + 1);
  if (domain.includes('@')) return 'more than one "@"';
  // Postgrey would build a pattern matching only "@domain" itself, i.e. no real recipient.
  if (user === '') return 'no local part before "@" (write the bare domain to allow a whole domain)';
  if (domain === '') return { kind: 'user', user, origin };
  const problem = nameProblem(domain);
  return problem ?? { kind: 'address', user, domain, origin };
}

/** The local-part forms an entry may name: the whole part and each part before a `+extension`
 * (non-empty extension, as postgrey's `(?:\+[^@]+)?`): a+b+c → a+b+c, a+b, a. */
function localCandidates(local: string): string[] {
  const candidates = [local];
  for (let i = local.length - 2; i >= 0; i--) {
    if (local[i] === '+') candidates.push(local.slice(0, i));
  }
  return candidates;
}

/** The recipient allow list: addresses, local parts, domains and regular expressions. */
export class RecipientAllowList {
  private readonly addresses = new Map<string, AllowMatch>();
  private readonly users = new Map<string, AllowMatch>();
  private readonly domains = new Map<string, AllowMatch>();
  private readonly regexes: { regex: RegExp; origin: AllowMatch }[] = [];

  constructor(readonly entries: readonly RecipientAllowEntry[] = []) {
    const addOnce = (map: Map<string, AllowMatch>, key: string, origin: AllowMatch): void => {
      if (!map.has(key)) map.set(key, origin);
    };
    for (const e of entries) {
      if (e.kind === 'address') addOnce(this.addresses, `${e.user}@${e.domain}`, e.origin);
      else if (e.kind === 'user') addOnce(this.users, e.user, e.origin);
      else if (e.kind === 'domain') addOnce(this.domains, e.domain, e.origin);
      else this.regexes.push(e);
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.entries.length;
  }

  /** The entry allowing a recipient (compared case-insensitively); undefined when none does. */
  match(recipient: string): AllowMatch | undefined {
    const lower = recipient.toLowerCase();
    const at = lower.indexOf('@');
    if (at >= 0 && (this.addresses.size > 0 || this.users.size > 0)) {
      const domain = lower.slice(at + 1);
      for (const local of localCandidates(lower.slice(0, at))) {
        const found = this.addresses.get(`${local}@${domain}`) ?? this.users.get(local);
        if (found) return found;
      }
    }
    if (this.domains.size > 0) {
      // A domain entry matches after the last "@" or any "." — never across an "@".
      const lastAt = lower.lastIndexOf('@');
      for (let i = lower.length - 1; i >= lastAt && i >= 0; i--) {
        if (lower[i] !== '.' && lower[i] !== '@') continue;
        const found = this.domains.get(lower.slice(i + 1));
        if (found) return found;
      }
    }
    for (const { regex, origin } of this.regexes) {
      if (regex.test(recipient)) return origin;
    }
    return undefined;
  }
}

/** Parses the text of a recipients file; `fileName` is used in matches and problems. */
export function parseRecipientAllowList(text: string, fileName: string): Parsed<RecipientAllowList> {
  const { entries, problems } = parseEntries(text, fileName, parseRecipientEntry);
  return { list: new RecipientAllowList(entries), problems };
}

/** Loads recipients files into one list; a missing `*.local` file is skipped silently. */
export function loadRecipientAllowFiles(paths: readonly string[]): Parsed<RecipientAllowList> {
  const { entries, problems } = loadEntries(paths, parseRecipientEntry);
  return { list: new RecipientAllowList(entries), problems };
}
