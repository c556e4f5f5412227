// The configuration contract: every key, its type, bounds, default (with units) and a one-line
// description. Every key is optional; `rempart serve` with no file at all runs on these defaults.
// docs/configuration.md documents the same keys (a test keeps the two in step).
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { parseDuration } from './duration.js';

/** A duration such as 300, "300s", "5m", "2d"; parsed to seconds. */
function duration(defaultValue: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  const seconds = parseDuration(defaultValue);
  if (seconds === undefined) throw new Error(`bad default duration ${defaultValue}`);
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const parsed = parseDuration(value);
      if (parsed === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 300, 300s, 5m, 2d (got ${JSON.stringify(value)})` });
        return z.NEVER;
      }
      if (parsed < min || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `expected a duration between ${min}s and ${max}s (got ${parsed}s)` });
        return z.NEVER;
      }
      return parsed;
    })
    .default(seconds);
}

/** An IP address or CIDR network, IPv4 or IPv6 ("192.0.2.0/24", "::1/128", "192.0.2.7"). */
const ipOrCidr = z.string().refine((value) => {
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}, { message: 'expected an IP address or CIDR network such as 192.0.2.0/24 or 2001:db8::/32' });

/** A listen address: "host:port", "[ipv6]:port" or "unix:/path/to/socket". */
export const LISTEN_PATTERN = /^(unix:\/.+|\[[0-9a-fA-F:.]+\]:\d{1,5}|[A-Za-z0-9.-]+:\d{1,5})$/;
const listen = (defaultValue: string) =>
  z.string().regex(LISTEN_PATTERN, { message: 'expected "host:port", "[ipv6]:port" or "unix:/absolute/path"' }).default(defaultValue);

const domainName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/, {
  message: 'expected a domain name such as example.org',
});

const logSchema = z
  .strictObject({
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('least severe level written'),
    format: z.enum(['text', 'json']).default('text').describe('text: one key=value line per event; json: one JSON object per line'),
  })
  .prefault({});

/** "host:port" or "[ipv6]:port" of a Redis node or Sentinel. */
const redisNode = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: 'expected "host:port" such as 10.0.0.5:26379' });

const redisSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^rediss?:\/\/\S*$/, { message: 'expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0' })
      .default('redis://127.0.0.1:6379/0')
      .describe('server, database number and credentials (redis://[user:password@]host:port/db; rediss:// for TLS); with sentinels or cluster, only credentials, TLS and database are taken from it'),
    prefix: z.string().max(64).default('rempart:').describe('prefix of every key, so several sites or test runs can share one Redis'),
    sentinels: z.array(redisNode).default([]).describe('Redis Sentinel addresses; when set, the master named sentinel_name is found through them'),
    sentinel_name: z.string().min(1).default('mymaster').describe('name of the master the sentinels watch'),
    cluster: z.array(redisNode).default([]).describe('Redis Cluster seed nodes; when set, Rempart talks to the cluster (keys of one entry share a hash tag)'),
    connect_timeout: duration('5s', 0.1, 300).describe('deadline of one connection attempt'),
    max_reconnect_delay: duration('10s', 0.1, 600).describe('longest wait between reconnection attempts (backoff from 100 ms, doubling)'),
  })
  .prefault({});

const storeSchema = z
  .strictObject({
    backend: z.enum(['sqlite', 'redis']).default('sqlite').describe('storage engine: sqlite (embedded, one host) or redis (shared by several MX hosts)'),
    path: z.string().min(1).optional().describe('directory of the SQLite database; default /var/lib/rempart, or ~/.local/state/rempart when that is not writable'),
    redis: redisSchema.describe('the Redis server when backend is redis'),
    maintenance_interval: duration('1h', 10, 86400 * 7).describe('how often expired entries are removed'),
    timeout: duration('2s', 0.05, 60).describe('deadline for one store operation; past it the request fails open'),
    unavailable_action: z
      .enum(['accept', 'defer'])
      .default('accept')
      .describe('answer while the store cannot be reached: accept (checks that need it count as no finding) or defer (451 4.3.0, the sender retries later)'),
  })
  .prefault({});

const historySchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('keep a result record of every decision in the store'),
    max_age: duration('30d', 3600).describe('records older than this are removed by maintenance'),
    max_records: z.number().int().min(1000).default(1_000_000).describe('at most this many records are kept (oldest removed first)'),
  })
  .prefault({});

const policySchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('run the Postfix policy delegation server'),
    listen: listen('127.0.0.1:10040').describe('where the policy server listens'),
    idle_timeout: duration('10m', 1, 86400).describe('close a connection idle for this long (Postfix closes its own after 300s)'),
    max_line_length: z.number().int().min(256).max(1_048_576).default(8192).describe('longest accepted attribute line, in bytes'),
    max_attributes: z.number().int().min(10).max(10_000).default(100).describe('most attributes accepted in one request'),
    max_request_size: z.number().int().min(1024).max(16_777_216).default(65_536).describe('largest accepted request, in bytes'),
    max_connections: z.number().int().min(1).max(100_000).default(1000).describe('connections served at once; more are refused'),
    drain_timeout: duration('10s', 0, 600).describe('on SIGTERM, how long in-flight requests may take to finish'),
  })
  .prefault({});

const greylistSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('greylist unknown (client network, sender, recipient) triplets'),
    mode: z
      .enum(['all', 'suspicious'])
      .default('all')
      .describe("all: greylist every unknown triplet (postgrey); suspicious: only clients whose envelope score reached actions.greylist"),
    delay: duration('5m', 0, 86400).describe('how long a new triplet must wait before a retry passes'),
    max_age: duration('35d', 60).describe('a triplet or auto-allowed client unseen for this long is forgotten'),
    retry_window: duration('2d', 60).describe('a first retry later than this after the first attempt starts the wait again'),
    auto_allow_clients: z.number().int().min(0).default(5).describe('allow a client after this many passed retries (counted at most once an hour); 0 turns it off'),
    ipv4_prefix: z.number().int().min(0).max(32).default(24).describe('IPv4 clients are grouped by this network prefix, in bits (32: the exact address)'),
    ipv6_prefix: z.number().int().min(0).max(128).default(64).describe('IPv6 clients are grouped by this network prefix, in bits (128: the exact address)'),
    allow_clients_files: z.array(z.string().min(1)).default([]).describe("client allow lists in postgrey's whitelist_clients format"),
    allow_recipients_files: z.array(z.string().min(1)).default([]).describe("recipient allow lists in postgrey's whitelist_recipients format"),
    action: z.enum(['DEFER_IF_PERMIT', 'DEFER']).default('DEFER_IF_PERMIT').describe('policy action used to greylist'),
    text: z
      .string()
      .min(1)
      .regex(/^[^\r\n]*$/, { message: 'expected one line of text' })
      .default('Greylisted for %r, see RFC 6647; retry in %s seconds')
      .describe('reply text: %s = seconds left, %r = recipient domain'),
    header: z
      .string()
      .regex(/^[A-Za-z0-9-]+: [^\r\n]*$/, { message: 'expected "Header-Name: value" on one line' })
      .default('X-Greylist: delayed %t seconds by rempart at %h; %d')
      .describe('header prepended when a retry passes: %t = seconds delayed, %h = hostname, %d = date'),
    privacy: z.boolean().default(false).describe('store hashes instead of addresses in the greylist tables'),
    skip_authenticated: z.boolean().default(true).describe('never greylist SASL-authenticated clients'),
    skip_my_networks: z.boolean().default(true).describe('never greylist clients in my_networks'),
  })
  .prefault({});

const dnsSchema = z
  .strictObject({
    servers: z
      .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[0-9a-fA-F:]+)(:\d{1,5})?$/, { message: 'expected an IP address with an optional port, such as 127.0.0.1:5353 or [::1]:53' }))
      .default([])
      .describe('DNS servers to ask, in order; empty: the system resolver (/etc/resolv.conf)'),
    timeout: duration('2s', 0.05, 60).describe('deadline of one query, retries included; past it the query counts as a temporary failure'),
    max_ttl: duration('1h', 0, 86400).describe('answers are cached for their TTL, at most this long'),
    negative_ttl: duration('1m', 0, 86400).describe('how long "no such name" and "no such record" answers are cached at most (less when the SOA says so)'),
    default_ttl: duration('5m', 0, 86400).describe('cache time of answers whose TTL is not known (MX, PTR, TXT answers fetched over TCP)'),
    cache_size: z.number().int().min(0).max(10_000_000).default(100_000).describe('answers kept in the cache: at least this many, at most twice as many, about 200 bytes each'),
  })
  .prefault({});

const ruleMode = (defaultValue: 'reject' | 'score' | 'off', what: string) =>
  z.enum(['reject', 'score', 'off']).default(defaultValue).describe(`${what}: reject, score (add the symbol's score) or off`);

const heloSchema = z
  .strictObject({
    not_fqdn: ruleMode('reject', 'a HELO name that is not fully qualified (HELO_NOT_FQDN)'),
    invalid: ruleMode('reject', 'a HELO name with invalid syntax, or none (HELO_INVALID)'),
    bare_ip: ruleMode('score', 'an IP address without brackets (HELO_BARE_IP)'),
    literal_mismatch: ruleMode('score', "an address literal that is not the client's address (HELO_LITERAL_MISMATCH)"),
    ours: ruleMode('reject', 'a HELO claiming our hostname or one of local_domains (HELO_IS_OURS)'),
  })
  .prefault({});

/** Reverse-DNS names that look like dynamic or consumer access lines. */
export const DEFAULT_DYNAMIC_PATTERNS = [
  '\\d{1,3}[-.x]\\d{1,3}[-.x]\\d{1,3}[-.x]\\d{1,3}',
  '(^|[.-])(dyn|dynamic|dhcp|dsl|adsl|xdsl|cable|pool|ppp|pppoe|dial|dialup|broadband|resid|residential|cust|customer|client)[0-9.-]',
];

const regex = z.string().refine((text) => {
  try {
    new RegExp(text, 'i');
    return true;
  } catch {
    return false;
  }
}, { message: 'expected a valid regular expression' });

const rdnsSchema = z
  .strictObject({
    missing: ruleMode('score', 'a client with no reverse DNS (PTR) name (RDNS_NONE); reject answers 450'),
    unconfirmed: ruleMode('score', 'a PTR name that does not resolve back to the client (RDNS_UNCONFIRMED); reject answers 450'),
    dynamic: ruleMode('score', 'a PTR name that looks dynamic (RDNS_DYNAMIC)'),
    dynamic_patterns: z.array(regex).default(DEFAULT_DYNAMIC_PATTERNS).describe('case-insensitive regular expressions on the PTR name'),
  })
  .prefault({});

const senderSchema = z
  .strictObject({
    not_fqdn: ruleMode('reject', 'a sender address without a fully-qualified domain (SENDER_NOT_FQDN)'),
    domain_not_found: ruleMode('reject', 'a sender domain with no MX, A or AAAA record (SENDER_DOMAIN_NOT_FOUND); DNS trouble is never a finding'),
    domain_not_found_code: z.union([z.literal(450), z.literal(550)]).default(450).describe('reply code of domain_not_found: 450 (try later) or 550'),
    null_mx: ruleMode('reject', 'a sender domain that publishes a null MX, RFC 7505 (SENDER_NULL_MX)'),
  })
  .prefault({});

/** An IPv4 answer filter: an address, a CIDR network, or a range "a-b". */
const answerFilter = z.string().refine((text) => {
  const parts = text.split('-');
  try {
    if (parts.length === 2) return ipaddr.IPv4.isValidFourPartDecimal(parts[0]!) && ipaddr.IPv4.isValidFourPartDecimal(parts[1]!);
    if (text.includes('/')) return ipaddr.parseCIDR(text)[0].kind() === 'ipv4';
    return ipaddr.IPv4.isValidFourPartDecimal(text);
  } catch {
    return false;
  }
}, { message: 'expected an IPv4 answer: 127.0.0.2, 127.0.0.0/24 or a range 127.0.0.2-127.0.0.11' });

const dnsblZone = z.strictObject({
  zone: domainName.describe('the DNS list zone, e.g. zen.spamhaus.org'),
  action: z.enum(['reject', 'score']).default('score').describe('reject: a listing rejects; score: it adds `score`'),
  score: z.number().default(3).describe('score of a listing (negative for an allow list such as a DNSWL)'),
  answers: z.array(answerFilter).default([]).describe('answers that count as a listing; empty: any 127.0.0.0/8 answer'),
  name: z.string().regex(/^[A-Z0-9_]+$/, { message: 'expected a symbol name in capitals' }).optional().describe('symbol name; default DNSBL_<ZONE>'),
  reply: z.string().regex(/^[^\r\n]*$/).optional().describe('reply text of a reject; %a client address, %z zone, %t TXT reason'),
  ipv6: z.boolean().default(true).describe('also look up IPv6 clients (nibble form)'),
});

const dnsblSchema = z
  .strictObject({
    zones: z.array(dnsblZone).default([]).describe('DNS block and allow lists looked up for the client address'),
  })
  .prefault({});

const recipientsSchema = z
  .strictObject({
    files: z.array(z.string().min(1)).default([]).describe('files of valid recipients: one address or @domain per line (a Postfix map source works: the first word counts)'),
    unknown: z.enum(['reject', 'off']).default('reject').describe('what an unknown recipient in a domain the files cover gets: 550 5.1.1'),
    delimiter: z.string().max(1).default('+').describe('address extension delimiter: user+tag@domain is checked as user@domain; empty: none'),
  })
  .prefault({});

const spamtrapsSchema = z
  .strictObject({
    addresses: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, { message: 'expected an address such as trap@example.org' })).default([]).describe('trap addresses (case-insensitive)'),
    patterns: z.array(regex).default([]).describe('case-insensitive regular expressions on the recipient'),
    ban: duration('7d', 0).describe('how long a client that wrote to a trap is banned; 0: not banned'),
    text: z
      .string()
      .regex(/^[^\r\n]*$/, { message: 'expected one line of text' })
      .default('<%r>: Recipient address rejected: User unknown')
      .describe('reply text (550 5.1.1) to a trap recipient, %r the recipient: by default a trap looks like an unknown user'),
  })
  .prefault({});

const strikeRule = (strikes: number, window: string) =>
  z
    .strictObject({
      strikes: z.number().int().min(0).default(strikes).describe('faults within the window that ban the client; 0: this fault is not counted'),
      window: duration(window, 1).describe('the window faults are counted in'),
    })
    .prefault({});

const strikesSchema = z
  .strictObject({
    ban: duration('1d', 60).describe('how long a client is banned once a fault reached its count (the ban defers with 450, it does not reject)'),
    no_ptr: strikeRule(1, '1h').describe('a client without reverse DNS (RDNS_NONE)'),
    dnsbl: strikeRule(1, '1h').describe('a client listed by a DNS block list (a zone with a positive score or reject action)'),
    unknown_recipient: strikeRule(5, '1h').describe('a recipient that does not exist (RCPT_UNKNOWN)'),
  })
  .prefault({});

/** A size in bytes: 1048576, "512k", "10m", "10MB", "1g" (k, m, g are powers of 1024). */
function byteSize(defaultValue: number, min: number, max: number) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const match = typeof value === 'number' ? undefined : /^\s*(\d+)\s*([kmg]?)(i?b)?\s*$/i.exec(value);
      const bytes = typeof value === 'number' ? value : match ? Number(match[1]) * 1024 ** ' kmg'.indexOf((match[2] || ' ').toLowerCase()) : Number.NaN;
      if (!Number.isInteger(bytes) || bytes < min || bytes > max) {
        ctx.addIssue({ code: 'custom', message: `expected a size between ${min} and ${max} bytes, such as 1048576, 512k or 10MB (got ${JSON.stringify(value)})` });
        return z.NEVER;
      }
      return bytes;
    })
    .default(defaultValue);
}

const milterSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('run the milter server (Postfix smtpd_milters)'),
    listen: listen('127.0.0.1:11332').describe('where the milter server listens'),
    max_connections: z.number().int().min(1).max(100_000).default(1000).describe('connections served at once; more are refused'),
    max_scan_size: byteSize(10 * 1024 * 1024, 1024, 1024 * 1024 * 1024).describe('message bytes kept for the content scan (10 MB); beyond, the start is scanned and SCAN_TRUNCATED says so'),
    envelope_checks: z.boolean().default(true).describe('run the envelope checks (bans, lists, HELO, sender, DNSBL, greylisting...) in the milter too; turn off when the policy server already runs them'),
    idle_timeout: duration('10m', 1, 86400).describe('close a connection on which Postfix sent nothing for this long'),
    command_timeout: duration('25s', 1, 3600).describe("deadline of our answer to a connect, HELO, MAIL or RCPT event (Postfix's milter_command_timeout is 30s); past it: continue"),
    content_timeout: duration('250s', 1, 3600).describe("deadline of the end-of-message scan (Postfix's milter_content_timeout is 300s); past it: accept unscanned"),
    max_packet_size: byteSize(1024 * 1024, 65_536, 64 * 1024 * 1024).describe('largest packet accepted from Postfix (1 MB); a larger length closes the connection'),
    drain_timeout: duration('10s', 0, 600).describe('on SIGTERM, how long sessions in progress may take to finish'),
  })
  .prefault({});

