// File names and file types: the extension of a name as Windows sees it, and a small table of
// well-known formats recognised by their first bytes (magic), with the extensions and declared MIME
// types that go with each. The attachment policy uses it to catch an executable dressed as a
// document; the MIME analysis uses it to find zip archives whatever their name. The table is kept
// small on purpose: only formats with an unambiguous signature, so a disagreement means something.

export type ContentKind = 'pe' | 'elf' | 'zip' | 'pdf' | 'ole' | 'png' | 'jpeg' | 'gif';

interface FileKind {
  kind: ContentKind;
  /** How a reply or a log line names the format. */
  label: string;
  /** The first bytes of every file of the kind. */
  magic: readonly number[];
  /** Runs as a program when opened (a mismatch is then always suspect, whatever the name). */
  executable: boolean;
  /** Kinds of one family stand in for each other: a JPEG named .png is no disguise. */
  family?: 'image';
  /** Extensions (lower case, no dot) whose files are of this kind; one extension may belong to several kinds. */
  extensions: readonly string[];
  /** Declared types of this kind; an entry ending in '*' is a prefix. */
  types: readonly string[];
}

// Word, Excel and PowerPoint open an OOXML (zip) file under a legacy name (.doc, .xls, .ppt), and
// mailers often declare the legacy type for it, so those names and types accept both kinds. Images
// under another image format's name or type are common and harmless: they form one family.
const FILE_KINDS: readonly FileKind[] = [
  {
    kind: 'pe',
    label: 'a Windows executable',
    magic: [0x4d, 0x5a], // "MZ"
    executable: true,
    extensions: ['exe', 'dll', 'scr', 'com', 'cpl', 'ocx', 'sys', 'drv', 'efi', 'pif'],
    types: ['application/x-msdownload', 'application/x-msdos-program', 'application/x-dosexec', 'application/vnd.microsoft.portable-executable', 'application/x-ms-dos-executable'],
  },
  {
    kind: 'elf',
    label: 'a Linux executable',
    magic: [0x7f, 0x45, 0x4c, 0x46], // "\x7fELF"
    executable: true,
    extensions: ['elf', 'so', 'ko', 'o', 'axf', 'run'],
    types: ['application/x-elf', 'application/x-executable', 'application/x-sharedlib'],
  },
  {
    kind: 'zip',
    label: 'a zip archive',
    magic: [0x50, 0x4b, 0x03, 0x04], // "PK\x03\x04"
    executable: false,
    extensions: ['zip', 'jar', 'apk', 'docx', 'docm', 'dotx', 'dotm', 'xlsx', 'xlsm', 'xltx', 'pptx', 'pptm', 'ppsx', 'odt', 'ods', 'odp', 'epub', 'xpi', 'kmz', 'vsdx', 'doc', 'xls', 'ppt'],
    types: [
      'application/zip',
      'application/x-zip-compressed',
      'application/x-zip',
      'application/java-archive',
      'application/epub+zip',
      'application/vnd.android.package-archive',
      'application/vnd.openxmlformats-officedocument.*',
      'application/vnd.oasis.opendocument.*',
      'application/vnd.ms-word.*',
      'application/vnd.ms-excel.*',
      'application/vnd.ms-powerpoint.*',
      'application/msword',
      'application/vnd.ms-excel',
      'application/vnd.ms-powerpoint',
    ],
  },
  {
    kind: 'pdf',
    label: 'a PDF document',
    magic: [0x25, 0x50, 0x44, 0x46], // "%PDF"
    executable: false,
    extensions: ['pdf'],
    types: ['application/pdf', 'application/x-pdf'],
  },
  {
    kind: 'ole',
    label: 'an OLE (legacy Office) document',
    magic: [0xd0, 0xcf, 0x11, 0xe0],
    executable: false,
    extensions: ['doc', 'dot', 'xls', 'xlt', 'ppt', 'pps', 'pot', 'msi', 'msg', 'vsd', 'pub', 'mpp'],
    types: ['application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint', 'application/x-msi', 'application/vnd.ms-outlook', 'application/x-ole-storage', 'application/vnd.visio'],
  },
  {
    kind: 'png',
    label: 'a PNG image',
    magic: [0x89, 0x50, 0x4e, 0x47], // "\x89PNG"
    executable: false,
    family: 'image',
    extensions: ['png'],
    types: ['image/png', 'image/x-png'],
  },
  {
    kind: 'jpeg',
    label: 'a JPEG image',
    magic: [0xff, 0xd8, 0xff],
    executable: false,
    family: 'image',
    extensions: ['jpg', 'jpeg', 'jpe', 'jfif'],
    types: ['image/jpeg', 'image/pjpeg', 'image/jpg'],
  },
  {
    kind: 'gif',
    label: 'a GIF image',
    magic: [0x47, 0x49, 0x46, 0x38], // "GIF8"
    executable: false,
    family: 'image',
    extensions: ['gif'],
    types: ['image/gif'],
  },
];

const BY_KIND = new Map(FILE_KINDS.map((entry) => [entry.kind, entry]));

/** The kind of a file from its first bytes, or undefined when it is none of the table's. */
export function contentKind(content: Uint8Array): ContentKind | undefined {
  return FILE_KINDS.find(({ magic }) => content.length >= magic.length && magic.every((byte, i) => content[i] === byte))?.kind;
}

/** The kinds a file with this extension may be; empty when the table does not know it (or for '', no extension). */
export function kindsOfExtension(extension: string): ContentKind[] {
  return withFamilies(FILE_KINDS.filter((entry) => entry.extensions.includes(extension)));
}

/** The kinds a declared type (lower case, no parameters) may be; empty when the table does not know it. */
export function kindsOfType(contentType: string): ContentKind[] {
  const matches = (pattern: string) => (pattern.endsWith('*') ? contentType.startsWith(pattern.slice(0, -1)) : contentType === pattern);
  return withFamilies(FILE_KINDS.filter((entry) => entry.types.some(matches)));
}

/** The kinds of `entries` and of every kind in the same family. */
function withFamilies(entries: readonly FileKind[]): ContentKind[] {
  const families = new Set(entries.map((entry) => entry.family ?? entry.kind));
  return FILE_KINDS.filter((entry) => families.has(entry.family ?? entry.kind)).map((entry) => entry.kind);
}

export function kindLabel(kind: ContentKind): string {
  return BY_KIND.get(kind)!.label;
}

export function isExecutableKind(kind: ContentKind): boolean {
  return BY_KIND.get(kind)!.executable;
}

/** The last component of a path ("/" or "\" separated): the file name proper. */
export function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/**
 * The extensions of a file name, last one last, lower case, without dots ("Invoice.PDF .exe. " →
 * ["pdf", "exe"]). Trailing dots and spaces are dropped, as Windows drops them; a leading dot (a
 * hidden file such as ".profile") starts the name, not an extension.
 */
export function extensionsOf(fileName: string): string[] {
  const name = baseName(fileName).replace(/[.\s]+$/u, '');
  const pieces = name.split('.');
  if (pieces.length < 2 || (pieces.length === 2 && pieces[0] === '')) return [];
  return pieces.slice(pieces[0] === '' ? 2 : 1).map((piece) => piece.trim().toLowerCase());
}

/** The last extension of a file name ('' when it has none). */
export function lastExtension(fileName: string): string {
  return extensionsOf(fileName).at(-1) ?? '';
}
