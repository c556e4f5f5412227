// The daemon as a process: SIGHUP reloads the configuration and list files on a connection that
// stays open, an invalid new configuration is refused while the old one keeps running, the CLI
// works on the store while the daemon uses it, SIGTERM ends it with exit code 0, and at start-up it
// holds the learned Bayes database in memory and logs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRempart } from './helpers/daemon.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { rempartCli } from './helpers/paths.js';

test('SIGHUP reloads config and list files without dropping connections; a bad config is refused', { timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const config = (dir: string, text: string, extra = '') =>
    `hostname: mx.example.org\nmy_networks: []\nstore: { path: ${dir}/store }\npolicy: { listen: "127.0.0.1:${port}" }\n` +
    // No DNS here: the sender domain rules would see every domain as missing.
    `sender: { domain_not_found: off, null_mx: off }\n` +
    `greylist: { delay: 1h, text: "${text} %s", allow_clients_files: [${dir}/clients] }\n${extra}`;
  let storeDir = '';
  const daemon = await startRempart({
    configYaml: (dir) => {
      storeDir = dir;
      writeFileSync(join(dir, 'clients'), '# nobody yet\n');
      return config(dir, 'Before');
    },
    policyPort: port,
  });
  t.after(() => daemon.stop());
  const client = await PolicyClient.connect(port);
  t.after(() => client.close());

  assert.equal(await client.ask(), 'DEFER_IF_PERMIT 4.2.0 Before 3600');
  writeFileSync(join(storeDir, 'clients'), 'friendly.example\n');
  writeFileSync(daemon.configPath, config(storeDir, 'After'));
  process.kill(daemon.pid, 'SIGHUP');
  await daemon.waitForLog(/configuration reloaded/);
  assert.match(await client.ask({ recipient: 'carol@example.org' }), /^DEFER_IF_PERMIT 4\.2\.0 After 3600$/, 'new text on the same connection');
  assert.equal(await client.ask({ client_name: 'mx.friendly.example', client_address: '203.0.113.9' }), 'DUNNO', 'new list file entry applies');
  assert.equal(client.isClosed, false);

  writeFileSync(daemon.configPath, config(storeDir, 'Broken', 'greylist_typo: 1\n'));
  process.kill(daemon.pid, 'SIGHUP');
  await daemon.waitForLog(/reload failed: configuration invalid, keeping the running one/);
  assert.match(await client.ask({ recipient: 'dave@example.org' }), /After 3600$/, 'the running configuration is kept');

  // The CLI works on the same store while the daemon runs (SQLite WAL).
  const cli = (...args: string[]) => spawnSync(process.execPath, [rempartCli, ...args, '--config', daemon.configPath], { encoding: 'utf8', timeout: 20_000 });
  writeFileSync(daemon.configPath, config(storeDir, 'After'));
  const listed = cli('greylist', 'list', '--search', 'carol');
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /192\.0\.2\.0\/24 alice@example\.net carol@example\.org .* waiting/);
  assert.match(cli('greylist', 'flush').stdout, /removed 3 triplet\(s\)/);
  assert.match(cli('greylist', 'stats').stdout, /triplets: 0/);
  await new Promise((r) => setTimeout(r, 1500)); // the daemon notices another process's flush within a second
  assert.match(await client.ask(), /^DEFER_IF_PERMIT 4\.2\.0 After 3600$/);
  assert.match(daemon.logs().at(-1)!, /action=greylist reason=new /, 'after the flush the triplet is new again');

  client.close();
  assert.equal(await daemon.stop(), 0);
  assert.ok(daemon.logs().some((l) => /rempart stopped/.test(l)));
});

test('at start-up the daemon holds the learned Bayes database in memory and logs how much', { timeout: 60_000 }, async (t) => {
  const storeDir = mkdtempSync(join(tmpdir(), 'rempart-daemon-bayes-'));
  t.after(() => rmSync(storeDir, { recursive: true, force: true }));
  const port = await freePort();
  const yaml = `hostname: mx.example.org\nstore: { path: ${storeDir}/store }\npolicy: { listen: "127.0.0.1:${port}" }\nsender: { domain_not_found: off, null_mx: off }\n`;
  writeFileSync(join(storeDir, 'rempart.yaml'), yaml);
  const spam = 'From: a@example.net\nTo: bob@example.org\nSubject: cheap pills\nMessage-ID: <s1@example.net>\n\ncheap pills casino lottery winner\n';
  const learned = spawnSync(process.execPath, [rempartCli, 'learn', 'spam', '-', '--config', join(storeDir, 'rempart.yaml')], { input: spam, encoding: 'utf8', timeout: 20_000 });
  assert.equal(learned.status, 0, learned.stderr);

  const daemon = await startRempart({ configYaml: yaml, policyPort: port });
  t.after(() => daemon.stop());
  const line = await daemon.waitForLog(/bayes: global token database (held in memory for lookups|not held in memory)/);
  assert.match(line, /held in memory for lookups/, line);
  const tokens = Number(/tokens[=:"\s]+(\d+)/.exec(line)?.[1]);
  assert.ok(tokens >= 5, `the learned message's tokens are held: ${line}`);
});
