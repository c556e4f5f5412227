// What every benchmark report says about where it ran: the commit (and whether the tree had
// uncommitted changes that matter), the machine, and the shape of a target row; and how a
// benchmark writes its own section of docs/benchmarks.md between its markers.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';

export type Status = 'met' | 'not met' | 'not measured';

export interface TargetRow {
  target: string;
  measured: string;
  status: Status;
}

/** "commit abc1234", with a warning when the given paths (relative to `repoRoot`) have uncommitted changes. */
export function revision(repoRoot: string, paths: readonly string[]): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...paths], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `commit ${commit}${dirty ? ` with uncommitted changes in ${paths.map((p) => `${p}/`).join(' or ')}` : ''}`;
  } catch {
    return 'unknown revision';
  }
}

export function machine(): { cpu: string; cores: number; node: string; kernel: string } {
  let cpu = 'unknown CPU';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return { cpu, cores: availableParallelism(), node: process.version, kernel: `Linux ${release()}` };
}

/** Writes `section` between the markers `start` and `end` of the file at `path`, keeping the rest (appended when absent). */
export function writeSection(path: string, start: string, end: string, section: string): void {
  const block = `${start}\n${section}\n${end}`;
  let text = existsSync(path)
    ? readFileSync(path, 'utf8')
    : '# Benchmarks\n\nMeasurements of Rempart, run on demand (they are not tests). Each section is written by its benchmark.\n\n';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from >= 0 && to > from) text = text.slice(0, from) + block + text.slice(to + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, text);
}
