// The attachment policy on messages built here and run through the MIME analysis, as the daemon
// does at the end of a message: each rule's exact reply when it rejects, its symbol and score when
// it scores, nothing when it is off; archives, archives in archives and attached messages searched;
// names made safe for a reply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attachmentsCheck } from '../src/checks/content/attachments.js';
import type { CheckOutcome } from '../src/core/check.js';
import { ManualClock } from '../src/core/clock.js';
import { createLogger } from '../src/core/log.js';
import { emptyEnvelope } from '../src/core/task.js';
import { parseConfigText, resolveComputedDefaults } from '../src/config/loader.js';
import type { DnsResolver } from '../src/dns/resolver.js';
import type { Store } from '../src/store/types.js';
import { parseMessage } from '../src/mime/parse.js';
import { attachment, entity, markEncrypted, message, multipart, textPart, zip } from './fixtures/mime/messages.js';

/** Runs the attachments check, configured by `yaml` (the `attachments:` section's body), on a raw message. */
function attachmentsPolicy(yaml = '') {
  const config = resolveComputedDefaults(parseConfigText(`store: { path: /nonexistent }\nattachments: { ${yaml} }\n`, 'test.yaml'));
  const log = createLogger('error', 'json', { write: () => undefined }).log;
  const instance = attachmentsCheck.create({ config, store: {} as Store, dns: {} as DnsResolver, clock: new ManualClock(), log });
  return async (raw: Uint8Array): Promise<CheckOutcome | undefined> => {
    const settings = config.attachments;
    const parsed = await parseMessage(raw, { scanArchives: settings.scan_archives, archiveMaxDepth: settings.archive_max_depth, archiveMaxEntries: settings.archive_max_entries });
    return instance?.evaluate({ envelope: emptyEnvelope('cli', 'eom'), startedMs: 0, symbols: [], score: 0, message: parsed }) ?? undefined;
  };
}

/** A message with a text part and these parts after it. */
const withParts = (...parts: string[]) => message([], multipart('mixed', 'b', [textPart('Please see attached.'), ...parts]));

/** The outcome in short: the SMTP reply of a verdict, and the symbols as NAME(score). */
function summary(outcome: CheckOutcome | undefined): { reply?: string; symbols: string[] } {
  const reply = outcome?.verdict?.reply;
  return { ...(reply ? { reply: `${reply.code} ${reply.enhanced} ${reply.text}` } : {}), symbols: outcome?.symbols?.map((s) => `${s.name}(${s.score})`) ?? [] };
}

const reject = (name: string, rule: string) => `554 5.7.1 Message rejected: attachment "${name}" is not allowed (${rule})`;
const MZ = 'MZ\x90\x00\x03\x00\x00\x00 This program cannot be run in DOS mode.';
const PDF = '%PDF-1.7\n1 0 obj <<>> endobj';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const utf8Word = (text: string) => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;

interface Case {
  label: string;
  /** The attachments: section's body, e.g. "block_archives: true". */
  config?: string;
  raw: Uint8Array;
  reply?: string;
  symbols: string[];
}

