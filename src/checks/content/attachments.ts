// Attachment policy at the end of the message (config `attachments`): banned extensions and name
// rules, in attachments and, with scan_archives, inside zip archives (archives in archives
// included); archives themselves when block_archives is on; names hiding an executable behind a
// document extension; declared types or names that disagree with the content's first bytes; encrypted
// archive entries; and archives the analysis could not fully read. A forbidden attachment is a
// verdict with the reply of DESIGN.md §3:
//   554 5.7.1 Message rejected: attachment "<name>" is not allowed (<rule>)
// where <name> is the file name, or "<archive>/<path inside>" for an archive entry, and <rule>
// reads "banned extension .exe", "archive", "double extension", "type mismatch", "encrypted
// archive" or a name rule's description. Rules with a mode (double_extensions, type_mismatch,
// encrypted_archives) reject, score or are off as the envelope rules do (../envelope/rule.ts); a
// scored rule counts once per message, however many attachments it finds. Extensions and name
// rules look at the file name proper (the last component of a path), directories in archives are
// skipped, and attachments of attached messages are held to the same policy.
import type { CheckDescriptor, CheckOutcome } from '../../core/check.js';
import { DEFAULT_BANNED_EXTENSIONS, type Config } from '../../config/schema.js';
import type { ArchiveListing, Attachment } from '../../core/message.js';
import { baseName, contentKind, extensionsOf, isExecutableKind, kindLabel, kindsOfExtension, kindsOfType, lastExtension } from '../../mime/file-types.js';
import { outcomeOf, type Finding, type RuleMode } from '../envelope/rule.js';

/** Extensions of documents and media that people open without a thought: what a double extension hides behind. */
const DECOY_EXTENSIONS = new Set(
  'pdf doc docx docm xls xlsx xlsm ppt pptx rtf txt csv odt ods odp jpg jpeg png gif bmp tif tiff mp3 mp4 avi mov wav htm html zip rar 7z'.split(' '),
);

/** Longest name shown in a reply, in characters. */
const MAX_SHOWN_NAME_CHARS = 100;

/** Scores of the findings that are not verdicts (in score mode, or always for archive problems). */
const SCORES = {
  ATTACHMENT_DOUBLE_EXTENSION: 4,
  ATTACHMENT_TYPE_MISMATCH: 3,
  ARCHIVE_ENCRYPTED: 2,
  ARCHIVE_TOO_MANY_ENTRIES: 0.5,
  ARCHIVE_TOO_DEEP: 1,
  ARCHIVE_TOO_LARGE: 0.5,
  ARCHIVE_CORRUPT: 1,
  ARCHIVE_TRUNCATED: 0,
} as const;

/** What each archive problem (ArchiveListing.problems) becomes: a symbol, scored, never a verdict. */
const ARCHIVE_PROBLEMS: Record<string, { symbol: keyof typeof SCORES; detail: string }> = {
  'too-many-entries': { symbol: 'ARCHIVE_TOO_MANY_ENTRIES', detail: 'more entries than archive_max_entries; the rest were not checked' },
  'too-deep': { symbol: 'ARCHIVE_TOO_DEEP', detail: 'archives nested deeper than archive_max_depth; the deepest were not opened' },
  'too-large': { symbol: 'ARCHIVE_TOO_LARGE', detail: 'an inner archive too large to open' },
  corrupt: { symbol: 'ARCHIVE_CORRUPT', detail: 'damaged archive; its entries may not all be listed' },
  truncated: { symbol: 'ARCHIVE_TRUNCATED', detail: 'archive cut by the scan size limit; only its first entries were listed' },
};

interface Policy {
  banned: ReadonlySet<string>;
  /** What a double extension may hide: the banned extensions and the default ones (executables and scripts). */
  executables: ReadonlySet<string>;
  /** Refused archive extensions, empty when block_archives is off. */
  archives: ReadonlySet<string>;
  nameRules: ReadonlyArray<{ pattern: RegExp; description: string }>;
  doubleExtensions: RuleMode;
  typeMismatch: RuleMode;
  encryptedArchives: RuleMode;
  scanArchives: boolean;
}

export const attachmentsCheck: CheckDescriptor = {
  name: 'attachments',
  stages: ['eom'],
  timeoutMs: 1000,
  create: ({ config }) => {
    if (!config.attachments.enabled) return undefined;
    const policy = policyOf(config.attachments);
    return {
      evaluate: (task): CheckOutcome | undefined => {
        if (!task.message) return undefined;
        const findings = task.message.attachments.flatMap((attachment) => attachmentFindings(attachment, policy));
        return outcomeOf(oncePerScoredSymbol(findings));
      },
    };
  },
};

function policyOf(settings: Config['attachments']): Policy {
  const banned = new Set(settings.banned_extensions);
  return {
    banned,
    executables: new Set([...banned, ...DEFAULT_BANNED_EXTENSIONS]),
    archives: new Set(settings.block_archives ? settings.archive_extensions : []),
    nameRules: settings.name_rules.map((rule) => ({ pattern: new RegExp(rule.pattern, rule.flags), description: rule.description })),
    doubleExtensions: settings.double_extensions,
    typeMismatch: settings.type_mismatch,
    encryptedArchives: settings.encrypted_archives,
    scanArchives: settings.scan_archives,
  };
}

