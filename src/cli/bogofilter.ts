// Reading a bogofilter wordlist dump for `rempart learn --import-bogofilter`: the text that
// `bogoutil -d wordlist.db` prints, one token a line as "TOKEN SPAM HAM [YYYYMMDD]" (the counts are
// of messages; the date is when the token was last learned), with the special token .MSG_COUNT
// holding the numbers of spam and ham messages learned. Other special tokens (.ROBX, .ENCODING,
// .WORDLIST_VERSION) carry bogofilter's own settings and are left out.
//
// bogofilter's tokens are turned into the forms of src/classifier/tokenizer.ts where there is a
// counterpart, so that imported counts meet the tokens of the messages we classify:
//   Word (body)            → word           (our tokens are lower case)
//   subj:Word              → subject:word
//   from:example.net       → from:@example.net      (a domain; other from: words stay from:word,
//   to:example.org         → to:@example.org          as our display-name words)
//   rcvd:mx.example.net    → received:mx.example.net
//   rcvd:192.0.2.7         → received:192.0.2        (our relays are /24 networks; private ones left out)
//   rtrn:..., head:..., mime:...  left out (Return-Path is added at delivery and our tokenizer skips
//                          it; words of other headers and of MIME fields: we make no such tokens),
//                          and so are tokens holding white space (bogofilter keeps no-break spaces)
// Tokens that become the same (Buy and buy) take the larger count of each class, never the sum,
// since one message may hold both; the later date wins.

/** A token's counts as imported; lastSeen in seconds since the epoch. */
export interface ImportedCounts {
  spam: number;
  ham: number;
  lastSeen: number;
}

/** One line of a dump: a token with its counts, or a reason why the line is not one. */
export type DumpLine = { token: string; spam: number; ham: number; lastSeen: number | undefined } | { problem: string };

const PUBLIC_IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;

/** Parses one line of `bogoutil -d` output; undefined for a blank line. */
export function parseDumpLine(line: string): DumpLine | undefined {
  // Only ASCII blanks separate fields: a token may hold other white space (a no-break space).
  const fields = line.replace(/^[ \t\r]+|[ \t\r]+$/g, '').split(/[ \t]+/);
  if (fields[0] === '') return undefined;
  if (fields.length < 3 || fields.length > 4) return { problem: 'expected "TOKEN SPAM HAM [YYYYMMDD]"' };
  const [token, spamText, hamText, dateText] = fields as [string, string, string, string | undefined];
  if (!/^\d+$/.test(spamText) || !/^\d+$/.test(hamText)) return { problem: 'the spam and ham counts must be whole numbers' };
  let lastSeen: number | undefined;
  if (dateText !== undefined) {
    const date = /^(\d{4})(\d{2})(\d{2})$/.exec(dateText);
    const ms = date ? Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3])) : NaN;
    if (!date || !Number.isFinite(ms) || new Date(ms).getUTCDate() !== Number(date[3])) return { problem: `not a date (YYYYMMDD): ${dateText}` };
    lastSeen = ms / 1000;
  }
  return { token, spam: Number(spamText), ham: Number(hamText), lastSeen };
}

/** A /24 network as our tokenizer names relays (received:a.b.c), or undefined for a private or invalid address. */
function publicNetwork(address: string): string | undefined {
  const match = PUBLIC_IPV4.exec(address);
  if (!match) return undefined;
  const [a, b, c, d] = match.slice(1).map(Number) as [number, number, number, number];
  if ([a, b, c, d].some((n) => n > 255)) return undefined;
  const isPrivate = a === 10 || a === 127 || a === 0 || a >= 224 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  return isPrivate ? undefined : `${a}.${b}.${c}`;
}

/** Our form of a bogofilter token (see the table at the top), or undefined when we make no such token. */
export function ourToken(bogofilterToken: string): string | undefined {
  if (/\s/.test(bogofilterToken)) return undefined; // ours never hold white space (bogofilter's may hold a no-break space)
  const token = bogofilterToken.toLowerCase();
  const colon = token.indexOf(':');
  const prefix = colon > 0 ? token.slice(0, colon) : '';
  const rest = token.slice(colon + 1);
  switch (prefix) {
    case 'subj':
      return rest ? `subject:${rest}` : undefined;
    case 'from':
    case 'to':
      if (!rest) return undefined;
      return DOMAIN.test(rest) ? `${prefix}:@${rest}` : `${prefix}:${rest}`;
    case 'rcvd': {
      if (PUBLIC_IPV4.test(rest)) {
        const network = publicNetwork(rest);
        return network ? `received:${network}` : undefined;
      }
      return DOMAIN.test(rest) ? `received:${rest}` : undefined;
    }
    case 'rtrn':
    case 'head':
    case 'mime':
      return undefined;
    default:
      return token;
  }
}

/** What an import read, for its report. */
export interface ImportTally {
  /** Token lines read, special tokens left out. */
  read: number;
  /** bogofilter tokens that have no counterpart among ours. */
  skipped: number;
  /** bogofilter tokens merged into one of ours that another token already gave. */
  merged: number;
  /** Special tokens (.ROBX, .ENCODING...) other than .MSG_COUNT, left out. */
  special: string[];
}

/** Collects the lines of a dump into our tokens, merged, and the message counts. */
export class BogofilterDump {
  readonly tokens = new Map<string, ImportedCounts>();
  readonly messages = { spam: 0, ham: 0 };
  readonly tally: ImportTally = { read: 0, skipped: 0, merged: 0, special: [] };

  constructor(private readonly now: number) {}

  /** Adds one parsed token line. */
  add(line: { token: string; spam: number; ham: number; lastSeen: number | undefined }): void {
    if (line.token === '.MSG_COUNT') {
      this.messages.spam += line.spam;
      this.messages.ham += line.ham;
      return;
    }
    if (/^\.[A-Z_]+$/.test(line.token)) {
      this.tally.special.push(line.token);
      return;
    }
    this.tally.read++;
    const token = ourToken(line.token);
    if (token === undefined || (line.spam === 0 && line.ham === 0)) {
      this.tally.skipped++;
      return;
    }
    const lastSeen = line.lastSeen ?? this.now;
    const existing = this.tokens.get(token);
    if (!existing) {
      this.tokens.set(token, { spam: line.spam, ham: line.ham, lastSeen });
      return;
    }
    this.tally.merged++;
    existing.spam = Math.max(existing.spam, line.spam);
    existing.ham = Math.max(existing.ham, line.ham);
    existing.lastSeen = Math.max(existing.lastSeen, lastSeen);
  }
}
