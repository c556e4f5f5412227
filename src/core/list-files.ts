// Reading the one-entry-per-line files checks are configured with (valid recipients, bad domains):
// "#" starts a comment, blank lines are skipped, and an unreadable file or a line the caller
// refuses becomes a problem for `rempart config check` and the log, never a failure.
import { readFileSync } from 'node:fs';
import type { CheckProblem } from './check.js';

/**
 * Calls `accept` with each entry line (comment removed, trimmed) of each file; `accept` returns a
 * reason to refuse the line, or undefined. Returns the problems met.
 */
export function readListFiles(check: string, paths: readonly string[], accept: (line: string) => string | undefined): CheckProblem[] {
  const problems: CheckProblem[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      problems.push({ check, message: `${path}: cannot read: ${(error as Error).message}` });
      continue;
    }
    text.split(/\r?\n/).forEach((raw, index) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const refusal = accept(line);
      if (refusal !== undefined) problems.push({ check, message: `${path}:${index + 1}: ${refusal}: ${line}` });
    });
  }
  return problems;
}
