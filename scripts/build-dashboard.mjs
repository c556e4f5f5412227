#!/usr/bin/env node
// Last step of the dashboard build: copies the static files of src/dashboard (the page, its style
// sheet, its icon) beside the modules tsc compiled there, so that the output directory is the
// whole dashboard the daemon serves. Usage: node scripts/build-dashboard.mjs [OUT_DIR]
// (default dist/dashboard). Fails when the compiled entry module is missing (tsc did not run).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sourceDir = join(root, 'src', 'dashboard');
const outDir = resolve(process.argv[2] ?? join(root, 'dist', 'dashboard'));
const staticFiles = ['index.html', 'style.css', 'favicon.svg'];

mkdirSync(outDir, { recursive: true });
for (const name of staticFiles) copyFileSync(join(sourceDir, name), join(outDir, name));
if (!existsSync(join(outDir, 'main.js'))) {
  console.error(`build-dashboard: ${join(outDir, 'main.js')} is missing: run tsc -p src/dashboard/tsconfig.json first`);
  process.exit(1);
}
console.log(`dashboard: ${staticFiles.join(', ')} copied to ${outDir}`);
