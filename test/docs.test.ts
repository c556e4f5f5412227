// Keeps the documentation in step with the code: every configuration key appears in
// docs/configuration.md and in the commented example packaging/rempart.yaml, which itself must be
// a valid configuration; every CLI command in the usage text appears in the README.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../src/config/loader.js';
import { repoRoot } from './helpers/paths.js';

/** Every key path of the parsed defaults, plus the optional keys that have no default. */
function configKeys(): string[] {
  const keys: string[] = ['hostname', 'store.path'];
  const walk = (value: unknown, prefix: string) => {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (child && typeof child === 'object' && !Array.isArray(child)) walk(child, path);
      else keys.push(path);
    }
  };
  walk(parseConfigText('', 'defaults'), '');
  return [...new Set(keys)];
}

test('every configuration key is documented in docs/configuration.md', () => {
  const docs = readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8');
  const missing = configKeys().filter((key) => !docs.includes(`\`${key}\``));
  assert.deepEqual(missing, []);
});

test('packaging/rempart.yaml is a valid configuration naming every key', () => {
  const text = readFileSync(join(repoRoot, 'packaging', 'rempart.yaml'), 'utf8');
  const parsed = parseConfigText(text, 'packaging/rempart.yaml');
  assert.equal(parsed.greylist.delay, 300);
  const missing = configKeys().filter((key) => !new RegExp(`^\\s*${key.split('.').pop()}:`, 'm').test(text));
  assert.deepEqual(missing, []);
});

test('the README names every command and the two first commands', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  for (const command of ['rempart serve', 'rempart config check', 'rempart greylist list', 'rempart greylist flush', 'rempart greylist stats', 'rempart allow|block add', 'rempart allow|block import', 'rempart bans add', 'rempart bans remove', 'rempart recipients add', 'rempart recipients import', 'rempart check', 'rempart filter', 'rempart learn', 'rempart learn --import-bogofilter', 'rempart bayes stats', 'rempart passwd', 'rempart store copy', '--url', 'REMPART_PASSWORD', 'npm test']) {
    assert.ok(readme.includes(command), `README mentions ${command}`);
  }
  const firstLines = readme.split('\n').slice(0, 15).join('\n');
  assert.match(firstLines, /npm ci && npm start/);
  assert.match(firstLines, /npm ci && npm test/);
});
