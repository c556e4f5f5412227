// Zip archives in attachments: the names inside (from the central directory, with yauzl), which
// entries are encrypted (general purpose bit 0), and the archives inside archives, opened in memory
// down to a depth limit. Every step is bounded: entries read per attachment, bytes inflated per inner
// archive and per message. An archive whose central directory cannot be found (cut by the scan
// limit, or damaged) is listed from its local file headers instead (fflate's streaming reader), so
// padding a message past milter.max_scan_size does not hide the names in its last archive.
import { inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { Unzip } from 'fflate';
import type { ArchiveListing } from '../core/message.js';
import { contentKind, lastExtension } from './file-types.js';

export interface ArchiveLimits {
  /** Archives inside archives are opened down to this depth (1: the attachment's own entries only). */
  maxDepth: number;
  /** Entries read per attachment, all depths together. */
  maxEntries: number;
  /** The message was cut by the scan limit: a zip without its end is 'truncated', not 'corrupt'. */
  messageTruncated: boolean;
}

/** What inner archives may still cost for one message, shared by all its attachments. */
export interface InflateBudget {
  bytesLeft: number;
}

/** An inner archive larger than this (uncompressed) is not opened: 'too-large'. */
const MAX_INNER_ARCHIVE_BYTES = 20 * 1024 * 1024;
/** Bytes inflated from inner archives per message, all attachments together (zip-bomb guard). */
export const INFLATE_BUDGET_BYTES = 50 * 1024 * 1024;

const ENCRYPTED_FLAG = 0x0001;
/** Compression methods (APPNOTE 4.4.5) of the entries inner archives are read from. */
const STORED = 0;
const DEFLATED = 8;
const ZIP_TYPES = new Set(['application/zip', 'application/x-zip-compressed', 'application/x-zip']);

/** A zip by its name, its declared type or its first bytes. */
export function looksLikeZip(fileName: string, contentType: string, content: Uint8Array): boolean {
  return lastExtension(fileName) === 'zip' || ZIP_TYPES.has(contentType) || contentKind(content) === 'zip';
}

/** Lists a zip archive and the zip archives inside it. Never throws: damage becomes a problem. */
export async function listZip(content: Uint8Array, limits: ArchiveLimits, budget: InflateBudget): Promise<ArchiveListing> {
  const listing: ArchiveListing = { format: 'zip', entries: [], problems: [] };
  await listInto(listing, content, '', 1, limits, budget);
  return listing;
}

function addProblem(listing: ArchiveListing, problem: string): void {
  if (!listing.problems.includes(problem)) listing.problems.push(problem);
}

/** Lists one archive's entries at `depth`, their names prefixed with the inner archive's path ("inner.zip/"). */
async function listInto(listing: ArchiveListing, content: Uint8Array, prefix: string, depth: number, limits: ArchiveLimits, budget: InflateBudget): Promise<void> {
  let zipfile: yauzl.ZipFile;
  try {
    // decodeStrings: false keeps yauzl from refusing the whole archive over one entry named
    // "../x" or "C:\x" (exactly the names worth seeing); getFileNameLowLevel decodes them.
    zipfile = await yauzl.fromBufferPromise(Buffer.from(content.buffer, content.byteOffset, content.byteLength), { lazyEntries: true, decodeStrings: false });
  } catch {
    // A zip starts with a local header; anything else is not worth scanning for one.
    if (contentKind(content) === 'zip') listLocalHeaders(listing, content, prefix, depth, limits);
    addProblem(listing, limits.messageTruncated ? 'truncated' : 'corrupt');
    return;
  }
  try {
    for await (const entry of zipfile.eachEntry()) {
      if (listing.entries.length >= limits.maxEntries) {
        addProblem(listing, 'too-many-entries');
        return;
      }
      const name = prefix + yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const encrypted = (entry.generalPurposeBitFlag & ENCRYPTED_FLAG) !== 0;
      listing.entries.push({ name, depth, encrypted, size: entry.uncompressedSize });
      if (encrypted || lastExtension(name) !== 'zip') continue;
      if (depth >= limits.maxDepth) {
        addProblem(listing, 'too-deep');
      } else if (entry.uncompressedSize > MAX_INNER_ARCHIVE_BYTES || entry.uncompressedSize > budget.bytesLeft) {
        addProblem(listing, 'too-large');
      } else {
        budget.bytesLeft -= entry.uncompressedSize;
        const inner = await readEntry(zipfile, content, entry).catch(() => undefined);
        if (inner) await listInto(listing, inner, `${name}/`, depth + 1, limits, budget);
        else addProblem(listing, 'corrupt');
      }
    }
  } catch {
    addProblem(listing, 'corrupt');
  }
}

/**
 * An entry's bytes, or undefined when they cannot be had (cut short, unknown method, bad data).
 * Inflated in one synchronous call, bounded by the declared size: yauzl's read streams go through
 * zlib's thread pool, which costs several times more for the small archives mail carries.
 */
async function readEntry(zipfile: yauzl.ZipFile, content: Uint8Array, entry: yauzl.Entry): Promise<Uint8Array | undefined> {
  const { fileDataStart } = await zipfile.readLocalFileHeaderPromise(entry, { minimal: true });
  const end = fileDataStart + entry.compressedSize;
  if (end > content.byteLength) return undefined;
  const data = content.subarray(fileDataStart, end);
  if (entry.compressionMethod === STORED) return data.byteLength === entry.uncompressedSize ? data : undefined;
  if (entry.compressionMethod !== DEFLATED) return undefined;
  const inflated = inflateRawSync(data, { maxOutputLength: Math.max(entry.uncompressedSize, 1) });
  return inflated.byteLength === entry.uncompressedSize ? inflated : undefined;
}

/**
 * The names in the local file headers, for an archive without a readable central directory.
 * fflate does not report the encryption flag, so entries read here are listed as not encrypted;
 * inner archives are not opened.
 */
function listLocalHeaders(listing: ArchiveListing, content: Uint8Array, prefix: string, depth: number, limits: ArchiveLimits): void {
  const reader = new Unzip((file) => {
    if (listing.entries.length >= limits.maxEntries) addProblem(listing, 'too-many-entries');
    else listing.entries.push({ name: prefix + file.name, depth, encrypted: false, size: file.originalSize ?? 0 });
  });
  try {
    reader.push(content, true);
  } catch {
    // What was read before the damage stays listed; the caller records the problem.
  }
}
