// MIME analysis: turns the raw bytes of a message into the ParsedMessage that content checks read
// (src/core/message.ts): the top-level headers, decoded; every text and HTML part with its declared
// charset; every attachment with its decoded name, declared type, disposition and bytes; the parts
// of attached messages, flagged nested; the names inside zip attachments (zip.ts); and the MIME
// problems met on the way. It never throws: what cannot be parsed becomes a problem.
//
// The parsing is postal-mime's. Its published result does not suit a scanner: it merges the text
// parts into one `text` and one `html` string, drops their charsets, and mixes the parts of attached
// messages with the message's own. The part tree it builds while parsing has all of it, part by part,
// with each part's Content-Type and Content-Disposition parsed by postal-mime itself (RFC 2231
// continuations and charsets decoded). So once the parser has read the message we walk that tree,
// through the narrow `PartNode` view below, rather than read every part's headers again in a second
// pass: it costs nothing, and the parts are exactly the ones the parser saw. These members are not in postal-mime's
// published types: keep the dependency on 4.0.x; parse.test.ts fails at once if they change.
//
// postal-mime joins each part's decoded chunks through a Blob, slow in Node 20: decoder-speedup.ts
// takes that Blob out (a parse is 3 to 4 times faster).
//
// Nor is postal-mime's parse() itself run: readParts() drives the same parser over the bytes. parse()
// awaits an async processLine() for every line, a promise and a microtask each, although only a
// MIME delimiter line (or the last line) can wait for anything; and after the last line it builds
// the published result (every text part decoded and joined, HTML turned into text for the text-only
// view, the address headers parsed) that this file never reads. readParts() hands a line that cannot
// be a delimiter straight to the current part's feed(), which is all processLine() does with it, and
// stops once the tree is complete. It also finds each line's end with one native search, where
// postal-mime's readLine() steps through the bytes one at a time (and needs them copied into an
// ArrayBuffer of their own). Measured on the SpamAssassin corpus (bench/bayes): 241 µs a message
// through parse(), 116 µs with readParts(), about 10 % less again with the native search.
//
// postal-mime repairs quietly, so the problems are noted here: a multipart without a boundary or
// without its closing delimiter (looked up in the raw bytes, and not reported when the scan cut the
// message), base64 with characters outside its alphabet (seen line by line by readParts()), no
// headers or header lines that are not "Name: value", attached messages nested too deep, and a
// parse that failed (postal-mime's own limits; the headers are then read from the header block
// alone, so header checks still see them).
//
// Attached messages (message/rfc822, message/global) are parsed here rather than by postal-mime
// (maxRfc822NestingDepth 0), each by a parser of its own, down to MAX_ATTACHED_MESSAGE_DEPTH: their
// parts follow the message's own, flagged nested, and an attached message sent with
// "Content-Disposition: attachment" is opened too (postal-mime leaves those shut).
//
// Which part is what: a text/plain or text/html part is a text part unless its disposition is
// attachment; when it also has a file name it is listed as an attachment as well, since mail
// clients show it as one and its name must meet the attachment policy. An attached message is
// listed as an attachment when it has a file name or the attachment disposition. Any other leaf part
// is an attachment, unless it has neither a name nor content.
import PostalMime, { decodeWords } from 'postal-mime';
import type { Attachment, MessageHeader, ParsedMessage } from '../core/message.js';
import { speedUpDecoders } from './decoder-speedup.js';
import { INFLATE_BUDGET_BYTES, listZip, looksLikeZip, type ArchiveLimits, type InflateBudget } from './zip.js';

export interface ParseOptions {
  /** The scan kept only the first bytes of the message (milter.max_scan_size). */
  truncated?: boolean;
  /** Size of the whole message in bytes (default: the length of `raw`). */
  size?: number;
  /** Archives inside archives are opened down to this depth (default 3). */
  archiveMaxDepth?: number;
  /** Entries read per zip attachment, all depths together (default 1000). */
  archiveMaxEntries?: number;
  /** List the entries of zip attachments (default true). */
  scanArchives?: boolean;
}

/** Attached messages inside attached messages are opened down to this depth; deeper ones stay plain attachments. */
export const MAX_ATTACHED_MESSAGE_DEPTH = 5;
/** Multipart nesting (levels) past which postal-mime gives up on a message (its own default is 256). */
const MAX_MULTIPART_DEPTH = 64;
const DEFAULT_ARCHIVE_MAX_DEPTH = 3;
const DEFAULT_ARCHIVE_MAX_ENTRIES = 1000;

const ATTACHED_MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);
/** RFC 5322 field name: printable ASCII but the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const EMPTY = new Uint8Array(0);

/** Bytes a base64 body line may hold: the alphabet, padding, and spaces some mailers leave. */
const BASE64_LINE_BYTES = new Uint8Array(256);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t') BASE64_LINE_BYTES[char.charCodeAt(0)] = 1;

interface StructuredHeader {
  value: string;
  params: Record<string, string>;
}

