// Takes the Blob out of postal-mime's part decoders. Each decoder (base64, quoted-printable, pass
// through) gathers a part's decoded bytes in chunks, and its finalize() joins them by building a Blob
// and reading it back with blob.arrayBuffer(). In Node 20 that read goes through the Blob's stream
// reader, a chain of promises per part: measured on the SpamAssassin corpus (bench/bayes), three
// quarters of a parse, 660 µs of an 880 µs message. Here each decoder class's finalize() runs with
// the global Blob standing for ChunkJoin, which concatenates the chunks into one ArrayBuffer at
// once; postal-mime's own flushing and decoding are untouched.
//
// The swap lasts exactly one synchronous call: finalize() builds the Blob and calls arrayBuffer()
// before it first awaits (postal-mime 4.0's blobToArrayBuffer), and no other code runs in between,
// so nothing else in the process ever sees ChunkJoin. Should a later postal-mime stop using Blob
// there, the swap does nothing. The classes are reached through the parser's own objects (the part
// tree's node class, then each decoder the node sets up), since postal-mime exports none of them.

/** What a decoder hands to `new Blob(...)`: its chunks of decoded bytes. */
type ChunkPart = ArrayBuffer | ArrayBufferView | string;

const textEncoder = new TextEncoder();

/** Stands for Blob inside a decoder's finalize(): joins the chunks into one ArrayBuffer of their exact length. */
class ChunkJoin {
  private readonly bytes: Uint8Array;

  constructor(parts: Iterable<ChunkPart> = []) {
    // Most chunks are byte arrays and "\n" strings (the pass-through decoder's lines): copied as they
    // are. Any other kind of chunk is first turned into bytes.
    let list = Array.isArray(parts) ? (parts as readonly ChunkPart[]) : Array.from(parts);
    if (!list.every((part) => part === '\n' || part instanceof Uint8Array)) list = list.map(bytesOf);
    let length = 0;
    for (const part of list) length += part === '\n' ? 1 : (part as Uint8Array).byteLength;
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const part of list) {
      if (part === '\n') {
        bytes[offset++] = 0x0a;
      } else {
        bytes.set(part as Uint8Array, offset);
        offset += (part as Uint8Array).byteLength;
      }
    }
    this.bytes = bytes;
  }

  get size(): number {
    return this.bytes.byteLength;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.bytes.buffer as ArrayBuffer);
  }
}

/** The pass-through decoder pushes a "\n" string after every line: its bytes, made once. */
const NEWLINE: Uint8Array = textEncoder.encode('\n');

function bytesOf(part: ChunkPart): Uint8Array {
  if (typeof part === 'string') return part === '\n' ? NEWLINE : textEncoder.encode(part);
  if (part instanceof Uint8Array) return part; // most chunks: no new view per line
  if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  return new Uint8Array(part); // an ArrayBuffer (of any realm)
}

interface DecoderPrototype {
  finalize(...args: unknown[]): unknown;
}

interface NodePrototype {
  setupContentDecoder(...args: unknown[]): void;
}

const patched = new WeakSet<object>();

/**
 * Patches the node class of `root` (a postal-mime 4.0 MimeNode, the parser's `root`) once, so that
 * every decoder it sets up joins its chunks without a Blob. Throws when the node has no
 * setupContentDecoder, as the rest of src/mime/parse.ts does for internals that moved.
 */
export function speedUpDecoders(root: object): void {
  const nodePrototype = Object.getPrototypeOf(root) as NodePrototype | null;
  if (nodePrototype === null || patched.has(nodePrototype)) return;
  const setupContentDecoder = nodePrototype.setupContentDecoder;
  if (typeof setupContentDecoder !== 'function') throw new Error('postal-mime internals changed (src/mime/decoder-speedup.ts patches setupContentDecoder of postal-mime 4.0)');
  nodePrototype.setupContentDecoder = function (this: { contentDecoder: object | null }, ...args: unknown[]): void {
    setupContentDecoder.apply(this, args);
    if (this.contentDecoder) patchDecoderClass(Object.getPrototypeOf(this.contentDecoder) as DecoderPrototype);
  };
  patched.add(nodePrototype);
}

function patchDecoderClass(decoderPrototype: DecoderPrototype): void {
  if (patched.has(decoderPrototype)) return;
  patched.add(decoderPrototype);
  const finalize = decoderPrototype.finalize;
  if (typeof finalize !== 'function') return;
  decoderPrototype.finalize = function (this: unknown, ...args: unknown[]): unknown {
    const realBlob = globalThis.Blob;
    globalThis.Blob = ChunkJoin as unknown as typeof Blob;
    try {
      return finalize.apply(this, args);
    } finally {
      globalThis.Blob = realBlob;
    }
  };
}