const innerZip = zip({ 'run.js': 'WScript.Echo(1)' });
const cases: Case[] = [
  { label: 'a clean message', raw: withParts(attachment('report.pdf', PDF, 'application/pdf'), attachment('logo.png', PNG, 'image/png'), attachment('notes.zip', zip({ 'notes.txt': 'hi' }))), symbols: [] },
  { label: 'an .exe', raw: withParts(attachment('setup.exe', MZ)), reply: reject('setup.exe', 'banned extension .exe'), symbols: ['ATTACHMENT_BANNED_EXTENSION(0)'] },
  { label: 'any case, trailing dots and spaces', raw: withParts(attachment('SETUP.Exe. .', MZ)), reply: reject('SETUP.Exe. .', 'banned extension .exe'), symbols: ['ATTACHMENT_BANNED_EXTENSION(0)'] },
  { label: 'an executable in an attached message', raw: withParts(entity(['Content-Type: message/rfc822'], withParts(attachment('tool.scr', MZ)).toString())), reply: reject('tool.scr', 'banned extension .scr'), symbols: ['ATTACHMENT_BANNED_EXTENSION(0)'] },
  { label: 'a .js in a zip', raw: withParts(attachment('files.zip', zip({ 'readme.txt': 'hi', 'run.js': 'x' }))), reply: reject('files.zip/run.js', 'banned extension .js'), symbols: ['ARCHIVE_BANNED_ENTRY(0)'] },
  { label: 'a .js in a zip in a zip', raw: withParts(attachment('files.zip', zip({ 'inner.zip': innerZip }))), reply: reject('files.zip/inner.zip/run.js', 'banned extension .js'), symbols: ['ARCHIVE_BANNED_ENTRY(0)'] },
  { label: 'archives not scanned', config: 'scan_archives: false', raw: withParts(attachment('files.zip', zip({ 'inner.zip': innerZip }))), symbols: [] },
  { label: 'block_archives: a zip', config: 'block_archives: true', raw: withParts(attachment('files.zip', zip({ 'a.txt': 'a' }))), reply: reject('files.zip', 'archive'), symbols: ['ATTACHMENT_ARCHIVE(0)'] },
  { label: 'block_archives: a .rar (by its name)', config: 'block_archives: true', raw: withParts(attachment('photos.RAR', 'Rar!')), reply: reject('photos.RAR', 'archive'), symbols: ['ATTACHMENT_ARCHIVE(0)'] },
  { label: 'block_archives: a .docx is no archive', config: 'block_archives: true', raw: withParts(attachment('cv.docx', zip({ 'word/document.xml': '<w/>' }))), symbols: [] },
  {
    label: 'a name rule',
    config: 'name_rules: [{ pattern: "^facture.*\\\\.docx?$", description: "invoice-named Word document" }]',
    raw: withParts(attachment('Facture_2024.doc', 'doc')),
    reply: reject('Facture_2024.doc', 'invoice-named Word document'),
    symbols: ['ATTACHMENT_BANNED_NAME(0)'],
  },
  {
    label: 'a name rule inside an archive, on the entry name proper',
    config: 'name_rules: [{ pattern: "^facture.*\\\\.docx?$", description: "invoice-named Word document" }]',
    raw: withParts(attachment('pack.zip', zip({ 'docs/Facture_2024.docx': 'doc' }))),
    reply: reject('pack.zip/docs/Facture_2024.docx', 'invoice-named Word document'),
    symbols: ['ARCHIVE_BANNED_ENTRY(0)'],
  },
  { label: 'a name rule that does not match', config: 'name_rules: [{ pattern: "^facture.*\\\\.docx?$", description: "invoice" }]', raw: withParts(attachment('Facture_2024.pdf', PDF)), symbols: [] },
  { label: 'double extension (reject by default)', raw: withParts(attachment('invoice.pdf.exe', MZ)), reply: reject('invoice.pdf.exe', 'double extension'), symbols: ['ATTACHMENT_DOUBLE_EXTENSION(4)'] },
  { label: 'double extension, padded with spaces', raw: withParts(attachment('invoice.pdf          .scr', MZ)), reply: reject('invoice.pdf          .scr', 'double extension'), symbols: ['ATTACHMENT_DOUBLE_EXTENSION(4)'] },
  { label: 'double extension inside an archive', raw: withParts(attachment('files.zip', zip({ 'photo.jpg.scr': 'MZ' }))), reply: reject('files.zip/photo.jpg.scr', 'double extension'), symbols: ['ATTACHMENT_DOUBLE_EXTENSION(4)'] },
  { label: 'double extension scored, then the banned extension rejects', config: 'double_extensions: score', raw: withParts(attachment('invoice.pdf.exe', MZ)), reply: reject('invoice.pdf.exe', 'banned extension .exe'), symbols: ['ATTACHMENT_DOUBLE_EXTENSION(4)', 'ATTACHMENT_BANNED_EXTENSION(0)'] },
  { label: 'double extension off', config: 'double_extensions: off', raw: withParts(attachment('invoice.pdf.exe', MZ)), reply: reject('invoice.pdf.exe', 'banned extension .exe'), symbols: ['ATTACHMENT_BANNED_EXTENSION(0)'] },
  { label: 'double extension of an executable no longer banned', config: 'banned_extensions: [js]', raw: withParts(attachment('invoice.pdf.exe', MZ)), reply: reject('invoice.pdf.exe', 'double extension'), symbols: ['ATTACHMENT_DOUBLE_EXTENSION(4)'] },
  { label: 'a version number is no double extension', config: 'banned_extensions: [js]', raw: withParts(attachment('setup.v2.exe', MZ)), symbols: [] },
  { label: 'type mismatch: a .pdf that is an executable (scored by default)', raw: withParts(attachment('invoice.pdf', MZ, 'application/pdf')), symbols: ['ATTACHMENT_TYPE_MISMATCH(3)'] },
  { label: 'type mismatch rejects when asked', config: 'type_mismatch: reject', raw: withParts(attachment('invoice.pdf', MZ, 'application/pdf')), reply: reject('invoice.pdf', 'type mismatch'), symbols: ['ATTACHMENT_TYPE_MISMATCH(3)'] },
  { label: 'type mismatch off', config: 'type_mismatch: off', raw: withParts(attachment('invoice.pdf', MZ, 'application/pdf')), symbols: [] },
  { label: 'type mismatch: an executable under an unknown extension', raw: withParts(attachment('notes.txt', MZ, 'text/plain')), symbols: ['ATTACHMENT_TYPE_MISMATCH(3)'] },
  { label: 'type mismatch: a declared type the content contradicts', raw: withParts(attachment('scan', PNG, 'application/pdf')), symbols: ['ATTACHMENT_TYPE_MISMATCH(3)'] },
  { label: 'type mismatch: a declared type the name contradicts', raw: withParts(attachment('scan.pdf', 'unknown bytes', 'image/png')), symbols: ['ATTACHMENT_TYPE_MISMATCH(3)'] },
  { label: 'type mismatch counts once per message', raw: withParts(attachment('a.pdf', MZ), attachment('b.jpg', MZ)), symbols: ['ATTACHMENT_TYPE_MISMATCH(3)'] },
  { label: 'no mismatch: OOXML under a legacy name and type', raw: withParts(attachment('old.doc', zip({ 'word/document.xml': '<w/>' }), 'application/msword')), symbols: [] },
  { label: 'no mismatch: an image under another image format', raw: withParts(attachment('photo.png', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'image/gif')), symbols: [] },
  { label: 'no mismatch: octet-stream says nothing', raw: withParts(attachment('report.pdf', PDF, 'application/octet-stream')), symbols: [] },
  { label: 'encrypted entries (scored by default)', raw: withParts(attachment('secret.zip', markEncrypted(zip({ 'a.doc': 'x', 'b.txt': 'y' }), 'a.doc'))), symbols: ['ARCHIVE_ENCRYPTED(2)'] },
  { label: 'encrypted entries rejected when asked', config: 'encrypted_archives: reject', raw: withParts(attachment('secret.zip', markEncrypted(zip({ 'a.doc': 'x' }), 'a.doc'))), reply: reject('secret.zip', 'encrypted archive'), symbols: ['ARCHIVE_ENCRYPTED(2)'] },
  { label: 'encrypted entries ignored when off', config: 'encrypted_archives: off', raw: withParts(attachment('secret.zip', markEncrypted(zip({ 'a.doc': 'x' }), 'a.doc'))), symbols: [] },
  { label: 'too many entries', config: 'archive_max_entries: 2', raw: withParts(attachment('many.zip', zip({ 'a.txt': 'a', 'b.txt': 'b', 'c.js': 'c' }))), symbols: ['ARCHIVE_TOO_MANY_ENTRIES(0.5)'] },
  { label: 'too deep', config: 'archive_max_depth: 1', raw: withParts(attachment('files.zip', zip({ 'inner.zip': innerZip }))), symbols: ['ARCHIVE_TOO_DEEP(1)'] },
  { label: 'a damaged zip', raw: withParts(attachment('broken.zip', 'PK\x03\x04 this is not really a zip')), symbols: ['ARCHIVE_CORRUPT(1)'] },
  {
    label: 'names made safe for a reply: control and format characters gone, quotes single, non-ASCII as "?"',
    raw: withParts(entity([`Content-Type: application/octet-stream; name="${utf8Word('évil\r\n"quoted"\u202e\u0000name.exe')}"`], 'MZ')),
    reply: reject("?vil'quoted'name.exe", 'banned extension .exe'),
    symbols: ['ATTACHMENT_BANNED_EXTENSION(0)'],
  },
  { label: 'long names cut at 100 characters', raw: withParts(attachment(`${'a'.repeat(150)}.exe`, MZ)), reply: reject('a'.repeat(100), 'banned extension .exe'), symbols: ['ATTACHMENT_BANNED_EXTENSION(0)'] },
];

