// The digest that identifies a message to the Bayesian filter (`rempart learn`, and learning in the
// daemon), so that a message learned twice counts once and a correction moves it rather than adding
// it again. The same message must give the same digest wherever it is met: as the daemon received
// it, and later as a file in a maildir or an mbox, after delivery added trace headers (Received,
// Delivered-To, Return-Path, X-Original-To...), filters added theirs (our X-Spam-* and X-Greylist, a
// subject tag such as "[SPAM] "), and the mail store its flags (Status, X-Keywords, X-UID...) and
// possibly CRLF line ends. So rather than listing what to remove (a list that is never complete),
// the digest takes only what the sender wrote and nobody on the way changes: SHA-256 (hex) of the
// Message-ID, From and Date headers (first of each, folding and runs of white space reduced to one
// space, absent ones empty) and of the body (everything after the first empty line), with line
// ends as LF and the white space at its end removed. The Subject is left out because filters tag it.
import { createHash } from 'node:crypto';

/** The headers that identify a message, in the order they are hashed. */
const IDENTIFYING_HEADERS = ['message-id', 'from', 'date'] as const;

const CR = 0x0d;
const LF = 0x0a;

/** Where the header block ends: the offset of the body's first byte (after the empty line), or the length when there is no body. */
function bodyStart(raw: Buffer): number {
  if (raw[0] === LF) return 1;
  if (raw[0] === CR && raw[1] === LF) return 2;
  for (let at = raw.indexOf(LF); at >= 0; at = raw.indexOf(LF, at + 1)) {
    const next = raw[at + 1];
    if (next === LF) return at + 2;
    if (next === CR && raw[at + 2] === LF) return at + 3;
  }
  return raw.length;
}

/** The first value of each identifying header in a header block: unfolded, white space reduced. */
function identifyingValues(headerBlock: string): Map<string, string> {
  const values = new Map<string, string>();
  // A field starts a line with its name and a colon; continuation lines start with white space.
  for (const field of headerBlock.split(/\r?\n(?![ \t])/)) {
    const match = /^([!-9;-~]+)[ \t]*:([\s\S]*)$/.exec(field);
    if (!match) continue;
    const name = match[1]!.toLowerCase();
    if ((IDENTIFYING_HEADERS as readonly string[]).includes(name) && !values.has(name)) values.set(name, match[2]!.replace(/[ \t\r\n]+/g, ' ').trim());
  }
  return values;
}

/** The body with CRLF as LF and its trailing white space (spaces, tabs, line ends) removed. */
function normalisedBody(body: Buffer): Buffer {
  let end = body.length;
  while (end > 0 && (body[end - 1] === LF || body[end - 1] === CR || body[end - 1] === 0x20 || body[end - 1] === 0x09)) end--;
  const trimmed = body.subarray(0, end);
  if (!trimmed.includes(CR)) return trimmed;
  return Buffer.from(trimmed.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/** The learning digest of a raw message (see the top of this file): 64 hexadecimal digits. */
export function messageDigest(raw: Uint8Array): string {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const start = bodyStart(bytes);
  const values = identifyingValues(bytes.subarray(0, start).toString('latin1'));
  const hash = createHash('sha256');
  for (const name of IDENTIFYING_HEADERS) hash.update(`${name}:${values.get(name) ?? ''}\n`, 'latin1');
  hash.update('\n');
  hash.update(normalisedBody(bytes.subarray(start)));
  return hash.digest('hex');
}