const secret = (what: string) =>
  z
    .string()
    .regex(/^[^\r\n]*$/, { message: 'expected one line' })
    .default('')
    .describe(what);

const httpSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('run the HTTP API, /metrics and the web dashboard'),
    listen: listen('127.0.0.1:11334').describe('where the HTTP server listens; a non-loopback address needs a password'),
    password: secret('administrator password, or the hash printed by `rempart passwd`; empty: no authentication (loopback only)'),
    readonly_password: secret('optional password (or hash) of a read-only role: GET requests only'),
    metrics_token: secret('optional bearer token accepted for GET /metrics only (for Prometheus)'),
    metrics_open: z.boolean().default(false).describe('serve /metrics without authentication to clients on loopback addresses'),
    login_attempts: z.number().int().min(1).max(1000).default(5).describe('failed logins from one address allowed within login_window; more get 429'),
    login_window: duration('15m', 1, 86400).describe('window of the failed-login limit'),
    session_max_age: duration('12h', 60, 86400 * 30).describe('how long a dashboard login lasts'),
    max_upload_size: byteSize(25 * 1024 * 1024, 1024, 1024 * 1024 * 1024).describe('largest message or mbox accepted by /api/check and /api/bayes/learn (25 MB)'),
  })
  .prefault({});

const spamHeadersSchema = z
  .strictObject({
    all_messages: z.boolean().default(false).describe('add X-Spam-Status and X-Spam-Score to every scanned message, not only to spam'),
    subject_tag: z.string().regex(/^[^\r\n]*$/).default('').describe('text put before the Subject of spam, e.g. "[SPAM] " (empty: the Subject is left alone)'),
  })
  .prefault({});

