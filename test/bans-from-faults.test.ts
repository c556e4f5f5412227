// Bans earned by behaviour, through the pipeline with a real store: a spamtrap hit rejects as an
// unknown user and bans the client (554 on its next request, at any stage); repeated faults
// (unknown recipients, no reverse DNS) ban it with a deferring 450; trusted clients are exempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ManualClock } from '../src/core/clock.js';
import { bansCheck } from '../src/checks/envelope/bans.js';
import { spamtrapsCheck } from '../src/checks/envelope/spamtraps.js';
import { recipientsCheck } from '../src/checks/envelope/recipients.js';
import { rdnsCheck } from '../src/checks/envelope/rdns.js';
import { strikesCheck } from '../src/checks/envelope/strikes.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { testPipeline } from './helpers/pipeline.js';

async function withPipeline(yaml: string, fn: (ask: (attrs: Record<string, string>) => Promise<string>, store: SqliteStore, clock: ManualClock) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-bans-'));
  const store = new SqliteStore(join(dir, 'store'), 1000);
  try {
    writeFileSync(join(dir, 'users'), 'bob@example.org\n');
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
    const { ask: askOnce } = testPipeline({
      yaml: `hostname: mx.example.org\nmy_networks: [10.0.0.0/8]\nstore: { path: ${dir}/store }\nrecipients: { files: [${dir}/users] }\n${yaml}`,
      checks: [bansCheck, spamtrapsCheck, recipientsCheck, rdnsCheck, strikesCheck],
      store,
      clock,
      defaults: { client_address: '192.0.2.10', client_name: 'mx.example.net', reverse_client_name: 'mx.example.net', sender: 's@example.net', recipient: 'bob@example.org' },
    });
    const ask = async (attrs: Record<string, string>) => {
      const reply = await askOnce(attrs);
      for (let i = 0; i < 5; i++) await nextTurn(); // let the strikes observer finish
      return reply;
    };
    await fn(ask, store, clock);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a spamtrap hit looks like an unknown user and bans the client for spamtraps.ban', () =>
  withPipeline('spamtraps: { addresses: [Trap@example.org], ban: 7d }', async (ask, store, clock) => {
    assert.equal(await ask({ recipient: 'bob@example.org' }), 'DUNNO');
    assert.equal(await ask({ recipient: 'trap@EXAMPLE.org' }), '550 5.1.1 User unknown', 'Postfix adds "<rcpt>: Recipient address rejected: " itself');
    assert.equal(await ask({ recipient: 'bob@example.org' }), '554 5.7.1 Client host [192.0.2.10] blocked: banned until 2026-11-30T12:00:00Z (spamtrap hit: trap@EXAMPLE.org)');
    assert.match(await ask({ protocol_state: 'CONNECT', recipient: '' }), /^554 5\.7\.1 Client host \[192\.0\.2\.10\] blocked/, 'at every stage');
    assert.equal(await ask({ client_address: '192.0.2.11', recipient: 'bob@example.org' }), 'DUNNO', 'another client is not banned');
    const bans = await store.bans.list({ now: Math.floor(clock.nowMs() / 1000) });
    assert.deepEqual(bans.map((b) => [b.network, b.source]), [['192.0.2.10', 'spamtrap']]);
    assert.match(await ask({ client_address: '10.1.1.1', recipient: 'trap@example.org' }), /^550 5\.1\.1/);
    assert.equal(await ask({ client_address: '10.1.1.1', recipient: 'bob@example.org' }), 'DUNNO', 'my_networks are never banned');
    clock.advance(7 * 86400 + 1);
    assert.equal(await ask({ recipient: 'bob@example.org' }), 'DUNNO', 'the ban expired');
  }));

test('five unknown recipients within an hour ban the client with a deferring 450', () =>
  withPipeline('', async (ask) => {
    for (let i = 1; i <= 4; i++) {
      assert.equal(await ask({ recipient: `nobody${i}@example.org` }), '550 5.1.1 User unknown');
    }
    assert.equal(await ask({ recipient: 'bob@example.org' }), 'DUNNO', 'four strikes: not yet');
    assert.match(await ask({ recipient: 'nobody5@example.org' }), /^550 5\.1\.1/);
    assert.equal(
      await ask({ recipient: 'bob@example.org' }),
      '450 4.7.1 Client host [192.0.2.10] blocked: banned until 2026-11-24T12:00:00Z (5 strike(s) for unknown recipient within 3600s)',
    );
  }));

test('strikes outside the window do not add up', () =>
  withPipeline('', async (ask, _store, clock) => {
    for (let i = 1; i <= 4; i++) await ask({ recipient: `nobody${i}@example.org` });
    clock.advance(3601);
    await ask({ recipient: 'nobody5@example.org' });
    assert.equal(await ask({ recipient: 'bob@example.org' }), 'DUNNO');
  }));

test('a client without reverse DNS is banned after its first request (strikes.no_ptr), unless turned off', async () => {
  await withPipeline('', async (ask) => {
    assert.equal(await ask({ client_name: 'unknown', reverse_client_name: 'unknown' }), 'DUNNO', 'the fault itself only scores');
    assert.match(await ask({ client_name: 'unknown', reverse_client_name: 'unknown' }), /^450 4\.7\.1 Client host \[192\.0\.2\.10\] blocked: .*strike\(s\) for no ptr/);
  });
  await withPipeline('strikes: { no_ptr: { strikes: 0 } }', async (ask) => {
    assert.equal(await ask({ client_name: 'unknown', reverse_client_name: 'unknown' }), 'DUNNO');
    assert.equal(await ask({ client_name: 'unknown', reverse_client_name: 'unknown' }), 'DUNNO');
  });
});