/** The members of postal-mime 4.0's MimeNode read here. */
interface PartNode {
  state: 'header' | 'body' | 'finished';
  headers: Array<{ key: string; originalKey: string; value: string }>;
  contentType: { parsed: StructuredHeader; multipart: string | false };
  contentDisposition: { parsed: StructuredHeader };
  contentTransferEncoding: { encoding: string };
  childNodes: PartNode[];
  content: ArrayBuffer | null;
  getTextContent(): string;
}

/** The members of a postal-mime 4.0 parser read or set here: those its parse() uses to read the lines. */
interface ParserInternals {
  root: PartNode;
  currentNode: PartNode & { feed(line: Uint8Array): void };
  /** The delimiters of the multiparts open at this point. */
  boundaries: unknown[];
  started: boolean;
  processLine(line: Uint8Array, isFinal: boolean): Promise<void>;
}

/** One parseMessage call: what it fills in and its limits. */
interface Scan {
  message: ParsedMessage;
  scanArchives: boolean;
  archiveLimits: ArchiveLimits;
  inflateBudget: InflateBudget;
}

export async function parseMessage(raw: Uint8Array, options: ParseOptions = {}): Promise<ParsedMessage> {
  const message: ParsedMessage = {
    size: options.size ?? raw.byteLength,
    truncated: options.truncated ?? false,
    headers: [],
    textParts: [],
    attachments: [],
    problems: [],
    derived: new Map(),
  };
  const scan: Scan = {
    message,
    scanArchives: options.scanArchives ?? true,
    archiveLimits: {
      maxDepth: options.archiveMaxDepth ?? DEFAULT_ARCHIVE_MAX_DEPTH,
      maxEntries: options.archiveMaxEntries ?? DEFAULT_ARCHIVE_MAX_ENTRIES,
      messageTruncated: message.truncated,
    },
    inflateBudget: { bytesLeft: INFLATE_BUDGET_BYTES },
  };
  try {
    await parseLevel(raw, 0, scan);
  } catch (error) {
    addProblem(message, `analysis failed: ${errorText(error)}`);
  }
  return message;
}

/** Parses the message (level 0) or an attached message (level 1 and down) into scan.message. */
async function parseLevel(raw: Uint8Array, level: number, scan: Scan): Promise<void> {
  const { message } = scan;
  if (raw.byteLength === 0) {
    addProblem(message, level === 0 ? 'empty message' : 'empty attached message');
    return;
  }
  const internals = internalsOf(new PostalMime({ maxRfc822NestingDepth: 0, maxNestingDepth: MAX_MULTIPART_DEPTH }));
  try {
    await readParts(internals, raw, () => addProblem(message, 'invalid base64'));
  } catch (error) {
    addProblem(message, `parse failed: ${errorText(error)}`);
    if (level === 0) message.headers = await headerBlockHeaders(raw);
    return;
  }
  const root = internals.root;
  if (level === 0) message.headers = root.headers.map(decodedHeader);
  if (root.headers.length === 0) addProblem(message, level === 0 ? 'message without headers' : 'attached message without headers');
  if (root.headers.some((header) => !FIELD_NAME.test(header.originalKey))) addProblem(message, 'invalid header line');

  const firstAttachment = message.attachments.length;
  const attachedMessages: Uint8Array[] = [];
  collectParts(root, bufferView(raw), level, scan, attachedMessages);
  if (scan.scanArchives) {
    for (const attachment of message.attachments.slice(firstAttachment)) {
      if (looksLikeZip(attachment.filename, attachment.contentType, attachment.content)) {
        attachment.archive = await listZip(attachment.content, scan.archiveLimits, scan.inflateBudget);
      }
    }
  }
  for (const attached of attachedMessages) await parseLevel(attached, level + 1, scan);
}

/** Sorts the leaves under `node` into text parts, attachments and attached messages (parsed later, after the message's own parts). */
function collectParts(node: PartNode, raw: Buffer, level: number, scan: Scan, attachedMessages: Uint8Array[]): void {
  const { message } = scan;
  const contentType = node.contentType.parsed;
  if (node.contentType.multipart) {
    const boundary = contentType.params.boundary;
    if (!boundary) addProblem(message, 'multipart without boundary');
    else if (!message.truncated && raw.indexOf(`\n--${boundary}--`) < 0) addProblem(message, 'missing closing boundary');
    for (const child of node.childNodes) collectParts(child, raw, level, scan, attachedMessages);
    return;
  }
  const type = contentType.value;
  const disposition = dispositionOf(node.contentDisposition.parsed.value);
  const rawName = node.contentDisposition.parsed.params.filename || contentType.params.name || '';
  const filename = rawName.includes('=?') ? decodeWords(rawName) : rawName;
  const content = node.content ? new Uint8Array(node.content) : EMPTY;
  const attachment: Attachment = {
    filename,
    contentType: type && node.headers.some((header) => header.key === 'content-type') ? type : 'application/octet-stream',
    disposition,
    content,
    nested: level > 0,
  };
  if (ATTACHED_MESSAGE_TYPES.has(type)) {
    const tooDeep = level + 1 > MAX_ATTACHED_MESSAGE_DEPTH;
    if (tooDeep) addProblem(message, `attached messages nested deeper than ${MAX_ATTACHED_MESSAGE_DEPTH} levels`);
    else attachedMessages.push(content);
    if (tooDeep || filename !== '' || disposition === 'attachment') message.attachments.push(attachment);
    return;
  }
  if ((type === 'text/plain' || type === 'text/html') && disposition !== 'attachment') {
    const text = node.getTextContent();
    if (text !== '') message.textParts.push({ kind: type === 'text/html' ? 'html' : 'text', content: text, charset: (contentType.params.charset ?? '').toLowerCase(), nested: level > 0 });
    if (filename === '') return;
  }
  if (filename !== '' || content.byteLength > 0) message.attachments.push(attachment);
}

