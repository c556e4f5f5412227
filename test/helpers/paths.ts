// Paths tests need: the repository root (tests run from dist/, fixtures live in the source tree)
// and the compiled rempart command line (of dist/, or of the tree $REMPART_DIST names).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
/** The compiled tree the tests run: dist/, or $REMPART_DIST (a build of one's own: tsc --outDir .build-x). */
export const distDir = process.env.REMPART_DIST ? resolve(repoRoot, process.env.REMPART_DIST) : join(repoRoot, 'dist');
export const rempartCli = join(distDir, 'src', 'cli', 'main.js');
export const fixture = (...parts: string[]): string => join(repoRoot, 'test', 'fixtures', ...parts);