/** Extensions refused by default: Windows executables and scripts, from our users' practice. */
export const DEFAULT_BANNED_EXTENSIONS = 'ade adp bat chm cmd com cpl exe hta ins isp jar js jse lib lnk mde msc msi msp mst nsh pif scr sct shb sys vb vbe vbs vxd wsc wsf wsh'.split(' ');
/** Archive extensions refused when attachments.block_archives is on. */
export const DEFAULT_ARCHIVE_EXTENSIONS = ['zip', 'rar', '7z', 'gz', 'tgz', 'bz2', 'xz', 'tar', 'cab', 'iso', 'img', 'ace', 'arj', 'lzh'];

const extension = z.string().regex(/^[a-z0-9]{1,16}$/, { message: 'expected an extension in lower case without the dot, such as exe' });
const symbolName = z.string().regex(/^[A-Z0-9_]+$/, { message: 'expected a symbol name in capitals, such as LOCAL_RULE' });
const regexSource = z.string().refine((source) => {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}, { message: 'expected a JavaScript regular expression' });
const regexFlags = z.string().regex(/^[imsu]*$/, { message: 'expected regex flags among i, m, s, u' }).default('i');

const attachmentsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('apply the attachment policy at the end of the message'),
    banned_extensions: z.array(extension).default(DEFAULT_BANNED_EXTENSIONS).describe('file extensions refused, in attachments and inside archives'),
    block_archives: z.boolean().default(false).describe('also refuse archives themselves (archive_extensions)'),
    archive_extensions: z.array(extension).default(DEFAULT_ARCHIVE_EXTENSIONS).describe('what block_archives refuses'),
    name_rules: z
      .array(
        z.strictObject({
          pattern: regexSource.describe('regular expression matched against the whole file name'),
          flags: regexFlags.describe('regex flags (default i: any case)'),
          description: z.string().regex(/^[^\r\n()]*$/).min(1).describe('what the rule catches, shown in the reply: (<description>)'),
        }),
      )
      .default([])
      .describe('file names refused, e.g. { pattern: "^facture.*\\.docx?$", description: "invoice-named Word document" }'),
    double_extensions: ruleMode('reject', 'a name hiding an executable behind another extension, such as invoice.pdf.exe (ATTACHMENT_DOUBLE_EXTENSION)'),
    type_mismatch: ruleMode('score', 'an attachment whose declared type or content disagrees with its extension (ATTACHMENT_TYPE_MISMATCH)'),
    encrypted_archives: ruleMode('score', 'an archive with encrypted entries, whose content cannot be checked (ARCHIVE_ENCRYPTED)'),
    scan_archives: z.boolean().default(true).describe('look at the names inside zip archives, with the same rules'),
    archive_max_depth: z.number().int().min(1).max(10).default(3).describe('archives inside archives opened, at most this deep'),
    archive_max_entries: z.number().int().min(1).max(100_000).default(1000).describe('entries read per archive; beyond, ARCHIVE_TOO_MANY_ENTRIES'),
  })
  .prefault({});

