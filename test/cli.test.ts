// The rempart command line as a user runs it (a child process): config check with good and bad
// files, greylist list/stats/flush on a real store, help, version and usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rempartCli } from './helpers/paths.js';
import { SqliteStore } from '../src/store/sqlite/store.js';

function rempart(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [rempartCli, ...args], { encoding: 'utf8', timeout: 20000, env: { ...process.env, REMPART_CONFIG: '', ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rempart-cli-'));
}

test('config check accepts a valid file and says what will run', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'rempart.yaml');
    writeFileSync(file, `store: { path: ${dir}/store }\npolicy: { listen: "127.0.0.1:10999" }\n`);
    const { code, stdout } = rempart(['config', 'check', '--config', file]);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`configuration OK: ${file}`));
    assert.match(stdout, /checks enabled: bans, attachments, lists, recipients, helo, rdns, sender, mime-problems, content-headers, content-html, content-links, bayes, strikes, greylist\n/);
    assert.match(stdout, /policy: 127\.0\.0\.1:10999/);
    assert.match(stdout, /milter: 127\.0\.0\.1:11332/);
    assert.match(stdout, new RegExp(`store: sqlite ${dir}/store\n`));
    // A Redis store is named by its server and prefix, never with its password.
    writeFileSync(file, 'store: { backend: redis, redis: { url: "redis://:s3cret@10.0.0.5:6379/2", prefix: "mx:" } }\n');
    const redis = rempart(['config', 'check', '--config', file]);
    assert.equal(redis.code, 0);
    assert.match(redis.stdout, /store: redis redis:\/\/:\*\*\*@10\.0\.0\.5:6379\/2 prefix mx:\n/);
    assert.doesNotMatch(redis.stdout, /s3cret/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config check prints each problem with file, line and key, and exits 1', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'rempart.yaml');
    writeFileSync(file, 'greylist:\n  delay: later\n  auto_allow: 3\n');
    const { code, stderr } = rempart(['config', 'check', '--config', file]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`${file}:2:\\d+: greylist\\.delay: expected a duration`));
    assert.match(stderr, new RegExp(`${file}:3:\\d+: greylist\\.auto_allow: unknown key`));
    assert.match(stderr, /2 problem\(s\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config check reports bad lines of the allow-list files it names', () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'clients'), 'good.example\nthis line has spaces\n');
    const file = join(dir, 'rempart.yaml');
    writeFileSync(file, `greylist: { allow_clients_files: [${dir}/clients, ${dir}/missing] }\n`);
    const { code, stderr } = rempart(['config', 'check', '--config', file]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`greylist: ${dir}/clients:2: .*this line has spaces`));
    assert.match(stderr, new RegExp(`greylist: ${dir}/missing`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing configuration file named on the command line is an error', () => {
  const { code, stderr } = rempart(['config', 'check', '--config', '/nonexistent/rempart.yaml']);
  assert.equal(code, 1);
  assert.match(stderr, /\/nonexistent\/rempart\.yaml: cannot read the configuration/);
});

test('greylist list, stats and flush work on the store', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'rempart.yaml');
    writeFileSync(file, `store: { path: ${dir}/store }\n`);
    const store = new SqliteStore(join(dir, 'store'), 1000);
    await store.greylist.updateTriplet('192.0.2.0/24/a@x.example/b@y.example', { clientNet: '192.0.2.0/24', sender: 'a@x.example', recipient: 'b@y.example' }, () => ({ next: { firstSeen: 1_800_000_000, lastSeen: 1_800_000_100, attempts: 2, passedAt: 0 }, result: 0 }), () => 2e9);
    await store.greylist.updateTriplet('198.51.100.0/24//c@y.example', { clientNet: '198.51.100.0/24', sender: '', recipient: 'c@y.example' }, () => ({ next: { firstSeen: 1_800_000_000, lastSeen: 1_800_000_400, attempts: 2, passedAt: 1_800_000_400 }, result: 0 }), () => 2e9);
    await store.close();

    const list = rempart(['greylist', 'list', '--config', file]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^198\.51\.100\.0\/24 <> c@y\.example {2}first=2027-01-15T08:00:00Z last=2027-01-15T08:06:40Z attempts=2 passed 2027-01-15T08:06:40Z$/m);
    assert.match(list.stdout, /^192\.0\.2\.0\/24 a@x\.example b@y\.example .* waiting$/m);
    assert.match(list.stdout, /2 triplet\(s\)/);
    const waiting = rempart(['greylist', 'list', '--waiting', '--json', '--config', file]);
    const rows = waiting.stdout.trim().split('\n').map((l) => JSON.parse(l) as { labels: { sender: string } });
    assert.deepEqual(rows.map((r) => r.labels.sender), ['a@x.example']);
    const stats = rempart(['greylist', 'stats', '--json', '--config', file]);
    assert.deepEqual(JSON.parse(stats.stdout), { triplets: 2, waiting: 1, passed: 1, clients: 0, autoAllowed: 0 });
    const flush = rempart(['greylist', 'flush', '--search', 'x.example', '--config', file]);
    assert.match(flush.stdout, /removed 1 triplet\(s\)/);
    assert.match(rempart(['greylist', 'stats', '--config', file]).stdout, /triplets: 1 \(waiting 0, passed 1\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('help, version and usage errors', () => {
  const help = rempart(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /rempart serve \[--config FILE\]/);
  assert.match(rempart(['--version']).stdout, /^\d+\.\d+\.\d+\n$/);
  const unknown = rempart(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badOption = rempart(['greylist', 'list', '--colour']);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /Unknown option '--colour'/);
  assert.equal(rempart(['greylist', 'list', '--limit', 'x', '--config', '/dev/null']).code, 2);
});

test('config check lists only the checks that are enabled', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'rempart.yaml');
    writeFileSync(file, `store: { path: ${dir}/store }\nlists: { enabled: false }\nbans: { enabled: false }\ngreylist: { enabled: false }\nrecipients: { unknown: off }\nattachments: { enabled: false }\ncontent: { enabled: false }\nbayes: { enabled: false }\n`);
    const { code, stdout } = rempart(['config', 'check', '--config', file]);
    assert.equal(code, 0);
    assert.match(stdout, /checks enabled: helo, rdns, sender, mime-problems, strikes\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
