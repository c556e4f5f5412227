// Loads the YAML configuration, validates it against the schema and resolves computed defaults.
// Every problem names the file, the line, the key and what was expected, so `rempart config check`
// and a failed start tell the admin exactly what to fix.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir, hostname as systemHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import { configSchema, type Config, type ParsedConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = '/etc/rempart/rempart.yaml';

export interface ConfigProblem {
  file: string;
  line?: number;
  column?: number;
  key: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line ? `${problem.file}:${problem.line}:${problem.column ?? 1}` : problem.file;
  return `${where}: ${problem.key ? `${problem.key}: ` : ''}${problem.message}`;
}

/** Where the configuration comes from: an explicit path, $REMPART_CONFIG, the default file, or none. */
export function resolveConfigPath(explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (process.env.REMPART_CONFIG) return process.env.REMPART_CONFIG;
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
}

/** Reads and validates a configuration file (or the embedded defaults when path is undefined). */
export function loadConfig(path: string | undefined): Config {
  if (path === undefined) return resolveComputedDefaults(parseConfigText('', '(defaults)'));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ file: path, key: '', message: `cannot read the configuration: ${(error as Error).message}` }]);
  }
  return resolveComputedDefaults(parseConfigText(text, path));
}

/** Parses YAML text into a validated configuration, or throws ConfigError with every problem found. */
export function parseConfigText(text: string, file: string): ParsedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const error of [...doc.errors, ...doc.warnings]) {
    const pos = lineCounter.linePos(error.pos[0]);
    problems.push({ file, line: pos.line, column: pos.col, key: '', message: `YAML: ${error.message.split('\n')[0]}` });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ file, line: 1, key: '', message: 'expected a mapping of keys (key: value) at the top level' }]);
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;

  for (const issue of result.error.issues) {
    const path = issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const located = locate(doc, lineCounter, [...path, key], true);
        problems.push({ file, ...located, key: [...path, key].join('.'), message: 'unknown key (check its spelling and section)' });
      }
      continue;
    }
    const located = locate(doc, lineCounter, path, false);
    problems.push({ file, ...located, key: path.join('.'), message: describeIssue(issue.message, issue.code) });
  }
  throw new ConfigError(problems);
}

function describeIssue(message: string, code: string): string {
  if (code === 'invalid_type') return message.replace(/^Invalid input: /, '');
  return message;
}

/** Line and column of the node at path (its key when keyOnly), or of its deepest existing parent. */
function locate(doc: Document, counter: LineCounter, path: (string | number)[], keyOnly: boolean): { line?: number; column?: number } {
  let node: unknown = doc.contents;
  let range: [number, number, number] | undefined = (doc.contents as Node | null)?.range ?? undefined;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) break;
      const keyNode = pair.key as Node;
      range = keyOnly || !pair.value ? keyNode.range ?? range : (pair.value as Node).range ?? keyNode.range ?? range;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      range = item.range ?? range;
      node = item;
    } else {
      break;
    }
  }
  if (!range) return {};
  const pos = counter.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

/** Fills in the defaults that depend on the machine: our host name and a writable store directory. */
export function resolveComputedDefaults(parsed: ParsedConfig): Config {
  return {
    ...parsed,
    hostname: parsed.hostname ?? systemHostname(),
    store: { ...parsed.store, path: parsed.store.path ?? defaultStoreDirectory() },
  };
}

/** /var/lib/rempart when it is (or can be made) writable; else ~/.local/state/rempart. Creates nothing. */
export function defaultStoreDirectory(): string {
  const candidates = ['/var/lib/rempart', join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'rempart')];
  for (const dir of candidates) {
    if (canWriteOrCreate(dir)) return dir;
  }
  return join(process.cwd(), 'rempart-data');
}

function canWriteOrCreate(dir: string): boolean {
  let probe = dir;
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) return false;
    probe = parent;
  }
  try {
    accessSync(probe, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
