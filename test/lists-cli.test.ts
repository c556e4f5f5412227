// `rempart allow|block ...` and `rempart bans ...` as a user runs them (child processes on a real
// store): add with every option, update, list and search (text and JSON), import with bad lines
// reported by line number, remove by entry and by id, bans add/list/remove, and usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rempartCli } from './helpers/paths.js';

function withConfig(fn: (run: (...args: string[]) => { code: number | null; stdout: string; stderr: string }, dir: string) => void) {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'rempart-listcli-'));
    try {
      const file = join(dir, 'rempart.yaml');
      writeFileSync(file, `store: { path: ${dir}/store }\n`);
      fn((...args) => {
        const r = spawnSync(process.execPath, [rempartCli, ...args, '--config', file], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, REMPART_CONFIG: '' } });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      }, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('block add, update, list, search, JSON and remove', withConfig((run) => {
  const added = run('block', 'add', '@Spam.Example', '--reason', 'abusive-domain', '--expires', '30d', '--comment', 'seen in logs', '--by', 'alice');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^added #1 block @spam\.example global reason="abusive domain" expires=\d{4}-\d\d-\d\dT[\d:]+Z by=alice added=\S+ comment="seen in logs"$/m);
  const scoped = run('block', 'add', '2001:DB8::5/48', 'helo:Bad.Example', '--for', 'Bob@Example.org', '--reason', 'Snowshoe network');
  assert.match(scoped.stdout, /^added #2 block 2001:db8::\/48 for=bob@example\.org reason="Snowshoe network" expires=never by=\S+/m);
  assert.match(scoped.stdout, /^added #3 block helo:bad\.example for=bob@example\.org/m);
  assert.match(run('block', 'add', '@spam.example', '--reason', 'spam').stdout, /^updated #1 block @spam\.example global reason=spam expires=never/m);
  assert.match(run('allow', 'add', 'friend@spam.example', '--comment', 'false positive').stdout, /^added #4 allow friend@spam\.example global expires=never/m);

  const all = run('block', 'list');
  assert.equal(all.code, 0);
  assert.deepEqual(all.stdout.trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')), ['#1 block @spam.example', '#3 block helo:bad.example', '#2 block 2001:db8::/48', '3 block entries']);
  assert.match(run('block', 'list', '--global').stdout, /^1 block entry$/m);
  assert.match(run('block', 'list', '--for', 'bob@example.org').stdout, /^2 block entries$/m);
  assert.match(run('block', 'list', '--search', 'DB8').stdout, /^#2 .*\n1 block entry\n$/);
  assert.match(run('block', 'list', '--search', 'snowshoe').stdout, /^2 block entries$/m);
  const json = run('allow', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: string; comment: string; type: string });
  assert.deepEqual(json.map((e) => [e.type, e.value, e.comment]), [['sender', 'friend@spam.example', 'false positive']]);

  assert.match(run('block', 'remove', '@SPAM.example').stdout, /^removed block @spam\.example$/m);
  const missing = run('block', 'remove', '@spam.example');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no block entry @spam\.example/);
  assert.equal(run('block', 'remove', 'helo:bad.example').code, 1, 'scoped entries need --for');
  assert.equal(run('block', 'remove', 'helo:bad.example', '--for', 'bob@example.org').code, 0);
  assert.equal(run('allow', 'remove', '--id', '2').code, 1, '#2 is a block entry');
  assert.match(run('block', 'remove', '--id', '2').stdout, /^removed block #2$/m);
  assert.match(run('block', 'list').stdout, /^0 block entries$/m);
}));

test('block import: one entry per line, comments, bad lines reported with their numbers and skipped', withConfig((run, dir) => {
  const file = join(dir, 'blocklist.txt');
  writeFileSync(file, '# legacy blacklist\n@a.example   sent phishing\nexample.com\n\n198.51.100.0/24 # snowshoe\nnot an@entry\n::ffff:192.0.2.1\n@a.example\n');
  const imported = run('block', 'import', file, '--reason', 'compromised', '--for', 'carol@example.org');
  assert.equal(imported.code, 1, 'bad lines are a problem found');
  assert.match(imported.stderr, new RegExp(`^${file}:3: .*write @example\\.com for a sender domain.*: example\\.com$`, 'm'));
  assert.match(imported.stderr, new RegExp(`^${file}:6: .*: not an@entry$`, 'm'));
  assert.match(imported.stdout, /^imported 4 block entries \(3 added, 1 updated\); 2 bad line\(s\) skipped$/m);
  const rows = run('block', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: string; scope: string; reason: string; comment: string });
  assert.deepEqual(rows.map((r) => [r.value, r.scope, r.reason, r.comment]).sort(), [
    ['192.0.2.1', 'carol@example.org', 'compromised', ''],
    ['198.51.100.0/24', 'carol@example.org', 'compromised', ''],
    ['@a.example', 'carol@example.org', 'compromised', ''],
  ]);
  const clean = join(dir, 'allow.txt');
  writeFileSync(clean, 'partner@example.net\n');
  assert.equal(run('allow', 'import', clean).code, 0);
  assert.equal(run('allow', 'import', join(dir, 'missing.txt')).code, 1);
}));

test('bans add, list, remove; a covered address is explained', withConfig((run) => {
  const added = run('bans', 'add', '192.0.2.0/24', '2001:db8::7', '--expires', '7d', '--reason', 'spamtrap hit');
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^banned 192\.0\.2\.0\/24 source=manual created=\S+ expires=\d{4}-[\d-]+T[\d:]+Z reason="spamtrap hit"$/m);
  assert.match(run('bans', 'add', '198.51.100.9').stdout, /^banned 198\.51\.100\.9 source=manual .* expires=never reason="manual ban"$/m);
  assert.match(run('bans', 'list').stdout, /^3 ban\(s\)$/m);
  const json = run('bans', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { network: string });
  assert.deepEqual(json.map((b) => b.network).sort(), ['192.0.2.0/24', '198.51.100.9', '2001:db8::7']);
  const covered = run('bans', 'remove', '192.0.2.7');
  assert.equal(covered.code, 1);
  assert.match(covered.stderr, /192\.0\.2\.7 is not banned itself but lies in the ban of 192\.0\.2\.0\/24/);
  assert.match(run('bans', 'remove', '192.0.2.0/24', '2001:DB8::7').stdout, /lifted the ban of 192\.0\.2\.0\/24\nlifted the ban of 2001:db8::7\n/);
  assert.match(run('bans', 'list', '--search', '198.51').stdout, /^198\.51\.100\.9 .*\n1 ban\(s\)\n$/);
}));

test('usage errors exit 2 before the store is touched', withConfig((run) => {
  for (const args of [
    ['block', 'add'],
    ['block', 'add', 'example.org'],
    ['block', 'add', '@x.example', '--expires', 'soon'],
    ['block', 'add', '@x.example', '--for', 'not-an-address'],
    ['allow', 'add', '@x.example', '--reason', 'spam'],
    ['block', 'remove'],
    ['block', 'remove', '@x.example', '--id', '1'],
    ['block', 'frobnicate'],
    ['bans', 'add', '300.1.1.1'],
    ['bans', 'remove'],
    ['bans', 'list', '--colour'],
  ]) {
    const r = run(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.match(run('block', 'add', 'example.org').stderr, /write @example\.org for a sender domain/);
  const help = spawnSync(process.execPath, [rempartCli, '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /rempart allow\|block add ENTRY\.\.\./);
  assert.match(help.stdout, /rempart bans list/);
}));
