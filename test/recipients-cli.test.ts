// `rempart recipients ...` as a user runs it (child processes on a real store): add with a comment
// and an adder, update, list and search (text and JSON), remove (a missing entry exits 1), import
// of a Postfix map source from a file and from standard input with bad lines reported by line
// number, and usage errors exiting 2 before the store is touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rempartCli } from './helpers/paths.js';

type Run = (args: string[], input?: string) => { code: number | null; stdout: string; stderr: string };

function withConfig(fn: (run: Run, dir: string) => void) {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'rempart-rcptcli-'));
    try {
      const file = join(dir, 'rempart.yaml');
      writeFileSync(file, `store: { path: ${dir}/store }\n`);
      fn((args, input) => {
        const r = spawnSync(process.execPath, [rempartCli, 'recipients', ...args, '--config', file], { encoding: 'utf8', timeout: 20_000, input, env: { ...process.env, REMPART_CONFIG: '' } });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      }, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const lines = (text: string): string[] => text.trim().split('\n');

test('recipients add, update, list, search, JSON and remove', withConfig((run) => {
  const added = run(['add', 'Bob@Example.ORG', '@Catch.Example.org', '--comment', 'from the old server', '--by', 'alice']);
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(lines(added.stdout).map((l) => l.replace(/added=\S+/, 'added=T')), [
    'added #1 bob@example.org by=alice added=T comment="from the old server"',
    'added #2 @catch.example.org catch-all by=alice added=T comment="from the old server"',
  ]);
  assert.match(added.stdout, /added=\d{4}-\d\d-\d\dT[\d:]+Z/);
  assert.match(run(['add', 'bob@example.org', '--comment', 'sales']).stdout, /^updated #1 bob@example\.org by=\S+ added=\S+ comment=sales$/m);
  assert.equal(run(['add', 'carol@example.org']).code, 0);

  const all = run(['list']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(lines(all.stdout).map((l) => (l.startsWith('#') ? l.split(' ').slice(0, 2).join(' ') : l)), ['#2 @catch.example.org', '#1 bob@example.org', '#3 carol@example.org', '3 recipient entries']);
  assert.match(run(['list', '--search', 'SALES']).stdout, /^#1 bob@example\.org .*\n1 recipient entry\n$/);
  assert.match(run(['list', '--search', 'nobody']).stdout, /^0 recipient entries\n$/);
  const json = lines(run(['list', '--json']).stdout).map((l) => JSON.parse(l) as { address: string; domain: string; comment: string; addedBy: string });
  assert.deepEqual(json.map((e) => [e.address, e.domain, e.comment]), [
    ['@catch.example.org', 'catch.example.org', 'from the old server'],
    ['bob@example.org', 'example.org', 'sales'],
    ['carol@example.org', 'example.org', ''],
  ]);
  assert.equal(json[0]!.addedBy, 'alice');

  const removed = run(['remove', 'CAROL@example.org', 'nobody@example.org']);
  assert.equal(removed.code, 1, 'a missing entry is a problem found');
  assert.match(removed.stdout, /^removed carol@example\.org$/m);
  assert.match(removed.stderr, /no recipient entry nobody@example\.org/);
  assert.equal(run(['remove', '@catch.example.org']).code, 0);
  assert.match(run(['list']).stdout, /^#1 bob@example\.org .*\n1 recipient entry\n$/);
}));

test('recipients import: a Postfix map source, # comments, bad lines reported with their numbers and skipped', withConfig((run, dir) => {
  const file = join(dir, 'relay_recipients');
  writeFileSync(file, '# relay_recipients\nalice@example.org   OK\r\nBob@Example.org\tOK # the boss\n\nexample.net OK\n@shop.example.org OK\nnot-an-address\nalice@example.org OK\n');
  const imported = run(['import', file, '--by', 'migration']);
  assert.equal(imported.code, 1, 'bad lines are a problem found');
  assert.match(imported.stderr, new RegExp(`^${file}:5: "example\\.net" is not an address: write @example\\.net for every address of the domain: example\\.net OK$`, 'm'));
  assert.match(imported.stderr, new RegExp(`^${file}:7: not an address or @domain: not-an-address: not-an-address$`, 'm'));
  assert.equal(lines(imported.stderr).length, 2, imported.stderr);
  assert.match(imported.stdout, /^imported 4 recipient entries \(3 added, 1 updated\); 2 bad line\(s\) skipped$/m);
  const rows = lines(run(['list', '--json']).stdout).map((l) => JSON.parse(l) as { address: string; addedBy: string });
  assert.deepEqual(rows.map((r) => [r.address, r.addedBy]), [['alice@example.org', 'migration'], ['bob@example.org', 'migration'], ['@shop.example.org', 'migration']]);

  const fromStdin = run(['import', '-'], 'carol@example.org\n');
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.match(fromStdin.stdout, /^imported 1 recipient entry \(1 added, 0 updated\)$/m);
  const missing = run(['import', join(dir, 'missing.txt')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*missing\.txt/);
}));

test('recipients usage errors exit 2 before the store is touched', withConfig((run, dir) => {
  for (const args of [
    ['add'],
    ['add', 'example.org'],
    ['add', 'bob@localhost'],
    ['add', 'bob@example.org', '--colour'],
    ['remove'],
    ['remove', '@'],
    ['remove', 'bob@example.org', '--comment', 'x'],
    ['list', 'bob@example.org'],
    ['add', 'bob@example.org', '--json'],
    ['import'],
    ['import', 'a', 'b'],
    ['frobnicate'],
    [],
  ]) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.match(run(['add', 'example.org']).stderr, /write @example\.org for every address of the domain/);
  assert.equal(existsSync(join(dir, 'store')), false, 'the store was never opened');
  const help = spawnSync(process.execPath, [rempartCli, '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /^rempart recipients add ADDRESS\|@DOMAIN\.\.\. \[--comment TEXT\] \[--by NAME\]$/m);
  assert.match(help.stdout, /^rempart recipients import FILE\|-/m);
}));
