// The recipients check with the store's table (`rempart recipients ...`) through the pipeline and a
// real SQLite store: table entries alone, table and files merged into one table (a domain named by
// either is judged), a change made with the CLI (another process) reaching the running pipeline
// within a second, no store read per request when there is nothing to check, and the check
// prepared without opening the store (config check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recipientsCheck } from '../src/checks/envelope/recipients.js';
import { ManualClock } from '../src/core/clock.js';
import { SqliteStore } from '../src/store/sqlite/store.js';
import type { RecipientInput, RecipientStore, Store } from '../src/store/types.js';
import { testPipeline, type TestPipeline } from './helpers/pipeline.js';
import { rempartCli } from './helpers/paths.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
/** Postfix puts "<rcpt>: Recipient address rejected: " before a policy reply itself. */
const UNKNOWN = '550 5.1.1 User unknown';

interface Harness {
  ask(recipient: string): Promise<string>;
  rcpt: TestPipeline;
  store: SqliteStore;
  clock: ManualClock;
  dir: string;
  configPath: string;
}

/** A pipeline of the recipients check on a fresh store; `files` are written and named in recipients.files. */
async function withTable(files: Record<string, string>, fn: (h: Harness) => Promise<void>, store?: (real: SqliteStore) => Store): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-rcpttable-'));
  const real = new SqliteStore(join(dir, 'store'), 1000);
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const yaml = `hostname: mx.example.org\nstore: { path: ${dir}/store }\nhistory: { enabled: false }\n` +
      `recipients: { files: [${Object.keys(files).map((name) => join(dir, name)).join(', ')}] }\n`;
    const configPath = join(dir, 'rempart.yaml');
    writeFileSync(configPath, yaml);
    const clock = new ManualClock(NOW);
    const rcpt = testPipeline({ yaml, checks: [recipientsCheck], store: store ? store(real) : real, clock, defaults: { client_address: '192.0.2.1', sender: 's@example.net' } });
    assert.deepEqual(rcpt.pipeline.problems, []);
    await fn({ ask: (recipient) => rcpt.ask({ recipient }), rcpt, store: real, clock, dir, configPath });
  } finally {
    await real.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const entry = (address: string, comment = ''): RecipientInput => ({ address, comment, addedBy: 'test', createdAt: NOW / 1000 });

test('valid recipients from the store: addresses, catch-alls, extensions; other domains not judged', () =>
  withTable({}, async ({ ask, store, rcpt }) => {
    assert.equal(await ask('carol@example.org'), 'DUNNO', 'an empty table judges nothing');
    await store.recipients.add([entry('Bob@Example.ORG'), entry('@Catch.Example.org')]);
    assert.equal(await ask('bob@example.org'), 'DUNNO', "this process's own change applies at once");
    assert.equal(await ask('BOB@example.org'), 'DUNNO');
    assert.equal(await ask('bob+lists@example.org'), 'DUNNO', 'extension stripped');
    assert.equal(await ask('anyone@catch.example.org'), 'DUNNO', 'catch-all');
    assert.equal(await ask('someone@elsewhere.example'), 'DUNNO', 'a domain no entry names is not judged');
    assert.equal(await ask('carol@example.org'), UNKNOWN);
    assert.match(rcpt.lines.at(-1)!, /action=reject reason="unknown recipient carol@example\.org" .* check=recipients .*symbols=RCPT_UNKNOWN/);
    assert.equal(await ask('carol@sub.example.org'), 'DUNNO', 'a domain covers no subdomain');
  }));

test('files and the table make one table: a domain either names is judged, an address either lists is known', () =>
  withTable({ users: 'bob@example.org OK\n', more: '# empty but for this\n@shop.example.org\n' }, async ({ ask, store }) => {
    await store.recipients.add([entry('carol@example.org'), entry('@catch.example.net'), entry('dave@new.example')]);
    assert.equal(await ask('bob@example.org'), 'DUNNO', 'from a file');
    assert.equal(await ask('carol@example.org'), 'DUNNO', 'from the table, in a domain a file names');
    assert.equal(await ask('eve@example.org'), UNKNOWN);
    assert.equal(await ask('x@shop.example.org'), 'DUNNO', "a file's catch-all");
    assert.equal(await ask('x@catch.example.net'), 'DUNNO', "the table's catch-all");
    assert.equal(await ask('dave@new.example'), 'DUNNO');
    assert.equal(await ask('erin@new.example'), UNKNOWN, 'a domain only the table names is judged');
    assert.equal(await ask('x@elsewhere.example'), 'DUNNO');

    assert.equal(await store.recipients.remove('Carol@example.org'), 1);
    assert.equal(await ask('carol@example.org'), UNKNOWN, 'removed from the table; the file does not list her');
    assert.equal(await store.recipients.remove('dave@new.example'), 1);
    assert.equal(await ask('erin@new.example'), 'DUNNO', 'no entry names new.example any more');
    assert.equal(await ask('bob@example.org'), 'DUNNO', 'the files stay');
    assert.equal(await ask('eve@example.org'), UNKNOWN);
  }));

test('a change made with the CLI (another process) reaches the running pipeline within a second', { timeout: 60_000 }, () =>
  withTable({}, async ({ ask, clock, configPath, dir }) => {
    const cli = (...args: string[]) => {
      const result = spawnSync(process.execPath, [rempartCli, 'recipients', ...args, '--config', configPath], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(result.status, 0, result.stderr);
    };
    assert.equal(await ask('carol@example.org'), 'DUNNO');
    cli('add', 'alice@example.org', 'bob@example.org', '@partner.example');
    assert.equal(await ask('carol@example.org'), 'DUNNO', 'the table is kept up to a second');
    clock.advance(1);
    assert.equal(await ask('carol@example.org'), UNKNOWN);
    assert.equal(await ask('alice@example.org'), 'DUNNO');
    assert.equal(await ask('anyone@partner.example'), 'DUNNO');
    cli('remove', 'alice@example.org');
    clock.advance(1);
    assert.equal(await ask('alice@example.org'), UNKNOWN, 'bob@example.org keeps the domain judged');
    writeFileSync(join(dir, 'relay_recipients'), 'alice@example.org OK\ncarol@example.org\tOK\n');
    cli('import', join(dir, 'relay_recipients'));
    clock.advance(1);
    assert.equal(await ask('alice@example.org'), 'DUNNO');
    assert.equal(await ask('carol@example.org'), 'DUNNO');
    assert.equal(await ask('dave@example.org'), UNKNOWN);
  }));

test('with no file and an empty table, requests read nothing from the store (a version read a second)', () => {
  const calls = { version: 0, all: 0 };
  /** The real recipient store, its reads counted. */
  const counted = (real: SqliteStore): Store => {
    const recipients: RecipientStore = {
      get localChanges() {
        return real.recipients.localChanges;
      },
      version: () => (calls.version++, real.recipients.version()),
      all: () => (calls.all++, real.recipients.all()),
      add: (entries) => real.recipients.add(entries),
      remove: (address) => real.recipients.remove(address),
      list: (filter) => real.recipients.list(filter),
    };
    return { recipients } as unknown as Store;
  };
  return withTable({}, async ({ ask, clock, store }) => {
    for (let i = 0; i < 200; i++) assert.equal(await ask(`user${i}@example.org`), 'DUNNO');
    assert.deepEqual(calls, { version: 1, all: 1 }, 'read once, then kept');
    clock.advance(0.5);
    for (let i = 0; i < 50; i++) await ask('x@example.org');
    assert.deepEqual(calls, { version: 1, all: 1 });
    clock.advance(0.5);
    for (let i = 0; i < 50; i++) await ask('x@example.org');
    assert.deepEqual(calls, { version: 2, all: 1 }, 'the version is read again after a second; the table is not, it did not move');
    await store.recipients.add([entry('bob@example.org')]);
    assert.equal(await ask('x@example.org'), UNKNOWN, "this process's own change applies at once");
    assert.deepEqual(calls, { version: 3, all: 2 }, 'the version moved: the table is read once');
    for (let i = 0; i < 50; i++) assert.equal(await ask('bob@example.org'), 'DUNNO');
    assert.deepEqual(calls, { version: 3, all: 2 });
  }, counted);
});

test('the check is prepared without opening the store (config check); a failing store fails open', async () => {
  const unopened = new Proxy({} as Store, {
    get: () => {
      throw new Error('store opened');
    },
  });
  const on = testPipeline({ yaml: 'history: { enabled: false }\n', checks: [recipientsCheck], store: unopened, defaults: { client_address: '192.0.2.1' } });
  assert.deepEqual(on.pipeline.enabledChecks(), ['recipients'], 'enabled without files: the table may have entries');
  assert.deepEqual(on.pipeline.problems, []);
  assert.equal(await on.ask({ recipient: 'carol@example.org' }), 'DUNNO');
  assert.match(on.lines.at(-1)!, /recipients:error/);
  const off = testPipeline({ yaml: 'history: { enabled: false }\nrecipients: { unknown: off }\n', checks: [recipientsCheck], store: unopened });
  assert.deepEqual(off.pipeline.enabledChecks(), []);
});