/** Findings for one attachment, most decisive first: its name, its type, then what its archive holds. */
function attachmentFindings(attachment: Attachment, policy: Policy): Finding[] {
  const shown = attachment.filename || `(unnamed ${attachment.contentType})`;
  const findings = attachment.filename ? nameFindings(shown, attachment.filename, false, policy) : [];
  const extension = lastExtension(attachment.filename);
  if (policy.archives.has(extension)) findings.push(finding('reject', 'ATTACHMENT_ARCHIVE', 0, shown, 'archive'));
  const mismatch = typeMismatch(attachment);
  if (mismatch) findings.push(finding(policy.typeMismatch, 'ATTACHMENT_TYPE_MISMATCH', SCORES.ATTACHMENT_TYPE_MISMATCH, shown, 'type mismatch', mismatch));
  if (policy.scanArchives && attachment.archive) findings.push(...archiveFindings(shown, attachment.archive, policy));
  return findings;
}

/** Double extension, banned extension and name rules, for an attachment's name or an archive entry's. */
function nameFindings(shown: string, fileName: string, inArchive: boolean, policy: Policy): Finding[] {
  const findings: Finding[] = [];
  const extensions = extensionsOf(fileName);
  const last = extensions.at(-1) ?? '';
  const beforeLast = extensions.at(-2) ?? '';
  if (policy.executables.has(last) && DECOY_EXTENSIONS.has(beforeLast)) {
    findings.push(finding(policy.doubleExtensions, 'ATTACHMENT_DOUBLE_EXTENSION', SCORES.ATTACHMENT_DOUBLE_EXTENSION, shown, 'double extension', `double extension .${beforeLast}.${last}`));
  }
  if (policy.banned.has(last)) findings.push(finding('reject', inArchive ? 'ARCHIVE_BANNED_ENTRY' : 'ATTACHMENT_BANNED_EXTENSION', 0, shown, `banned extension .${last}`));
  const name = baseName(fileName);
  const rule = policy.nameRules.find(({ pattern }) => pattern.test(name));
  if (rule) findings.push(finding('reject', inArchive ? 'ARCHIVE_BANNED_ENTRY' : 'ATTACHMENT_BANNED_NAME', 0, shown, rule.description));
  return findings;
}

function archiveFindings(shown: string, archive: ArchiveListing, policy: Policy): Finding[] {
  const findings: Finding[] = [];
  for (const entry of archive.entries) {
    if (!entry.name.endsWith('/')) findings.push(...nameFindings(`${shown}/${entry.name}`, entry.name, true, policy));
  }
  const encrypted = archive.entries.filter((entry) => entry.encrypted).length;
  if (encrypted > 0) {
    findings.push(finding(policy.encryptedArchives, 'ARCHIVE_ENCRYPTED', SCORES.ARCHIVE_ENCRYPTED, shown, 'encrypted archive', `${encrypted} of ${archive.entries.length} archive entries encrypted`));
  }
  for (const problem of archive.problems) {
    const known = ARCHIVE_PROBLEMS[problem];
    if (known) findings.push(finding('score', known.symbol, SCORES[known.symbol], shown, problem, known.detail));
  }
  return findings;
}

/**
 * Why the declared type or the name disagrees with the content's first bytes (file-types.ts), or
 * undefined. Content of a known kind must be among the kinds its extension and its declared type
 * allow; executable content must moreover carry one of its own extensions (an unknown one such as
 * .txt does not excuse it; no extension at all does not run on a click). When the content is of no
 * known kind, a declared type and an extension of known but disjoint kinds still disagree.
 */
function typeMismatch(attachment: Attachment): string | undefined {
  const extension = lastExtension(attachment.filename);
  const byName = kindsOfExtension(extension);
  const byType = kindsOfType(attachment.contentType);
  const kind = contentKind(attachment.content);
  if (kind) {
    if (extension !== '' && !byName.includes(kind) && (byName.length > 0 || isExecutableKind(kind))) return `named .${extension} but the content is ${kindLabel(kind)}`;
    if (byType.length > 0 && !byType.includes(kind)) return `declared ${attachment.contentType} but the content is ${kindLabel(kind)}`;
    return undefined;
  }
  if (byName.length > 0 && byType.length > 0 && !byName.some((k) => byType.includes(k))) return `declared ${attachment.contentType} but named .${extension}`;
  return undefined;
}

/** A finding about an attachment (or entry) `subject`: `rule` goes in the reply, `detail` in the symbol's description. */
function finding(mode: RuleMode, symbol: string, score: number, subject: string, rule: string, detail = rule): Finding {
  const shown = safeName(subject);
  return {
    mode,
    symbol: { name: symbol, score, description: `attachment "${shown}": ${safeName(detail)}` },
    reply: { code: 554, enhanced: '5.7.1', text: `Message rejected: attachment "${shown}" is not allowed (${rule})` },
  };
}

/**
 * A name fit for an SMTP reply and a log line: control, format and line-separator characters
 * dropped, double quotes made single, anything else outside printable ASCII shown as "?" (a reply
 * is ASCII unless the client asked for SMTPUTF8), cut at MAX_SHOWN_NAME_CHARS.
 */
function safeName(name: string): string {
  return name
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replaceAll('"', "'")
    .replace(/[^\x20-\x7e]/gu, '?')
    .slice(0, MAX_SHOWN_NAME_CHARS);
}

/** A scored rule counts once per message: only the first finding of each scored symbol is kept. */
function oncePerScoredSymbol(findings: Finding[]): Finding[] {
  const scored = new Set<string>();
  return findings.filter((f) => {
    if (f.mode !== 'score') return true;
    if (scored.has(f.symbol.name)) return false;
    scored.add(f.symbol.name);
    return true;
  });
}
