// The running daemon (a process) picks up `rempart block add` and `rempart bans add` made by the CLI
// (another process) within a second, on an open policy connection. Skipped, saying so, until the
// `bans` and `lists` checks are in src/core/registry.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CHECKS } from '../src/core/registry.js';
import { startRempart } from './helpers/daemon.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { rempartCli } from './helpers/paths.js';

const registered = ['bans', 'lists'].every((name) => CHECKS.some((c) => c.name === name));

test('the daemon applies CLI list and ban changes within a second', { timeout: 60_000, skip: registered ? false : 'bans/lists checks not registered yet' }, async (t) => {
  const port = await freePort();
  const daemon = await startRempart({
    configYaml: (dir) => `hostname: mx.example.org\nmy_networks: []\nstore: { path: ${dir}/store }\npolicy: { listen: "127.0.0.1:${port}" }\ngreylist: { delay: 1h }\n` +
      // the DNS-based checks stay out of the way (no DNS server in this test)
      `sender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\n`,
    policyPort: port,
  });
  t.after(() => daemon.stop());
  const client = await PolicyClient.connect(port);
  t.after(() => client.close());
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [rempartCli, ...args, '--config', daemon.configPath], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
  };

  assert.match(await client.ask({ sender: 'x@junk.example' }), /^DEFER_IF_PERMIT/);
  cli('block', 'add', '@junk.example', '--reason', 'abusive-domain');
  cli('bans', 'add', '203.0.113.50', '--expires', '7d', '--reason', 'spamtrap hit');
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await client.ask({ sender: 'x@junk.example' }), '554 5.7.1 <x@junk.example>: Sender address rejected: abusive domain');
  assert.match(await client.ask({ client_address: '203.0.113.50' }), /^554 5\.7\.1 Client host \[203\.0\.113\.50\] blocked: banned until \S+Z \(spamtrap hit\)$/);
  cli('allow', 'add', 'x@junk.example');
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await client.ask({ sender: 'x@junk.example' }), 'DUNNO');
  client.close();
  assert.equal(await daemon.stop(), 0);
});
