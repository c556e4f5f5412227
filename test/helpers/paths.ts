// Paths tests need: the repository root (tests run from dist/, fixtures live in the source tree)
// and the compiled rempart command line.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const repoRoot = findRepoRoot();
export const rempartCli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
export const fixture = (...parts: string[]): string => join(repoRoot, 'test', 'fixtures', ...parts);