const contentRule = z
  .strictObject({
    name: symbolName.describe('symbol name of the rule'),
    score: z.number().describe('score added when the rule matches'),
    header: z.string().regex(/^[A-Za-z0-9-]+$/).optional().describe('match the (decoded) values of this header'),
    body: z.boolean().default(false).describe('match the text of the message (text parts and the text of HTML parts)'),
    uri: z.boolean().default(false).describe("match the message's URLs"),
    pattern: regexSource.describe('the regular expression'),
    flags: regexFlags.describe('regex flags (default i: any case)'),
    description: z.string().regex(/^[^\r\n]*$/).optional().describe('shown with the symbol'),
  })
  .refine((rule) => [rule.header !== undefined, rule.body, rule.uri].filter(Boolean).length === 1, { message: 'expected exactly one of header, body: true or uri: true' });

const contentSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('run the content rules (HTML tricks, links, forged mailers, dates, subject)'),
    date_max_past: duration('4d', 3600, 365 * 86400).describe('a Date header older than this scores DATE_IN_PAST'),
    date_max_future: duration('12h', 60, 365 * 86400).describe('a Date header further ahead than this scores DATE_IN_FUTURE'),
    rules: z.array(contentRule).default([]).describe('your own rules, as SpamAssassin users write them: a regex on a header, the body or the URLs, with a score'),
  })
  .prefault({});

