// The scorer: symbol scores summed with per-symbol overrides, the reject threshold (checked before
// greylisting, so a rejected client is not merely deferred), add_header (PREPEND X-Spam-Flag), and
// greylist.mode "suspicious" (greylist only clients whose score reached actions.greylist).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckDescriptor } from '../src/core/check.js';
import { parseConfigText } from '../src/config/loader.js';
import { greylistCheck } from '../src/checks/envelope/greylist/greylist.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import { testPipeline } from './helpers/pipeline.js';

/** A test check that reports the symbols named in the sender's local part, e.g. "BAD_A.BAD_B@x". */
const symbolsFromSender: CheckDescriptor = {
  name: 'test-symbols',
  stages: ['rcpt'],
  timeoutMs: 1000,
  create: () => ({
    evaluate: (task) => ({
      symbols: task.envelope.sender
        .split('@')[0]!
        .split('.')
        .filter((name) => /^[A-Z_]+$/.test(name))
        .map((name) => ({ name, score: name.startsWith('BAD') ? 5 : 1, description: `test symbol ${name}` })),
    }),
  }),
};

async function withPipeline(yaml: string, fn: (ask: (sender: string) => Promise<string>, lines: string[]) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-score-'));
  const store = new SqliteStore(dir, 1000);
  try {
    const { ask, lines } = testPipeline({
      yaml: `hostname: mx.example.org\nmy_networks: []\nstore: { path: ${dir} }\n${yaml}`,
      checks: [greylistCheck, symbolsFromSender],
      store,
      defaults: { recipient: 'bob@example.org' },
    });
    let n = 0;
    await fn((sender) => ask({ client_address: `192.0.${n++}.1`, sender }), lines);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the reject threshold is checked before greylisting; overrides change a symbol\'s score', () =>
  withPipeline('greylist: { delay: 0 }\nscores: { MILD: 20 }', async (ask, lines) => {
    assert.equal(await ask('BAD_A.BAD_B.BAD_C@x.example'), '554 5.7.1 Message rejected as spam (score 15, required 15): BAD_A, BAD_B, BAD_C');
    assert.match(lines.at(-1)!, /action=reject reason="score 15 >= 15" .* score=15 symbols=BAD_A\(5\),BAD_B\(5\),BAD_C\(5\)/);
    assert.match(await ask('MILD@x.example'), /^554 5\.7\.1 Message rejected as spam \(score 20, required 15\): MILD$/, 'override 1 -> 20');
  }));

test('add_header marks the mail with X-Spam-Flag; below it the mail passes untouched', () =>
  withPipeline('greylist: { enabled: false }', async (ask, lines) => {
    assert.equal(await ask('BAD_A.BAD_B@x.example'), 'PREPEND X-Spam-Flag: YES');
    assert.match(lines.at(-1)!, /action=add_header reason="score 10 >= 6"/);
    assert.equal(await ask('BAD_A@x.example'), 'DUNNO');
    assert.match(lines.at(-1)!, /action=accept .* score=5 symbols=BAD_A\(5\)/);
  }));

test('greylist mode "suspicious" defers only clients whose score reached actions.greylist', () =>
  withPipeline('greylist: { mode: suspicious, delay: 5m }\nactions: { greylist: 3 }', async (ask, lines) => {
    assert.equal(await ask('clean@x.example'), 'DUNNO');
    assert.match(lines.at(-1)!, /reason="greylist: score 0 below 3, not greylisted"/);
    assert.match(await ask('MILD.MILD_TOO@x.example'), /^DUNNO$/, 'score 2 < 3');
    assert.match(await ask('BAD_A@x.example'), /^DEFER_IF_PERMIT 4\.2\.0 /, 'score 5 >= 3');
  }));

test('greylist mode "all" (the default) defers a clean client too', () =>
  withPipeline('', async (ask) => {
    assert.match(await ask('clean@x.example'), /^DEFER_IF_PERMIT 4\.2\.0 /);
  }));

test('thresholds must be ordered greylist <= add_header <= reject', () => {
  assert.throws(() => parseConfigText('actions: { reject: 5, add_header: 6 }', 'x.yaml'), /greylist <= add_header <= reject/);
});