for (const { label, config, raw, reply, symbols } of cases) {
  test(`attachments: ${label}`, async () => {
    const outcome = await attachmentsPolicy(config)(raw);
    assert.deepEqual(summary(outcome), { ...(reply ? { reply } : {}), symbols });
  });
}

test('attachments: the verdict is a reject whose reason names the attachment and the rule; descriptions say what was found', async () => {
  const rejected = await attachmentsPolicy()(withParts(attachment('files.zip', zip({ 'inner.zip': innerZip }))));
  assert.equal(rejected?.verdict?.action, 'reject');
  assert.equal(rejected?.verdict?.reason, 'attachment "files.zip/inner.zip/run.js": banned extension .js');
  const mismatch = await attachmentsPolicy()(withParts(attachment('invoice.pdf', MZ, 'application/pdf'), attachment('scan', PNG, 'application/pdf')));
  assert.deepEqual(mismatch?.symbols?.map((s) => s.description), ['attachment "invoice.pdf": named .pdf but the content is a Windows executable']);
  const declared = await attachmentsPolicy()(withParts(attachment('scan', PNG, 'application/pdf')));
  assert.deepEqual(declared?.symbols?.map((s) => s.description), ['attachment "scan": declared application/pdf but the content is a PNG image']);
  const encrypted = await attachmentsPolicy()(withParts(attachment('secret.zip', markEncrypted(zip({ 'a.doc': 'x', 'b.txt': 'y' }), 'a.doc'))));
  assert.deepEqual(encrypted?.symbols?.map((s) => s.description), ['attachment "secret.zip": 1 of 2 archive entries encrypted']);
});

test('attachments: disabled, or no message to look at', async () => {
  const config = resolveComputedDefaults(parseConfigText('store: { path: /nonexistent }\nattachments: { enabled: false }\n', 'test.yaml'));
  const log = createLogger('error', 'json', { write: () => undefined }).log;
  assert.equal(attachmentsCheck.create({ config, store: {} as Store, dns: {} as DnsResolver, clock: new ManualClock(), log }), undefined);
  const enabled = attachmentsCheck.create({ config: { ...config, attachments: { ...config.attachments, enabled: true } }, store: {} as Store, dns: {} as DnsResolver, clock: new ManualClock(), log });
  assert.equal(await enabled?.evaluate({ envelope: emptyEnvelope('milter', 'eom'), startedMs: 0, symbols: [], score: 0 }), undefined);
});
