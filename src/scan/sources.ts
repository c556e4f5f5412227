// Where offline commands (check, and later learn) find messages: single files, directories walked
// recursively (maildirs included: cur/ and new/ are directories of message files), mbox files
// (recognised by their first line, "From "), and "-" for standard input. Messages come one at a
// time, so a large mbox is never held whole in memory.
import { createReadStream, readdirSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SourceMessage {
  /** Path, "path#N" for the N-th message of an mbox (from 1), or "-" for standard input. */
  name: string;
  raw: Buffer;
}

export interface SourceProblem {
  name: string;
  problem: string;
}

/** Bytes read at once from a large mbox. */
const MBOX_CHUNK = 1024 * 1024; // 1 MiB
/** Files up to this size are read in one go (one open, whether message or mbox); larger mboxes are streamed. */
const READ_WHOLE_LIMIT = 64 * 1024 * 1024; // 64 MiB

/** Whether a file starts with an mbox separator line ("From " followed by the sender and a date). */
function looksLikeMbox(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(5);
    return readSync(fd, head, 0, 5, 0) === 5 && head.toString('latin1') === 'From ';
  } finally {
    closeSync(fd);
  }
}

/** Every file under a directory, sorted, hidden files and directories skipped. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const full = join(dir, name);
    const stat = statSync(full);
    if (stat.isDirectory()) found.push(...filesUnder(full));
    else if (stat.isFile()) found.push(full);
  }
  return found;
}

/** mboxrd/mboxo quoting: a body line ">From " was written for "From " (one ">" less on every such line). */
function unquoteMbox(message: Buffer): Buffer {
  const text = message.toString('latin1');
  if (!text.includes('>From ')) return message;
  return Buffer.from(text.replace(/^>(>*From )/gm, '$1'), 'latin1');
}

/**
 * The messages of an mbox: each starts at a "From " line that begins the file or follows an empty
 * line; the separator line itself is not part of the message.
 */
async function* mboxMessages(path: string, chunks: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<SourceMessage> {
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const emit = (chunk: Buffer): SourceMessage => {
    index++;
    const firstLineEnd = chunk.indexOf(0x0a);
    const body = firstLineEnd < 0 ? Buffer.alloc(0) : chunk.subarray(firstLineEnd + 1);
    return { name: `${path}#${index}`, raw: unquoteMbox(body) };
  };
  for await (const chunk of chunks) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    // Split at "\n\nFrom " (or "\r\n\r\nFrom "): the second newline ends the previous message.
    let start = 0;
    for (;;) {
      const separator = nextSeparator(pending, start === 0 ? 1 : start);
      if (separator < 0) break;
      yield emit(pending.subarray(start, separator));
      start = separator;
    }
    pending = pending.subarray(start);
  }
  if (pending.length > 0) yield emit(pending);
}

/** Offset of the next "From " that starts a line after an empty line, searching from `from`. */
function nextSeparator(buffer: Buffer, from: number): number {
  let at = buffer.indexOf('\nFrom ', from, 'latin1');
  while (at >= 0) {
    const previous = buffer[at - 1];
    const beforeThat = buffer[at - 2];
    if (previous === 0x0a || (previous === 0x0d && beforeThat === 0x0a)) return at + 1;
    at = buffer.indexOf('\nFrom ', at + 1, 'latin1');
  }
  return -1;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The messages of one uploaded file (the HTTP API): an mbox split into its messages, else the file as one message. */
export async function* messagesInUpload(name: string, raw: Buffer): AsyncGenerator<SourceMessage> {
  if (raw.subarray(0, 5).toString('latin1') === 'From ') yield* mboxMessages(name, [raw]);
  else yield { name, raw };
}

/**
 * Every message named by `paths`, in order. Unreadable paths are reported to `onProblem` and
 * skipped, so one bad file does not stop a run over thousands.
 */
export async function* messagesFrom(
  paths: readonly string[],
  onProblem: (problem: SourceProblem) => void,
  // For tests: where files stop being read whole, and the size of the chunks a large mbox is read in.
  { readWholeLimit = READ_WHOLE_LIMIT, chunkBytes = MBOX_CHUNK }: { readWholeLimit?: number; chunkBytes?: number } = {},
): AsyncGenerator<SourceMessage> {
  for (const path of paths) {
    if (path === '-') {
      yield { name: '-', raw: await readStdin() };
      continue;
    }
    let files: string[];
    try {
      files = statSync(path).isDirectory() ? filesUnder(path) : [path];
    } catch (error) {
      onProblem({ name: path, problem: (error as Error).message });
      continue;
    }
    for (const file of files) {
      try {
        if (statSync(file).size <= readWholeLimit) {
          const raw = await readFile(file);
          if (raw.subarray(0, 5).toString('latin1') === 'From ') yield* mboxMessages(file, [raw]);
          else yield { name: file, raw };
        } else if (looksLikeMbox(file)) yield* mboxMessages(file, createReadStream(file, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>);
        else yield { name: file, raw: await readFile(file) };
      } catch (error) {
        onProblem({ name: file, problem: (error as Error).message });
      }
    }
  }
}


/** Total size in bytes of the files the paths name (standard input counts 0), for a progress bar. */
export function totalBytes(paths: readonly string[]): number {
  let total = 0;
  for (const path of paths) {
    if (path === '-') continue;
    try {
      const files = statSync(path).isDirectory() ? filesUnder(path) : [path];
      for (const file of files) total += statSync(file).size;
    } catch {
      // reported when read
    }
  }
  return total;
}
