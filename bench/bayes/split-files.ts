// The corpus written out one message a file (without its mbox "From " line), as bogofilter reads
// them in batch mode and as run.ts times Rempart reading them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CorpusMessage } from './corpus.js';

/** A message as the benchmarks use it: its file (the same for both tools) and class. */
export interface SplitMessage extends CorpusMessage {
  file: string;
}

/** Writes every message without its "From " line to `directory`, one file each. */
export function writeSplit(corpus: readonly CorpusMessage[], directory: string): SplitMessage[] {
  mkdirSync(directory, { recursive: true });
  return corpus.map((message) => {
    const file = join(directory, message.id.replace('/', '-'));
    writeFileSync(file, message.raw);
    return { ...message, file };
  });
}
