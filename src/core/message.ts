// What content checks read: a message as the MIME analysis (src/mime/) leaves it: headers, text and
// HTML parts with their charsets, attachments with decoded names and content, the names inside
// archives, and the problems met on the way. Derived facts that several checks need (the HTML
// analysis, the URL list) are computed once per message and kept in `derived`.

export interface MessageHeader {
  /** As written (case kept). */
  name: string;
  /** Unfolded, RFC 2047 encoded-words decoded. */
  value: string;
}

export interface TextPart {
  kind: 'text' | 'html';
  /** Decoded to a JavaScript string. */
  content: string;
  /** The charset the part declared (lower case; '' when none: us-ascii/utf-8 assumed). */
  charset: string;
  /** Inside an attached message (message/rfc822), not the message itself. */
  nested: boolean;
}

export interface ArchiveEntry {
  /** Path inside the archive, as stored (directories included, "/" separated). */
  name: string;
  /** Archives in archives: 1 for an entry of the attachment itself, 2 one level down... */
  depth: number;
  encrypted: boolean;
  /** Uncompressed size in bytes as the archive declares it (0 when unknown). */
  size: number;
}

export interface ArchiveListing {
  format: 'zip';
  entries: ArchiveEntry[];
  /** Reading problems: 'truncated', 'corrupt', 'too-many-entries', 'too-deep', 'too-large'. */
  problems: string[];
}

export interface Attachment {
  /** Decoded file name (RFC 2231 and RFC 2047), '' when the part has none. */
  filename: string;
  /** Declared type, lower case, without parameters ('application/octet-stream' when none). */
  contentType: string;
  disposition: 'attachment' | 'inline' | '';
  /** Decoded bytes. */
  content: Uint8Array;
  /** Inside an attached message (message/rfc822). */
  nested: boolean;
  /** For archives the analysis could open (zip): what is inside. */
  archive?: ArchiveListing;
}

export interface ParsedMessage {
  /** Size of the message as received, in bytes (the whole of it, even when the scan kept less). */
  size: number;
  /** The scan kept only the first bytes (milter.max_scan_size). */
  truncated: boolean;
  /** Top-level headers, in order. */
  headers: MessageHeader[];
  /** Text and HTML parts, the message's own first, then those of attached messages. */
  textParts: TextPart[];
  attachments: Attachment[];
  /** MIME problems met (missing boundary, bad encoding, parse failure...), each a short phrase. */
  problems: string[];
  /** Facts computed once from the above by whoever needs them first (see memo()). */
  derived: Map<string, unknown>;
}

/** The values of every header called `name` (any case), in order. */
export function headerValues(message: ParsedMessage, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const header of message.headers) if (header.name.toLowerCase() === wanted) values.push(header.value);
  return values;
}

/** The first value of header `name`, or undefined. */
export function headerValue(message: ParsedMessage, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return message.headers.find((h) => h.name.toLowerCase() === wanted)?.value;
}

/** Computes a derived fact once per message: later calls with the same key return the first result. */
export function memo<T>(message: ParsedMessage, key: string, compute: () => T): T {
  if (message.derived.has(key)) return message.derived.get(key) as T;
  const value = compute();
  message.derived.set(key, value);
  return value;
}