const uriblSchema = z
  .strictObject({
    zones: z.array(dnsblZone.omit({ ipv6: true, reply: true })).default([]).describe("DNS URI block lists (SURBL-style) asked for the registrable domains of the message's links"),
    bad_domains: z.array(domainName).default([]).describe('local list of bad domains (a link to one or its subdomains scores URIBL_LOCAL)'),
    bad_domains_files: z.array(z.string().min(1)).default([]).describe('files of bad domains, one per line, # comments'),
    bad_domain_score: z.number().default(5).describe('score of a link to a domain of bad_domains'),
    max_domains: z.number().int().min(1).max(1000).default(20).describe('distinct domains looked up per message'),
  })
  .prefault({});

const bayesSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('classify every message with the Bayesian filter (it gives no verdict until trained: min_messages)'),
    min_messages: z.number().int().min(1).max(100_000).default(200).describe('spam and ham messages each the database must have learned before it classifies'),
    spam_cutoff: z.number().gt(0).lt(1).default(0.995).describe('a probability at or above this is spam (BAYES_SPAM)'),
    ham_cutoff: z.number().gt(0).lt(1).default(0.2).describe('a probability at or below this is ham (BAYES_HAM); between the cutoffs: unsure'),
    spam_score: z.number().min(0).default(5).describe('score of BAYES_SPAM at probability 1, scaled down to 0 at spam_cutoff'),
    ham_score: z.number().max(0).default(-3).describe('score of BAYES_HAM at probability 0, scaled up to 0 at ham_cutoff'),
    robs: z.number().gt(0).default(0.0178).describe("Robinson's s: the weight of the prior for rare tokens"),
    robx: z.number().gt(0).lt(1).default(0.56).describe("Robinson's x: the probability assumed for a token never seen"),
    min_dev: z.number().min(0).lt(0.5).default(0.25).describe('tokens whose probability is within this of 0.5 are ignored'),
    max_tokens: z.number().int().min(1).max(100_000).default(150).describe('at most this many of the most significant tokens are combined'),
    per_user: z.boolean().default(false).describe("use a recipient's own database (rempart learn --for) for messages to that one recipient, once it has min_messages"),
    token_max_age: duration('0', 0, 3650 * 86_400).describe('tokens not learned for this long are removed by maintenance (0: never; useful with auto_learn)'),
    auto_learn: z
      .strictObject({
        enabled: z.boolean().default(false).describe('learn from the scorer: messages scoring at or above spam_score learned as spam, at or below ham_score as ham'),
        spam_score: z.number().default(12).describe('total score (Bayes symbols left out) from which a message is learned as spam'),
        ham_score: z.number().default(0.5).describe('total score (Bayes symbols left out) up to which a message is learned as ham'),
      })
      .prefault({}),
  })
  .prefault({})
  .refine((b) => b.ham_cutoff < b.spam_cutoff, { message: 'expected ham_cutoff < spam_cutoff' });

