// Offline message sources: files, directories (maildir-like), mboxes split at "From " lines after
// an empty line with ">From " unquoted, and unreadable paths reported without stopping the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messagesFrom, totalBytes, type SourceProblem } from './sources.js';

async function collect(paths: string[], readWholeLimit?: number) {
  const problems: SourceProblem[] = [];
  const messages: Array<{ name: string; text: string }> = [];
  for await (const m of messagesFrom(paths, (p) => problems.push(p), readWholeLimit === undefined ? {} : { readWholeLimit, chunkBytes: 7 })) messages.push({ name: m.name, text: m.raw.toString('latin1') });
  return { messages, problems };
}

test('files, a maildir-like directory and an mbox; a missing path is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-sources-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'Maildir', 'cur'), { recursive: true });
  mkdirSync(join(dir, 'Maildir', 'new'), { recursive: true });
  writeFileSync(join(dir, 'Maildir', 'cur', '1.host:2,S'), 'Subject: one\n\nbody one\n');
  writeFileSync(join(dir, 'Maildir', 'new', '2.host'), 'Subject: two\n\nbody two\n');
  writeFileSync(join(dir, 'Maildir', '.hidden'), 'skipped');
  const mbox = [
    'From alice@example.org Mon Nov 30 06:00:00 2026',
    'Subject: first',
    '',
    'body',
    'From here the body does not split (no empty line before)',
    '>From quoted in the body',
    '',
    'From bob@example.org Mon Nov 30 06:01:00 2026',
    'Subject: second',
    '',
    'last',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'box.mbox'), mbox);
  const { messages, problems } = await collect([join(dir, 'Maildir'), join(dir, 'box.mbox'), join(dir, 'missing.eml')]);
  assert.deepEqual(
    messages.map((m) => m.name),
    [join(dir, 'Maildir', 'cur', '1.host:2,S'), join(dir, 'Maildir', 'new', '2.host'), `${join(dir, 'box.mbox')}#1`, `${join(dir, 'box.mbox')}#2`],
  );
  assert.equal(messages[2]!.text, 'Subject: first\n\nbody\nFrom here the body does not split (no empty line before)\nFrom quoted in the body\n\n');
  assert.equal(messages[3]!.text, 'Subject: second\n\nlast\n');
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.name, join(dir, 'missing.eml'));
  assert.equal(totalBytes([join(dir, 'box.mbox')]), Buffer.byteLength(mbox));

  // Large files are streamed in chunks rather than read whole (here 7-byte chunks, so separators
  // fall across chunk boundaries): the same messages come out.
  const streamed = await collect([join(dir, 'box.mbox')], 10);
  assert.deepEqual(streamed.messages, messages.slice(2, 4));
});