/** RFC 2183: an unknown disposition is treated as attachment. */
function dispositionOf(token: string): Attachment['disposition'] {
  return token === '' || token === 'inline' ? token : 'attachment';
}

function decodedHeader(header: { originalKey: string; value: string }): MessageHeader {
  return { name: header.originalKey, value: header.value.includes('=?') ? decodeWords(header.value) : header.value };
}

/** After a failed parse: the headers of the header block alone (up to the first empty line), or none. */
async function headerBlockHeaders(raw: Uint8Array): Promise<MessageHeader[]> {
  const view = bufferView(raw);
  const ends = [view.indexOf('\n\n'), view.indexOf('\n\r\n')].filter((index) => index >= 0);
  const parser = internalsOf(new PostalMime());
  try {
    await readParts(parser, view.subarray(0, ends.length > 0 ? Math.min(...ends) + 1 : view.length), () => {});
    return parser.root.headers.map(decodedHeader);
  } catch {
    return [];
  }
}

/**
 * Reads `raw` into the parser's part tree as postal-mime 4.0's parse() does, line by line, but without
 * its per-line promise and its published result (see the top of the file), and finding each line
 * end with one native search rather than postal-mime's byte-by-byte readLine(). A line is handed on
 * without its line break and any carriage returns before it, as readLine() does, as a view of `raw`
 * (no copy). A line that may be a MIME delimiter, and the last line, go through processLine(), which
 * finalizes the parts they close; every other line goes to the current part. A base64 body line with
 * bytes outside the alphabet is reported once through onInvalidBase64 (postal-mime drops such bytes
 * silently).
 */
async function readParts(parser: ParserInternals, raw: Uint8Array, onInvalidBase64: () => void): Promise<void> {
  if (parser.started) throw new Error('postal-mime parser already used');
  parser.started = true;
  const view = bufferView(raw); // Buffer#indexOf: a native search
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength); // Uint8Array#subarray: the cheapest view per line
  const length = view.length;
  let position = 0;
  let invalidBase64Seen = false;
  while (position < length) {
    const newline = view.indexOf(0x0a, position);
    let end = newline < 0 ? length : newline;
    while (end > position && bytes[end - 1] === 0x0d) end--;
    const line = bytes.subarray(position, end);
    position = newline < 0 ? length : newline + 1;
    const done = position >= length;
    const node = parser.currentNode;
    if (!invalidBase64Seen && node.state === 'body' && node.contentTransferEncoding.encoding === 'base64' && !node.contentType.multipart && !isBase64Line(line)) {
      invalidBase64Seen = true;
      onInvalidBase64();
    }
    const mayBeDelimiter = parser.boundaries.length > 0 && line.length > 2 && line[0] === 0x2d && line[1] === 0x2d;
    if (done || mayBeDelimiter) await parser.processLine(line, done);
    else node.feed(line);
  }
}

function isBase64Line(line: Uint8Array): boolean {
  // A line starting with "--" may be a boundary, which the parser handles before the part sees it.
  if (line[0] === 0x2d && line[1] === 0x2d) return true;
  for (let i = 0; i < line.length; i++) if (BASE64_LINE_BYTES[line[i]!] === 0) return false;
  return true;
}

// Once, at start-up: the part tree's node class, reached through a parser's root node, so that every
// parser made from now on decodes without a Blob (decoder-speedup.ts).
speedUpDecoders(internalsOf(new PostalMime()).root);

/** The parser's internals, checked: a postal-mime release that moved them fails loudly here, not quietly later. */
function internalsOf(parser: PostalMime): ParserInternals {
  const internals = parser as unknown as ParserInternals;
  if (
    typeof internals.processLine !== 'function' ||
    typeof internals.currentNode?.feed !== 'function' ||
    !Array.isArray(internals.boundaries) ||
    internals.started !== false ||
    !Array.isArray(internals.root?.childNodes)
  ) {
    throw new Error('postal-mime internals changed (src/mime/parse.ts reads those of postal-mime 4.0)');
  }
  return internals;
}

function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function addProblem(message: ParsedMessage, problem: string): void {
  if (!message.problems.includes(problem)) message.problems.push(problem);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