const switchSchema = (what: string) =>
  z.strictObject({ enabled: z.boolean().default(true).describe(what) }).prefault({});

const relaySchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('reject mail for other domains from untrusted clients (acts only when local_domains is set)'),
  })
  .prefault({});

const actionsSchema = z
  .strictObject({
    reject: z.number().default(15).describe('a total score at or above this rejects (554 5.7.1)'),
    add_header: z.number().default(6).describe('at or above this the mail is accepted and marked as spam (X-Spam-Flag: YES)'),
    greylist: z.number().default(4).describe('at or above this a client is greylisted when greylist.mode is suspicious'),
    reject_text: z
      .string()
      .min(1)
      .regex(/^[^\r\n]*$/, { message: 'expected one line of text' })
      .default('Message rejected as spam (score %s, required %r): %t')
      .describe('reply text of a score reject: %s score, %r the reject threshold, %t the symbols'),
  })
  .prefault({})
  .refine((a) => a.greylist <= a.add_header && a.add_header <= a.reject, { message: 'expected greylist <= add_header <= reject' });

export const configSchema = z.strictObject({
  hostname: domainName.optional().describe('our own host name (X-Greylist header, HELO checks); default: the system host name'),
  local_domains: z.array(domainName).default([]).describe('domains we receive mail for'),
  my_networks: z.array(ipOrCidr).default(['127.0.0.0/8', '::1/128']).describe('trusted client networks'),
  log: logSchema,
  store: storeSchema,
  history: historySchema,
  policy: policySchema,
  greylist: greylistSchema,
  dns: dnsSchema,
  helo: heloSchema,
  rdns: rdnsSchema,
  sender: senderSchema,
  relay: relaySchema,
  recipients: recipientsSchema,
  lists: switchSchema('apply the allow/block lists of the store (rempart allow|block)'),
  bans: switchSchema('refuse banned clients (spamtraps, strikes, rempart bans add)'),
  spamtraps: spamtrapsSchema,
  strikes: strikesSchema,
  dnsbl: dnsblSchema,
  milter: milterSchema,
  http: httpSchema,
  spam_headers: spamHeadersSchema,
  attachments: attachmentsSchema,
  content: contentSchema,
  uribl: uriblSchema,
  bayes: bayesSchema,
  scores: z.record(z.string().regex(/^[A-Z0-9_]+$/, { message: 'expected a symbol name in capitals, such as HELO_NOT_FQDN' }), z.number()).default({}).describe('per-symbol score overrides'),
  actions: actionsSchema,
});

/** The configuration as parsed from YAML, defaults filled in, durations in seconds. */
export type ParsedConfig = z.output<typeof configSchema>;

/** The configuration the daemon runs with: computed defaults resolved (host name, store path). */
export type Config = ParsedConfig & { hostname: string; store: ParsedConfig['store'] & { path: string } };
